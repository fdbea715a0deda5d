"""The ``hakobu`` command line.

Each command group lives in its own module under :mod:`api.commands` and adds itself
to the application through ``register(app)``.
"""

from __future__ import annotations

import importlib
import logging

import typer

app = typer.Typer(
    name="hakobu",
    help="On-demand transport and drone dispatch optimizer for transport-blank towns.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_COMMAND_MODULES: tuple[str, ...] = (
    "api.commands.region",
    "api.commands.solve",
    "api.commands.simulate",
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
