"""A :class:`Region`: road and walk graphs, transit stops, population, POIs and no-fly layers.

Built by :func:`region_from_files` from user files or by :func:`default_region` from the
built-in Kumamoto data in ``maps/data/kumamoto``, and cached on disk, content-addressed:
the cache key hashes the bytes of every input file and the source of the maps modules,
so a changed file or a new Hakobu version never reuses a stale entry.

Cache location: the ``cache_dir`` argument, else ``$HAKOBU_CACHE_DIR``, else
``~/.cache/hakobu``. Graph arrays are stored as ``.npz`` (no pickle); the data frames as a
pickle, so only point the cache at a directory you trust.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import pickle
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib.metadata import version as _pkg_version
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from maps.errors import MapDataError, MapsError
from maps.matrix import travel_matrices, with_hierarchy
from maps.road import RoadGraph, road_graphs_from_file
from maps.snap import DEFAULT_MAX_SNAP_M, EdgeIndex, snap_or_mask

logger = logging.getLogger(__name__)

#: Folder of the built-in Kumamoto region.
DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data" / "kumamoto"
#: Attribution to show with maps and reports made from the built-in region
#: (DATA_LICENSES.md has the full list of sources and licences).
DEFAULT_ATTRIBUTION = (
    "Roads © OpenStreetMap contributors (ODbL 1.0). "
    "出典：政府統計の総合窓口(e-Stat)、令和2年国勢調査 地域メッシュ統計. "
    "出典：熊本市オープンデータ（病院一覧、令和6年2月1日現在）. "
    "Bus/tram/rail: 熊本都市バス, 熊本バス, 熊本電鉄バス / バスきたくまさん (CC BY 4.0), "
    "熊本市交通局 (CC BY 2.1 JP), 熊本電鉄 (CC0)."
)
#: Bump to invalidate every cache entry (the module sources are hashed as well).
CACHE_FORMAT = 1
_CRS = "EPSG:4326"
#: e-Stat T001101 item codes: total population, 65 and over, 75 and over.
MESH_COLUMNS = {"total": "T001101001", "age65plus": "T001101019", "age75plus": "T001101022"}
MESH_LAT_S = 15.0 / 3600.0
MESH_LON_S = 22.5 / 3600.0

Progress = Callable[[str], None]


# ------------------------------------------------------------------------------ Region


@dataclass(frozen=True, slots=True, kw_only=True)
class Region:
    """Everything Hakobu knows about a service area.

    Attributes
    ----------
    name
        Display name.
    road
        Drive graph for the ``car`` profile (largest strongly connected component).
    walk
        Walking graph (both directions on every walkable way).
    stops
        Transit stops, one row per stop and feed: ``stop_id``, ``name``, ``feed`` (GTFS
        file stem, or ``osm``), ``source`` (``gtfs``/``osm``), ``departures_weekday``
        (departures on the feed's representative weekday; 0 for OSM stops, which have
        no timetable), ``lon``, ``lat``, ``in_area`` (within the default snap distance of
        the drive graph) and a Point ``geometry`` (EPSG:4326).
    population
        Census 500 m mesh cells intersecting the map's bounding box: ``mesh_code``,
        ``total``, ``age65plus``, ``age75plus`` (ints; e-Stat's suppressed ``*`` read as
        0), Polygon ``geometry``.
    pois
        Points of interest: ``name``, ``kind`` (e.g. ``hospital``), ``source`` (file stem),
        ``lon``, ``lat``, Point ``geometry``.
    no_fly
        No-fly polygons with a ``layer`` column (file stem); kept for the airspace layer.
    bounds
        ``(min_lon, min_lat, max_lon, max_lat)`` of the road data.
    notes
        Data caveats found while loading (suppressed values, dropped rows...).
    """

    name: str
    road: RoadGraph
    walk: RoadGraph
    stops: gpd.GeoDataFrame
    population: gpd.GeoDataFrame
    pois: gpd.GeoDataFrame
    no_fly: gpd.GeoDataFrame
    bounds: tuple[float, float, float, float]
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> dict[str, Any]:
        """Return the headline numbers as a JSON-ready dict.

        Keys: ``name``, ``nodes``, ``edges`` (drive graph), ``walk_nodes``, ``walk_edges``,
        ``stops`` (rows of :attr:`stops`), ``stops_in_area``, ``population`` (sum of
        ``total``), ``age65plus``, ``hospitals`` (POIs of kind ``hospital``), ``pois``,
        ``no_fly_polygons``, ``bounds``.
        """
        kinds = self.pois["kind"] if len(self.pois) else pd.Series([], dtype=str)
        return {
            "name": self.name,
            "nodes": self.road.n_nodes,
            "edges": self.road.n_edges,
            "walk_nodes": self.walk.n_nodes,
            "walk_edges": self.walk.n_edges,
            "stops": len(self.stops),
            "stops_in_area": int(self.stops["in_area"].sum()) if len(self.stops) else 0,
            "population": int(self.population["total"].sum()) if len(self.population) else 0,
            "age65plus": (int(self.population["age65plus"].sum()) if len(self.population) else 0),
            "hospitals": int((kinds == "hospital").sum()),
            "pois": len(self.pois),
            "no_fly_polygons": len(self.no_fly),
            "bounds": [round(b, 6) for b in self.bounds],
        }

    def edge_index(self) -> EdgeIndex:
        """Build a spatial index over the drive graph (reuse it for repeated snapping)."""
        return EdgeIndex.build(self.road)


# ------------------------------------------------------------------------------- GTFS


def _read_gtfs_table(zf: zipfile.ZipFile, name: str, path: Path, required: bool) -> pd.DataFrame:
    members = {Path(n).name: n for n in zf.namelist()}
    if name not in members:
        if required:
            msg = f"{path}: GTFS feed has no {name}"
            raise MapDataError(msg)
        return pd.DataFrame()
    with zf.open(members[name]) as fh:
        data = fh.read()
    try:
        return pd.read_csv(io.BytesIO(data), dtype=str, encoding="utf-8-sig", keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        msg = f"{path}: cannot parse {name} ({exc})"
        raise MapDataError(msg) from exc


def _active_services(calendar: pd.DataFrame, dates: pd.DataFrame) -> dict[date, set[str]]:
    """Map each date the feed covers to its set of active service ids."""
    active: dict[date, set[str]] = {}
    days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    for row in calendar.itertuples(index=False):
        start = pd.Timestamp(str(row.start_date)).date()
        end = pd.Timestamp(str(row.end_date)).date()
        flags = [str(getattr(row, d)) == "1" for d in days]
        day = start
        while day <= end:
            if flags[day.weekday()]:
                active.setdefault(day, set()).add(str(row.service_id))
            day += timedelta(days=1)
    for row in dates.itertuples(index=False):
        day = pd.Timestamp(str(row.date)).date()
        if str(row.exception_type) == "1":
            active.setdefault(day, set()).add(str(row.service_id))
        elif str(row.exception_type) == "2":
            active.get(day, set()).discard(str(row.service_id))
    return active


def representative_weekday(trips: pd.DataFrame, active: dict[date, set[str]]) -> date | None:
    """Return the Monday-Friday date with the most active trips (earliest on ties)."""
    per_service = trips.groupby("service_id").size().to_dict()
    best: tuple[int, date] | None = None
    for day in sorted(active):
        if day.weekday() >= 5:
            continue
        count = sum(per_service.get(s, 0) for s in active[day])
        if best is None or count > best[0]:
            best = (count, day)
    return None if best is None else best[1]


def stops_from_gtfs(path: str | Path) -> gpd.GeoDataFrame:
    """Read a GTFS or GTFS-JP zip's boarding stops with their weekday departures.

    Parameters
    ----------
    path
        A GTFS ``.zip``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``stop_id``, ``name``, ``feed`` (file name without ``.zip``/``.gtfs``), ``source``
        (``gtfs``), ``departures_weekday``, ``lon``, ``lat``, Point ``geometry``. Only
        boarding points (``location_type`` 0 or empty) are kept.

    Raises
    ------
    MapDataError
        If the file is missing, not a zip, lacks ``stops.txt``/``trips.txt``/
        ``stop_times.txt`` or has unreadable coordinates.

    Notes
    -----
    The representative weekday is the Monday-Friday date in the feed's calendar
    (``calendar.txt`` plus ``calendar_dates.txt`` exceptions) with the most active trips.
    A departure is a ``stop_times`` row of an active trip that is not the trip's last stop
    and allows boarding (``pickup_type`` != 1).
    """
    p = Path(path)
    if not p.is_file():
        msg = f"{p}: GTFS file not found"
        raise MapDataError(msg)
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError) as exc:
        msg = f"{p}: not a GTFS zip file ({exc})"
        raise MapDataError(msg) from exc
    with zf:
        stops = _read_gtfs_table(zf, "stops.txt", p, True)
        trips = _read_gtfs_table(zf, "trips.txt", p, True)
        times = _read_gtfs_table(zf, "stop_times.txt", p, True)
        calendar = _read_gtfs_table(zf, "calendar.txt", p, False)
        cal_dates = _read_gtfs_table(zf, "calendar_dates.txt", p, False)
    feed = p.name.removesuffix(".zip").removesuffix(".gtfs")
    if "location_type" in stops:
        stops = stops[stops["location_type"].isin(["", "0"])]
    try:
        lon = stops["stop_lon"].astype(float).to_numpy()
        lat = stops["stop_lat"].astype(float).to_numpy()
    except (KeyError, ValueError) as exc:
        msg = f"{p}: stops.txt has missing or unreadable stop_lon/stop_lat ({exc})"
        raise MapDataError(msg) from exc
    departures = _departures(trips, times, calendar, cal_dates)
    frame = pd.DataFrame(
        {
            "stop_id": stops["stop_id"].to_numpy(),
            "name": stops.get("stop_name", pd.Series([""] * len(stops))).to_numpy(),
            "feed": feed,
            "source": "gtfs",
            "departures_weekday": stops["stop_id"].map(departures).fillna(0).astype("int64"),
            "lon": lon,
            "lat": lat,
        }
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs=_CRS)


def _departures(
    trips: pd.DataFrame, times: pd.DataFrame, calendar: pd.DataFrame, cal_dates: pd.DataFrame
) -> pd.Series:
    if calendar.empty and cal_dates.empty:
        return pd.Series(dtype="int64")
    active = _active_services(calendar, cal_dates)
    day = representative_weekday(trips, active)
    if day is None:
        return pd.Series(dtype="int64")
    on_day = set(trips.loc[trips["service_id"].isin(active[day]), "trip_id"])
    st = times[times["trip_id"].isin(on_day)].copy()
    st["seq"] = st["stop_sequence"].astype(int)
    last = st.groupby("trip_id")["seq"].transform("max")
    boards = st["seq"] < last
    if "pickup_type" in st:
        boards &= st["pickup_type"] != "1"
    return st.loc[boards].groupby("stop_id").size()


def stops_from_osm(path: str | Path) -> gpd.GeoDataFrame:
    """Read OSM bus-stop/public-transport nodes as stops (``feed``/``source`` = ``osm``)."""
    from maps import osm  # imports osmnx: only when a file is read

    nodes = osm.transit_nodes_from_file(path)
    frame = pd.DataFrame(
        {
            "stop_id": "osm:" + nodes["osm_id"].astype(str),
            "name": nodes["name"],
            "feed": "osm",
            "source": "osm",
            "departures_weekday": np.zeros(len(nodes), dtype=np.int64),
            "lon": nodes["lon"],
            "lat": nodes["lat"],
        }
    )
    return gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=_CRS
    )


# ------------------------------------------------------------------------- population


def mesh_cell_bounds(codes: Sequence[str]) -> np.ndarray:
    """Decode 9-digit JIS X 0410 500 m mesh codes to cell bounds.

    Parameters
    ----------
    codes
        Codes such as ``"493001002"``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, 4)``: ``min_lon, min_lat, max_lon, max_lat`` per cell.

    Raises
    ------
    MapDataError
        If a code is not 9 digits or a digit is out of range.

    Notes
    -----
    South edge = ``code[0:2]/1.5 + code[4]*5/60 + code[6]*30/3600`` (+15" if the last digit
    is 3 or 4); west edge = ``100 + code[2:4] + code[5]*7.5/60 + code[7]*45/3600``
    (+22.5" if the last digit is 2 or 4). Cells are 15" by 22.5".
    """
    arr = np.asarray(list(codes), dtype=str)
    if arr.size == 0:
        return np.zeros((0, 4))
    ok = np.char.isdigit(arr) & (np.char.str_len(arr) == 9)
    if not ok.all():
        msg = f"mesh code {str(arr[~ok][0])!r}: not a 9-digit 500 m mesh code"
        raise MapDataError(msg)
    digits = np.array([[int(c) for c in s] for s in arr], dtype=np.int64)
    if (digits[:, 4:6] > 7).any() or (digits[:, 8] < 1).any() or (digits[:, 8] > 4).any():
        msg = "mesh code: secondary digits must be 0-7 and the quarter digit 1-4"
        raise MapDataError(msg)
    lat = (
        (digits[:, 0] * 10 + digits[:, 1]) / 1.5 + digits[:, 4] * 5 / 60 + digits[:, 6] * 30 / 3600
    )
    lon = (
        100 + digits[:, 2] * 10 + digits[:, 3] + digits[:, 5] * 7.5 / 60 + digits[:, 7] * 45 / 3600
    )
    lat = lat + np.isin(digits[:, 8], (3, 4)) * MESH_LAT_S
    lon = lon + np.isin(digits[:, 8], (2, 4)) * MESH_LON_S
    return np.column_stack([lon, lat, lon + MESH_LON_S, lat + MESH_LAT_S])


def population_from_estat(
    path: str | Path, *, bbox: tuple[float, float, float, float] | None = None
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read an e-Stat 500 m mesh CSV (table T001101, CP932, two header rows).

    Parameters
    ----------
    path
        The ``tblT001101H*.txt`` file.
    bbox
        Keep only cells intersecting ``(min_lon, min_lat, max_lon, max_lat)``.

    Returns
    -------
    tuple
        ``(cells, notes)``: the GeoDataFrame (``mesh_code``, ``total``, ``age65plus``,
        ``age75plus``, cell Polygon ``geometry``) and caveats (suppressed values).

    Raises
    ------
    MapDataError
        If the file is missing, not CP932 CSV, or lacks ``KEY_CODE`` / population columns.
    """
    p = Path(path)
    if not p.is_file():
        msg = f"{p}: population file not found"
        raise MapDataError(msg)
    try:
        raw = pd.read_csv(p, encoding="cp932", skiprows=[1], dtype=str, keep_default_na=False)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        msg = f"{p}: not an e-Stat CP932 CSV ({type(exc).__name__}: {exc})"
        raise MapDataError(msg) from exc
    missing = [c for c in ["KEY_CODE", *MESH_COLUMNS.values()] if c not in raw.columns]
    if missing:
        msg = f"{p}: not an e-Stat T001101 mesh table; missing columns {missing}"
        raise MapDataError(msg)
    codes = raw["KEY_CODE"].str.strip()
    try:
        cells = mesh_cell_bounds(codes.tolist())
    except MapDataError as exc:
        msg = f"{p}: {exc}"
        raise MapDataError(msg) from exc
    keep = np.ones(len(raw), dtype=bool)
    if bbox is not None:
        keep = (
            (cells[:, 0] < bbox[2])
            & (cells[:, 2] > bbox[0])
            & (cells[:, 1] < bbox[3])
            & (cells[:, 3] > bbox[1])
        )
    notes: list[str] = []
    data: dict[str, Any] = {"mesh_code": codes[keep].to_numpy()}
    for out, col in MESH_COLUMNS.items():
        values = raw.loc[keep, col].str.strip()
        hidden = int((values == "*").sum())
        if hidden:
            notes.append(f"{p.name}: {hidden} suppressed '*' values of {col} ({out}) read as 0")
        numbers = pd.to_numeric(values.replace({"*": "0", "": "0"}), errors="coerce")
        bad = numbers.isna() | (numbers < 0) | (numbers != numbers.round())
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            msg = (f"{p}: mesh {codes[keep].iloc[row]}: {col} ({out}) is "
                   f"{values.iloc[row]!r}, not a count of people")
            raise MapDataError(msg)
        data[out] = numbers.astype("int64")
    geometry = shapely.box(cells[keep, 0], cells[keep, 1], cells[keep, 2], cells[keep, 3])
    frame = pd.DataFrame({k: np.asarray(v) for k, v in data.items()})
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=_CRS), notes


