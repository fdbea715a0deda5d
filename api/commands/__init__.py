"""Sub-commands of the ``hakobu`` command line, one module per command group, and the
pieces several of them share: the output folder, one-line errors, progress lines and the
region files (built-in or the user's)."""

from __future__ import annotations

from pathlib import Path

import typer

from maps.files import RegionFiles, load_region

__all__ = ["DEFAULT_OUT", "RegionFiles", "fail", "load_region", "progress"]


DEFAULT_OUT = Path("hakobu-out")


def fail(message: str) -> typer.Exit:
    """Print ``error: <message>`` on stderr and return the exit (status 2) to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def progress(message: str) -> None:
    """Print a progress line on stderr."""
    typer.echo(message, err=True)
