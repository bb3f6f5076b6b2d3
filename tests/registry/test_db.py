"""registry.db: a DATABASE_URL libpq cannot parse is refused before any connection, and
no driver message that quotes the password reaches the operator."""

from __future__ import annotations

import pytest

from registry import db
from registry.errors import InvalidSetting
from registry.redact import WITHHELD
from registry.settings import Settings

SECRET = "S3cretPw"
UNPARSABLE = [
    # A generated password with a '%' the operator did not percent-encode: libpq says
    # `invalid percent-encoded token: "Zq%9xS3cretPw"`.
    f"postgresql://registry:Zq%9x{SECRET}@127.0.0.1:1/registry",
    # A key=value string with a password that has a space and no quotes: libpq says
    # `missing "=" after "S3cretPw"`.
    f"host=127.0.0.1 port=1 user=registry password=Zq9x {SECRET}",
    # A '/' in the password: libpq reads what precedes it as the port (shown in the
    # description of the database), the rest as the database name.
    f"postgresql://registry:{SECRET}/x@127.0.0.1:1/registry",
    # An '@' in the password: libpq reads what follows it as the host.
    f"postgresql://registry:Zq@{SECRET}@127.0.0.1:1/registry",
]
IDS = ["percent", "space", "slash", "at"]


@pytest.mark.parametrize("url", UNPARSABLE, ids=IDS)
@pytest.mark.parametrize("debug", [(), ("--debug",)], ids=["plain", "debug"])
def test_an_unparsable_database_url_never_shows_its_password(registry, url, debug):
    code, out, err = registry(*debug, "list", env={"DATABASE_URL": url})
    assert code == 1, err
    assert err.startswith("error: invalid DATABASE_URL: libpq cannot parse it"), err
    assert "percent-encode" in err and "Traceback" not in err
    assert SECRET not in out + err


@pytest.mark.parametrize(
    ("variable", "environ"),
    [
        ("DATABASE_URL", {"DATABASE_URL": UNPARSABLE[0]}),
        (
            "REGISTRY_LISTEN_URL",
            {"DATABASE_URL": "postgresql://u@db/r", "REGISTRY_LISTEN_URL": UNPARSABLE[1]},
        ),
    ],
)
def test_resolve_target_refuses_an_unparsable_url_naming_its_variable(variable, environ):
    with pytest.raises(InvalidSetting) as raised:
        db.resolve_target(Settings.from_env(environ))
    assert str(raised.value).startswith(f"invalid {variable}: libpq cannot parse it")
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize(
    "url", ["postgresql://u:p%2Fw%40d@h1:5432,h2/db", "host=h1,h2 port=5432,5433 dbname=a@b"]
)
def test_urls_libpq_reads_as_written_are_accepted(url):
    assert db.parse_url(url)["host"] == "h1,h2"


@pytest.mark.parametrize("url", UNPARSABLE, ids=IDS)
def test_redact_withholds_every_message_about_an_unparsable_url(url):
    libpq_said = f'invalid percent-encoded token: "Zq%9x{SECRET}"'
    assert SECRET not in db.redact(libpq_said, url)


def test_a_driver_message_that_quotes_the_password_is_withheld_whole():
    url = f"postgresql://registry:{SECRET}@db/registry"
    assert db.redact(f'no such user "{SECRET}"', url) == WITHHELD
    assert db.redact(f"password={SECRET}", "", {"PGPASSWORD": SECRET}) == WITHHELD
    assert db.redact("Connection refused", url) == "Connection refused"
