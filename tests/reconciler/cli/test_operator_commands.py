"""The imperative commands of the registration workflow, run as an operator would."""

import csv
import io
import json

import pytest

from tests.helpers import ENDPOINT, listed, ok, run_cli, stop_embedded


def test_register_with_convention_endpoint(cli):
    result = ok(cli("register", "--model-name", "llama-2-7b", "--environment", "development"))
    assert "+ llama-2-7b" in result.stdout and ENDPOINT in result.stdout
    assert 'Applied to environment "development", now at revision 1.' in result.stderr
    [entry] = listed(cli)
    assert entry["endpoint"] == ENDPOINT
    assert (entry["status"], entry["namespace"], entry["managed_by"]) == ("ready", "system", "cli")


def test_register_is_the_same_through_admin_cli(cli):
    ok(
        cli(
            "registry",
            "register",
            "--model-name",
            "llama-2-7b",
            "--endpoint",
            ENDPOINT,
            "--environment",
            "development",
            "--namespace",
            "system",
            program="admin-cli",
        )
    )
    assert listed(cli)[0]["endpoint"] == ENDPOINT


def test_reregister_same_values_is_a_no_op_that_says_so(cli):
    ok(cli("register", "-m", "llama-2-7b", "-e", "development"))
    result = ok(cli("register", "-m", "llama-2-7b", "-e", "development"))
    assert "No changes" in result.stderr and result.stdout == ""
    history = json.loads(ok(cli("history", "--format", "json")).stdout)
    assert len(history) == 1


def test_register_off_convention_endpoint_warns_and_registers(cli):
    result = ok(
        cli(
            "register",
            "-m",
            "gpt-neo",
            "-e",
            "production",
            "--endpoint",
            "gpt-neo.system.svc.cluster.local:9000",
        )
    )
    assert "warning: endpoint gpt-neo.system.svc.cluster.local:9000 differs" in result.stderr
    assert listed(cli)[0]["endpoint"] == "gpt-neo.system.svc.cluster.local:9000"


def test_register_out_of_cluster_endpoint_is_refused(cli):
    result = cli(
        "register", "-m", "gpt-neo", "-e", "production", "--endpoint", "evil.example.com:80"
    )
    assert result.returncode == 1
    assert "an endpoint must be an in-cluster Service" in result.stderr
    assert "Traceback" not in result.stderr
    assert listed(cli) == []


def test_register_changed_endpoint_is_an_update(cli):
    ok(cli("register", "-m", "gpt-neo", "-e", "production"))
    result = ok(cli("register", "-m", "gpt-neo", "-e", "production", "--namespace", "inference"))
    assert "~ gpt-neo" in result.stdout
    assert '"system" -> "inference"' in result.stdout
    assert listed(cli)[0]["endpoint"] == "gpt-neo-production.inference.svc.cluster.local:8000"


def test_enable_disable_deregister(cli):
    ok(cli("register", "-m", "mistral-7b", "-e", "staging"))
    ok(cli("disable", "-m", "mistral-7b", "-e", "staging"))
    assert listed(cli)[0]["status"] == "disabled"
    ok(cli("enable", "-m", "mistral-7b", "-e", "staging"))
    assert listed(cli)[0]["status"] == "ready"
    ok(cli("deregister", "-m", "mistral-7b", "-e", "staging"))
    [entry] = listed(cli)  # the row stays
    assert entry["status"] == "disabled" and entry["deregistered_at"] is not None
    again = ok(cli("deregister", "-m", "mistral-7b", "-e", "staging"))
    assert "No changes" in again.stderr
    actions = [r["action"] for r in json.loads(ok(cli("history", "--format", "json")).stdout)]
    assert actions == ["deregister", "enable", "disable", "create"]


@pytest.mark.parametrize("command", ["enable", "disable", "deregister"])
def test_unknown_model(cli, command):
    result = cli(command, "--model-name", "ghost", "--environment", "development")
    assert result.returncode == 1
    assert result.stderr.strip().endswith("error: model not found in registry: ghost")


@pytest.mark.parametrize(
    "args",
    [
        ("register", "-m", "Bad_Name", "-e", "development"),
        ("enable", "-m", "llama", "-e", "Prod!"),
        ("register", "-m", "llama", "-e", "development", "--namespace", "NS"),
        ("register", "-m", "llama", "-e", "development", "--endpoint", "nohost"),
    ],
)
def test_invalid_names_are_rejected_before_any_database_call(args):
    # The database does not exist: reaching it would fail with a connection error.
    result = run_cli(*args, env={"DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/none"})
    assert result.returncode == 1
    assert "invalid" in result.stderr and "failed to connect" not in result.stderr


def test_dry_run_writes_nothing(cli):
    result = ok(cli("register", "-m", "llama-2-7b", "-e", "development", "--dry-run"))
    assert "+ llama-2-7b" in result.stdout and "Dry run: nothing was written." in result.stderr
    assert listed(cli) == []
    ok(cli("register", "-m", "llama-2-7b", "-e", "development"))
    ok(cli("disable", "-m", "llama-2-7b", "-e", "development", "--dry-run"))
    assert listed(cli)[0]["status"] == "ready"
    assert len(json.loads(ok(cli("history", "--format", "json")).stdout)) == 1


