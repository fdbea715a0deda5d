"""Snapping points to edges: exact nodes, far points, empty input, invalid coordinates."""

from __future__ import annotations

import numpy as np
import pytest

from maps.errors import InvalidLocationError, UnreachableLocationError
from maps.region import Region
from maps.snap import EdgeIndex, snap_or_mask, snap_points


def test_point_on_node(kumamoto: Region) -> None:
    g = kumamoto.road
    nodes = np.array([0, 17, 4242, g.n_nodes - 1])
    s = snap_points(g, g.lonlat[nodes])
    assert np.allclose(s.distance_m, 0.0, atol=1e-6)
    assert np.array_equal(s.node, nodes)
    assert np.allclose(s.lonlat, g.lonlat[nodes], atol=1e-7)


def test_point_near_edge_midpoint(kumamoto: Region) -> None:
    g = kumamoto.road
    e = int(np.argmax(g.length_m))  # a long edge
    mid = (g.lonlat[g.tail[e]] + g.lonlat[g.head[e]]) / 2
    s = snap_points(g, mid[None, :])
    assert s.edge[0] in (e, g.reverse[e]) or s.distance_m[0] < 60
    assert 0.0 <= s.fraction[0] <= 1.0


def test_far_points_reported_by_index(kumamoto: Region) -> None:
    g = kumamoto.road
    pts = np.array([g.lonlat[0], [131.5, 33.5], g.lonlat[1], [130.0, 32.0]])
    with pytest.raises(UnreachableLocationError) as info:
        snap_points(g, pts, max_distance_m=300)
    assert info.value.indices.tolist() == [1, 3]
    assert isinstance(info.value, ValueError)
    snapped, ok = snap_or_mask(g, pts, max_distance_m=300)
    assert ok.tolist() == [True, False, True, False] and len(snapped) == 2


def test_max_distance_is_respected(kumamoto: Region) -> None:
    g = kumamoto.road
    # 0.002 deg of latitude is about 222 m north of a node: inside 500 m, maybe not 50 m
    pts = g.lonlat[:200] + np.array([0.0, 0.002])
    s = snap_points(g, pts, max_distance_m=500)
    assert (s.distance_m <= 500).all() and (s.distance_m <= 223).all()


def test_empty_input(kumamoto: Region) -> None:
    s = snap_points(kumamoto.road, np.zeros((0, 2)))
    assert len(s) == 0 and s.lonlat.shape == (0, 2)


@pytest.mark.parametrize(
    "pts",
    [
        [[130.7, float("nan")]],
        [[130.7, 32.8], [float("inf"), 32.8]],
        [[200.0, 32.8]],
    ],
)
def test_invalid_coordinates(kumamoto: Region, pts: list[list[float]]) -> None:
    with pytest.raises(InvalidLocationError) as info:
        snap_points(kumamoto.road, pts)
    assert info.value.indices.tolist() == [len(pts) - 1]


def test_wrong_shape(kumamoto: Region) -> None:
    with pytest.raises(InvalidLocationError, match=r"\(n, 2\)"):
        snap_points(kumamoto.road, [130.7, 32.8, 0.0])


def test_index_reuse_gives_same_result(kumamoto: Region) -> None:
    g = kumamoto.road
    pts = g.lonlat[::50] + 0.0003
    a = snap_points(g, pts)
    b = snap_points(EdgeIndex.build(g), pts)
    assert np.array_equal(a.edge, b.edge) and np.allclose(a.fraction, b.fraction)
