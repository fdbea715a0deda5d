"""Many-to-many travel time and distance matrices on a :class:`~maps.road.RoadGraph`.

One Dijkstra pass per source (``scipy.sparse.csgraph.dijkstra``, C code) on a
lexicographic edge weight ``travel_s * BIG + length_m``, with ``BIG`` larger than any
path length. Because every weight is an integer and every sum stays below 2**53, float64
arithmetic is exact, and the result decodes into

* ``duration_s = weight // BIG``: the minimum travel time, equal to a Dijkstra on
  ``travel_s`` alone;
* ``distance_m = weight % BIG``: the length in metres **of the fastest path** (among
  equally fast paths, the shortest one), not the shortest-length path.

If a graph is so large that 2**53 could be exceeded, the metres are instead summed along
the predecessor tree of a time-only Dijkstra by pointer doubling (same result).

Points (rather than nodes) are snapped to edges (:mod:`maps.snap`) and joined to the
graph by virtual edges: a point at fraction ``f`` of edge ``u->v`` leaves through ``v``
at ``(1-f)`` of the edge's time and length, and through ``u`` at ``f`` of the reverse
edge if the road is two-way; it is reached from ``u`` at ``f`` (and from ``v`` at
``1-f`` over the reverse edge). Two points on the same edge may also go directly along
it. Each partial leg is rounded to integer seconds and metres, so point-to-point values
can differ from an exact continuous value by up to 1 s / 1 m per leg; node-to-node values
are exact.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from maps.ch import build_hierarchy, many_to_many
from maps.errors import GraphTooLargeError
from maps.road import RoadGraph
from maps.snap import DEFAULT_MAX_SNAP_M, EdgeIndex, Snapped, snap_points

#: Value of unreachable entries in duration and distance matrices.
UNREACHABLE: int = int(np.iinfo(np.int64).max // 4)

_EXACT = float(2**53)
_INT64 = npt.NDArray[np.int64]
_F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True)
class TravelMatrices:
    """Duration and distance matrices (origins x destinations), read-only.

    Attributes
    ----------
    duration_s
        Travel time in integer seconds, :data:`UNREACHABLE` where there is no path.
    distance_m
        Length in integer metres of the fastest path, :data:`UNREACHABLE` where none.
    reachable
        True where a path exists.
    """

    duration_s: _INT64
    distance_m: _INT64
    reachable: npt.NDArray[np.bool_]

    def __post_init__(self) -> None:
        for name in ("duration_s", "distance_m", "reachable"):
            arr = getattr(self, name)
            if arr.shape != self.duration_s.shape or arr.ndim != 2:
                msg = f"TravelMatrices.{name}: shape {arr.shape} != {self.duration_s.shape}"
                raise ValueError(msg)
            if arr.flags.writeable:
                arr = arr.copy()
                arr.setflags(write=False)
                object.__setattr__(self, name, arr)


def _big(road: RoadGraph) -> int:
    # Any path (plus two partial legs) is shorter than twice the total length.
    return int(2 * road.length_m.sum() + 64)


def _csr(tail: _INT64, head: _INT64, weight: _F64, n: int) -> csr_matrix:
    """CSR matrix keeping the smallest weight among parallel edges (scipy would sum them)."""
    order = np.lexsort((weight, head, tail))
    t, h, w = tail[order], head[order], weight[order]
    keep = np.ones(t.shape[0], dtype=bool)
    keep[1:] = (t[1:] != t[:-1]) | (h[1:] != h[:-1])
    return csr_matrix((w[keep], (t[keep], h[keep])), shape=(n, n))


def _decode(weight: _F64, big: int, offset: int = 0) -> TravelMatrices:
    reachable = np.isfinite(weight)
    w = np.where(reachable, weight, 0.0).astype(np.int64) - offset
    duration = np.where(reachable, w // big, UNREACHABLE)
    distance = np.where(reachable, w % big, UNREACHABLE)
    return TravelMatrices(duration_s=duration, distance_m=distance, reachable=reachable)


def _exact_ok(road: RoadGraph, big: int) -> bool:
    return float(road.travel_s.sum() + 2 * road.travel_s.max() + 2) * big < _EXACT


def _pointer_doubling(graph: csr_matrix, sources: _INT64, length: csr_matrix) -> tuple[_F64, _F64]:
    """Time-only Dijkstra, then metres summed along each predecessor tree."""
    time, pred = dijkstra(graph, indices=sources, return_predecessors=True)
    rows = np.arange(pred.shape[0])[:, None]
    cols = np.broadcast_to(np.arange(pred.shape[1]), pred.shape)
    parent = np.where(pred < 0, cols, pred)
    step = np.asarray(length[parent.ravel(), cols.ravel()]).reshape(pred.shape)
    step = np.where(pred < 0, 0.0, step)
    for _ in range(int(np.ceil(np.log2(max(pred.shape[1], 2)))) + 1):
        step = step + step[rows, parent]
        parent = parent[rows, parent]
    return time, np.where(np.isfinite(time), step, np.inf)


def node_matrices(
    road: RoadGraph,
    sources: npt.ArrayLike,
    targets: npt.ArrayLike | None = None,
) -> TravelMatrices:
    """Travel matrices between graph nodes (exact, integer).

    Parameters
    ----------
    road
        The graph.
    sources
        Node indices (``0..n-1``) of the origins.
    targets
        Node indices of the destinations; the sources if None.

    Returns
    -------
    TravelMatrices
        Shape ``(len(sources), len(targets))``.

    Raises
    ------
    IndexError
        If an index is out of range.
    """
    src = np.asarray(sources, dtype=np.int64).ravel()
    dst = src if targets is None else np.asarray(targets, dtype=np.int64).ravel()
    for name, idx in (("sources", src), ("targets", dst)):
        if idx.size and (idx.min() < 0 or idx.max() >= road.n_nodes):
            msg = f"{name}: node indices must lie in [0, {road.n_nodes})"
            raise IndexError(msg)
    if src.size == 0 or dst.size == 0:
        return _decode(np.zeros((src.size, dst.size)), 1)
    big = _big(road)
    if not _exact_ok(road, big):
        time_graph = _csr(road.tail, road.head, road.travel_s.astype(np.float64), road.n_nodes)
        length = _csr(road.tail, road.head, road.length_m.astype(np.float64), road.n_nodes)
        time, metres = _pointer_doubling(time_graph, src, length)
        weight = time[:, dst] * big + metres[:, dst]  # may be inexact only beyond 2**53
        return _decode(weight, big)
    if road.hierarchy is not None:
        starts = (np.arange(src.size), src, np.zeros(src.size))
        return _decode(many_to_many(road.hierarchy, starts, src.size, dst).T, big)
    graph = _csr(road.tail, road.head, _weights(road, big), road.n_nodes)
    out = dijkstra(graph, indices=src)
    return _decode(out[:, dst], big)


def _weights(road: RoadGraph, big: int) -> _F64:
    return road.travel_s.astype(np.float64) * big + road.length_m.astype(np.float64)


def with_hierarchy(road: RoadGraph) -> RoadGraph:
    """Return ``road`` with a contraction hierarchy for fast matrices (identical results).

    Notes
    -----
    Takes a few seconds on a city graph (pure Python); :func:`maps.region.region_from_files`
    does it once and caches the result. Matrices then run one small upward search per
    source and a downward sweep vectorised over blocks of sources (PHAST).
    """
    big = _big(road)
    if road.n_edges == 0 or not _exact_ok(road, big):
        return road
    h = build_hierarchy(road.n_nodes, road.tail, road.head, _weights(road, big))
    return dataclasses.replace(road, hierarchy=h)


def _legs(road: RoadGraph, snapped: Snapped, *, leaving: bool) -> tuple[_INT64, _INT64, _INT64]:
    """Virtual-edge candidates for points: (point index, graph node, integer weight parts).

    For origins (``leaving=True``) the node is where the point's leg ends; for destinations
    it is where the leg starts. The third array holds ``[seconds, metres]`` rows.
    """
    e = snapped.edge
    f = snapped.fraction
    r = road.reverse[e]
    pid = np.arange(len(snapped), dtype=np.int64)
    # along edge e (tail -> head)
    if leaving:
        node_a, part_a = road.head[e], 1.0 - f
        node_b, part_b = road.tail[e], f  # over the reverse edge
    else:
        node_a, part_a = road.tail[e], f
        node_b, part_b = road.head[e], 1.0 - f
    sec_a = np.rint(part_a * road.travel_s[e])
    met_a = np.rint(part_a * road.length_m[e])
    has_r = r >= 0
    rr = np.where(has_r, r, 0)
    sec_b = np.rint(part_b * road.travel_s[rr])[has_r]
    met_b = np.rint(part_b * road.length_m[rr])[has_r]
    # A point on a node of a one-way edge may still use that node at no cost.
    at_far = (part_b * road.length_m[e]) < 0.5
    zeros = np.zeros(int(at_far.sum()))
    pts = np.concatenate([pid, pid[has_r], pid[at_far]])
    nodes = np.concatenate([node_a, node_b[has_r], node_b[at_far]])
    secs = np.concatenate([sec_a, sec_b, zeros])
    mets = np.concatenate([met_a, met_b, zeros])
    return pts, nodes, np.column_stack([secs, mets]).astype(np.int64)


def _direct(road: RoadGraph, origins: Snapped, dests: Snapped, big: int) -> _F64:
    """Weights of paths that stay on one edge (both points on the same directed edge)."""
    out = np.full((len(origins), len(dests)), np.inf)
    cands: list[tuple[_INT64, _F64, _INT64]] = []
    for s in (origins, dests):
        r = road.reverse[s.edge]
        has = r >= 0
        idx = np.arange(len(s), dtype=np.int64)
        cands.append(
            (
                np.concatenate([s.edge, r[has]]),
                np.concatenate([s.fraction, 1.0 - s.fraction[has]]),
                np.concatenate([idx, idx[has]]),
            )
        )
    (oe, of, oi), (de, df, di) = cands
    # join on edge id with a sort (avoids a dense len x len comparison per candidate)
    order = np.argsort(de, kind="stable")
    de, df, di = de[order], df[order], di[order]
    lo = np.searchsorted(de, oe, side="left")
    hi = np.searchsorted(de, oe, side="right")
    counts = hi - lo
    if counts.sum() == 0:
        return out
    rep = np.repeat(np.arange(oe.shape[0]), counts)
    pos = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True) if b > a])
    edge = oe[rep]
    gap = df[pos] - of[rep]
    ok = gap >= 0
    sec = np.rint(gap[ok] * road.travel_s[edge[ok]])
    met = np.rint(gap[ok] * road.length_m[edge[ok]])
    np.minimum.at(out, (oi[rep][ok], di[pos][ok]), sec * big + met)
    return out


def travel_matrices_snapped(
    road: RoadGraph, origins: Snapped, destinations: Snapped | None = None
) -> TravelMatrices:
    """Travel matrices between points already snapped to ``road``.

    Parameters
    ----------
    road
        The graph the points were snapped to.
    origins
        Snapped origins.
    destinations
        Snapped destinations; the origins if None.

    Returns
    -------
    TravelMatrices
        Shape ``(len(origins), len(destinations))``; the diagonal of a square matrix
        over identical points is 0.

    Raises
    ------
    GraphTooLargeError
        When ``(total travel time) * (2 * total length)`` of the graph reaches 2**53, so
        that the float64 sums of the searches could be inexact: about 100 times the
        built-in Kumamoto graph (24,091 edges). :func:`node_matrices` has an exact
        fallback for such graphs; for points, cut the extract to the service area.
    """
    dests = origins if destinations is None else destinations
    n_o, n_d, n = len(origins), len(dests), road.n_nodes
    if n_o == 0 or n_d == 0:
        return _decode(np.zeros((n_o, n_d)), 1)
    big = _big(road)
    if not _exact_ok(road, big):
        msg = (f"road graph of {road.n_edges:,} edges ({int(road.length_m.sum()) // 1000:,} km) "
               "is too large for exact point matrices (their sums would pass 2**53); cut the "
               "OSM extract to the service area (e.g. osmium extract --bbox), or use "
               "node_matrices on the snapped nodes")
        raise GraphTooLargeError(msg)
    o_pt, o_node, o_w = _legs(road, origins, leaving=True)
    d_pt, d_node, d_w = _legs(road, dests, leaving=False)
    leg_o = o_w[:, 0].astype(np.float64) * big + o_w[:, 1]
    leg_d = d_w[:, 0].astype(np.float64) * big + d_w[:, 1]
    if road.hierarchy is not None:
        entry, pos = np.unique(d_node, return_inverse=True)
        to_entry = many_to_many(road.hierarchy, (o_pt, o_node, leg_o), n_o, entry)
        cand = to_entry[pos] + leg_d[:, None]  # (candidates, origins)
        order = np.argsort(d_pt, kind="stable")
        first = np.flatnonzero(np.concatenate([[True], np.diff(d_pt[order]) != 0]))
        out = np.minimum.reduceat(cand[order], first, axis=0).T
    else:
        # virtual nodes: origins n..n+n_o-1, destinations n+n_o..; +1 keeps zero legs
        tail = np.concatenate([road.tail, n + o_pt, d_node])
        head = np.concatenate([road.head, o_node, n + n_o + d_pt])
        weights = np.concatenate([_weights(road, big), leg_o + 1, leg_d + 1])
        graph = _csr(tail, head, weights, n + n_o + n_d)
        out = dijkstra(graph, indices=n + np.arange(n_o))[:, n + n_o :] - 2
    out = np.minimum(out, _direct(road, origins, dests, big))
    return _decode(out, big)


def travel_matrices(
    road: RoadGraph | EdgeIndex,
    points_lonlat: npt.ArrayLike,
    destinations_lonlat: npt.ArrayLike | None = None,
    *,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> TravelMatrices:
    """Snap points to the road graph and compute travel matrices between them.

    Parameters
    ----------
    road
        The graph (or an :class:`~maps.snap.EdgeIndex` over it).
    points_lonlat
        Origins, shape ``(n, 2)`` (lon, lat).
    destinations_lonlat
        Destinations, shape ``(k, 2)``; the origins if None (square matrix).
    max_snap_m
        Maximum distance from a point to the road.

    Returns
    -------
    TravelMatrices
        Integer seconds and metres (of the fastest path), shape ``(n, k)``.

    Raises
    ------
    InvalidLocationError
        For NaN/infinite coordinates or a wrong shape.
    UnreachableLocationError
        If a point is farther than ``max_snap_m`` from the road (``indices`` refer to
        ``points_lonlat``, or to ``destinations_lonlat`` if only those fail).
    GraphTooLargeError
        If the graph is too large for exact point matrices (see
        :func:`travel_matrices_snapped`).
    """
    index = road if isinstance(road, EdgeIndex) else EdgeIndex.build(road)
    origins = snap_points(index, points_lonlat, max_distance_m=max_snap_m)
    dests = (
        None
        if destinations_lonlat is None
        else snap_points(index, destinations_lonlat, max_distance_m=max_snap_m)
    )
    return travel_matrices_snapped(index.road, origins, dests)


def masked_travel_matrices(
    road: RoadGraph | EdgeIndex,
    points_lonlat: npt.ArrayLike,
    *,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    access_kmh: float | None = None,
) -> tuple[_INT64, _INT64, npt.NDArray[np.bool_]]:
    """Square seconds and metres between points, where some may be off the roads.

    A point farther than ``max_snap_m`` from the road has :data:`UNREACHABLE` to and from
    every other point (0 to itself) instead of raising. With ``access_kmh``, the straight
    stretch from each end to its snapped position is added (metres, and seconds at that
    speed): the part of the trip on streets the graph does not hold.

    Returns
    -------
    tuple
        ``(duration_s, distance_m, ok)``; ``ok`` marks the points on the roads.
    """
    from maps.snap import snap_or_mask

    index = road if isinstance(road, EdgeIndex) else EdgeIndex.build(road)
    snapped, ok = snap_or_mask(index, points_lonlat, max_distance_m=max_snap_m)
    n = len(ok)
    dur = np.full((n, n), UNREACHABLE, dtype=np.int64)
    dist = np.full((n, n), UNREACHABLE, dtype=np.int64)
    idx = np.flatnonzero(ok)
    if len(idx):
        m = travel_matrices_snapped(index.road, snapped)
        d, s = m.duration_s, m.distance_m
        if access_kmh is not None:
            extra_m = snapped.distance_m[:, None] + snapped.distance_m[None, :]
            extra_s = np.ceil(extra_m / (access_kmh / 3.6)).astype(np.int64)
            d = np.where(m.reachable, d + extra_s, UNREACHABLE)
            s = np.where(m.reachable, s + np.round(extra_m).astype(np.int64), UNREACHABLE)
        dur[np.ix_(idx, idx)] = d
        dist[np.ix_(idx, idx)] = s
    np.fill_diagonal(dur, 0)
    np.fill_diagonal(dist, 0)
    return dur, dist, ok
