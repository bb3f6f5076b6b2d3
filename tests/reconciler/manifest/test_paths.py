"""Files and folders: what a PATH given to a command loads."""

from __future__ import annotations

from reconciler.manifest import load_paths
from reconciler.manifest.paths import manifest_files

from ...helpers import write


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
