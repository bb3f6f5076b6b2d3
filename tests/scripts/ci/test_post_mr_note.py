"""The optional merge request note step of the pipeline."""

import subprocess
import sys

from tests.helpers import ROOT

SCRIPT = ROOT / "scripts/ci/post_mr_note.py"


def run(plan_md, env):
    return subprocess.run(
        [sys.executable, SCRIPT, plan_md], env=env, capture_output=True, text=True, timeout=60
    )


def test_skipped_without_token(tmp_path):
    plan = tmp_path / "plan.md"
    plan.write_text("## plan")
    result = run(plan, {"CI_MERGE_REQUEST_IID": "7"})
    assert result.returncode == 0
    assert "merge request note skipped: REGISTRY_MR_NOTE_TOKEN is unset" in result.stdout


def test_unreachable_gitlab_is_a_warning_without_the_token(tmp_path):
    plan = tmp_path / "plan.md"
    plan.write_text("x")
    env = {
        "REGISTRY_MR_NOTE_TOKEN": "glpat-secret",
        "CI_MERGE_REQUEST_IID": "42",
        "CI_PROJECT_ID": "9",
        "CI_API_V4_URL": "http://127.0.0.1:1/api/v4",
        "ENVIRONMENT": "production",
    }
    result = run(plan, env)
    assert result.returncode == 0
    assert "warning: could not post the plan" in result.stdout
    assert "glpat-secret" not in result.stdout + result.stderr
