"""Files the CLI is given or writes: regular files only, bounded reads, writes by rename.

Issues 11 and 12: a symlink in a manifest folder must not lead out of it (nor
echo the secret it points at), a FIFO must not hang, /dev/zero and a sparse
1 GiB file must not be read, a JSON depth bomb must not crash, and `--out`
must not write through a symlink planted at the target.
"""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path

import pytest

from tests.helpers import run_cli

MANIFEST = (
    "apiVersion: registry.vllm.ai/v1\nkind: ModelRegistry\nmetadata:\n"
    "  environment: production\nspec:\n  models:\n    - name: llama-2-7b\n"
)
SECRET = "DATABASE_URL=postgresql://registry:S3cr3tPW@db.internal:5432/registry\n"
SHADOW = "root:$6$S3cr3tSalt$S3cr3tHashS3cr3tHashS3cr3tHash:19000:0:99999:7:::\n"
# A command that read a 1 GiB file or /dev/zero would die of MemoryError under this.
MEMORY_LIMIT = 512 * 2**20


def bounded(*args: str, env: dict[str, str] | None = None):
    """`registry ARGS` with at most MEMORY_LIMIT of address space and a hang bound."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    return run_cli(*args, env=env, timeout=60, preexec_fn=limit)


def refused(result, *fragments: str) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    for fragment in fragments:
        assert fragment in output, output
    return output


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "manifests"
    path.mkdir()
    (path / "production.yaml").write_text(MANIFEST)
    return path


@pytest.mark.parametrize("content", [SECRET, SHADOW])
def test_symlink_out_of_the_folder_is_refused_unread(folder, tmp_path, content):
    secret = tmp_path / "secret.env"
    secret.write_text(content)
    (folder / "secrets.yaml").symlink_to(secret)

    output = refused(
        run_cli("validate", str(folder)),
        f"{folder / 'secrets.yaml'}:1:1: error: a symbolic link that leads out of the folder",
    )
    assert "S3cr3t" not in output and "DATABASE_URL" not in output and "root:" not in output
    refused(run_cli("plan", str(folder), "--no-kube"), "leads out of the folder")


def test_symlink_inside_the_folder_is_read(folder):
    (folder / "shared").mkdir()
    (folder / "production.yaml").rename(folder / "shared" / "production.txt")
    (folder / "production.yaml").symlink_to(Path("shared") / "production.txt")

    result = run_cli("validate", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr


def test_junit_lists_a_refused_symlink_as_a_failed_case(folder, tmp_path):
    (folder / "secrets.yaml").symlink_to("/etc/passwd")
    junit = tmp_path / "junit.xml"
    refused(run_cli("validate", str(folder), "--junit", str(junit)))
    assert 'failures="1"' in junit.read_text() and "secrets.yaml" in junit.read_text()


@pytest.mark.parametrize("content", [SECRET, SHADOW])
def test_a_named_secret_file_is_not_echoed(tmp_path, content):
    secret = tmp_path / "secret.env"
    secret.write_text(content)
    output = refused(run_cli("validate", str(secret)), f"{secret}:1:1: error: ")
    assert "S3cr3t" not in output and "DATABASE_URL" not in output and "root:" not in output


def test_a_long_value_is_shown_as_a_short_excerpt(tmp_path):
    path = tmp_path / "production.yaml"
    path.write_text(MANIFEST.replace("production", "p" * 5000 + SECRET.strip().lower()[:20]))
    output = refused(run_cli("validate", str(path)), "'pppppppppp")
    assert len(max(output.splitlines(), key=len)) < 400


def test_fifo_in_a_folder_and_named_is_refused_without_hanging(folder, tmp_path):
    os.mkfifo(folder / "pipe.yaml")
    os.mkfifo(tmp_path / "plan.json")

    refused(
        bounded("validate", str(folder)), "pipe.yaml:1:1: error: cannot read file: it is a FIFO"
    )
    refused(bounded("validate", str(folder / "pipe.yaml")), "it is a FIFO (named pipe)")
    refused(
        bounded("apply", str(tmp_path / "plan.json")),
        f"error: cannot read the saved plan {tmp_path / 'plan.json'}: it is a FIFO (named pipe)",
    )
    refused(bounded("show", str(tmp_path / "plan.json")), "it is a FIFO")


def test_devices_are_refused(tmp_path):
    refused(
        bounded("validate", "/dev/zero"),
        "/dev/zero:1:1: error: cannot read file: it is a character device",
    )
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    refused(bounded("apply", str(tmp_path / "zero.json")), "it is a character device")


def test_sparse_1_gib_files_are_refused_before_reading(tmp_path):
    for name in ("big.yaml", "big.json"):
        with open(tmp_path / name, "wb") as file:
            file.truncate(2**30)

    refused(
        bounded("validate", str(tmp_path / "big.yaml")),
        "it is 1073741824 bytes, over the 5 MiB limit",
    )
    refused(
        bounded("apply", str(tmp_path / "big.json")),
        "cannot read the saved plan",
        "it is 1073741824 bytes, over the 64 MiB limit",
    )


def test_json_depth_bomb_is_a_clean_error(tmp_path):
    bomb = tmp_path / "plan.json"
    bomb.write_text("[" * 100_000)
    for command in ("apply", "show"):
        refused(run_cli(command, str(bomb)), f"{bomb} nests deeper than 32 levels")
    inside = tmp_path / "inside.json"
    inside.write_text(json.dumps({"format_version": "1", "x": "[" * 100_000}))
    output = refused(run_cli("show", str(inside)))
    assert "nests deeper" not in output  # brackets in a string are not nesting


def test_yaml_depth_is_bounded(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("{a: " * 990 + "1" + "}" * 990)
    refused(run_cli("validate", str(deep)), "the document nests deeper than 32 levels")


# --- writing -----------------------------------------------------------------------------------

OUTPUTS = {
    "plan --out": lambda m, target: ("plan", m, "--no-kube", "--out", target),
    "plan --gitlab-report": lambda m, target: ("plan", m, "--no-kube", "--gitlab-report", target),
    "plan --codequality": lambda m, target: ("plan", m, "--no-kube", "--codequality", target),
    "validate --junit": lambda m, target: ("validate", m, "--junit", target),
    "export --out": lambda m, target: ("export", "-e", "production", "--out", target),
}


@pytest.mark.parametrize("option", OUTPUTS)
def test_out_replaces_a_planted_symlink_instead_of_following_it(cli, tmp_path, option):
    manifest = tmp_path / "production.yaml"
    manifest.write_text(MANIFEST)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "out.file"
    target.symlink_to(victim)

    result = cli(*OUTPUTS[option](str(manifest), str(target)))

    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "precious"
    assert not target.is_symlink() and target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "out.file",
        "production.yaml",
        "victim.txt",
    ]


def test_out_replaces_an_existing_file_whole(cli, tmp_path):
    manifest = tmp_path / "production.yaml"
    manifest.write_text(MANIFEST)
    target = tmp_path / "plan.json"
    target.write_text("x" * 1_000_000)
    assert cli("plan", str(manifest), "--no-kube", "--out", str(target)).returncode == 0
    assert json.loads(target.read_text())["environment"] == "production"


def test_out_to_a_folder_is_a_clean_error(cli, tmp_path):
    manifest = tmp_path / "production.yaml"
    manifest.write_text(MANIFEST)
    (tmp_path / "plan.json").mkdir()
    result = cli("plan", str(manifest), "--no-kube", "--out", str(tmp_path / "plan.json"))
    refused(result, f"error: cannot write the plan to {tmp_path / 'plan.json'}")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
