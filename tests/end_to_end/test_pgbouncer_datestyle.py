"""A database whose DateStyle is not ISO, behind PgBouncer in transaction mode: the
registry's `SET DateStyle` must follow each client's transactions onto whichever server
connection runs them (PgBouncer tracks DateStyle and sets it again there)."""

from __future__ import annotations

import json

import psycopg
from psycopg.conninfo import conninfo_to_dict

from tests.end_to_end.test_pgbouncer import bouncer_url, run  # noqa: F401 (a fixture)


def test_a_database_datestyle_other_than_iso_behind_pgbouncer(empty_database_url, bouncer_url):  # noqa: F811
    database = conninfo_to_dict(empty_database_url)["dbname"]
    with psycopg.connect(empty_database_url, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE \"{database}\" SET datestyle = 'SQL, DMY'")
    run("apply", "examples/", "--auto-approve", "--no-kube", url=bouncer_url)
    # More commands than the pool has server connections: each starts in DateStyle SQL.
    for _ in range(3):
        listed = json.loads(run("list", "-o", "json", url=bouncer_url).stdout)
        assert listed and all(entry["created_at"][:4].isdigit() for entry in listed)
    run("history", "-o", "csv", url=bouncer_url)
