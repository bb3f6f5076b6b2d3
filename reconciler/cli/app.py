"""The typer applications. Command modules register themselves on ``app``."""

from typing import Annotated

import typer
from typer.core import TyperGroup

# The commands are listed workflow by workflow, in this order, under these headings;
# each command names its group as its help panel.
GITOPS = "GitOps (manifests to registry)"
OPERATOR = "Operator (admin-cli)"
ROUTER = "Router, cache and cluster"
CONTROLLER = "Controller (the registry follows the cluster)"
SHELL = "Shell (version, completion)"
PANELS = (GITOPS, OPERATOR, ROUTER, CONTROLLER, SHELL)

# -h like kubectl; inherited by every subcommand's context.
CONTEXT = {"help_option_names": ["-h", "--help"]}


class PanelGroup(TyperGroup):
    """Help lists commands under their panel's heading, in plain text.

    typer prints panels only through rich, which costs ~60 ms of imports on
    every --help; click's formatter writes the same headings without it.
    """

    def list_commands(self, ctx) -> list[str]:
        return sorted(super().list_commands(ctx), key=lambda name: self._panel(name)[0])

    def _panel(self, name: str) -> tuple[int, str]:
        found = getattr(self.commands[name], "rich_help_panel", None)
        if found in PANELS:
            return PANELS.index(found), found
        return len(PANELS), "Commands"

    def format_commands(self, ctx, formatter) -> None:
        shown = [(name, self.commands[name]) for name in self.list_commands(ctx)]
        shown = [(name, command) for name, command in shown if not command.hidden]
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        panels: dict[str, list[tuple[str, str]]] = {}
        for name, command in shown:
            rows = panels.setdefault(self._panel(name)[1], [])
            rows.append((name, command.get_short_help_str(limit)))
        for heading, rows in panels.items():
            with formatter.section(heading):
                formatter.write_dl(rows)

    def _main_shell_completion(self, ctx_args, prog_name, complete_var=None) -> None:
        # typer's completion scripts speak its own protocol; its classes replace
        # click's only once registered, which is done here, when completing, so
        # that no other start pays for it.
        import os

        variable = complete_var or f"_{prog_name}_COMPLETE".replace("-", "_").upper()
        if os.environ.get(variable):
            from typer._completion_classes import completion_init

            completion_init()
        super()._main_shell_completion(ctx_args, prog_name, complete_var)


app = typer.Typer(
    name="registry",
    cls=PanelGroup,
    # Plain help: rendering it with rich costs ~60 ms of imports on every --help.
    rich_markup_mode=None,
    help="Declarative, GitOps-driven model registry for vLLM deployments.",
    no_args_is_help=True,
    # `registry completion SHELL` prints the script instead of --install-completion.
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"registry {version('vllm-model-registry')}")
        raise typer.Exit()


@app.callback()
def _global_options(
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Say only errors and results: no notices.")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Say more: which database and cache, timing."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an internal error.")
    ] = False,
    no_color: Annotated[
        bool,
        typer.Option(
            "--no-color",
            help="No colour, even on a terminal (also: NO_COLOR set to anything).",
            envvar="REGISTRY_NO_COLOR",
            show_envvar=True,
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print the version and exit.",
            callback=_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    from .session import current

    session = current()
    session.quiet, session.verbose, session.debug = quiet, verbose and not quiet, debug
    session.color = not no_color  # and NO_COLOR unset: common.colored() asks the settings


db_app = typer.Typer(
    help="Database maintenance.", no_args_is_help=True, rich_markup_mode=None, cls=PanelGroup
)
app.add_typer(db_app, name="db", rich_help_panel=OPERATOR)

# `admin-cli registry <command>`: the entry point of the older workflow.
admin_app = typer.Typer(
    name="admin-cli",
    cls=PanelGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=CONTEXT,
)
admin_app.add_typer(app, name="registry")
