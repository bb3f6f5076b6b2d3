"""The one endpoint rule and plain YAML integers, through the installed CLI and in SQL."""

from __future__ import annotations

import json

import pytest

from tests.helpers import HOSTILE_ENDPOINTS, MODEL, manifest_file, run_cli

POLICY = "an endpoint must be an in-cluster Service"


@pytest.mark.parametrize("endpoint", HOSTILE_ENDPOINTS[:-1])  # "" is "missing", not hostile
def test_validate_refuses_a_hostile_endpoint_as_an_error(tmp_path, endpoint):
    # JSON's string syntax is YAML's double-quoted one: the payload arrives byte for byte.
    path = manifest_file(
        tmp_path, "production", f"name: llama-2-7b, endpoint: {json.dumps(endpoint)}"
    )
    result = run_cli("validate", str(path))
    assert result.returncode == 1, result.stderr
    [finding] = result.stderr.splitlines()  # findings on stderr, the verdict on stdout
    # (a long value is shortened in the finding, so the payload itself is not compared)
    assert finding.startswith(f"{path}:8:36: error: invalid endpoint ")  # the first model
    assert POLICY in finding
    assert "differs from the naming convention" not in result.stderr


def test_register_refuses_every_hostile_endpoint_and_writes_nothing(cli):
    for endpoint in HOSTILE_ENDPOINTS[:-1]:
        result = cli(
            "register", "-m", "llama-2-7b", "-e", "production", "--endpoint", endpoint,
            "--no-verify-health",
        )  # fmt: skip
        assert result.returncode == 1, endpoint
        # (a long value is quoted as an excerpt, so the payload itself is not compared)
        assert result.stderr.startswith("error: invalid endpoint "), result.stderr
        assert POLICY in result.stderr
        assert "Traceback" not in result.stderr
    listed = cli("list", "--format", "json")
    assert json.loads(listed.stdout) == []


def test_register_accepts_an_in_cluster_endpoint_off_the_convention(cli):
    endpoint = "shared-llama.inference.svc.cluster.local:8080"
    result = cli(
        "register", "-m", "llama-2-7b", "-e", "production", "--endpoint", endpoint,
        "--no-verify-health",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "differs from the naming convention" in result.stderr
    resolved = cli("resolve", "-m", "llama-2-7b", "-e", "production")
    assert endpoint in resolved.stdout


@pytest.mark.parametrize(
    "port", ["8000.0", "8e3", "1:20", "0x1F40", "017", "8_000", "+8000", "true", ".inf"]
)
def test_manifest_port_must_be_a_plain_yaml_integer(tmp_path, port):
    path = manifest_file(tmp_path, "production", MODEL, spec=f"  port: {port}")
    result = run_cli("validate", str(path))
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"{path}:6:9: error: ")
    assert "Traceback" not in result.stderr


def test_manifest_port_plain_integer_is_valid(tmp_path):
    result = run_cli(
        "validate", str(manifest_file(tmp_path, "production", MODEL, spec="  port: 8080"))
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "endpoint",
    [
        "evil.com:80/x.svc.cluster.local:8000",
        "a.b.svc.cluster.local:8000.0",
        "a.b.svc.cluster.local:70000",
        "a.b.svc.cluster.local:\u0668\u0660",
        "\u0430.b.svc.cluster.local:80",
    ],
)
def test_the_database_refuses_a_hostile_endpoint_even_from_sql(conn, endpoint):
    import psycopg

    with pytest.raises(psycopg.errors.CheckViolation, match="endpoint_check"):
        conn.execute(
            "INSERT INTO model_registry_entries"
            " (model_name, environment, namespace, endpoint, status, managed_by)"
            " VALUES ('llama-2-7b', 'production', 'system', %s, 'ready', 'cli')",
            (endpoint,),
        )


def test_the_database_accepts_the_rule_s_endpoints(conn):
    for number, endpoint in enumerate(
        [f"{'a' * 63}.{'b' * 63}.svc.cluster.local:65535", "a.b.svc.cluster.local:1"]
    ):
        conn.execute(
            "INSERT INTO model_registry_entries"
            " (model_name, environment, namespace, endpoint, status, managed_by)"
            " VALUES (%s, 'production', 'system', %s, 'ready', 'cli')",
            (f"m{number}", endpoint),
        )
