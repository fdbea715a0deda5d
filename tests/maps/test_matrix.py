"""Travel matrices: equality with networkx, fastest-path metres, points, unreachable pairs."""

from __future__ import annotations

import dataclasses
import itertools

import networkx as nx
import numpy as np
import pytest

from maps.errors import GraphTooLargeError
from maps.matrix import (
    UNREACHABLE,
    _big,
    node_matrices,
    travel_matrices,
    with_hierarchy,
)
from maps.region import Region
from maps.road import RoadGraph


def test_nodes_match_networkx(kumamoto: Region) -> None:
    g = kumamoto.road
    rng = np.random.default_rng(7)
    src = rng.choice(g.n_nodes, 6, replace=False)
    dst = rng.choice(g.n_nodes, 300, replace=False)
    m = node_matrices(g, src, dst)
    nxg = g.to_networkx()
    big = _big(g)

    def lexi(u: int, v: int, edges: dict[int, dict[str, int]]) -> int:
        return min(e["travel_s"] * big + e["length_m"] for e in edges.values())

    for i, s in enumerate(src.tolist()):
        secs = nx.single_source_dijkstra_path_length(nxg, s, weight="travel_s")
        lex = nx.single_source_dijkstra_path_length(nxg, s, weight=lexi)
        for j, t in enumerate(dst.tolist()):
            assert m.duration_s[i, j] == secs[t]
            assert m.distance_m[i, j] == lex[t] % big
    assert m.duration_s.dtype == np.int64 and not m.duration_s.flags.writeable


def test_metres_follow_the_fastest_path(kumamoto: Region) -> None:
    g = kumamoto.road
    rng = np.random.default_rng(3)
    src = rng.choice(g.n_nodes, 3, replace=False)
    m = node_matrices(g, src)
    nxg = g.to_networkx()
    for i, s in enumerate(src.tolist()):
        for j, t in enumerate(src.tolist()):
            path = nx.shortest_path(nxg, s, t, weight="travel_s")
            hops = list(itertools.pairwise(path))
            secs = sum(min(e["travel_s"] for e in nxg[u][v].values()) for u, v in hops)
            assert m.duration_s[i, j] == secs
            # the reported metres are those of a fastest path: never shorter than the
            # shortest path, and at most those of this particular fastest path
            shortest = nx.shortest_path_length(nxg, s, t, weight="length_m")
            metres = sum(
                min(
                    e["length_m"]
                    for e in nxg[u][v].values()
                    if e["travel_s"] == min(x["travel_s"] for x in nxg[u][v].values())
                )
                for u, v in hops
            )
            assert shortest <= m.distance_m[i, j] <= metres


def _tiny() -> RoadGraph:
    # 0 <-> 1 -> 2 (one-way), 3 isolated-ish: 3 -> 0 only
    tail = np.array([0, 1, 1, 3])
    head = np.array([1, 0, 2, 0])
    lon = np.array([0.0, 0.001, 0.002, -0.001]) + 130.0
    lat = np.full(4, 32.8)
    geom = np.column_stack([lon[np.column_stack([tail, head]).ravel()], np.full(8, 32.8)])
    return RoadGraph(
        profile="test",
        node_id=np.arange(4) + 100,
        lon=lon,
        lat=lat,
        indptr=np.array([0, 1, 3, 3, 4]),
        tail=tail,
        head=head,
        travel_s=np.array([10, 10, 5, 7]),
        length_m=np.array([94, 94, 94, 94]),
        reverse=np.array([1, 0, -1, -1]),
        geom_ptr=np.arange(0, 10, 2),
        geom_lonlat=geom,
    )


def test_unreachable_pairs_are_marked() -> None:
    g = _tiny()
    m = node_matrices(g, [0, 2, 3], [0, 2, 3])
    assert m.reachable.tolist() == [[True, True, False], [False, True, False], [True, True, True]]
    assert m.duration_s[0, 1] == 15 and m.duration_s[2, 1] == 22
    assert m.duration_s[1, 0] == UNREACHABLE and m.distance_m[1, 0] == UNREACHABLE
    assert (m.duration_s[~m.reachable] == UNREACHABLE).all()


def test_points_on_one_way_edge() -> None:
    g = _tiny()
    # two points on the one-way edge 1 -> 2: forward is direct, backward impossible
    a = [130.0012, 32.8]
    b = [130.0018, 32.8]
    m = travel_matrices(g, [a, b])
    assert m.duration_s[0, 0] == 0 and m.duration_s[1, 1] == 0
    assert m.duration_s[0, 1] == 3  # 0.6 of the 5 s edge
    assert m.distance_m[0, 1] == round(0.6 * 94)
    assert not m.reachable[1, 0]


