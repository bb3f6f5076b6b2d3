"""scripts/ci/post_mr_note.py, the optional merge request note step of the pipeline, against
a fake GitLab API: skipped without a token, one note per environment, updated in place by
later pipelines, found across pages, never someone else's; GitLab failing is a warning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.gitlab import NOTES, TOKEN, FakeGitLab
from tests.helpers import ROOT

SCRIPT = ROOT / "scripts/ci/post_mr_note.py"


@pytest.fixture
def gitlab():
    fake = FakeGitLab()
    yield fake
    fake.close()


def run(plan: Path, *environment: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, SCRIPT, plan, *environment],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert TOKEN not in result.stdout + result.stderr
    return result


def post(tmp_path, gitlab, plan: str, *environment: str, env: dict | None = None):
    path = tmp_path / "plan.md"
    path.write_text(plan)
    full_env = {
        "REGISTRY_MR_NOTE_TOKEN": TOKEN,
        "CI_MERGE_REQUEST_IID": "42",
        "CI_PROJECT_ID": "9",
        "CI_API_V4_URL": gitlab.api,
        **(env or {}),
    }
    return run(path, *environment, env=full_env)


def marker(environment: str) -> str:
    return f"<!-- vllm-model-registry plan: {environment} -->"


def test_the_first_pipeline_posts_and_the_next_updates_the_same_note(tmp_path, gitlab):
    first = post(tmp_path, gitlab, "### plan 1\n+ llama-2-7b", "production")
    assert first.returncode == 0, first.stderr
    assert "posted the plan to merge request !42 (production, HTTP 201)" in first.stdout
    assert gitlab.bodies() == [f"{marker('production')}\n### plan 1\n+ llama-2-7b"]
    second = post(tmp_path, gitlab, "### plan 2\n~ llama-2-7b", "production")
    assert second.returncode == 0, second.stderr
    assert "updated the plan in note 1000 of merge request !42" in second.stdout
    assert gitlab.bodies() == [f"{marker('production')}\n### plan 2\n~ llama-2-7b"]
    assert ("PUT", f"{NOTES}/1000") in gitlab.requests


def test_two_environments_keep_two_notes_and_env_var_names_it(tmp_path, gitlab):
    post(tmp_path, gitlab, "staging 1", "staging")
    post(tmp_path, gitlab, "production 1", env={"ENVIRONMENT": "production"})
    post(tmp_path, gitlab, "staging 2", "staging")
    assert gitlab.bodies() == [
        f"{marker('staging')}\nstaging 2",
        f"{marker('production')}\nproduction 1",
    ]


@pytest.mark.parametrize("link_pagination", [False, True], ids=["x-next-page", "link"])
def test_the_note_is_found_past_the_first_page(tmp_path, link_pagination):
    gitlab = FakeGitLab(link_pagination=link_pagination)
    try:
        for number in range(150):
            gitlab.add(f"review comment {number}", author={"id": 100 + number})
        own = gitlab.add(f"{marker('production')}\nold plan")
        for number in range(60):
            gitlab.add(f"later comment {number}", author={"id": 500})
        result = post(tmp_path, gitlab, "new plan", "production")
        assert result.returncode == 0, result.stderr
        assert f"updated the plan in note {own}" in result.stdout
        assert gitlab.bodies()[150] == f"{marker('production')}\nnew plan"
        assert len(gitlab.notes) == 211
        assert [m for m, path in gitlab.requests if path.startswith(NOTES + "?")] == ["GET"] * 3
    finally:
        gitlab.close()


def test_a_marker_in_another_users_note_is_not_taken_over(tmp_path, gitlab):
    hostile = gitlab.add(f"{marker('production')}\nplease approve", author={"id": 666})
    quoted = gitlab.add(f"> {marker('production')}\nquoting the bot")  # not at the start
    result = post(tmp_path, gitlab, "the real plan", "production")
    assert result.returncode == 0, result.stderr
    assert gitlab.notes[0] == {
        "id": hostile,
        "body": f"{marker('production')}\nplease approve",
        "author": {"id": 666},
        "system": False,
    }
    assert gitlab.notes[1]["id"] == quoted and gitlab.notes[1]["body"].startswith("> ")
    assert gitlab.bodies()[2] == f"{marker('production')}\nthe real plan"


def test_without_knowing_its_user_it_posts_rather_than_edits(tmp_path):
    gitlab = FakeGitLab(user_status=403)
    try:
        gitlab.add(f"{marker('production')}\nold plan")
        result = post(tmp_path, gitlab, "new plan", "production")
        assert result.returncode == 0, result.stderr
        assert gitlab.bodies() == [
            f"{marker('production')}\nold plan",
            f"{marker('production')}\nnew plan",
        ]
    finally:
        gitlab.close()


@pytest.mark.parametrize("environment", ["", "Production", "prod -->", "a" * 64, "prod\nx"])
def test_an_environment_that_is_not_a_dns_label_is_an_error(tmp_path, gitlab, environment):
    result = post(tmp_path, gitlab, "plan", environment)
    assert result.returncode == 1
    assert result.stderr.startswith("error: post_mr_note.py needs the plan's environment")
    assert gitlab.requests == []


def test_a_gitlab_error_is_a_warning(tmp_path, gitlab):
    result = post(tmp_path, gitlab, "plan", "production", env={"CI_PROJECT_ID": "8"})
    assert result.returncode == 0
    assert "warning: could not post the plan to merge request !42 (production):" in result.stdout
    assert "HTTP Error 404" in result.stdout


def test_skipped_without_token(tmp_path):
    plan = tmp_path / "plan.md"
    plan.write_text("## plan")
    result = run(plan, env={"CI_MERGE_REQUEST_IID": "7"})
    assert result.returncode == 0
    assert "merge request note skipped: REGISTRY_MR_NOTE_TOKEN is unset" in result.stdout


def test_unreachable_gitlab_is_a_warning_without_the_token(tmp_path):
    plan = tmp_path / "plan.md"
    plan.write_text("x")
    env = {
        "REGISTRY_MR_NOTE_TOKEN": TOKEN,
        "CI_MERGE_REQUEST_IID": "42",
        "CI_PROJECT_ID": "9",
        "CI_API_V4_URL": "http://127.0.0.1:1/api/v4",
        "ENVIRONMENT": "production",
    }
    result = run(plan, env=env)
    assert result.returncode == 0
    assert "warning: could not post the plan" in result.stdout
