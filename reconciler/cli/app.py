"""The typer applications. Command modules register themselves on ``app``."""

from typing import Annotated

import typer
from typer.core import TyperGroup

# The commands are listed workflow by workflow, in this order (typer would follow
# module import order); each command names its group as its help panel.
GITOPS = "GitOps: manifests to registry"
OPERATOR = "Operator commands (admin-cli)"
ROUTER = "Router, cache and cluster"
CONTROLLER = "Controller: the registry follows the cluster"
PANELS = (GITOPS, OPERATOR, ROUTER, CONTROLLER)


class _PanelOrder(TyperGroup):
    """Lists commands panel by panel (typer would follow module import order)."""

    def list_commands(self, ctx) -> list[str]:
        def panel(name: str) -> int:
            found = getattr(self.commands[name], "rich_help_panel", None)
            return PANELS.index(found) if found in PANELS else len(PANELS)

        return sorted(super().list_commands(ctx), key=panel)


app = typer.Typer(
    name="registry",
    cls=_PanelOrder,
    # Plain help: rendering it with rich costs ~60 ms of imports on every --help.
    rich_markup_mode=None,
    help="Declarative, GitOps-driven model registry for vLLM deployments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
) -> None:
    from .session import current

    session = current()
    session.quiet, session.verbose, session.debug = quiet, verbose and not quiet, debug


db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(db_app, name="db", rich_help_panel=OPERATOR)

# `admin-cli registry <command>`: the entry point of the older workflow.
admin_app = typer.Typer(
    name="admin-cli",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
admin_app.add_typer(app, name="registry")
