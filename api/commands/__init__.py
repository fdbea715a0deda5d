"""Sub-commands of the ``hakobu`` command line, one module per command group, and the
pieces several of them share: the output folder, one-line errors, progress lines and the
region files (built-in or the user's)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from maps.region import Region

DEFAULT_OUT = Path("hakobu-out")


def fail(message: str) -> typer.Exit:
    """Print ``error: <message>`` on stderr and return the exit (status 2) to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def progress(message: str) -> None:
    """Print a progress line on stderr."""
    typer.echo(message, err=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionFiles:
    """The user's region files; ``osm=None`` is the built-in Kumamoto region."""

    osm: Path | None = None
    gtfs: tuple[Path, ...] = ()
    population: Path | None = None
    pois: tuple[Path, ...] = ()


def load_region(files: RegionFiles, say: Callable[[str], None] | None = None) -> Region:
    """Load the built-in region or the region of ``files``, reporting progress to ``say``."""
    from maps.region import default_region, region_from_files

    if files.osm is None:
        if say is not None:
            say("loading the built-in Kumamoto region ...")
        return default_region(progress=say)
    if say is not None:
        say(f"loading region {files.osm.name} ...")
    return region_from_files(files.osm, gtfs=list(files.gtfs), population=files.population,
                             pois=list(files.pois), progress=say)
