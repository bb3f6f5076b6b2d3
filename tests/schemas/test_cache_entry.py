"""schemas/cache-entry.schema.json is the contract of the cached value: everything the
registry writes validates, and what the lookup refuses, the schema refuses too."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from reconciler.apply import apply
from reconciler.plan import Plan, change_for
from registry import names, store
from registry.cache import Cache, Route, decode, encode
from registry.entry import Entry
from registry.errors import ModelNotFound, ModelNotReady
from registry.lookup import Resolver
from tests.helpers import ENV, POISONED

# Refused by the lookup because of the key the value sits under, which the schema cannot see.
FOREIGN = {"another model", "another environment"}


@pytest.fixture(scope="module")
def validator():
    text = resources.files("schemas").joinpath("cache-entry.schema.json").read_text("utf-8")
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_every_value_the_lookups_write_validates(conn, database_url, redis_url, validator):
    statuses = {"ready-model": "ready", "pending-model": "pending", "disabled-model": "disabled"}
    endpoints = {
        name: names.convention_endpoint(name, ENV, "inference", 65535) for name in statuses
    }
    entries = [
        Entry(name, ENV, "inference", endpoints[name], status=status)
        for name, status in statuses.items()
    ]
    plan = Plan(ENV, store.revision(conn, ENV), changes=tuple(change_for(None, e) for e in entries))
    apply(conn, plan)
    with Resolver(database_url, cache=Cache(redis_url)) as resolver:
        assert resolver.resolve("ready-model", ENV).endpoint == endpoints["ready-model"]
        for name in ("pending-model", "disabled-model"):
            with pytest.raises(ModelNotReady):
                resolver.resolve(name, ENV)
        with pytest.raises(ModelNotFound):
            resolver.resolve("unknown-model", ENV)
        resolver.flush()
        client = resolver.cache.client
        written = {key.decode(): client.get(key) for key in client.scan_iter("model_registry:*")}
    expected = {
        f"model_registry:{ENV}:{name}": Route(name, ENV, "inference", endpoints[name], status)
        for name, status in statuses.items()
    }
    assert {key: decode(value, ENV, key.rpartition(":")[2]) for key, value in written.items()} == {
        **expected,
        f"model_registry:{ENV}:unknown-model": None,
    }
    for value in written.values():
        validator.validate(json.loads(value))


@pytest.mark.parametrize("status", ["ready", "pending", "disabled", None])
def test_encode_validates(validator, status):
    endpoint = names.convention_endpoint("m", ENV)
    route = None if status is None else Route("m", ENV, "system", endpoint, status)
    validator.validate(json.loads(encode(route)))


def json_documents():
    """The poisoned values that are JSON documents the schema can judge: within the byte
    bound (stated in its description; JSON Schema cannot count bytes), not foreign."""
    for name, value in POISONED.items():
        if name in FOREIGN or len(value) > 4096:
            continue
        try:
            yield pytest.param(json.loads(value), id=name)
        except ValueError:
            continue


@pytest.mark.parametrize("document", list(json_documents()))
def test_what_the_lookup_refuses_the_schema_refuses(validator, document):
    assert not validator.is_valid(document)
