"""The controller's text log is one line per record, whatever a record quotes."""

from __future__ import annotations

import logging

from reconciler.controller import configure_logging


def test_a_quoted_escape_sequence_or_newline_cannot_forge_a_log_line(capsys):
    configure_logging("text")
    log = logging.getLogger("reconciler.controller.loop")
    log.info("probe: %s", "\x1b]0;owned\x07x\n2026-01-01 00:00:00,000 ERROR forged\r")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "\r" not in err
    assert err.rstrip("\n").endswith(
        "probe: \\x1b]0;owned\\x07x\\n2026-01-01 00:00:00,000 ERROR forged\\r"
    )


def test_a_traceback_keeps_its_lines(capsys):
    configure_logging("text")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("reconciler.controller").exception("reconcile failed")
    err = capsys.readouterr().err
    assert "Traceback (most recent call last):" in err.splitlines()
    assert err.splitlines()[-1] == "ValueError: boom"
