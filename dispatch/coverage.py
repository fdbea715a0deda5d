"""Coverage-gap studies (交通空白): who lives beyond walking reach of useful transit, and
how far they are from a hospital.

For every populated 500 m census cell of a region (:func:`access_study`):

* **Where residents are.** A cell's residents are spread evenly over a grid of
  ``grid x grid`` points inside the cell (100 m apart by default), the points outside the
  study area dropped. The study area is the map's bounding box; a cell half outside is
  counted by the exact share of its area inside (its residents are assumed evenly spread
  over the cell), so the population counted is ``sum(total x share)``.
* **Walking.** Each point walks straight to the nearest node of the walk graph (the
  *access* stretch, at most ``max_access_m``, default 250 m) and then along the walk
  graph. A map may lack residential streets (the built-in Kumamoto extract misses
  many: the median cell point is 550 m from a walk-graph node), which makes network
  walks too long, so the walk is the network
  walk or the *estimate* ``detour`` (default 1.3, a usual pedestrian circuity) times the
  straight line, whichever is shorter; the residents whose walk is the estimate are
  counted in ``population_walk_estimated``. A cell none of whose points is within
  ``max_access_m`` of a walkable road is reported as ``no_walk_road``.
* **Useful service.** A bus stop counts only with at least ``min_departures`` weekday
  departures (GTFS, the representative weekday of :func:`maps.region.stops_from_gtfs`);
  a station is a stop served by tram, subway, rail, monorail, cable car or funicular
  routes (GTFS ``route_type`` 0, 1, 2, 5, 7, 12), with the same departure threshold.
  OSM stops have no timetable and never count. A stop served by several feeds (same
  ``stop_id`` at the same position) is one stop, with the feeds' departures added up.
* **Gap.** A point is in a transport gap when it is beyond ``stop_m`` (default 500 m) of
  walking to a counted bus stop *and* beyond ``station_m`` (default 1,000 m) of a counted
  station. A cell's ``gap_share`` is the share of its points in a gap; the population in
  gaps is ``sum(counted x gap_share)`` (so gap + covered = total, exactly); a cell is a
  gap cell when ``gap_share >= 0.5``.
* **Hospital by car.** The drive time from each point to the nearest hospital (points of
  interest of kind ``hospital``) along the drive graph, the access stretch to the
  nearest road node driven at 20 km/h. Walking plus scheduled transit to a hospital is
  not computed.

Distances come from one multi-source Dijkstra per target set (scipy, on the CSR graph
with a virtual source joined to every target at its snap offset): every node's distance
to its nearest target at once.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

if TYPE_CHECKING:
    import geopandas as gpd

    from maps.region import Region
    from maps.road import RoadGraph

#: GTFS route types that make a stop a station.
STATION_ROUTE_TYPES = frozenset({0, 1, 2, 5, 7, 12})
#: Speed on the access stretch from a point to the nearest road node, when driving.
ACCESS_KMH = 20.0
#: Mean persons per household, 2020 census (Japan: 2.21). The building proxy puts one
#: household in every building.
PERSONS_PER_BUILDING = 2.21
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQ = 111_320.0


class CoverageError(ValueError):
    """A coverage study that cannot run (missing inputs, bad thresholds); one line."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Thresholds:
    """The study's parameters (all printed in the report)."""

    stop_m: float = 500.0
    station_m: float = 1000.0
    min_departures: int = 10
    max_access_m: float = 250.0
    detour: float = 1.3
    hospital_target_min: float = 30.0
    grid: int = 5

    def __post_init__(self) -> None:
        for name in ("stop_m", "station_m", "max_access_m", "hospital_target_min"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise CoverageError(f"{name}: must be a positive number, got {v}")
        if self.min_departures < 0:
            raise CoverageError(f"min_departures: must be >= 0, got {self.min_departures}")
        if not (math.isfinite(self.detour) and self.detour >= 1):
            raise CoverageError(f"detour: must be a number >= 1, got {self.detour}")
        if not 1 <= self.grid <= 20:
            raise CoverageError(f"grid: must be between 1 and 20, got {self.grid}")


@dataclass(slots=True, kw_only=True)
class CoverageResult:
    """Per-cell table, totals and what the study counted."""

    cells: gpd.GeoDataFrame
    summary: dict[str, Any]
    stops: pd.DataFrame
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- geometry
def _xy(lon: npt.ArrayLike, lat: npt.ArrayLike, lat0: float) -> npt.NDArray[np.float64]:
    kx = _M_PER_DEG_LON_EQ * math.cos(math.radians(lat0))
    return np.column_stack([np.asarray(lon, float) * kx, np.asarray(lat, float) * _M_PER_DEG_LAT])


def cell_points(cells: gpd.GeoDataFrame, area: shapely.Polygon, grid: int
                ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return ``(cell index, lon, lat)`` of the grid points inside ``area`` and each
    cell's share of area inside ``area``."""
    b = cells.geometry.bounds.to_numpy()
    f = (np.arange(grid) + 0.5) / grid
    gx = b[:, [0]] + (b[:, [2]] - b[:, [0]]) * f[None, :]
    gy = b[:, [1]] + (b[:, [3]] - b[:, [1]]) * f[None, :]
    lon = np.repeat(gx, grid, axis=1).reshape(-1)
    lat = np.tile(gy, (1, grid)).reshape(-1)
    cell = np.repeat(np.arange(len(cells)), grid * grid)
    inside = shapely.contains_xy(area, lon, lat)
    geoms = cells.geometry.to_numpy()
    share = shapely.area(shapely.intersection(geoms, area)) / shapely.area(geoms)
    return cell[inside], np.column_stack([lon[inside], lat[inside]]), share


# ----------------------------------------------------------------------------- stops
def stop_modes(gtfs: Sequence[str | Path]) -> dict[tuple[str, str], set[int]]:
    """Return the GTFS route types serving each ``(feed, stop_id)``.

    Feeds whose routes are all buses are read from ``routes.txt`` alone; the others join
    ``trips.txt`` and ``stop_times.txt``.
    """
    from maps.region import _read_gtfs_table

    out: dict[tuple[str, str], set[int]] = {}
    for path in gtfs:
        p = Path(path)
        feed = p.name.removesuffix(".zip").removesuffix(".gtfs")
        with zipfile.ZipFile(p) as zf:
            routes = _read_gtfs_table(zf, "routes.txt", p, False)
            if routes.empty or "route_type" not in routes:
                continue
            types = pd.to_numeric(routes["route_type"], errors="coerce").fillna(3).astype(int)
            if not set(types) & STATION_ROUTE_TYPES:
                continue
            trips = _read_gtfs_table(zf, "trips.txt", p, True)[["trip_id", "route_id"]]
            times = _read_gtfs_table(zf, "stop_times.txt", p, True)[["trip_id", "stop_id"]]
        rt = dict(zip(routes["route_id"], types, strict=True))
        trips = trips.assign(route_type=trips["route_id"].map(rt))
        pairs = times.drop_duplicates().merge(trips[["trip_id", "route_type"]], on="trip_id")
        for (sid, t), _ in pairs.groupby(["stop_id", "route_type"]):
            out.setdefault((feed, str(sid)), set()).add(int(t))
    return out


def counted_stops(stops: gpd.GeoDataFrame, modes: dict[tuple[str, str], set[int]],
                  min_departures: int) -> pd.DataFrame:
    """The stops with their ``station`` flag and whether they ``count`` (enough weekday
    departures from a timetable)."""
    frame = pd.DataFrame({
        "stop_id": stops["stop_id"].astype(str).to_numpy(),
        "name": stops["name"].to_numpy(), "feed": stops["feed"].to_numpy(),
        "source": stops["source"].to_numpy(),
        "departures_weekday": stops["departures_weekday"].astype(int).to_numpy(),
        "lon": stops["lon"].astype(float).to_numpy(),
        "lat": stops["lat"].astype(float).to_numpy()})
    frame["station"] = [bool(modes.get((f, s), set()) & STATION_ROUTE_TYPES)
                        for f, s in zip(frame["feed"], frame["stop_id"], strict=True)]
    # one stop served by several feeds (same id, same position to ~1 m): merged, its
    # departures added up before the threshold
    key = (frame["stop_id"] + "@" + frame["lon"].round(5).astype(str) + ","
           + frame["lat"].round(5).astype(str))
    frame = frame.assign(_key=key).groupby("_key", sort=False).agg(
        stop_id=("stop_id", "first"), name=("name", "first"),
        feed=("feed", lambda f: "+".join(sorted(set(f)))), source=("source", "first"),
        departures_weekday=("departures_weekday", "sum"), lon=("lon", "first"),
        lat=("lat", "first"), station=("station", "any")).reset_index(drop=True)
    frame["counts"] = (frame["source"] == "gtfs") & (
        frame["departures_weekday"] >= max(min_departures, 1))
    return frame


# ----------------------------------------------------------------------------- distances
def nearest_target(graph: RoadGraph, weight: npt.NDArray[np.float64],
                   target_nodes: npt.NDArray[np.int64],
                   target_offset: npt.NDArray[np.float64], *, towards: bool = True
                   ) -> npt.NDArray[np.float64]:
    """Every node's distance (in ``weight``) to its nearest target, ``inf`` if none.

    ``target_offset`` is added at each target (its snap offset). ``towards``: distances
    *to* the targets (the graph is searched backwards); otherwise *from* them.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    n = len(graph.lon)
    if len(target_nodes) == 0:
        return np.full(n, np.inf)
    tail, head = (graph.head, graph.tail) if towards else (graph.tail, graph.head)
    src = np.full(len(target_nodes), n)
    rows = np.concatenate([tail, src])
    cols = np.concatenate([head, target_nodes])
    w = np.concatenate([np.maximum(weight, 1e-9), np.maximum(target_offset, 1e-9)])
    # parallel edges: keep the shortest (a sparse matrix would add them up)
    key = rows.astype(np.int64) * (n + 1) + cols
    order = np.lexsort((w, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    keep = order[first]
    mat = csr_matrix((w[keep], (rows[keep], cols[keep])), shape=(n + 1, n + 1))
    dist = dijkstra(mat, directed=True, indices=n)
    return np.asarray(dist[:n], dtype=np.float64)


def _nearest_nodes(graph: RoadGraph, lonlat: npt.NDArray[np.float64], lat0: float
                   ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    from scipy.spatial import cKDTree

    tree = cKDTree(_xy(graph.lon, graph.lat, lat0))
    d, i = tree.query(_xy(lonlat[:, 0], lonlat[:, 1], lat0))
    return np.asarray(i, dtype=np.int64), np.asarray(d, dtype=np.float64)


def in_gap(walk_bus: npt.NDArray[np.float64], walk_rail: npt.NDArray[np.float64],
           th: Thresholds) -> npt.NDArray[np.bool_]:
    """Whether each point is in a gap: beyond ``stop_m`` of a bus stop *and* beyond
    ``station_m`` of a station (a walk exactly at a threshold is within reach)."""
    return np.asarray((walk_bus > th.stop_m) & (walk_rail > th.station_m), dtype=bool)


def _crow(pts: npt.NDArray[np.float64], stops: pd.DataFrame, use: npt.NDArray[np.bool_],
          lat0: float) -> npt.NDArray[np.float64]:
    """Straight-line metres from each point to the nearest of the ``use`` stops."""
    from scipy.spatial import cKDTree

    if not use.any():
        return np.full(len(pts), np.inf)
    tree = cKDTree(_xy(stops["lon"].to_numpy()[use], stops["lat"].to_numpy()[use], lat0))
    d, _ = tree.query(_xy(pts[:, 0], pts[:, 1], lat0))
    return np.asarray(d, dtype=np.float64)


# ----------------------------------------------------------------------------- the study
def study_area(region: Region) -> shapely.Polygon:
    """The map's area: the bounding box of the region's roads."""
    return shapely.box(*(float(v) for v in region.bounds))


def access_study(region: Region, gtfs: Sequence[str | Path] = (),
                 thresholds: Thresholds | None = None, *,
                 population: gpd.GeoDataFrame | None = None,
                 population_source: str = "census",
                 progress: Callable[[str], None] | None = None) -> CoverageResult:
    """Run the access analysis of ``region`` (see the module docstring).

    ``gtfs``: the feeds the region's stops came from (to tell stations from bus stops);
    ``population``: cells to use instead of ``region.population`` (e.g. the building
    proxy, :func:`building_proxy`), ``population_source`` says which.

    Raises
    ------
    CoverageError
        When the region has no populated cell, or no walk graph.
    """
    th = thresholds or Thresholds()
    say = progress or (lambda _m: None)
    cells = region.population if population is None else population
    cells = cells[cells["total"] > 0].reset_index(drop=True)
    if cells.empty:
        raise CoverageError("population: no populated census cell inside the map (give "
                            "--population, or use the building proxy)")
    if region.walk.n_nodes == 0:
        raise CoverageError("osm: the map has no walkable roads")
    area = study_area(region)
    lat0 = float(np.mean(region.bounds[1::2]))
    say(f"placing the residents of {len(cells)} cells on a {th.grid}x{th.grid} grid ...")
    cell_of, pts, share = cell_points(cells, area, th.grid)
    per_cell = np.bincount(cell_of, minlength=len(cells))
    say("reading stops, timetables and route types ...")
    stops = counted_stops(region.stops, stop_modes(gtfs), th.min_departures)
    walk = region.walk
    node, access = _nearest_nodes(walk, pts, lat0)
    walkable = access <= th.max_access_m
    s_node, s_off = _nearest_nodes(walk, stops[["lon", "lat"]].to_numpy(), lat0)
    use = stops["counts"].to_numpy()
    bus = use & ~stops["station"].to_numpy()
    rail = use & stops["station"].to_numpy()
    on_graph = s_off <= th.max_access_m  # stops off the graph count in estimated walks
    x0, y0, x1, y1 = (float(v) for v in region.bounds)
    sx, sy = stops["lon"].to_numpy(), stops["lat"].to_numpy()
    inside = (x0 <= sx) & (sx <= x1) & (y0 <= sy) & (sy <= y1)
    say(f"walking distances to {int(bus.sum())} bus stops and {int(rail.sum())} stations "
        f"with >= {th.min_departures} weekday departures ...")
    length = walk.length_m.astype(np.float64)
    nb, nr = bus & on_graph, rail & on_graph
    d_bus = nearest_target(walk, length, s_node[nb], s_off[nb])
    d_rail = nearest_target(walk, length, s_node[nr], s_off[nr])
    net_bus = np.where(walkable, access + d_bus[node], np.inf)
    net_rail = np.where(walkable, access + d_rail[node], np.inf)
    est_bus = th.detour * _crow(pts, stops, bus, lat0)
    est_rail = th.detour * _crow(pts, stops, rail, lat0)
    walk_bus = np.minimum(net_bus, est_bus)
    walk_rail = np.minimum(net_rail, est_rail)
    estimated = (est_bus < net_bus) | (est_rail < net_rail)
    gap = in_gap(walk_bus, walk_rail, th)
    say("drive times to the nearest hospital ...")
    pois = region.pois
    hosp = pois[pois["kind"] == "hospital"] if len(pois) else pois
    road = region.road
    r_node, r_access = _nearest_nodes(road, pts, lat0)
    if len(hosp):
        h_node, h_off = _nearest_nodes(road, np.column_stack(
            [hosp.geometry.x.to_numpy(), hosp.geometry.y.to_numpy()]), lat0)
        d_h = nearest_target(road, road.travel_s.astype(np.float64), h_node,
                             h_off / (ACCESS_KMH / 3.6))
        drive_h = r_access / (ACCESS_KMH / 3.6) + d_h[r_node]
    else:
        drive_h = np.full(len(pts), np.inf)
    far_h = drive_h > th.hospital_target_min * 60

    counted = cells["total"].to_numpy(dtype=float) * share
    n = np.maximum(per_cell, 1)

    def mean_by_cell(x: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        return np.bincount(cell_of, weights=x.astype(float), minlength=len(cells)) / n

    def median_by_cell(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        s = pd.Series(x).groupby(cell_of).median()
        out = np.full(len(cells), np.nan)
        out[s.index.to_numpy()] = s.to_numpy()
        return out

    gap_share = np.where(per_cell > 0, mean_by_cell(gap), 0.0)
    no_walk = (per_cell > 0) & (mean_by_cell(~walkable) == 1.0)
    table = cells[["mesh_code"]].copy()
    table["population"] = cells["total"].astype(int).to_numpy()
    table["age65plus"] = cells["age65plus"].astype(int).to_numpy()
    table["age75plus"] = cells["age75plus"].astype(int).to_numpy()
    table["share_in_area"] = np.round(share, 4)
    table["population_counted"] = np.round(counted, 1)
    table["walk_stop_m"] = np.round(median_by_cell(walk_bus), 0)
    table["walk_station_m"] = np.round(median_by_cell(walk_rail), 0)
    table["access_m"] = np.round(median_by_cell(access), 0)
    table["drive_hospital_min"] = np.round(median_by_cell(drive_h) / 60, 1)
    table["walk_estimated_share"] = np.round(mean_by_cell(estimated), 4)
    table["gap_share"] = np.round(gap_share, 4)
    table["in_gap"] = gap_share >= 0.5
    table["no_walk_road"] = no_walk
    table["hospital_beyond_target_share"] = np.round(
        np.where(per_cell > 0, mean_by_cell(far_h), 0.0), 4)
    import geopandas as gpd

    out = gpd.GeoDataFrame(table, geometry=cells.geometry.to_numpy(), crs="EPSG:4326")
    out = out[per_cell > 0].reset_index(drop=True)
    g = gap_share
    age65 = cells["age65plus"].to_numpy(dtype=float) * share
    age75 = cells["age75plus"].to_numpy(dtype=float) * share
    far = np.where(per_cell > 0, mean_by_cell(far_h), 0.0)
    summary = {
        "region": region.name,
        "population_source": population_source,
        "population_total": round(float(counted.sum())),
        "population_in_gap": round(float((counted * g).sum())),
        "population_covered": round(float((counted * (1 - g)).sum())),
        "population_65plus_total": round(float(age65.sum())),
        "population_65plus_in_gap": round(float((age65 * g).sum())),
        "population_75plus_total": round(float(age75.sum())),
        "population_75plus_in_gap": round(float((age75 * g).sum())),
        "share_in_gap": round(float((counted * g).sum() / max(counted.sum(), 1e-9)), 4),
        "cells_total": len(out),
        "cells_in_gap": int(out["in_gap"].sum()),
        "cells_no_walk_road": int(out["no_walk_road"].sum()),
        "population_walk_estimated": round(float((counted * mean_by_cell(estimated)).sum())),
        "cells_partly_outside": int(((share > 0) & (share < 0.999)).sum()),
        "population_hospital_beyond_target": round(float((counted * far).sum())),
        # Counted stops of the feeds (those outside the map still serve residents near
        # its edge), and of them those inside the map.
        "stops_counted": int(bus.sum()), "stations_counted": int(rail.sum()),
        "stops_counted_in_area": int((bus & inside).sum()),
        "stations_counted_in_area": int((rail & inside).sum()),
        "stops_too_few_departures": int(((stops["source"] == "gtfs")
                                         & ~stops["counts"]).sum()),
        "hospitals": len(hosp),
        "thresholds": asdict(th),
    }
    notes = [
        f"study area: the map's bounding box {tuple(round(float(v), 5) for v in region.bounds)}"
        "; a cell partly outside is counted by its share of area inside",
        f"residents spread evenly over a {th.grid}x{th.grid} grid in each cell; walking "
        "starts with a straight stretch to the nearest walkable road node",
        "hospital access is by car (drive graph, free-flow speeds); walking + scheduled "
        "transit to a hospital is not computed",
    ]
    if population_source != "census":
        notes.append(f"population: {population_source}")
    return CoverageResult(cells=out, summary=summary, stops=stops, notes=notes)


# ----------------------------------------------------------------------------- proxy
def mesh_code(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """Return the 9-digit JIS X 0410 500 m mesh code of each point."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    y, x = lat * 1.5, lon - 100.0
    p, u = np.floor(y).astype(int), np.floor(x).astype(int)
    q = np.floor((y - p) * 8).astype(int)
    v = np.floor((x - u) * 8).astype(int)
    r = np.floor(((y - p) * 8 - q) * 10).astype(int)
    w = np.floor(((x - u) * 8 - v) * 10).astype(int)
    sy = np.floor((((y - p) * 8 - q) * 10 - r) * 2).astype(int)
    sx = np.floor((((x - u) * 8 - v) * 10 - w) * 2).astype(int)
    quarter = 1 + sx + 2 * sy
    return np.array([f"{a:02d}{b:02d}{c}{d}{e}{f}{g}" for a, b, c, d, e, f, g in
                     zip(p, u, q, v, r, w, quarter, strict=True)])


def building_proxy(osm_path: str | Path, persons: float = PERSONS_PER_BUILDING
                   ) -> gpd.GeoDataFrame:
    """Cells of population estimated from OSM buildings: ``persons`` per building.

    ``age65plus``/``age75plus`` are 0 (unknown). Raises :class:`CoverageError` when the
    file has no building.
    """
    import geopandas as gpd

    from maps.osm import building_points_from_file
    from maps.region import mesh_cell_bounds

    pts = building_points_from_file(osm_path)
    if len(pts) == 0:
        raise CoverageError(f"{osm_path}: no population data and no OSM buildings to "
                            "estimate it from")
    codes = pd.Series(mesh_code(pts[:, 0], pts[:, 1]))
    counts = codes.value_counts().sort_index()
    bounds = mesh_cell_bounds(counts.index.tolist())
    geoms = shapely.box(bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3])
    return gpd.GeoDataFrame({
        "mesh_code": counts.index.to_numpy(), "buildings": counts.to_numpy(),
        "total": np.round(counts.to_numpy() * persons).astype(int),
        "age65plus": 0, "age75plus": 0}, geometry=geoms, crs="EPSG:4326")
