"""Files and folders: what a PATH given to a command loads."""

from __future__ import annotations

from pathlib import Path

from reconciler.manifest import load_paths
from reconciler.manifest.paths import manifest_files
from tests.helpers import VALID_MANIFEST as VALID
from tests.helpers import write


def test_a_folder_expands_to_its_manifests_in_name_order(tmp_path):
    write(tmp_path / "b.yml", "")
    write(tmp_path / "a.yaml", "")
    write(tmp_path / "notes.txt", "")
    (tmp_path / "sub.yaml").mkdir()
    files, findings = manifest_files([tmp_path])
    assert files == [tmp_path / "a.yaml", tmp_path / "b.yml"] and findings == []


def test_a_symlink_out_of_the_folder_is_refused_unopened(tmp_path):
    secret = write(tmp_path / "secret.yaml", "password: hunter2\n")
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "prod.yaml").symlink_to(secret)
    (folder / "dangling.yaml").symlink_to(tmp_path / "nowhere.yaml")
    result = load_paths([folder])
    refused = "a symbolic link that leads out of the folder: refused"
    assert [(f.path, f.rule, f.message) for f in result.findings] == [
        (str(folder), "file", "folder holds no manifest (*.yaml, *.yml)"),
        (str(folder / "dangling.yaml"), "file", refused),
        (str(folder / "prod.yaml"), "file", refused),
    ]
    assert "hunter2" not in repr(result)


def test_a_symlink_inside_the_folder_is_a_manifest(tmp_path):
    write(tmp_path / "real.yml", "x: 1\n")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "real.yml")
    assert manifest_files([tmp_path]) == ([tmp_path / "link.yaml", tmp_path / "real.yml"], [])


def test_missing_paths_and_empty_folders_are_findings(tmp_path):
    files, findings = manifest_files([tmp_path / "gone.yaml", tmp_path])
    assert files == []
    assert [(f.path, f.message) for f in findings] == [
        (str(tmp_path / "gone.yaml"), "no such file or folder"),
        (str(tmp_path), "folder holds no manifest (*.yaml, *.yml)"),
    ]


def test_folder_loads_every_manifest_sorted(tmp_path):
    write(tmp_path / "b.yml", VALID.replace("production", "staging"))
    write(tmp_path / "a.yaml", VALID)
    write(tmp_path / "notes.txt", "not a manifest")
    result = load_paths([tmp_path])
    assert result.ok and len(result.files) == 2
    assert [m.environment for m in result.manifests] == ["production", "staging"]


def test_two_files_for_one_environment_are_refused(tmp_path):
    write(tmp_path / "a.yaml", VALID)
    write(tmp_path / "b.yaml", VALID)
    result = load_paths([tmp_path])
    assert not result.ok and result.manifests == ()
    assert [str(f) for f in result.findings] == [
        f"{tmp_path / 'b.yaml'}:4:16: error: environment 'production' is already declared in "
        f"{tmp_path / 'a.yaml'}:4: keep one manifest per environment"
    ]


def test_all_findings_of_all_files_in_one_run(tmp_path):
    write(tmp_path / "a.yaml", VALID.replace("  port: 8000", "  prot: 8000"))
    write(tmp_path / "b.yaml", VALID.replace("production", "staging") + "    - name: BAD\n")
    write(tmp_path / "c.yaml", b"\xfe")
    result = load_paths([tmp_path, tmp_path / "missing.yaml"])
    assert [(Path(f.path).name, f.line, f.column) for f in result.findings] == [
        ("a.yaml", 7, 3),
        ("b.yaml", 19, 13),
        ("c.yaml", 1, 1),
        ("missing.yaml", 1, 1),
    ]
    assert result.findings[-1].message == "no such file or folder"


def test_empty_folder(tmp_path):
    result = load_paths([tmp_path])
    assert [f.message for f in result.errors] == ["folder holds no manifest (*.yaml, *.yml)"]


def test_other_kubernetes_yaml_in_a_folder_is_skipped(tmp_path):
    write(tmp_path / "production.yaml", VALID)
    rbac = write(
        tmp_path / "rbac.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n---\nkind: RoleBinding\n",
    )
    result = load_paths([tmp_path])
    assert result.ok and len(result.manifests) == 1
    assert [str(f) for f in result.findings] == [
        f"{rbac}:1:1: warning: not a ModelRegistry manifest (kind Role): skipped"
    ]
    named = load_paths([rbac])  # named explicitly, it has to be a manifest
    assert not named.ok
