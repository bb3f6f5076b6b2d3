"""How `registry` reports an internal error (reconciler.cli._report), with and without --debug.

A bug's message may carry what the bug had at hand: a stored value with an escape
sequence, a URL with its password.
"""

from __future__ import annotations

import pytest

from tests.helpers import ROOT

ESC = "\x1b"
SECRET = "s3cr3t-pw"
HYPERLINK = f"{ESC}]8;;http://evil/{ESC}\\click{ESC}]8;;{ESC}\\"


def broken_with(monkeypatch, error: BaseException) -> None:
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr("reconciler.operations.load", broken)


@pytest.fixture
def bug(monkeypatch):
    broken_with(
        monkeypatch,
        RuntimeError(
            f"cannot use {HYPERLINK} from postgresql://registry:{SECRET}@db:5432/registry"
        ),
    )


def test_the_internal_error_line_is_escaped_and_redacted(registry, bug):
    code, _, err = registry("validate", str(ROOT / "examples"))
    assert code == 1
    assert ESC not in err and SECRET not in err
    assert "rerun with --debug" in err and "Traceback" not in err


def test_debug_traceback_is_escaped_and_redacted(registry, bug):
    code, _, err = registry("--debug", "validate", str(ROOT / "examples"))
    assert code == 1 and "Traceback (most recent call last):" in err
    assert ESC not in err, "an OSC 8 hyperlink reached the terminal"
    assert SECRET not in err, "the database password was printed"
    assert "\\x1b]8;;http://evil/" in err and "postgresql://db:5432/registry" in err
    assert err.count("\n") > 3, "the traceback keeps its lines"


def test_debug_traceback_withholds_a_line_quoting_a_known_password(registry, monkeypatch):
    """Not in a URL, the password of DATABASE_URL or REDIS_URL is found as itself."""
    try:
        raise ValueError(f"bad secret 'Db-{SECRET}'")
    except ValueError as cause:
        error = RuntimeError(f"the cache refused 'Rd-{SECRET}'")
        error.__cause__ = cause
    broken_with(monkeypatch, error)
    env = {
        "DATABASE_URL": f"postgresql://registry:Db-{SECRET}@localhost:1/registry",
        "REDIS_URL": f"redis://:Rd-{SECRET}@localhost:1/0",
    }
    code, _, err = registry("--debug", "validate", str(ROOT / "examples"), env=env)
    assert code == 1 and SECRET not in err
    assert "ValueError" in err and "The above exception was the direct cause" in err
    assert err.count("the driver's message is withheld because it contains the password") == 3
