"""Naming rules and the endpoint convention (docs/architecture.md, "Contracts")."""

from __future__ import annotations

import re

from .errors import InvalidEndpoint, InvalidName

# A DNS label (RFC 1123): lower-case ASCII letters, digits and '-', a letter or digit at
# both ends, at most MAX_LABEL characters (checked apart, so that a long name is told
# it is too long). Explicit classes: re's \w and \d would take non-ASCII letters.
_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
DNS_1123_LABEL = re.compile(_LABEL)
DNS_1035_LABEL = re.compile(rf"(?=[a-z]){_LABEL}")  # an RFC 1123 label starting with a letter
MAX_LABEL = 63
MAX_SUBDOMAIN = 253
DEFAULT_NAMESPACE = "system"
DEFAULT_PORT = 8000
CLUSTER_SUFFIX = ".svc.cluster.local"
SHOWN = 64  # characters of a rejected name or endpoint that a message repeats


def _shown(value: object) -> str:
    """``value`` for a message: repr (no control characters), at most ~64 characters of it
    (a 4 MB name must not reach stderr, JUnit or Code Quality whole)."""
    if isinstance(value, str) and len(value) > SHOWN:
        return f"{value[:SHOWN]!r}... ({len(value)} characters)"
    return repr(value)


def is_model_name(name: str | None) -> bool:
    """Whether ``name`` could be registered: a DNS-1035 label of at most 63 characters."""
    return bool(name) and len(name) <= MAX_LABEL and DNS_1035_LABEL.fullmatch(name) is not None


def check_model_name(name: str, environment: str | None = None) -> str:
    """Return ``name`` if it is a DNS-1035 label whose Service name fits in 63 chars."""
    if not DNS_1035_LABEL.fullmatch(name or ""):
        raise InvalidName(
            f"invalid model name {_shown(name)}: use lower-case letters, digits and '-', "
            "starting with a letter and ending with a letter or digit (a DNS-1035 label)"
        )
    if environment is not None and len(service_name(name, environment)) > MAX_LABEL:
        raise InvalidName(
            f"model name {_shown(name)} is too long for environment {_shown(environment)}: "
            f"the Service name {_shown(service_name(name, environment))} has "
            f"{len(service_name(name, environment))} characters, at most {MAX_LABEL} allowed"
        )
    return name


def check_environment(environment: str) -> str:
    return _dns_label(
        environment,
        "environment",
        "use a DNS label of lower-case letters, digits and '-' (for example development, "
        "staging, production)",
    )


def check_namespace(namespace: str) -> str:
    return _dns_label(
        namespace,
        "namespace",
        "a Kubernetes namespace is a DNS label of lower-case letters, digits and '-'",
    )


def check_object_name(name: str, what: str) -> str:
    """Return ``name`` if it is a DNS subdomain (RFC 1123), the name of most Kubernetes
    objects (a Lease, a ConfigMap): labels joined by '.', at most 253 characters."""
    if (
        not name
        or len(name) > MAX_SUBDOMAIN
        or not all(DNS_1123_LABEL.fullmatch(label) for label in name.split("."))
    ):
        raise InvalidName(
            f"invalid {what} {_shown(name)}: a Kubernetes object name is lower-case letters, "
            f"digits, '-' and '.', starting and ending with a letter or digit, at most "
            f"{MAX_SUBDOMAIN} characters"
        )
    return name


def _dns_label(value: str, what: str, rule: str) -> str:
    """``value`` if it is a DNS label; else ``InvalidName`` saying ``rule``."""
    if not DNS_1123_LABEL.fullmatch(value or "") or len(value) > MAX_LABEL:
        raise InvalidName(f"invalid {what} {_shown(value)}: {rule}")
    return value


def check_target(model_name: str, environment: str, namespace: str | None = None) -> None:
    """Check every name of a command's target before anything touches a database."""
    check_environment(environment)
    check_model_name(model_name, environment)
    if namespace is not None:
        check_namespace(namespace)


def service_name(model_name: str, environment: str) -> str:
    return f"{model_name}-{environment}"


def convention_endpoint(
    model_name: str, environment: str, namespace: str = DEFAULT_NAMESPACE, port: int = DEFAULT_PORT
) -> str:
    """``{model}-{environment}.{namespace}.svc.cluster.local:{port}``."""
    return f"{service_name(model_name, environment)}.{namespace}{CLUSTER_SUFFIX}:{port}"


def convention_warning(
    endpoint: str, model_name: str, environment: str, namespace: str
) -> str | None:
    """What is said of an ``endpoint`` off the naming convention (at its port), else None.

    Raises ``InvalidEndpoint`` for an endpoint the policy refuses.
    """
    expected = convention_endpoint(model_name, environment, namespace, endpoint_port(endpoint))
    if endpoint == expected:
        return None
    return f"endpoint {endpoint} differs from the naming convention ({expected})"


# The endpoint policy, the one rule the manifest, the CLI, saved plans and the
# database's CHECK constraint (migration 0002, the same rule) all enforce:
# exactly ``{service}.{namespace}.svc.cluster.local:{port}``, two DNS labels. ASCII
# only (re.ASCII, explicit classes): str.isdigit would accept "٨٠" and "１２３".
ENDPOINT = re.compile(
    rf"({_LABEL})\.({_LABEL}){re.escape(CLUSTER_SUFFIX)}:([1-9][0-9]{{0,4}})", re.ASCII
)
MAX_PORT = 65535
# Longer text is refused unread: the regular expression's labels are unbounded.
_LONGEST_ENDPOINT = len(f"{'a' * MAX_LABEL}.{'a' * MAX_LABEL}{CLUSTER_SUFFIX}:{MAX_PORT}")


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """Split ``host:port`` and enforce the endpoint policy: in-cluster Services only."""
    found = None
    if isinstance(endpoint, str) and len(endpoint) <= _LONGEST_ENDPOINT:
        found = ENDPOINT.fullmatch(endpoint)
    if found is None or max(map(len, found.group(1, 2))) > MAX_LABEL or int(found[3]) > MAX_PORT:
        raise InvalidEndpoint(
            f"invalid endpoint {_shown(endpoint)}: an endpoint must be an in-cluster Service, "
            f"exactly {{service}}.{{namespace}}{CLUSTER_SUFFIX}:{{port}} with lower-case "
            "ASCII letters, digits and '-' in the two names (at most 63 each) and a port "
            f"from 1 to {MAX_PORT} in ASCII digits; no scheme, user, path, query, spaces or "
            "other characters, so that no registry entry can route traffic to an arbitrary "
            f"host. For example {convention_endpoint('llama-2-7b', 'production')}"
        )
    return found[0].rpartition(":")[0], int(found[3])


def endpoint_port(endpoint: str) -> int:
    return parse_endpoint(endpoint)[1]
