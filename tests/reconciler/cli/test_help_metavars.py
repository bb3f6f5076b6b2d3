"""Help names what an option takes: a typer ``parser`` without a metavar showed the
parser function's name (`--metrics-port <parse>`)."""

from __future__ import annotations

import click
import typer

from reconciler.cli.app import app


def _commands(group: click.Command, path: tuple[str, ...] = ()):
    yield path, group
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*path, name))


def test_no_option_shows_its_parser_function_as_its_metavar():
    root = typer.main.get_command(app)
    shown = []
    for path, command in _commands(root):
        ctx = click.Context(command, info_name=" ".join(("registry", *path)))
        for param in command.params:
            record = param.get_help_record(ctx)
            if record and "<parse>" in record[0]:
                shown.append((" ".join(path), record[0]))
    assert not shown
