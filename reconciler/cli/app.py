"""The typer applications. Command modules register themselves on ``app``."""

import typer

app = typer.Typer(
    name="registry",
    help="Declarative, GitOps-driven model registry for vLLM deployments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")

# `admin-cli registry <command>`: the entry point of the older workflow.
admin_app = typer.Typer(
    name="admin-cli", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
)
admin_app.add_typer(app, name="registry")
