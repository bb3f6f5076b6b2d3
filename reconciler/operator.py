"""One-entry plans for the imperative commands (register, enable, disable, deregister).

Pure: each takes the entry as it is now and returns the Plan that makes the
operator's intent true; ``reconciler.apply`` writes it like any other plan.
"""

from __future__ import annotations

from registry import names
from registry.entry import Entry
from registry.errors import ModelNotFound
from registry.vocabulary import Action, Health, Manager, Status

from .plan import Plan, change_for


def _plan(environment: str, revision: int, before: Entry | None, after: Entry, **extra) -> Plan:
    change = change_for(before, after)
    return Plan(
        environment=environment,
        base_revision=revision,
        changes=(change,) if change else (),
        unchanged=0 if change else 1,
        **extra,
    )


def register(
    current: Entry | None,
    revision: int,
    *,
    model_name: str,
    environment: str,
    namespace: str = names.DEFAULT_NAMESPACE,
    endpoint: str | None = None,
) -> Plan:
    """Make the model routable at ``endpoint`` (default: the naming convention)."""
    names.check_target(model_name, environment, namespace)
    endpoint = endpoint or names.convention_endpoint(model_name, environment, namespace)
    off_convention = names.convention_warning(endpoint, model_name, environment, namespace)
    warnings = (f"{off_convention}; registering it as given",) if off_convention else ()
    after = Entry(
        model_name=model_name,
        environment=environment,
        namespace=namespace,
        endpoint=endpoint,
        status=Status.READY,
        managed_by=Manager.CLI,
        health=current.health if current else Health.UNKNOWN,
    )
    return _plan(environment, revision, current, after, warnings=warnings)


def set_status(
    current: Entry | None, revision: int, *, model_name: str, environment: str, action: Action
) -> Plan:
    """``enable``, ``disable`` or ``deregister`` an existing entry."""
    names.check_target(model_name, environment)
    if current is None:
        raise ModelNotFound(model_name)
    if action == Action.ENABLE:
        after = current.with_changes(status=Status.READY, deregistered=False)
    elif action == Action.DISABLE:
        after = current.with_changes(status=Status.DISABLED)
    elif action == Action.DEREGISTER:
        after = current.with_changes(status=Status.DISABLED, deregistered=True)
    else:
        raise ValueError(f"unknown action {action!r}")
    return _plan(environment, revision, current, after)
