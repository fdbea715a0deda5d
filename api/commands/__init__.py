"""Sub-commands of the ``hakobu`` command line, one module per command group, and the
pieces several of them share: the output folder, one-line errors, progress lines and the
region files (built-in or the user's)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import typer

from maps.files import RegionFiles, load_region

__all__ = ["DEFAULT_OUT", "RegionFiles", "check_out", "fail", "load_region", "progress"]


DEFAULT_OUT = Path("hakobu-out")


def fail(message: str) -> typer.Exit:
    """Print ``error: <message>`` on stderr and return the exit (status 2) to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def progress(message: str) -> None:
    """Print a progress line on stderr."""
    typer.echo(message, err=True)


def check_out(out: Path) -> None:
    """Create ``out`` if needed and make sure a file can be written in it.

    Raises
    ------
    typer.Exit
        After one ``error:`` line when ``out`` is a file or not writable.
    """
    if out.exists() and not out.is_dir():
        raise fail(f"--out {out} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".hakobu-probe-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise fail(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
