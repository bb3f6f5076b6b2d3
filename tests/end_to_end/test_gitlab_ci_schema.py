"""The pipeline users copy is valid GitLab CI (check-jsonschema's vendored GitLab schema)."""

import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT


def check(path: Path) -> subprocess.CompletedProcess:
    checker = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run(
        [checker, "--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci", path],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_gitlab_ci_yml_matches_gitlab_schema():
    result = check(ROOT / ".gitlab-ci.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_the_check_catches_a_broken_pipeline(tmp_path):
    broken = tmp_path / ".gitlab-ci.yml"
    broken.write_text("plan:\n  stage: plan\n  script: 42\n  when: sometimes\n")
    assert check(broken).returncode == 1
