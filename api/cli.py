"""The ``hakobu`` command line.

Each command group lives in its own module under :mod:`api.commands` and adds itself
to the application through ``register(app)``.

Every usage error (a missing option, a value of the wrong type, an unknown choice)
is answered in one line on stderr, ``error: <command>: <what is wrong>``, with exit
status 2, instead of typer's usage box.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup


class OneLineErrorGroup(TyperGroup):
    """A command group whose usage errors print one ``error:`` line, not a usage box."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the group; in standalone mode, print usage errors as one line and exit."""
        try:
            rv = super().main(args, prog_name, complete_var, False, windows_expand_args,
                              **extra)
        except typer.TyperException as exc:
            if not standalone_mode:
                raise
            text = exc.format_message().strip()
            ctx = getattr(exc, "ctx", None)
            if type(exc).__name__ == "NoArgsIsHelpError":  # no arguments: show the help
                typer.echo(text, err=True)
            else:
                where = f"{ctx.command_path}: " if ctx is not None else ""
                typer.echo(f"error: {where}{' '.join(text.split())}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            if not standalone_mode:
                raise
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    name="hakobu",
    help="On-demand transport and drone dispatch optimizer for transport-blank towns.",
    cls=OneLineErrorGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_COMMAND_MODULES: tuple[str, ...] = (
    "api.commands.region",
    "api.commands.solve",
    "api.commands.simulate",
    "api.commands.serve",
    "api.commands.report",
    "api.commands.drone",
    "api.commands.coverage",
    "api.commands.batch",
)


def _register_all() -> None:
    for name in _COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(app)


_register_all()


def main() -> None:
    """Run the command line."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
