"""Snap many (lon, lat) points at once to the nearest edge of a road graph.

API choice: :func:`snap_points` either snaps *every* point or raises
:class:`~maps.errors.UnreachableLocationError` whose ``indices`` lists all points farther
than ``max_distance_m`` from any edge (no partial result, no mask to forget). Callers that
want to keep the good points catch the error and drop ``err.indices``; see
:func:`snap_or_mask` for a mask-returning convenience built on the same code.

Geometry is done in the local UTM zone of the graph (metres), with shapely 2's vectorised
``STRtree.query_nearest`` and ``line_locate_point``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer

from maps.errors import InvalidLocationError, UnreachableLocationError
from maps.road import RoadGraph

#: Default maximum distance from a point to the road, in metres.
DEFAULT_MAX_SNAP_M = 500.0

_INT64 = npt.NDArray[np.int64]
_F64 = npt.NDArray[np.float64]


def _ro(arr: npt.ArrayLike, dtype: type) -> npt.NDArray[np.generic]:
    out: npt.NDArray[np.generic] = np.array(arr, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapped:
    """Points placed on graph edges (all arrays have one row per input point).

    Attributes
    ----------
    edge
        Index of the edge the point was snapped to. On two-way roads either direction may
        be chosen; :func:`maps.matrix.travel_matrices` uses both via ``RoadGraph.reverse``.
    fraction
        Position along the edge from tail (0.0) to head (1.0), by length.
    node
        The edge endpoint nearer to the snapped position (tail if ``fraction <= 0.5``).
    distance_m
        Straight-line distance from the input point to the snapped position, metres.
    lonlat
        Snapped positions, shape ``(n, 2)``.
    """

    edge: _INT64
    fraction: _F64
    node: _INT64
    distance_m: _F64
    lonlat: _F64

    def __post_init__(self) -> None:
        object.__setattr__(self, "edge", _ro(self.edge, np.int64))
        object.__setattr__(self, "node", _ro(self.node, np.int64))
        object.__setattr__(self, "fraction", _ro(self.fraction, np.float64))
        object.__setattr__(self, "distance_m", _ro(self.distance_m, np.float64))
        object.__setattr__(self, "lonlat", _ro(self.lonlat, np.float64).reshape(-1, 2))
        n = self.edge.shape[0]
        for name in ("fraction", "node", "distance_m"):
            if getattr(self, name).shape != (n,):
                msg = f"Snapped.{name}: expected {n} entries"
                raise ValueError(msg)

    def __len__(self) -> int:
        return int(self.edge.shape[0])


def utm_transformer(lon: float, lat: float) -> tuple[Transformer, Transformer]:
    """Return (to_utm, to_wgs84) transformers for the UTM zone containing (lon, lat)."""
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    epsg = (32600 if lat >= 0 else 32700) + zone
    fwd = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    inv = Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True)
    return fwd, inv


def check_points(points_lonlat: npt.ArrayLike, *, name: str = "points_lonlat") -> _F64:
    """Validate an ``(n, 2)`` array of (lon, lat) and return it as float64.

    Raises
    ------
    InvalidLocationError
        If the shape is wrong, or some coordinates are NaN/infinite or outside
        [-180, 180] x [-90, 90] (``indices`` lists those rows).
    """
    pts = np.asarray(points_lonlat, dtype=np.float64)
    if pts.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        msg = f"{name}: expected an (n, 2) array of (lon, lat), got shape {pts.shape}"
        raise InvalidLocationError([], msg)
    bad = ~np.isfinite(pts).all(axis=1)
    bad |= (np.abs(pts[:, 0]) > 180.0) | (np.abs(pts[:, 1]) > 90.0)
    if bad.any():
        idx = np.flatnonzero(bad)
        msg = (
            f"{name}: {idx.size} point(s) have non-finite or out-of-range (lon, lat) "
            f"coordinates, at indices {idx[:10].tolist()}{'...' if idx.size > 10 else ''}"
        )
        raise InvalidLocationError(idx.tolist(), msg)
    return pts


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeIndex:
    """A spatial index over a graph's edges in its local UTM zone (build once, query often)."""

    road: RoadGraph
    lines: npt.NDArray[np.object_]
    tree: shapely.STRtree
    to_utm: Transformer
    to_wgs84: Transformer

    @classmethod
    def build(cls, road: RoadGraph) -> EdgeIndex:
        """Project the edge polylines of ``road`` to UTM and index them."""
        lon0 = float(np.median(road.lon))
        lat0 = float(np.median(road.lat))
        fwd, inv = utm_transformer(lon0, lat0)
        x, y = fwd.transform(road.geom_lonlat[:, 0], road.geom_lonlat[:, 1])
        owner = np.repeat(np.arange(road.n_edges), np.diff(road.geom_ptr))
        lines = shapely.linestrings(np.column_stack([x, y]), indices=owner)
        return cls(
            road=road,
            lines=np.asarray(lines),
            tree=shapely.STRtree(lines),
            to_utm=fwd,
            to_wgs84=inv,
        )


