"""Up-front checks of command-line inputs, shared by the ``hakobu`` commands.

Every check raises :class:`InputError` with one line that names the option (or file)
and the problem; a command prints it as ``error: <line>`` and exits with status 2.
File checks are cheap sniffs (suffix, magic bytes, header, geometry types) made before
any slow work such as building a road graph. :func:`region_warnings` lists inputs that
do not belong to the map they were loaded with (stops, POIs or census cells outside it).
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import math
import os
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from maps.region import Region

#: Longest search a command accepts (one day); a longer limit is a typo.
MAX_TIME_LIMIT_S = 24 * 3600.0
#: Largest seed accepted (numpy and the solvers take 32-bit seeds).
MAX_SEED = 2**32 - 1
#: OSM file suffixes and the bytes each file starts with.
OSM_MAGIC: dict[str, bytes] = {
    ".osm.pbf": b"",  # checked by looking for the block type "OSMHeader"
    ".osm.bz2": b"BZh",
    ".osm.gz": b"\x1f\x8b",
    ".osm": b"<",
    ".xml": b"<",
}
#: Tables a GTFS zip must have.
GTFS_REQUIRED = ("stops.txt", "trips.txt", "stop_times.txt")
#: Columns stops.txt must have.
GTFS_STOP_COLUMNS = ("stop_id", "stop_lat", "stop_lon")
#: Columns of the e-Stat T001101 mesh table that a population file must have.
MESH_REQUIRED = ("KEY_CODE", "T001101001", "T001101019", "T001101022")
_POINTS = frozenset({"Point", "MultiPoint"})
_POLYGONS = frozenset({"Polygon", "MultiPolygon"})


class InputError(ValueError):
    """A command-line input that cannot be used; the message is one line."""


# ----------------------------------------------------------------------- numbers


def check_time_limit(value: float, option: str = "--time-limit") -> float:
    """Return ``value`` if it is a usable search time limit in seconds.

    Raises
    ------
    InputError
        If it is not a finite number in ``(0, MAX_TIME_LIMIT_S]``.
    """
    if not math.isfinite(value) or value <= 0:
        msg = f"{option}: must be a positive number of seconds, got {value:g}"
        raise InputError(msg)
    if value > MAX_TIME_LIMIT_S:
        msg = f"{option}: {value:g} s is more than a day ({MAX_TIME_LIMIT_S:g} s)"
        raise InputError(msg)
    return value


def check_seed(value: int, option: str = "--seed") -> int:
    """Return ``value`` if it is a seed in ``[0, 2**32 - 1]``."""
    if not 0 <= value <= MAX_SEED:
        msg = f"{option}: must be between 0 and {MAX_SEED}, got {value}"
        raise InputError(msg)
    return value


# ------------------------------------------------------------------------- files


def input_file(path: Path, option: str = "") -> Path:
    """Return ``path`` if it is an existing, readable, non-empty file.

    ``option`` (e.g. ``--gtfs``) prefixes the message; leave it empty for an argument.
    """
    where = f"{option} {path}" if option else str(path)
    if not path.exists():
        msg = f"{where}: no such file"
        raise InputError(msg)
    if not path.is_file():
        msg = f"{where}: not a file"
        raise InputError(msg)
    if not os.access(path, os.R_OK):
        msg = f"{where}: not readable (permission denied)"
        raise InputError(msg)
    if path.stat().st_size == 0:
        msg = f"{where}: the file is empty"
        raise InputError(msg)
    return path


def output_path(path: Path, option: str, inputs: Iterable[Path] = ()) -> Path | None:
    """Check that ``path`` can be written, before any work is done.

    Parameters
    ----------
    path
        The output file; ``-`` means standard output.
    option
        The option's name, for the message.
    inputs
        Input files the output must not overwrite.

    Returns
    -------
    pathlib.Path or None
        The path, or None for standard output.
    """
    if str(path) == "-":
        return None
    if path.is_dir():
        msg = f"{option} {path}: is a folder; give a file name"
        raise InputError(msg)
    for src in inputs:
        if path.exists() and src.exists() and path.resolve() == src.resolve():
            msg = f"{option} {path}: would overwrite the input file; choose another name"
            raise InputError(msg)
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        msg = f"{option} {path}: {parent} is a file, not a folder"
        raise InputError(msg)
    if not parent.is_dir():
        msg = f"{option} {path}: folder {parent} does not exist"
        raise InputError(msg)
    writable = os.access(path, os.W_OK) if path.exists() else os.access(parent, os.W_OK)
    if not writable:
        msg = f"{option} {path}: cannot be written (permission denied)"
        raise InputError(msg)
    return path


def check_folder(path: Path, option: str) -> Path:
    """Return ``path`` if it is a folder or does not exist yet (it will be created)."""
    if path.exists() and not path.is_dir():
        msg = f"{option} {path}: is a file, not a folder"
        raise InputError(msg)
    return path


def check_osm(path: Path, option: str = "--osm") -> Path:
    """Return ``path`` if it looks like an OSM file of a supported kind (by its bytes)."""
    input_file(path, option)
    name = path.name.lower()
    suffix = next((s for s in sorted(OSM_MAGIC, key=len, reverse=True) if name.endswith(s)),
                  None)
    if suffix is None:
        msg = (f"{option} {path}: not an OpenStreetMap file; expected one of "
               f"{', '.join(OSM_MAGIC)}")
        raise InputError(msg)
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if suffix == ".osm.pbf":
        ok = b"OSMHeader" in head[:64]
    else:
        ok = head.startswith(OSM_MAGIC[suffix])
        if ok and suffix in (".osm", ".xml"):
            ok = b"<osm" in head
        elif ok:
            opener = bz2.open if suffix == ".osm.bz2" else gzip.open
            try:
                with opener(path, "rb") as fh:
                    ok = b"<osm" in fh.read(4096)
            except (OSError, EOFError):
                ok = False
    if not ok:
        msg = f"{option} {path}: not an OpenStreetMap {suffix} file (its content does not match)"
        raise InputError(msg)
    return path


def check_gtfs(path: Path, option: str = "--gtfs") -> Path:
    """Return ``path`` if it is a zip holding the GTFS tables Hakobu reads."""
    input_file(path, option)
    if not zipfile.is_zipfile(path):
        msg = f"{option} {path}: not a zip file (a GTFS feed is a .zip of .txt tables)"
        raise InputError(msg)
    try:
        with zipfile.ZipFile(path) as zf:
            members = {Path(n).name: n for n in zf.namelist()}
            missing = [t for t in GTFS_REQUIRED if t not in members]
            if missing:
                msg = f"{option} {path}: not a GTFS feed (no {', '.join(missing)} in the zip)"
                raise InputError(msg)
            with zf.open(members["stops.txt"]) as fh:
                header = fh.readline().decode("utf-8-sig", errors="replace")
    except (zipfile.BadZipFile, OSError) as exc:
        msg = f"{option} {path}: unreadable zip ({exc})"
        raise InputError(msg) from None
    columns = {c.strip().strip('"') for c in header.split(",")}
    lacking = [c for c in GTFS_STOP_COLUMNS if c not in columns]
    if lacking:
        msg = f"{option} {path}: stops.txt has no {', '.join(lacking)} column"
        raise InputError(msg)
    return path


def check_population(path: Path, option: str = "--population") -> Path:
    """Return ``path`` if its header is an e-Stat T001101 500 m mesh table (CP932 CSV)."""
    input_file(path, option)
    with open(path, "rb") as fh:
        head = fh.read(65536)
    try:
        text = head.decode("cp932", errors="strict")
    except UnicodeDecodeError:
        text = head.decode("cp932", errors="replace")
        if "\ufffd" in text[: max(0, len(text) - 2)]:
            msg = f"{option} {path}: not a CP932 (Shift_JIS) text file"
            raise InputError(msg) from None
    first = next(iter(io.StringIO(text)), "")
    columns = [c.strip().strip('"') for c in first.split(",")]
    missing = [c for c in MESH_REQUIRED if c not in columns]
    if missing:
        msg = (f"{option} {path}: not an e-Stat 500 m mesh table (T001101): header has no "
               f"{', '.join(missing)}")
        raise InputError(msg)
    return path


def _geometry_types(data: Any) -> list[str]:
    if not isinstance(data, dict):
        return []
    kind = data.get("type")
    if kind == "FeatureCollection":
        feats = data.get("features")
        return [t for f in feats for t in _geometry_types(f)] if isinstance(feats, list) else []
    if kind == "Feature":
        return _geometry_types(data.get("geometry"))
    if kind == "GeometryCollection":
        geoms = data.get("geometries")
        return [t for g in geoms for t in _geometry_types(g)] if isinstance(geoms, list) else []
    return [kind] if isinstance(kind, str) else []


def check_geojson(path: Path, option: str, *, polygons: bool) -> Path:
    """Return ``path`` if it is GeoJSON with point (or, if ``polygons``, polygon) features."""
    input_file(path, option)
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"{option} {path}: not a GeoJSON file ({type(exc).__name__})"
        raise InputError(msg) from None
    types = _geometry_types(data)
    if not types:
        msg = f"{option} {path}: not GeoJSON (no Feature or geometry with a type)"
        raise InputError(msg)
    want, other, word = ((_POLYGONS, _POINTS, "Polygon")
                         if polygons else (_POINTS, _POLYGONS, "Point"))
    if not any(t in want for t in types):
        found = ", ".join(sorted(set(types)))
        hint = ""
        if any(t in other for t in types):
            hint = "; did you mean --pois?" if polygons else "; did you mean --no-fly?"
        msg = f"{option} {path}: has no {word} features (found {found}){hint}"
        raise InputError(msg)
    return path


def check_region_files(
    osm: Path | None,
    *,
    gtfs: Sequence[Path] = (),
    population: Path | None = None,
    pois: Sequence[Path] = (),
    no_fly: Sequence[Path] = (),
) -> None:
    """Check every region input file's kind, before the (slow) road graph is built.

    Raises
    ------
    InputError
        For the first file that is missing or of the wrong kind; the message names the
        option and the file.
    """
    if osm is None and (gtfs or population or pois or no_fly):
        msg = "--gtfs/--population/--pois/--no-fly need --osm (the built-in region has its own)"
        raise InputError(msg)
    if osm is not None:
        check_osm(osm)
    for p in gtfs:
        check_gtfs(p)
    if population is not None:
        check_population(population)
    for p in pois:
        check_geojson(p, "--pois", polygons=False)
    for p in no_fly:
        check_geojson(p, "--no-fly", polygons=True)


# ---------------------------------------------------------------------- warnings


def region_warnings(
    region: Region,
    *,
    gtfs: Sequence[Path] = (),
    population: Path | None = None,
    pois: Sequence[Path] = (),
) -> list[str]:
    """List the inputs that lie outside ``region``'s map, one line each.

    A stop or POI is outside when it is farther than the default snap distance (500 m)
    from the drive graph; a census file is outside when none of its cells touches the
    map's bounding box.
    """
    from maps.snap import DEFAULT_MAX_SNAP_M, snap_or_mask

    out: list[str] = []
    reach = f"{DEFAULT_MAX_SNAP_M:g} m"
    for p in gtfs:
        feed = p.name.removesuffix(".zip").removesuffix(".gtfs")
        rows = region.stops[region.stops["feed"] == feed]
        far = int((~rows["in_area"].astype(bool)).sum())
        if far:
            out.append(f"--gtfs {p}: {far:,} of {len(rows):,} stops are outside the map "
                       f"(farther than {reach} from its roads)")
    for p in pois:
        rows = region.pois[region.pois["source"] == p.name.split(".")[0]]
        if len(rows):
            _, ok = snap_or_mask(region.road, rows[["lon", "lat"]].to_numpy(),
                                 max_distance_m=DEFAULT_MAX_SNAP_M)
            far = int((~ok).sum())
            if far:
                out.append(f"--pois {p}: {far:,} of {len(rows):,} points are outside the map "
                           f"(farther than {reach} from its roads)")
    if population is not None and len(region.population) == 0:
        out.append(f"--population {population}: no mesh cell touches the map, so the region "
                   "has no population")
    return out