def test_write_command_json_output(cli):
    change = json.loads(
        ok(cli("register", "-m", "gpt-neo", "-e", "production", "--format", "json")).stdout
    )
    assert change["applied"] is True and change["new_revision"] == 1
    assert change["changes"][0]["action"] == "create"
    assert (
        change["changes"][0]["after"]["endpoint"]
        == "gpt-neo-production.system.svc.cluster.local:8000"
    )
    dry = json.loads(
        ok(cli("disable", "-m", "gpt-neo", "-e", "production", "--dry-run", "-o", "json")).stdout
    )
    assert dry["applied"] is False and dry["dry_run"] is True
    assert dry["changes"][0]["fields"] == [{"name": "status", "old": "ready", "new": "disabled"}]


def seed(cli):
    ok(cli("register", "-m", "llama-2-7b", "-e", "development"))
    ok(cli("register", "-m", "gpt-neo", "-e", "production"))
    ok(cli("register", "-m", "mistral-7b", "-e", "staging", "--namespace", "inference"))
    ok(cli("disable", "-m", "mistral-7b", "-e", "staging"))


def test_list_table_layout(cli):
    seed(cli)
    lines = ok(cli("list")).stdout.splitlines()
    assert lines[0] == "Found 3 model deployment(s)"
    assert lines[1] == ""
    assert lines[2].split("  ")[0] == "ID"
    header = [h.strip() for h in lines[2].split("  ") if h.strip()]
    assert header == [
        "ID",
        "Model Name",
        "Endpoint",
        "Status",
        "Environment",
        "Namespace",
        "Last Health",
        "Updated",
    ]
    row = lines[5].split()
    assert row[:6] == [
        "3",
        "mistral-7b",
        "mistral-7b-staging.inference.svc.cluster.local:8000",
        "disabled",
        "staging",
        "inference",
    ]


def test_list_filters(cli):
    seed(cli)
    assert [e["model_name"] for e in listed(cli, "--environment", "production")] == ["gpt-neo"]
    assert [e["model_name"] for e in listed(cli, "--status", "disabled")] == ["mistral-7b"]
    assert [e["model_name"] for e in listed(cli, "--model-name", "llama-2-7b")] == ["llama-2-7b"]
    assert (
        ok(cli("list", "--environment", "nowhere")).stdout.strip() == "Found 0 model deployment(s)"
    )
    bad = cli("list", "--status", "broken")
    assert bad.returncode == 1 and "invalid status 'broken'" in bad.stderr


def test_list_json_and_csv_use_table_field_names(cli):
    seed(cli)
    fields = [
        "id",
        "model_name",
        "environment",
        "namespace",
        "endpoint",
        "status",
        "health",
        "last_health_check",
        "managed_by",
        "created_at",
        "updated_at",
        "deregistered_at",
    ]
    assert sorted(listed(cli)[0]) == sorted(fields)
    rows = list(csv.DictReader(io.StringIO(ok(cli("list", "--format", "csv")).stdout)))
    assert list(rows[0]) == fields
    assert [r["status"] for r in rows] == ["ready", "ready", "disabled"]


def test_history_records_actor(cli):
    ok(cli("register", "-m", "gpt-neo", "-e", "production", "--actor", "alice"))
    ok(cli("disable", "-m", "gpt-neo", "-e", "production", env={"GITLAB_USER_LOGIN": "ci-bot"}))
    table = ok(cli("history", "--environment", "production")).stdout
    assert "ci-bot" in table.splitlines()[1] and "alice" in table.splitlines()[2]


def test_lock_timeout_message(cli, database_url):
    import psycopg

    from registry import store

    ok(cli("register", "-m", "gpt-neo", "-e", "production"))
    with psycopg.connect(database_url) as holder:
        store.lock_environment_row(holder, "production")
        result = cli("disable", "-m", "gpt-neo", "-e", "production", "--lock-timeout", "0.5")
    assert result.returncode == 1
    assert "another apply holds the lock on environment 'production'" in result.stderr
    assert listed(cli)[0]["status"] == "ready"


def test_unreachable_database_via_cli_hides_password():
    result = run_cli(
        "list", env={"DATABASE_URL": "postgresql://admin:hunter2@127.0.0.1:1/registry"}
    )
    assert result.returncode == 1
    assert "error: failed to connect to database (host 127.0.0.1, port 1" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_db_migrate_command(empty_database_url):
    env = {"DATABASE_URL": empty_database_url, "REGISTRY_AUTO_MIGRATE": "0"}
    behind = run_cli("list", env=env)
    assert behind.returncode == 1 and "registry db migrate" in behind.stderr
    migrated = run_cli("db", "migrate", env=env)
    assert migrated.returncode == 0 and "applied migration 0001_initial" in migrated.stderr
    assert run_cli("list", env=env).returncode == 0
    assert "up to date" in run_cli("db", "migrate", env=env).stdout  # the result


def test_embedded_default_starts_once_and_is_reused(tmp_path):
    env = {"REGISTRY_HOME": str(tmp_path)}
    try:
        first = run_cli("register", "-m", "gpt-neo", "-e", "production", env=env)
        assert first.returncode == 0, first.stderr
        assert (
            "registry: DATABASE_URL is unset, started the embedded PostgreSQL"
            f" in {tmp_path}/postgres"
        ) in first.stderr.splitlines()
        second = run_cli("list", env=env, cwd=tmp_path)
        assert second.returncode == 0
        assert "reusing the embedded PostgreSQL" in second.stderr
        assert "gpt-neo-production.system.svc.cluster.local:8000" in second.stdout
    finally:
        stop_embedded(tmp_path / "postgres")
