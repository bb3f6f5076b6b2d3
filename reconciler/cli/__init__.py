"""Command-line interface: `registry <command>` and `admin-cli registry <command>`."""

from __future__ import annotations

import sys

import typer

from registry.errors import RegistryError

from . import (  # noqa: F401  (importing a command module registers its commands)
    cache_commands,
    controller_commands,
    declarative_commands,
    kube_commands,
    operator_commands,
)
from .app import admin_app, app
from .common import say


def _run(application: typer.Typer) -> None:
    try:
        application()
    except RegistryError as error:
        say(f"error: {error}")
        sys.exit(1)


def main() -> None:
    _run(app)


def admin_main() -> None:
    _run(admin_app)
