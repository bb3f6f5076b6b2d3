"""A router replica in its own process, for tests and benchmarks:
`python -m tests.fakes.router_process`.

serve DATABASE_URL REDIS_URL
    One Resolver; reads commands from stdin, answers one JSON line each:
    ``resolve MODEL ENV`` -> {"source", "endpoint", "error"}; ``active`` -> whether the
    local tier answers; ``stats``; ``drop MODEL ENV`` -> prints "watching", resolves until
    the answer no longer comes from memory and prints that moment (time.monotonic).
hammer DATABASE_URL REDIS_URL MODEL ENV THREADS OUT
    THREADS threads resolve MODEL, 1 ms apart as a router between requests, until stdin
    closes; prints "ready" once the local tier is active; then writes the stats to OUT
    and the (start, end) monotonic times of every answer that returned the endpoint to
    OUT.served, of every other answer to OUT.refused (arrays of doubles).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from array import array
from dataclasses import asdict

from registry.cache import Cache
from registry.errors import RegistryError
from registry.lookup import Resolver


def answer(resolver: Resolver, model: str, environment: str) -> dict[str, str | None]:
    try:
        route, source = resolver.resolve_with_source(model, environment)
    except RegistryError as error:
        return {"source": None, "endpoint": None, "error": str(error)}
    return {"source": source, "endpoint": route.endpoint, "error": None}


def wait_active(resolver: Resolver) -> None:
    while not resolver.local_cache_active:
        time.sleep(0.01)


def serve(resolver: Resolver) -> None:
    for line in sys.stdin:
        command, *args = line.split()
        if command == "resolve":
            reply = answer(resolver, *args)
        elif command == "active":
            reply = {"active": resolver.local_cache_active}
        elif command == "stats":
            reply = asdict(resolver.stats)
        elif command == "drop":
            print("watching", flush=True)
            while answer(resolver, *args)["source"] == "local":
                time.sleep(0.0001)  # as a router between requests: the GIL is free
            reply = {"dropped_at": time.monotonic()}
        else:
            reply = {"error": f"unknown command {command!r}"}
        print(json.dumps(reply), flush=True)


def hammer(resolver: Resolver, model: str, environment: str, threads: int, out: str) -> None:
    done = threading.Event()
    served = [array("d") for _ in range(threads)]  # start, end, start, end, ...
    refused = [array("d") for _ in range(threads)]

    def run(number: int) -> None:
        while not done.is_set():
            start = time.monotonic()
            try:
                resolver.resolve(model, environment)
                record = served[number]
            except RegistryError:
                record = refused[number]
            record.append(start)
            record.append(time.monotonic())
            time.sleep(0.001)

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    wait_active(resolver)
    print("ready", flush=True)
    sys.stdin.read()
    done.set()
    for worker in workers:
        worker.join()
    for name, records in (("served", served), ("refused", refused)):
        with open(f"{out}.{name}", "wb") as file:
            for record in records:
                record.tofile(file)
    with open(out, "w", encoding="utf-8") as file:
        json.dump(asdict(resolver.stats), file)


def main() -> None:
    mode, database_url, redis_url, *rest = sys.argv[1:]
    with Resolver(database_url, cache=Cache(redis_url), cache_retry_interval=0) as resolver:
        if mode == "serve":
            serve(resolver)
        else:
            model, environment, threads, out = rest
            hammer(resolver, model, environment, int(threads), out)


if __name__ == "__main__":
    main()
