"""registry.redact on URLs urllib cannot parse: usage text such as
``redis://[:PASSWORD@]HOST`` (what an error tells the operator to write) is shown as it is,
while anything that may hold a secret (userinfo, a query, a fragment) is still withheld."""

from __future__ import annotations

import pytest

from registry.redact import redact_url, redact_urls
from registry.redis_url import FORMS
from tests.helpers import fails


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
