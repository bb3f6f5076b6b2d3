"""One error hierarchy in one module: every user-facing error lives in registry/errors.py."""

from __future__ import annotations

import importlib
import pkgutil

import reconciler
import registry
from registry import errors
from registry.errors import (
    CacheUnavailable,
    ClusterError,
    ConflictError,
    DatabaseError,
    InputError,
    Interrupted,
    ModelNotFound,
    ModelNotReady,
    RegistryError,
)


def every_subclass(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *every_subclass(sub)}
    return found


def test_every_registry_error_of_the_code_base_is_defined_in_registry_errors():
    for package in (registry, reconciler):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)
    elsewhere = {
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in every_subclass(RegistryError)
        if cls.__module__.startswith(("registry", "reconciler"))
        and cls.__module__ != errors.__name__
    }
    assert elsewhere == set()


def test_each_error_carries_its_exit_code():
    for cls in every_subclass(RegistryError) | {RegistryError}:
        if cls.__module__ == errors.__name__:
            expected = 130 if cls is Interrupted else 1
            assert cls.exit_code == expected, cls


def test_errors_are_grouped_by_where_the_trouble_is():
    assert issubclass(errors.InvalidName, InputError)
    assert issubclass(errors.ManifestInvalid, InputError)
    assert issubclass(errors.PermissionDenied, DatabaseError)
    assert issubclass(errors.DatabaseUnavailable, DatabaseError)
    assert issubclass(errors.DeploymentUnhealthy, ClusterError)
    assert issubclass(errors.StaleRevision, ConflictError)
    assert issubclass(errors.MassRemovalRefused, ConflictError)
    assert issubclass(CacheUnavailable, RegistryError)


def test_the_router_s_messages_are_the_workflow_s():
    assert str(ModelNotFound("llama-2-7b")) == "model not found in registry: llama-2-7b"
    assert str(ModelNotReady("llama-2-7b", "disabled")) == (
        "model not ready: llama-2-7b (status: disabled)"
    )


def test_a_cluster_error_never_quotes_a_credential():
    error = ClusterError("cannot reach https://admin:hunter2@k8s:6443/api?token=abc: refused")
    assert "hunter2" not in str(error) and "abc" not in str(error)
    assert "https://k8s:6443/api?token=REDACTED" in str(error)


def test_manifest_invalid_keeps_its_findings():
    error = errors.ManifestInvalid("1 error(s) in the manifests", ("a finding",))
    assert error.findings == ("a finding",)
