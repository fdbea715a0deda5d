"""Which region to load: the built-in one or the user's files (light to import).

:class:`RegionFiles` names the files; :func:`load_region` loads them (or the built-in
Kumamoto region), shared by the command line, the coverage study and the batch runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from maps.region import Region


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionFiles:
    """The user's region files; ``osm=None`` is the built-in Kumamoto region."""

    osm: Path | None = None
    gtfs: tuple[Path, ...] = ()
    population: Path | None = None
    pois: tuple[Path, ...] = ()
    #: No-fly GeoJSON layers (DIDs, airports, geofences) for the region's drones.
    no_fly: tuple[Path, ...] = ()


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
                             pois=list(files.pois), no_fly=list(files.no_fly), progress=say)
