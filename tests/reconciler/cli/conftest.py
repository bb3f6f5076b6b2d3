"""The commands' options, formats and messages run in-process here (a command line in
milliseconds instead of a new interpreter); the installed script's own paths (exit codes
of the real process, signals, terminals) are tested as subprocesses in tests/end_to_end
and with ``run_cli``."""

from __future__ import annotations

import pytest


@pytest.fixture
def cli(registry):
    return registry


@pytest.fixture
def no_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No cluster: KUBECONFIG names a file that does not exist."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
