"""Click's own messages quote the rejected value whole: the one mapping of click errors
(reconciler/cli/errors.py) cuts each quoted value as registry.names does, after redacting
it, and leaves short ones as click wrote them."""

from __future__ import annotations

import pytest

PASSWORD = "correct-horse-battery-staple"
URL = f"postgresql://registry:{PASSWORD}@db.example.com:5432/registry?" + "x" * 200


@pytest.mark.parametrize(
    ("args", "env"),
    [(("list", "-o", URL), {}), (("list",), {"REGISTRY_NO_COLOR": URL})],
    ids=["choice", "switch"],
)
def test_a_long_quoted_value_is_cut_after_its_password_is_redacted(registry, args, env):
    code, _, err = registry(*args, env=env)
    assert code == 1
    assert PASSWORD not in err, err
    assert f"... ({len(URL)} characters)" in err, err
    assert err.startswith("error: ") and err.count("\n") == 1, err


def test_a_short_value_is_quoted_as_click_wrote_it(registry):
    code, _, err = registry("list", "-o", "yaml")
    assert code == 1
    assert "'yaml' is not one of 'table', 'json', 'csv'" in err, err


def test_a_value_quoted_with_double_quotes_is_cut_too(registry):
    value = "it's " + "y" * 200
    code, _, err = registry("list", "-o", value)
    assert code == 1
    assert "y" * 100 not in err and f"({len(value)} characters)" in err, err
