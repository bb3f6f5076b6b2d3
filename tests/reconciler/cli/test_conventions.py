"""CLI conventions: -h, --version, grouped help, help on every option, one --format with
json everywhere, the stream rule, REGISTRY_* variables, --kubeconfig/--request-timeout,
list --limit/--no-headers, shell completion and colour (issue 15).

In-process through ``reconciler.cli.run`` except where a real terminal or the
installed script is the point (completion, colour).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
import typer

from reconciler.cli import app
from tests.helpers import BIN, ROOT, cli_env, on_terminal

ENV = "production"
MODELS = ("llama-2-7b", "gpt-neo", "mistral-7b")  # examples/production.yaml
# Commands that print no result to format: a daemon (it has --log-format json) and a
# shell script.
NO_RESULT = {("controller",), ("completion",)}


def commands(command=None, path=()):
    """Every command of the tree as (path, click command), groups included."""
    command = command or typer.main.get_command(app)
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands(sub, (*path, name))


def leaves():
    return [(path, c) for path, c in commands() if path and not hasattr(c, "commands")]


@pytest.fixture
def manifests(tmp_path) -> Path:
    folder = tmp_path / "manifests"
    folder.mkdir()
    shutil.copy(ROOT / "examples/production.yaml", folder)
    return folder


# --- help ----------------------------------------------------------------------------------


def test_every_option_and_argument_has_help():
    missing = [
        f"{' '.join(path) or 'registry'} {'/'.join(p.opts)}"
        for path, command in commands()
        for p in command.params
        if not (getattr(p, "help", None) or "").strip()
    ]
    assert missing == []


@pytest.mark.parametrize("args", [["-h"], ["list", "-h"], ["db", "migrate", "-h"], ["cache", "-h"]])
def test_dash_h_is_help_everywhere(registry, args):
    code, out, err = registry(*args)
    assert code == 0, err
    assert out.startswith(f"Usage: registry {' '.join(args[:-1])}".rstrip())
    assert out == registry(*args[:-1], "--help")[1]


def test_admin_cli_takes_dash_h_too(registry):
    code, out, _ = registry("registry", "list", "-h", program="admin-cli")
    assert code == 0 and out.startswith("Usage: admin-cli registry list")


def test_help_groups_commands_under_their_headings_in_order(registry):
    code, out, _ = registry("--help")
    assert code == 0
    headings = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert headings[-5:] == [
        "GitOps (manifests to registry):",
        "Operator (admin-cli):",
        "Router, cache and cluster:",
        "Controller (the registry follows the cluster):",
        "Shell (version, completion):",
    ]
    section = out.split("Operator (admin-cli):\n")[1].split("\n\n")[0]
    listed = [line.split()[0] for line in section.splitlines()]
    assert listed == ["register", "enable", "disable", "deregister", "list", "history", "db"]
    # every visible command is under some heading: none lost, none twice
    shown = [
        line.split()[0]
        for part in out.split("Options:")[1].split("\n\n")[1:]
        for line in part.splitlines()[1:]
        if line.startswith("  ")
    ]
    assert sorted(shown) == sorted(typer.main.get_command(app).commands)
    assert "\x1b" not in out  # plain text: no rich


# --- version -------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_flag(registry, flag):
    from importlib.metadata import version

    assert registry(flag) == (0, f"registry {version('vllm-model-registry')}\n", "")


def test_version_command_as_json_names_python_and_libraries(registry):
    import platform

    code, out, _ = registry("version", "-o", "json")
    assert code == 0
    data = json.loads(out)
    assert data["python"] == platform.python_version()
    assert data["libraries"]["psycopg"] and data["libraries"]["kubernetes"]
    assert registry("version")[1].startswith(f"registry {data['version']} (Python ")


# --- one --format, json everywhere, the stream rule ---------------------------------------


def test_every_format_option_is_the_one_option_with_the_same_values():
    allowed = {"text", "table", "json", "csv", "markdown"}
    for path, command in leaves():
        [*options] = [p for p in command.params if "--format" in p.opts]
        if tuple(path) in NO_RESULT:
            assert options == [], path
            continue
        [option] = options
        assert option.opts == ["--format", "-o"] or option.opts == ["-o", "--format"], path
        assert option.secondary_opts == []
        choices = set(option.type.choices)
        assert "json" in choices and choices <= allowed, path
        assert ("csv" in choices) == (option.default == "table"), path
        assert ("markdown" in choices) == (path in (("plan",), ("show",))), path


def test_list_keeps_the_workflow_formats():
    [option] = [p for p in dict(leaves())[("list",)].params if "--format" in p.opts]
    assert list(option.type.choices) == ["table", "json", "csv"]
    assert option.default == "table"


def test_every_command_prints_json_that_parses(registry, manifests, tmp_path, redis_url, kube):
    for model in MODELS:
        kube.add_model(model, ENV, "inference" if model == "mistral-7b" else "system")
    saved = tmp_path / "plan.json"
    register = ["-m", "extra", "-e", ENV]
    runs = {
        ("validate",): ["validate", str(manifests)],
        ("plan",): ["plan", str(manifests), "--no-kube", "--out", str(saved)],
        ("show",): ["show", str(saved)],
        ("apply",): ["apply", str(manifests), "--auto-approve"],
        ("export",): ["export", "-e", ENV],
        ("register",): ["register", *register, "--no-verify-health"],
        ("disable",): ["disable", *register],
        ("enable",): ["enable", *register],
        ("deregister",): ["deregister", *register],
        ("list",): ["list"],
        ("history",): ["history"],
        ("db", "migrate"): ["db", "migrate"],
        ("resolve",): ["resolve", "-m", "llama-2-7b", "-e", ENV],
        ("health",): ["health", "-e", ENV, "-m", "llama-2-7b"],
        ("cache", "sync"): ["cache", "sync"],
        ("cache", "invalidate"): ["cache", "invalidate", "-e", ENV],
        ("version",): ["version"],
    }
    assert set(runs) | NO_RESULT == {path for path, _ in leaves()}, "a command without a run"
    for path, args in runs.items():
        code, out, err = registry(*args, "-o", "json", env={"REDIS_URL": redis_url})
        assert code == 0, (path, err)
        json.loads(out)  # the whole of stdout is one JSON document
    # and the variants of two commands
    for args in (["health", "-e", ENV, "--no-probe"], ["history", "--verify"]):
        code, out, err = registry(*args, "-o", "json")
        assert code == 0, (args, err)
        json.loads(out)


def test_health_csv_has_the_fields_and_values_of_its_json(registry, kube):
    import csv

    registry("register", "-m", "llama-2-7b", "-e", ENV, "--no-verify-health")
    kube.add_model("llama-2-7b", ENV)
    for args in (["health", "-e", ENV, "--no-probe"], ["health", "-e", ENV, "-m", "llama-2-7b"]):
        code, out, err = registry(*args, "-o", "json")
        assert code == 0, err
        records = json.loads(out)
        records = records if isinstance(records, list) else [records]
        code, out, err = registry(*args, "-o", "csv")
        assert code == 0, err
        rows = list(csv.DictReader(out.splitlines()))
        assert len(rows) == len(records) == 1, out
        assert list(rows[0]) == list(records[0])
        for name, value in records[0].items():
            if name != "checked_at":  # each run checks anew
                assert rows[0][name] == ("" if value is None else str(value)), name
    # one model's check is timed, in ISO 8601 in both formats
    assert datetime.fromisoformat(records[0]["checked_at"]).tzinfo is not None
    assert datetime.fromisoformat(rows[0]["checked_at"]).tzinfo is not None


def test_findings_go_to_stderr_and_the_verdict_to_stdout(registry, tmp_path):
    warned = tmp_path / "w.yaml"
    warned.write_text(
        (ROOT / "examples/production.yaml")
        .read_text()
        .replace("gpt-neo-production.system", "other-production.system")
    )
    code, out, err = registry("validate", str(warned), "-o", "json")
    assert code == 0
    data = json.loads(out)
    assert data["valid"] is True and data["warnings"] == 1
    [finding] = data["findings"]
    assert finding["severity"] == "warning" and finding["line"] > 0
    assert f"{warned}:{finding['line']}:{finding['column']}: warning: " in err

    code, out, err = registry("validate", str(warned))
    assert code == 0
    assert out == "1 manifest file(s) valid (0 error(s), 1 warning(s)).\n"
    assert "warning: endpoint" in err


def test_plan_json_stays_parseable_while_notices_and_warnings_go_to_stderr(
    registry, manifests, tmp_path
):
    nowhere = {"KUBECONFIG": str(tmp_path / "no-kubeconfig")}
    code, out, err = registry("plan", str(manifests), "-o", "json", env=nowhere)
    assert code == 0
    assert json.loads(out)["environment"] == ENV
    assert "no kubeconfig found" in err  # the notice, on stderr


def test_apply_json_reports_what_was_written(registry, manifests):
    code, out, err = registry("apply", str(manifests), "--no-kube", "--auto-approve", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["applied"] is True
    [result] = data["results"]
    assert result["environment"] == ENV and result["revision"] == 1
    assert data["plan"]["summary"]["create"] == 3
    assert f'Applied to environment "{ENV}", now at revision 1.' in err


def test_export_json_is_the_manifest_and_loads_as_one(registry, manifests, tmp_path):
    registry("apply", str(manifests), "--no-kube", "--auto-approve")
    exported = tmp_path / "exported.json"
    code, out, err = registry("export", "-e", ENV, "-o", "json", "--out", str(exported))
    assert code == 0, err
    assert out == ""
    assert json.loads(exported.read_text())["metadata"]["environment"] == ENV
    # JSON is YAML: the exported file plans no changes
    code, out, err = registry("plan", str(exported), "--no-kube", "-o", "json")
    assert code == 0, err
    assert json.loads(out)["summary"] == {
        "create": 0,
        "update": 0,
        "enable": 0,
        "disable": 0,
        "deregister": 0,
        "unchanged": 3,
    }


# --- list --limit --no-headers -------------------------------------------------------------


def test_list_limit_and_no_headers(registry, manifests):
    registry("apply", str(manifests), "--no-kube", "--auto-approve")
    code, out, _ = registry("list")
    assert out.startswith("Found 3 model deployment(s)\n\nID  Model Name")

    code, out, _ = registry("list", "--limit", "2", "--no-headers")
    assert code == 0
    assert [line.split()[:2] for line in out.splitlines()] == [
        ["1", "llama-2-7b"],
        ["2", "gpt-neo"],
    ]

    code, out, _ = registry("list", "-o", "csv", "--limit", "1", "--no-headers")
    assert out.splitlines() == [out.splitlines()[0]] and out.startswith("1,llama-2-7b,production,")
    assert registry("list", "-o", "csv")[1].startswith("id,model_name,environment,")
    assert registry("list", "-o", "csv", "--no-headers", "-m", "nothing")[1] == ""

    code, _, err = registry("list", "--limit", "0")
    assert code == 1 and "invalid limit 0: use a whole number from 1 to 1000000" in err


def test_history_csv_is_csv(registry, manifests):
    registry("apply", str(manifests), "--no-kube", "--auto-approve")
    code, out, _ = registry("history", "--format", "csv")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("id,recorded_at,environment,revision,plan_id,action,model_name,")
    assert len(lines) == 4
    code, out, _ = registry("history", "--format", "csv", "--no-headers")
    assert out.splitlines() == lines[1:]


# --- REGISTRY_* variables, --kubeconfig, --request-timeout ---------------------------------


def test_environment_variables_are_shown_in_help(registry):
    _, out, _ = registry("apply", "--help")
    for variable in (
        "REGISTRY_LOCK_TIMEOUT",
        "REGISTRY_ACTOR",
        "REGISTRY_KUBE_CONTEXT",
        "REGISTRY_KUBECONFIG",
        "REGISTRY_REQUEST_TIMEOUT",
        "REGISTRY_NO_KUBE",
    ):
        assert variable in out
    assert "REGISTRY_NO_COLOR" in registry("--help")[1]


def test_an_environment_variable_sets_its_option(registry, manifests, tmp_path):
    env = {
        "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
        "REGISTRY_NO_KUBE": "1",
        "REGISTRY_ACTOR": "pipeline-bot",
    }
    code, _, err = registry("apply", str(manifests), "--auto-approve", env=env)
    assert code == 0, err
    assert "no kubeconfig found" not in err  # --no-kube came from the environment
    code, out, _ = registry("history", "-o", "json", "--limit", "1")
    assert json.loads(out)[0]["actor"] == "pipeline-bot"

    code, _, err = registry(
        "apply", str(manifests), "--auto-approve", env={**env, "REGISTRY_LOCK_TIMEOUT": "soon"}
    )
    assert code == 1
    assert "invalid lock timeout 'soon'" in err


def test_kubeconfig_option_and_variable_replace_kubeconfig(registry, kube, tmp_path):
    kube.add_model("llama-2-7b", ENV)
    kubeconfig = os.environ["KUBECONFIG"]  # the fake cluster's
    elsewhere = {"KUBECONFIG": str(tmp_path / "nothing-here")}
    health = ["health", "-e", ENV, "-m", "llama-2-7b"]
    code, _, err = registry(*health, env=elsewhere)
    assert code == 1 and "no kubeconfig found" in err

    code, out, err = registry(*health, "--kubeconfig", kubeconfig, env=elsewhere)
    assert code == 0, err
    assert out.startswith("llama-2-7b-production (namespace system): Healthy")
    assert registry(*health, env={**elsewhere, "REGISTRY_KUBECONFIG": kubeconfig}).returncode == 0

    missing = str(tmp_path / "missing")
    code, _, err = registry("register", "-m", "llama-2-7b", "-e", ENV, "--kubeconfig", missing)
    assert code == 1
    assert (
        "error: --kubeconfig was given but no kubeconfig found "
        "(--kubeconfig names no file that exists)"
    ) in err


def test_request_timeout_bounds_each_kubernetes_request(registry, kube):
    kube.add_model("llama-2-7b", ENV)
    kube.delay = 2.0  # the API server answers late
    code, _, err = registry("health", "-e", ENV, "-m", "llama-2-7b", "--request-timeout", "0.2")
    assert code == 1
    assert "did not answer within 0.2 s" in err

    code, _, err = registry("plan", "examples/", "--request-timeout", "0")
    assert code == 1 and "invalid request timeout 0" in err


# --- completion ----------------------------------------------------------------------------

SCRIPTS = {
    "bash": "complete -o default -F _registry_completion registry",
    "zsh": "#compdef registry",
    "fish": "complete --command registry",
}


@pytest.mark.parametrize("shell", sorted(SCRIPTS))
def test_completion_prints_the_script_of_each_shell(registry, shell):
    code, out, err = registry("completion", shell)
    assert code == 0, err
    assert SCRIPTS[shell] in out
    assert "_REGISTRY_COMPLETE=complete_" + shell in out
    for other in set(SCRIPTS) - {shell}:
        assert f"complete_{other}" not in out
    if shutil.which(shell):  # the shell itself reads it without a syntax error
        subprocess.run([shell, "-n"], input=out, text=True, check=True)


def test_completion_rejects_an_unknown_shell(registry):
    code, _, err = registry("completion", "tcsh")
    assert code == 1 and "'tcsh' is not one of 'bash', 'zsh', 'fish'" in err


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("registry li", ["list"]),
        ("registry list --f", ["--format"]),
        ("registry list --format ", ["table", "json", "csv"]),
        ("registry db ", ["migrate"]),
    ],
)
def test_the_installed_script_completes_commands_options_and_values(words, expected):
    environment = cli_env(
        {
            "_REGISTRY_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split(" ")) - 1),
        }
    )
    answer = subprocess.run(
        [str(BIN / "registry")], env=environment, capture_output=True, text=True, timeout=120
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.split() == expected


# --- colour --------------------------------------------------------------------------------


def on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    code, shown = on_terminal(*args, env=env)
    assert code in (0, 1), shown
    return shown.decode()


@pytest.fixture
def terminal_run(database_url, manifests):
    def call(*extra: str, env: dict[str, str] | None = None) -> str:
        args = [*extra, "plan", str(manifests), "--no-kube"]
        return on_a_terminal(args, {"DATABASE_URL": database_url, **(env or {})})

    return call


def test_plan_lines_are_coloured_on_a_terminal(terminal_run):
    shown = terminal_run()
    assert "\x1b[32m+\x1b[0m llama-2-7b" in shown


@pytest.mark.parametrize(
    ("extra", "env"),
    [
        ((), {"NO_COLOR": "1"}),
        ((), {"NO_COLOR": "anything"}),
        (("--no-color",), {}),
        ((), {"REGISTRY_NO_COLOR": "1"}),
    ],
)
def test_no_color_leaves_no_escape_codes(terminal_run, extra, env):
    shown = terminal_run(*extra, env=env)
    assert "llama-2-7b" in shown and "Plan: 3 to create" in shown
    assert "\x1b" not in shown


def test_no_colour_when_stdout_is_not_a_terminal(registry, manifests):
    code, out, err = registry("plan", str(manifests), "--no-kube")
    assert code == 0
    assert "+ llama-2-7b" in out
    assert "\x1b" not in out + err


def test_an_error_prefix_is_coloured_on_a_terminal_only(database_url):
    shown = on_a_terminal(["list", "--status", "nope"], {"DATABASE_URL": database_url})
    assert "\x1b[1;31merror:\x1b[0m invalid status 'nope'" in shown
    plain = on_a_terminal(
        ["list", "--status", "nope"], {"DATABASE_URL": database_url, "NO_COLOR": "1"}
    )
    assert "error: invalid status 'nope'" in plain and "\x1b" not in plain


def test_a_kubeconfig_s_text_instead_of_its_path_is_named_not_shown(registry):
    text = "apiVersion: v1\nkind: Config\nusers:\n- user: {token: T0ken-S3cret}\n"
    code, out, err = registry(
        "register", "-m", "llama-2-7b", "-e", ENV, env={"REGISTRY_KUBECONFIG": text}
    )
    assert code == 1
    assert "error: --kubeconfig was given but no kubeconfig found (--kubeconfig holds a " in err
    assert "type File" in err
    assert "S3cret" not in out + err