def snap_points(
    road: RoadGraph | EdgeIndex,
    points_lonlat: npt.ArrayLike,
    *,
    max_distance_m: float = DEFAULT_MAX_SNAP_M,
) -> Snapped:
    """Snap points to the nearest edge of a road graph.

    Parameters
    ----------
    road
        The graph, or an :class:`EdgeIndex` built from it (faster for repeated calls).
    points_lonlat
        Array-like of shape ``(n, 2)``, (lon, lat) in WGS84. ``n`` may be 0.
    max_distance_m
        Points farther than this from every edge are unreachable.

    Returns
    -------
    Snapped
        One row per input point, in input order.

    Raises
    ------
    InvalidLocationError
        For a wrong shape or NaN/infinite/out-of-range coordinates.
    UnreachableLocationError
        If any point lies farther than ``max_distance_m`` from the graph; ``indices``
        lists all such points.
    """
    index = road if isinstance(road, EdgeIndex) else EdgeIndex.build(road)
    graph = index.road
    pts = check_points(points_lonlat)
    n = pts.shape[0]
    if n == 0:
        none = np.zeros(0, dtype=np.int64)
        empty = np.zeros(0)
        return Snapped(edge=none, fraction=empty, node=none, distance_m=empty, lonlat=empty)
    if not max_distance_m > 0:
        msg = f"max_distance_m: must be > 0, got {max_distance_m!r}"
        raise ValueError(msg)
    x, y = index.to_utm.transform(pts[:, 0], pts[:, 1])
    geoms = shapely.points(x, y)
    (qi, ti), dist = index.tree.query_nearest(
        geoms, max_distance=max_distance_m, return_distance=True, all_matches=False
    )
    edge = np.full(n, -1, dtype=np.int64)
    distance = np.full(n, np.inf)
    edge[qi] = ti
    distance[qi] = dist
    far = np.flatnonzero(edge < 0)
    if far.size:
        msg = (
            f"{far.size} point(s) lie farther than {max_distance_m:g} m from the "
            f"{graph.profile} road graph, at indices {far[:10].tolist()}"
            f"{'...' if far.size > 10 else ''}"
        )
        raise UnreachableLocationError(far.tolist(), msg)
    lines = index.lines[edge]
    fraction = np.nan_to_num(shapely.line_locate_point(lines, geoms, normalized=True), nan=0.0)
    fraction = np.clip(fraction, 0.0, 1.0)
    on_line = shapely.line_interpolate_point(lines, fraction, normalized=True)
    sx, sy = index.to_wgs84.transform(shapely.get_x(on_line), shapely.get_y(on_line))
    node = np.where(fraction <= 0.5, graph.tail[edge], graph.head[edge])
    return Snapped(
        edge=edge,
        fraction=fraction,
        node=node,
        distance_m=distance,
        lonlat=np.column_stack([sx, sy]),
    )


def snap_or_mask(
    road: RoadGraph | EdgeIndex,
    points_lonlat: npt.ArrayLike,
    *,
    max_distance_m: float = DEFAULT_MAX_SNAP_M,
) -> tuple[Snapped, npt.NDArray[np.bool_]]:
    """Snap the points that can be snapped; return them and a mask of which ones.

    Returns
    -------
    tuple
        ``(snapped, ok)`` where ``ok`` is a boolean mask over the input points and
        ``snapped`` has one row per ``True`` entry, in input order.

    Raises
    ------
    InvalidLocationError
        For a wrong shape or NaN/infinite coordinates.
    """
    pts = check_points(points_lonlat)
    ok = np.ones(pts.shape[0], dtype=bool)
    try:
        return snap_points(road, pts, max_distance_m=max_distance_m), ok
    except UnreachableLocationError as err:
        ok[err.indices] = False
    return snap_points(road, pts[ok], max_distance_m=max_distance_m), ok