# ------------------------------------------------------------------------ POIs, no-fly


def _read_geojson(path: str | Path, what: str) -> gpd.GeoDataFrame:
    p = Path(path)
    if not p.is_file():
        msg = f"{p}: {what} file not found"
        raise MapDataError(msg)
    try:
        frame = gpd.read_file(p)
    except Exception as exc:  # pyogrio raises several unrelated types
        msg = f"{p}: not a readable GeoJSON/vector file ({type(exc).__name__}: {exc})"
        raise MapDataError(msg) from exc
    if frame.crs is None:
        frame = frame.set_crs(_CRS)
    return frame.to_crs(_CRS)


def _poi_kind(frame: gpd.GeoDataFrame, default: str) -> pd.Series:
    for col in ("amenity", "healthcare", "shop", "kind"):
        if col in frame:
            values = frame[col].astype("string").fillna("")
            if (values != "").any():
                return values.where(values != "", default).astype(str)
    return pd.Series([default] * len(frame), index=frame.index, dtype=str)


def pois_from_geojson(path: str | Path) -> gpd.GeoDataFrame:
    """Read point POIs: ``name``, ``kind`` (from ``amenity``/``healthcare``/``shop``/``kind``
    or the file stem), ``source``, ``lon``, ``lat``, Point ``geometry``.

    Raises
    ------
    MapDataError
        If the file is unreadable or holds no Point features.
    """
    frame = _read_geojson(path, "POI")
    stem = Path(path).name.split(".")[0]
    points = frame[frame.geometry.geom_type == "Point"]
    if points.empty:
        msg = f"{path}: no Point features"
        raise MapDataError(msg)
    out = pd.DataFrame(
        {
            "name": points["name"].astype(str) if "name" in points else "",
            "kind": _poi_kind(points, stem),
            "source": stem,
            "lon": points.geometry.x,
            "lat": points.geometry.y,
        }
    )
    return gpd.GeoDataFrame(out, geometry=points.geometry.to_numpy(), crs=_CRS).reset_index(
        drop=True
    )


