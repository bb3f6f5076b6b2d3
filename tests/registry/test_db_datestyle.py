"""The registry reads times from PostgreSQL as text: a DateStyle other than ISO (PGDATESTYLE,
PGOPTIONS, or a DBA's `ALTER DATABASE ... SET datestyle`) must not end in an internal error."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

REGISTER = ("register", "-m", "llama-2-7b", "-e", "production", "--no-verify-health")


@pytest.mark.parametrize(
    "env",
    [{"PGDATESTYLE": "German"}, {"PGOPTIONS": "-c DateStyle=SQL,DMY"}],
    ids=["PGDATESTYLE", "PGOPTIONS"],
)
def test_a_datestyle_other_than_iso_is_not_an_internal_error(registry, env):
    code, _, err = registry(*REGISTER)
    assert code == 0, err
    code, out, err = registry("list", "-o", "json", env=env)
    assert "internal error" not in err, err
    assert code == 0, err  # the session can set its own DateStyle
    (entry,) = json.loads(out)
    assert datetime.fromisoformat(entry["created_at"]).tzinfo is not None


def test_a_database_datestyle_other_than_iso_is_not_an_internal_error(registry, conn):
    code, _, err = registry(*REGISTER)
    assert code == 0, err
    database = conn.info.dbname
    conn.execute(f"ALTER DATABASE \"{database}\" SET datestyle = 'SQL, DMY'")
    code, out, err = registry("history", "-o", "csv")
    assert "internal error" not in err, err
    assert code == 0, err
