"""Road graph construction: speeds, vehicle profiles, CSR invariants, walk graph."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from maps import road
from maps.region import Region


@pytest.mark.parametrize(
    ("value", "kmh"),
    [
        ("40", 40.0),
        ("40 km/h", 40.0),
        ("30 mph", 30 * 1.609344),
        ("JP:urban", 60.0),
        ("JP:motorway", 100.0),
        ("50;40", 40.0),
        (["50", "30"], 30.0),
        ("none", None),
        ("signals", None),
        (None, None),
        ("0", None),
    ],
)
def test_parse_maxspeed(value: object, kmh: float | None) -> None:
    parsed = road.parse_maxspeed(value)
    if kmh is None:
        assert parsed is None
    else:
        assert parsed == pytest.approx(kmh)


def test_parse_limits() -> None:
    assert road.parse_metres("2.5 m") == 2.5
    assert road.parse_metres("3") == 3.0
    assert road.parse_metres("6'6\"") == pytest.approx(1.9812)
    assert road.parse_metres("narrow") is None
    assert road.parse_tonnes("5.5 t") == 5.5
    assert road.parse_tonnes("3000 kg") == 3.0


@pytest.mark.parametrize(
    ("tags", "car", "minibus"),
    [
        ({"highway": "residential"}, True, True),
        ({"highway": "footway"}, False, False),
        ({"highway": "residential", "access": "no"}, False, False),
        ({"highway": "residential", "access": "private"}, False, False),
        ({"highway": "residential", "access": "no", "motor_vehicle": "yes"}, True, True),
        ({"highway": "unclassified", "motor_vehicle": "no"}, False, False),
        ({"highway": "residential", "width": "2.0"}, True, False),
        ({"highway": "residential", "maxwidth": "1.5"}, False, False),
        ({"highway": "tertiary", "maxweight": "5"}, True, False),
        ({"highway": "track"}, True, False),
        ({"highway": "service", "service": "parking_aisle"}, True, False),
        ({"highway": "service"}, True, True),
        ({"highway": "residential", "maxheight": "2.5 m"}, True, False),
    ],
)
def test_vehicle_can_use(tags: dict[str, str], car: bool, minibus: bool) -> None:
    assert road.vehicle_can_use(tags, road.CAR) is car
    assert road.vehicle_can_use(tags, road.MINIBUS) is minibus


def test_vehicle_profile_validation() -> None:
    with pytest.raises(ValueError, match="width_m"):
        road.VehicleProfile(name="x", width_m=-1, weight_t=1)


def _check_csr(g: road.RoadGraph) -> None:
    assert g.indptr[0] == 0 and g.indptr[-1] == g.n_edges
    assert np.all(np.diff(g.indptr) >= 0)
    rows = np.repeat(np.arange(g.n_nodes), np.diff(g.indptr))
    assert np.array_equal(rows, g.tail)
    assert (g.travel_s >= 1).all() and (g.length_m >= 0).all()
    twins = np.flatnonzero(g.reverse >= 0)
    assert np.array_equal(g.reverse[g.reverse[twins]], twins)
    assert np.array_equal(g.tail[g.reverse[twins]], g.head[twins])
    # polylines start at the tail and end at the head
    start = g.geom_lonlat[g.geom_ptr[:-1]]
    end = g.geom_lonlat[g.geom_ptr[1:] - 1]
    assert np.allclose(start, g.lonlat[g.tail]) and np.allclose(end, g.lonlat[g.head])
    assert not g.travel_s.flags.writeable


def test_kumamoto_graphs(kumamoto: Region) -> None:
    car, walk = kumamoto.road, kumamoto.walk
    _check_csr(car)
    _check_csr(walk)
    # README: the osmnx "all" graph has 10,319 nodes in its largest SCC; drivable is fewer
    assert 8000 < car.n_nodes < 10319
    assert (walk.reverse >= 0).all()  # walking is allowed both ways
    assert car.profile == "car" and walk.profile == "walk"
    # speeds: car edges are faster than walking over the same length
    car_speed = car.length_m.sum() / car.travel_s.sum()
    walk_speed = walk.length_m.sum() / walk.travel_s.sum()
    assert 3.0 < car_speed < 20.0
    assert walk_speed == pytest.approx(1.2, rel=0.05)


def test_profiles_remove_roads(kumamoto_raw: nx.MultiDiGraph) -> None:
    raw = kumamoto_raw
    car = road.drive_graph(raw, road.CAR)
    bus = road.drive_graph(raw, road.MINIBUS)
    wide = road.VehicleProfile(name="wide", width_m=3.5, weight_t=10.0)
    narrow_edges = [
        (u, v) for u, v, d in raw.edges(data=True) if road.parse_metres(d.get("width")) == 3.0
    ]
    assert narrow_edges  # the Kumamoto data has width=3 ways
    assert not any(road.vehicle_can_use(raw.edges[u, v, 0], wide) for u, v in narrow_edges)
    car_len = sum(d["length"] for _, _, d in car.edges(data=True))
    bus_len = sum(d["length"] for _, _, d in bus.edges(data=True))
    assert bus_len < car_len
    for _, _, d in bus.edges(data=True):
        highways = d["highway"] if isinstance(d["highway"], list) else [d["highway"]]
        assert "track" not in highways
