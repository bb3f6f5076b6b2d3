"""registry.redact: a driver's message that quotes a password is held back whole (one that
only shares a word with it is shown as the driver wrote it); usage text such as
``redis://[:PASSWORD@]HOST`` in a URL urllib cannot parse is shown as it is."""

from __future__ import annotations

import pytest

from registry.redact import WITHHELD, redact_url, redact_urls, withhold
from registry.redis_url import FORMS
from tests.helpers import fails, free_port


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


@pytest.mark.parametrize("url", ["redis+sentinel://s1:26379", "http://cache:6379/0"])
def test_an_invalid_redis_url_error_shows_the_forms_to_use(registry, url):
    err = fails(
        registry("cache", "sync", env={"REDIS_URL": url}),
        "error: invalid REDIS_URL: ",
        "redis+sentinel://[:PASSWORD@]SENTINEL:PORT[,SENTINEL:PORT...]/SERVICE_NAME[/DB]",
        "redis://[:PASSWORD@]HOST:PORT/DB",
    )
    assert "<unparsable URL>" not in err


def test_usage_text_is_kept():
    assert redact_urls(f"Use {FORMS}") == f"Use {FORMS}"
    assert (
        redact_url("https://[USER:PASSWORD@]HOST[:PORT]/") == "https://[USER:PASSWORD@]HOST[:PORT]/"
    )
    assert redact_url("redis://[::1/0") == "redis://[::1/0"  # nothing in it can be a secret


@pytest.mark.parametrize(
    "url",
    [
        "https://admin:PW@[::1/",
        "redis://[:PW@]h@[::1/",  # a placeholder, then real userinfo
        "redis://[:pw@]HOST[/",  # not a placeholder: lower case
        "redis://[::1/?token=PW",
        "redis://[::1/#PW",
    ],
)
def test_an_unparsable_url_that_may_hold_a_secret_is_withheld(url):
    assert redact_url(url) == "<unparsable URL>"
