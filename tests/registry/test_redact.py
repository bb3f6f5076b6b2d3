"""registry.redact.withhold: a driver's message that quotes a password is held back whole;
one that only shares a word with it is shown as the driver wrote it."""

from __future__ import annotations

import pytest

from registry.redact import WITHHELD, withhold
from tests.helpers import free_port


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ('invalid percent-encoded token: "Zq%9xS3cretPw"', "Zq%9xS3cretPw"),
        ('missing "=" after "hunter" in connection info string', "hunter"),
        ("could not parse postgresql://u:hunter@db/r", "hunter"),
        ("password=hunter sslmode=require", "hunter"),
        ("invalid literal for int() with base 10: 'hunter'", "hunter"),
        ("auth a/b failed", "a/b"),  # not a word: never a driver's own
        ("Error 111 connecting", "111"),
    ],
)
def test_a_message_that_may_quote_a_secret_is_withheld_whole(message, secret):
    assert withhold(message, [secret]) == WITHHELD


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ("Connection refused", "refused"),
        ("Error 111 connecting to 127.0.0.1:6379. Connection refused.", "refused"),
        ("password authentication failed for user x", "password"),
        ("connection timed out", "time"),  # inside a longer word
    ],
)
def test_a_message_that_shares_only_a_word_with_the_secret_is_shown_as_is(message, secret):
    assert withhold(message, [secret]) == message


def test_no_secret_and_empty_secrets_leave_the_message_alone():
    assert withhold("Connection refused", [None, ""]) == "Connection refused"


@pytest.mark.parametrize(
    ("variable", "url", "command"),
    [
        ("DATABASE_URL", "postgresql://registry:refused@127.0.0.1:{port}/registry", ("list",)),
        ("REDIS_URL", "redis://:refused@127.0.0.1:{port}/0", ("cache", "sync")),
    ],
    ids=["database", "redis"],
)
def test_a_password_that_is_a_word_of_the_message_is_not_starred(registry, variable, url, command):
    """Starring it would show it: 'Connection ****' with the password ``refused``."""
    code, _, err = registry(*command, env={variable: url.format(port=free_port())})
    assert code == 1, err
    assert err.startswith("error: ") and "Traceback" not in err, err
    assert "Connection refused" in err
    assert "****" not in err