def no_fly_from_files(paths: Sequence[str | Path]) -> gpd.GeoDataFrame:
    """Read polygon layers into one GeoDataFrame with a ``layer`` column (file stem).

    Raises
    ------
    MapDataError
        If a file is unreadable or holds no Polygon/MultiPolygon features.
    """
    frames = []
    for path in paths:
        frame = _read_geojson(path, "no-fly")
        frame = frame[frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
        if frame.empty:
            msg = f"{path}: no Polygon features (a no-fly layer is made of polygons)"
            raise MapDataError(msg)
        frames.append(
            gpd.GeoDataFrame(
                {"layer": Path(path).name.split(".")[0]},
                geometry=frame.geometry.to_numpy(),
                crs=_CRS,
                index=range(len(frame)),
            )
        )
    if not frames:
        return gpd.GeoDataFrame({"layer": []}, geometry=[], crs=_CRS)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=_CRS)


def _empty_points() -> gpd.GeoDataFrame:
    cols: dict[str, list[Any]] = {"name": [], "kind": [], "source": [], "lon": [], "lat": []}
    return gpd.GeoDataFrame(cols, geometry=[], crs=_CRS)


# ------------------------------------------------------------------------------ cache


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """Return the cache folder: argument, else ``$HAKOBU_CACHE_DIR``, else ``~/.cache/hakobu``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("HAKOBU_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "hakobu"


def _code_version() -> str:
    h = hashlib.sha256(f"format={CACHE_FORMAT};osmnx={_pkg_version('osmnx')}".encode())
    here = Path(__file__).resolve().parent
    for name in ("osm.py", "road.py", "region.py", "snap.py", "ch.py", "matrix.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()


def _cache_key(inputs: dict[str, Any]) -> str:
    h = hashlib.sha256(_code_version().encode())
    for role, paths in sorted(inputs.items()):
        h.update(role.encode())
        for path in paths:
            p = Path(path)
            if not p.is_file():
                msg = f"{p}: {role} file not found"
                raise MapDataError(msg)
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()[:32]


def _save(region: Region, folder: Path) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    try:
        np.savez(tmp / "road.npz", **region.road.to_arrays())
        np.savez(tmp / "walk.npz", **region.walk.to_arrays())
        frames = {
            "stops": region.stops,
            "population": region.population,
            "pois": region.pois,
            "no_fly": region.no_fly,
        }
        with open(tmp / "frames.pkl", "wb") as fh:
            pickle.dump(frames, fh, protocol=pickle.HIGHEST_PROTOCOL)
        meta = {"name": region.name, "bounds": list(region.bounds), "notes": list(region.notes)}
        (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False))
        try:
            tmp.rename(folder)
        except OSError:  # another process won the race; its entry is equivalent
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _load(folder: Path) -> Region | None:
    try:
        meta = json.loads((folder / "meta.json").read_text())
        with np.load(folder / "road.npz", allow_pickle=False) as f:
            road = RoadGraph.from_arrays(f)
        with np.load(folder / "walk.npz", allow_pickle=False) as f:
            walk = RoadGraph.from_arrays(f)
        with open(folder / "frames.pkl", "rb") as fh:
            frames = pickle.load(fh)
    except (OSError, ValueError, KeyError, EOFError, pickle.UnpicklingError) as exc:
        logger.warning("ignoring unreadable cache entry %s (%s)", folder, exc)
        return None
    return Region(
        name=meta["name"],
        road=road,
        walk=walk,
        bounds=tuple(meta["bounds"]),
        notes=tuple(meta["notes"]),
        **frames,
    )


# ---------------------------------------------------------------------------- builders


def _as_list(paths: str | Path | Sequence[str | Path] | None) -> list[Path]:
    if paths is None:
        return []
    if isinstance(paths, str | Path):
        return [Path(paths)]
    return [Path(p) for p in paths]


def _build(inputs: dict[str, list[Path]], name: str, progress: Progress) -> Region:
    progress("reading roads")
    road, walk = road_graphs_from_file(inputs["osm"][0])
    progress("building contraction hierarchies")
    road, walk = with_hierarchy(road), with_hierarchy(walk)
    lo = min(road.bounds()[0], walk.bounds()[0])
    la = min(road.bounds()[1], walk.bounds()[1])
    hi = max(road.bounds()[2], walk.bounds()[2])
    ha = max(road.bounds()[3], walk.bounds()[3])
    bounds = (lo, la, hi, ha)
    notes: list[str] = []
    progress("reading transit stops")
    frames = [stops_from_gtfs(p) for p in inputs["gtfs"]]
    frames.append(stops_from_osm(inputs["osm"][0]))
    stops = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=_CRS)
    _, ok = snap_or_mask(road, stops[["lon", "lat"]].to_numpy(), max_distance_m=DEFAULT_MAX_SNAP_M)
    stops["in_area"] = ok
    if inputs["population"]:
        progress("reading population mesh")
        population, mesh_notes = population_from_estat(inputs["population"][0], bbox=bounds)
        notes.extend(mesh_notes)
    else:
        population = gpd.GeoDataFrame(
            {"mesh_code": [], "total": [], "age65plus": [], "age75plus": []},
            geometry=[],
            crs=_CRS,
        )
    pois_frames = [pois_from_geojson(p) for p in inputs["pois"]]
    pois = (
        gpd.GeoDataFrame(pd.concat(pois_frames, ignore_index=True), crs=_CRS)
        if pois_frames
        else _empty_points()
    )
    no_fly = no_fly_from_files(inputs["no_fly"])
    for note in notes:
        logger.info(note)
    return Region(
        name=name,
        road=road,
        walk=walk,
        stops=stops,
        population=population,
        pois=pois,
        no_fly=no_fly,
        bounds=bounds,
        notes=tuple(notes),
    )


def region_from_files(
    osm: str | Path,
    *,
    gtfs: Sequence[str | Path] = (),
    population: str | Path | None = None,
    pois: Sequence[str | Path] | str | Path = (),
    no_fly: Sequence[str | Path] = (),
    name: str | None = None,
    cache_dir: str | Path | bool | None = None,
    progress: Progress | None = None,
) -> Region:
    """Build (or load from the cache) a region from files.

    Parameters
    ----------
    osm
        Road data: ``.osm``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf``.
    gtfs
        GTFS / GTFS-JP zips.
    population
        e-Stat 500 m mesh CSV (T001101); cells outside the road data's bounding box are
        dropped.
    pois
        GeoJSON point files (hospitals...).
    no_fly
        GeoJSON polygon files (DIDs, airports...).
    name
        Display name; the OSM file name by default.
    cache_dir
        Cache folder (see :func:`cache_root`); ``False`` disables the cache.
    progress
        Called with a short message before each long step (e.g. print to stderr).

    Returns
    -------
    Region

    Raises
    ------
    MapDataError
        If a file is missing, unreadable or empty (the message names it).
    """
    report = progress or (lambda _msg: None)
    inputs = {
        "osm": [Path(osm)],
        "gtfs": _as_list(gtfs),
        "population": _as_list(population),
        "pois": _as_list(pois),
        "no_fly": _as_list(no_fly),
    }
    label = name or Path(osm).name.split(".")[0]
    if cache_dir is False:
        _cache_key(inputs)  # checks that the files exist
        return _build(inputs, label, report)
    key = _cache_key(inputs) + "-" + hashlib.sha256(label.encode()).hexdigest()[:8]
    folder = cache_root(None if cache_dir is True else cache_dir) / f"region-{key}"
    if folder.is_dir():
        cached = _load(folder)
        if cached is not None:
            logger.info("region %s loaded from cache %s", label, folder)
            return cached
    region = _build(inputs, label, report)
    try:
        report("writing cache")
        _save(region, folder)
    except OSError as exc:
        logger.warning("could not write region cache %s (%s)", folder, exc)
    return region


def default_region(
    *, cache_dir: str | Path | bool | None = None, progress: Progress | None = None
) -> Region:
    """Return the built-in Kumamoto region (roads, 5 GTFS-JP feeds, census mesh, hospitals,
    DID and Kumamoto Airport polygons), from the cache when possible.

    Parameters
    ----------
    cache_dir
        Cache folder (see :func:`cache_root`); ``False`` disables the cache.
    progress
        Called with a short message before each long step.
    """
    d = DEFAULT_DATA_DIR
    return region_from_files(
        d / "kumamoto_chuo_highways_2023-01.osm.bz2",
        gtfs=sorted(d.glob("*.gtfs.zip")),
        population=d / "tblT001101H4930.txt",
        pois=[d / "kumamoto_city_hospitals.geojson"],
        no_fly=[d / "r02_did_43_kumamoto_clipped.geojson", d / "kumamoto_airport_C28.geojson"],
        name="Kumamoto (built-in)",
        cache_dir=cache_dir,
        progress=progress,
    )


def travel_time_sample(region: Region, n: int = 5, *, seed: int = 0) -> list[dict[str, Any]]:
    """Return drive times from random in-area stops to random hospitals (for demos).

    Parameters
    ----------
    region
        The region.
    n
        Number of pairs.
    seed
        Random seed (same seed, same pairs).

    Returns
    -------
    list of dict
        ``from``, ``to``, ``duration_s``, ``distance_m`` per pair (falls back to random
        stops as destinations when the region has no POIs).

    Raises
    ------
    MapsError
        If the region has no transit stops in its area.
    """
    rng = np.random.default_rng(seed)
    stops = region.stops[region.stops["in_area"]]
    if stops.empty:
        msg = f"region {region.name!r}: no transit stops near the road graph"
        raise MapsError(msg)
    index = region.edge_index()
    dest_pool = region.pois if len(region.pois) else stops
    _, ok = snap_or_mask(index, dest_pool[["lon", "lat"]].to_numpy())
    dest_pool = dest_pool[ok]
    if dest_pool.empty:
        dest_pool = stops
    src = stops.iloc[rng.choice(len(stops), size=n, replace=len(stops) < n)]
    dst = dest_pool.iloc[rng.choice(len(dest_pool), size=n, replace=len(dest_pool) < n)]
    mats = travel_matrices(index, src[["lon", "lat"]].to_numpy(), dst[["lon", "lat"]].to_numpy())
    return [
        {
            "from": str(src["name"].iloc[i]),
            "to": str(dst["name"].iloc[i]),
            "duration_s": int(mats.duration_s[i, i]),
            "distance_m": int(mats.distance_m[i, i]),
        }
        for i in range(n)
    ]
