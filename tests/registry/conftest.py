"""The router's side: its Redis and a Resolver on it."""

from __future__ import annotations

import pytest

from registry.cache import Cache
from registry.lookup import Resolver


@pytest.fixture
def cache(redis_url):
    """The router's Redis, and a second client for the test to look at it."""
    cache = Cache(redis_url)
    yield cache
    cache.close()


@pytest.fixture
def resolver(conn, database_url, redis_url):
    with Resolver(database_url, cache=Cache(redis_url), cache_retry_interval=0) as resolver:
        yield resolver
