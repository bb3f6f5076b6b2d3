"""The router's view and cache operations: `resolve`, `cache sync`, `cache invalidate`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from reconciler import views
from reconciler.views import Format
from registry import names

from .app import ROUTER, app
from .common import (
    Environment,
    ModelName,
    emit,
    open_cache,
    open_registry,
    open_target,
    output_option,
    warn,
)
from .session import current

if TYPE_CHECKING:
    from registry.cache import Cache

cache_app = typer.Typer(
    help="The router's Redis cache.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(cache_app, name="cache", rich_help_panel=ROUTER)


MessageFormat = Annotated[Format, output_option(views.MESSAGE)]


@app.command(rich_help_panel=ROUTER)
def resolve(
    model_name: ModelName,
    environment: Environment,
    output: Annotated[
        Format,
        output_option(
            views.RESOLVED,
            help="text: the endpoint; json: the entry and the tier that answered (source).",
        ),
    ] = Format.text,
) -> None:
    """Look a model up exactly as the router does (Redis first, then the database)."""
    import logging

    from registry.lookup import Resolver

    # The pool logs each failed connection attempt; the one error message below says it.
    logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())

    names.check_target(model_name, environment)
    target = open_target()
    cache = open_cache()
    # No connection before the lookup: like the router, answer from Redis while
    # PostgreSQL is down. One lookup per process: no in-process tier to keep coherent.
    with Resolver(
        target.url,
        cache=cache,
        ttl=current().settings.cache_ttl,
        description=target.description,
        local_cache_size=0,
        libpq=target.libpq,
        prepared_statements=target.prepared_statements,
    ) as resolver:
        try:
            route, source = resolver.resolve_with_source(model_name, environment)
        finally:
            if resolver.stats.cache_errors:
                warn(f"Redis at {cache.description} did not answer: the database answered instead")
    emit(views.RESOLVED, views.Resolved(route, source), output)


def _require_cache(command: str) -> Cache:
    from registry.cache import Cache
    from registry.errors import RegistryError

    cache = Cache.from_settings(current().settings)
    if cache is None:
        raise RegistryError(
            f"`registry cache {command}` needs the router's Redis, but REDIS_URL is unset: "
            "set REDIS_URL (for example redis://redis.system.svc.cluster.local:6379/0) and run "
            "the command again"
        )
    return cache


@cache_app.command("sync")
def cache_sync(output: MessageFormat = Format.text) -> None:
    """Delete the cache keys queued by committed changes (finishes after a Redis outage)."""
    from registry.cache import pending_invalidations, sync_outbox

    cache = _require_cache("sync")
    conn = open_registry()
    synced = sync_outbox(conn, cache)
    if not synced:
        cache.ping()  # with nothing queued, a refusing Redis would otherwise go unnoticed
    pending = pending_invalidations(conn)
    text = f"Synced {synced} cache invalidation(s); {pending} pending."
    emit(views.MESSAGE, views.Message(text, {"synced": synced, "pending": pending}), output)


@cache_app.command("invalidate")
def cache_invalidate(
    environment: Environment,
    model_name: Annotated[
        str | None,
        typer.Option(
            "--model-name", "-m", help="Only this model (default: the whole environment)."
        ),
    ] = None,
    output: MessageFormat = Format.text,
) -> None:
    """Drop cached entries by hand, e.g. after the database was changed outside the registry."""
    from registry.entry import cache_key

    names.check_environment(environment)
    if model_name is not None:
        names.check_model_name(model_name, environment)
    cache = _require_cache("invalidate")
    if model_name is None:
        dropped = cache.invalidate_environment(environment)
    else:
        dropped = cache.invalidate([cache_key(environment, model_name)])
    text = f'Invalidated {dropped} cached entr{"y" if dropped == 1 else "ies"} of "{environment}".'
    data = {"environment": environment, "model_name": model_name, "invalidated": dropped}
    emit(views.MESSAGE, views.Message(text, data), output)
