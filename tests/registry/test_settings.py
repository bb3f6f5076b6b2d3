"""Settings: every environment variable read and validated once, at the edge."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from registry import db
from registry.errors import InvalidSetting
from registry.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_an_empty_environment_gives_the_defaults():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.cache_ttl, settings.local_cache_size) == (120, 100_000)
    assert (settings.auto_migrate, settings.prepared_statements, settings.ci) == (
        True,
        False,
        False,
    )
    assert settings.embedded is None and settings.plan_key is None and not settings.no_color


def test_every_variable_is_read():
    settings = Settings.from_env(
        {
            "DATABASE_URL": " postgresql://u:pw@db/registry ",
            "REGISTRY_EMBEDDED": "0",
            "REGISTRY_PREPARED_STATEMENTS": "1",
            "REGISTRY_AUTO_MIGRATE": "0",
            "REGISTRY_HOME": "~/registry",
            "PGHOST": "db",
            "PGPASSWORD": "pgpw",
            "PGCONNECT_TIMEOUT": "4",
            "PGAPPNAME": "not ours",
            "CI": "true",
            "REDIS_URL": "redis://:redispw@redis:6379/0",
            "REGISTRY_CACHE_TTL": "7",
            "REGISTRY_LOCAL_CACHE_SIZE": "0",
            "REGISTRY_PLAN_KEY": "plan-key",
            "KUBECONFIG": "/a:/b",
            "KUBERNETES_SERVICE_HOST": "10.0.0.1",
            "VLLM_API_KEY": "api-key",
            "REGISTRY_LISTEN_URL": "postgresql://u:listenpw@direct/registry",
            "REGISTRY_ENVIRONMENTS": " production, ,staging ",
            "GITLAB_USER_LOGIN": "alice",
            "CI_COMMIT_SHA": "abc123",
            "CI_PIPELINE_URL": "https://gitlab.example/p/1",
            "NO_COLOR": "1",
        }
    )
    assert settings.database_url == "postgresql://u:pw@db/registry"
    assert (settings.embedded, settings.prepared_statements, settings.auto_migrate) == (
        False,
        True,
        False,
    )
    assert settings.home == Path.home() / "registry"
    assert settings.libpq == {"PGHOST": "db", "PGPASSWORD": "pgpw", "PGCONNECT_TIMEOUT": "4"}
    assert settings.ci and settings.no_color
    assert settings.redis_url == "redis://:redispw@redis:6379/0"
    assert (settings.cache_ttl, settings.local_cache_size) == (7, 0)
    assert settings.plan_key == b"plan-key"
    assert (settings.kubeconfig, settings.kubernetes_service_host) == ("/a:/b", "10.0.0.1")
    assert settings.vllm_api_key == "api-key"
    assert settings.listen_url == "postgresql://u:listenpw@direct/registry"
    assert settings.environments == ("production", "staging")
    assert (settings.gitlab_user_login, settings.ci_commit_sha, settings.ci_pipeline_url) == (
        "alice",
        "abc123",
        "https://gitlab.example/p/1",
    )


@pytest.mark.parametrize("value", ["", "0", "false", "FALSE"])
def test_ci_off(value):
    assert not Settings.from_env({"CI": value}).ci


def test_no_secret_is_in_the_repr():
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u:dbpw@db/r",
            "PGPASSWORD": "pgpw",
            "REDIS_URL": "redis://:redispw@r:6379/0",
            "REGISTRY_PLAN_KEY": "plankey",
            "VLLM_API_KEY": "apikey",
            "REGISTRY_LISTEN_URL": "postgresql://u:listenpw@d/r",
        }
    )
    shown = repr(settings)
    for secret in ("dbpw", "pgpw", "redispw", "plankey", "apikey", "listenpw"):
        assert secret not in shown
    target = db.Target(url="postgresql://u:dbpw@db/r", description="host db")
    assert "dbpw" not in repr(target)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"REGISTRY_CACHE_TTL": "\u0663"},
            "invalid REGISTRY_CACHE_TTL '\u0663': use a whole number of seconds from 1 to 86400 "
            "written in ASCII digits (default 120), or unset it",
        ),
        ({"REGISTRY_CACHE_TTL": "0"}, "invalid REGISTRY_CACHE_TTL '0': use a whole number"),
        (
            {"REGISTRY_LOCAL_CACHE_SIZE": "1_000"},
            "invalid REGISTRY_LOCAL_CACHE_SIZE '1_000': use a whole number of cache entries",
        ),
        (
            {"REGISTRY_AUTO_MIGRATE": "yes"},
            "invalid REGISTRY_AUTO_MIGRATE 'yes': use 1 (on) or 0 (off), or unset it",
        ),
        ({"REGISTRY_EMBEDDED": "true"}, "invalid REGISTRY_EMBEDDED 'true': use 1 (on) or 0"),
        (
            {"DATABASE_URL": "postgresql://u:\udcff@db/r"},
            "invalid DATABASE_URL: it is not UTF-8 text; set it to UTF-8 text",
        ),
    ],
)
def test_an_invalid_setting_is_one_message_naming_the_variable(environ, message):
    with pytest.raises(InvalidSetting) as raised:
        Settings.from_env(environ)
    assert str(raised.value).startswith(message)
    assert "\udcff" not in str(raised.value)


def test_an_invalid_setting_is_a_clean_cli_error(monkeypatch, capsys):
    from reconciler.cli import run

    monkeypatch.setenv("REGISTRY_CACHE_TTL", "soon")
    assert run(["list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: invalid REGISTRY_CACHE_TTL 'soon': ") and err.count("\n") == 1


# Reads of the environment that are not settings of the registry, and why.
NOT_SETTINGS = {
    # click's shell-completion protocol (_REGISTRY_COMPLETE=bash_source ...), read as click
    # itself reads it.
    ("reconciler/cli/app.py", "if os.environ.get(variable):"),
}


def test_no_library_module_reads_the_environment():
    """Only Settings.from_env reads os.environ; everything else takes values."""
    reads = re.compile(r"\bos\.environ\b|\bgetenv\b|\benviron\[|\bos\.environb\b")
    found = {
        (str(path.relative_to(ROOT)), line.strip())
        for package in ("registry", "reconciler")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != ROOT / "registry" / "settings.py"
        for line in path.read_text().splitlines()
        if reads.search(line)
    }
    assert found - NOT_SETTINGS == set()