def test_graph_too_large_for_point_matrices() -> None:
    # the tiny graph with every time and length multiplied by 10**7: the float64 sums of
    # the point searches could pass 2**53, so they are refused with a one-line reason,
    # while node matrices fall back to an exact time-only search (the same times x 10**7)
    g = _tiny()
    huge = dataclasses.replace(g, travel_s=g.travel_s * 10**7, length_m=g.length_m * 10**7)
    with pytest.raises(GraphTooLargeError, match=r"4 edges .* too large .* node_matrices"):
        travel_matrices(huge, [[130.0012, 32.8], [130.0018, 32.8]])
    nodes = [0, 2, 3]
    big, small = node_matrices(huge, nodes), node_matrices(g, nodes)
    assert np.array_equal(big.reachable, small.reachable)
    ok = small.reachable
    assert np.array_equal(big.duration_s[ok], small.duration_s[ok] * 10**7)
    assert np.array_equal(big.distance_m[ok], small.distance_m[ok] * 10**7)
    assert isinstance(GraphTooLargeError("x"), NotImplementedError)


def test_points_at_nodes_equal_node_matrix(kumamoto: Region) -> None:
    g = kumamoto.road
    nodes = np.random.default_rng(11).choice(g.n_nodes, 60, replace=False)
    by_points = travel_matrices(g, g.lonlat[nodes])
    by_nodes = node_matrices(g, nodes)
    assert np.array_equal(by_points.duration_s, by_nodes.duration_s)
    assert np.array_equal(by_points.distance_m, by_nodes.distance_m)


def test_point_matrix_properties(kumamoto: Region) -> None:
    g = kumamoto.road
    rng = np.random.default_rng(5)
    pts = g.lonlat[rng.choice(g.n_nodes, 80)] + rng.normal(0, 0.0004, (80, 2))
    m = travel_matrices(g, pts)
    assert m.reachable.all()  # one strongly connected component
    assert (np.diag(m.duration_s) == 0).all()
    d = m.duration_s
    # triangle inequality up to the rounding of the partial-edge legs (1 s per leg)
    via = (d[:, :, None] + d[None, :, :]).min(axis=1)
    assert (d <= via + 2).all()
    rect = travel_matrices(g, pts[:10], pts[10:30])
    assert rect.duration_s.shape == (10, 20)
    assert np.array_equal(rect.duration_s, d[:10, 10:30])


def test_empty_matrices(kumamoto: Region) -> None:
    m = travel_matrices(kumamoto.road, np.zeros((0, 2)))
    assert m.duration_s.shape == (0, 0)
    with pytest.raises(IndexError):
        node_matrices(kumamoto.road, [kumamoto.road.n_nodes])


def test_hierarchy_and_plain_dijkstra_agree(kumamoto: Region) -> None:
    g = kumamoto.road
    assert g.hierarchy is not None
    plain = dataclasses.replace(g, hierarchy=None)
    rng = np.random.default_rng(21)
    src = rng.choice(g.n_nodes, 150, replace=False)
    dst = rng.choice(g.n_nodes, 400, replace=False)
    a, b = node_matrices(g, src, dst), node_matrices(plain, src, dst)
    assert np.array_equal(a.duration_s, b.duration_s)
    assert np.array_equal(a.distance_m, b.distance_m)
    pts = g.lonlat[rng.choice(g.n_nodes, 120)] + rng.normal(0, 0.0005, (120, 2))
    a, b = travel_matrices(g, pts, pts[:70]), travel_matrices(plain, pts, pts[:70])
    assert np.array_equal(a.duration_s, b.duration_s)
    assert np.array_equal(a.distance_m, b.distance_m)


def test_hierarchy_on_small_graph() -> None:
    g = with_hierarchy(_tiny())
    assert g.hierarchy is not None
    plain = _tiny()
    nodes = [0, 1, 2, 3]
    a, b = node_matrices(g, nodes), node_matrices(plain, nodes)
    assert np.array_equal(a.duration_s, b.duration_s)
    assert np.array_equal(a.reachable, b.reachable)
    pts = [[130.0012, 32.8], [130.0018, 32.8], [129.9995, 32.8]]
    a, b = travel_matrices(g, pts), travel_matrices(plain, pts)
    assert np.array_equal(a.duration_s, b.duration_s)
    assert np.array_equal(a.distance_m, b.distance_m)


def test_walk_graph_hierarchy(kumamoto: Region) -> None:
    w = kumamoto.walk
    plain = dataclasses.replace(w, hierarchy=None)
    src = np.random.default_rng(2).choice(w.n_nodes, 40, replace=False)
    a, b = node_matrices(w, src), node_matrices(plain, src)
    assert np.array_equal(a.duration_s, b.duration_s)
    # walking is symmetric: both directions of every way at the same speed
    assert np.abs(a.duration_s - a.duration_s.T).max() <= 1
