"""The registry the attack suites start from."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import applied, manifest, ok, write

MODELS = ("llama-2-7b", "gpt-neo", "mistral-7b")


@pytest.fixture
def production(cli, tmp_path) -> Path:
    """production at revision 1: llama-2-7b, gpt-neo, mistral-7b ready; the test's folder."""
    applied(cli, write(tmp_path / "base.yaml", manifest("production", *MODELS)))
    return tmp_path


@pytest.fixture
def disable_plan(cli, production: Path) -> Path:
    """A saved plan (production/plan.json) that disables gpt-neo."""
    models = ("llama-2-7b", "name: gpt-neo, enabled: false", "mistral-7b")
    path = write(production / "disable.yaml", manifest("production", *models))
    saved = production / "plan.json"
    ok(cli("plan", str(path), "--out", str(saved)))
    return saved
