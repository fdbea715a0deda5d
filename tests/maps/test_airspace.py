"""Drone airspace on the built-in Kumamoto data: layers, policies, errors, drone paths.

Uses only files the repository ships (``maps/data/kumamoto``: the clipped 2020 DID
layer and Kumamoto Airport's C28 grounds) plus small files written here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod

from maps import airspace as airspace_mod
from maps.airspace import (
    DEFAULT_AIRPORT_SURFACE_HEIGHT_M,
    DEFAULT_CEILING_M,
    Airspace,
    AirspaceError,
    DroneMatrix,
    _Projection,
    airspace_for_region,
    drone_matrix,
    load_airspace,
    obstacles_lonlat,
    osm_restricted_areas,
)
from maps.errors import MapDataError
from maps.matrix import UNREACHABLE, TravelMatrices, travel_matrices
from maps.region import DEFAULT_DATA_DIR, Region

DID = DEFAULT_DATA_DIR / "r02_did_43_kumamoto_clipped.geojson"
C28 = DEFAULT_DATA_DIR / "kumamoto_airport_C28.geojson"
HOSPITALS = DEFAULT_DATA_DIR / "kumamoto_city_hospitals.geojson"
GEOD = Geod(ellps="WGS84")

# Points of the built-in map (lon, lat), chosen on the DID layer:
FREE_N = (130.657, 32.850)  # west strip (Kinpozan side), outside every DID
FREE_S = (130.660, 32.795)  # same strip, 6 km south: nothing between the two
WEST = (130.656, 32.765)  # south-west, outside the DIDs
EAST = (130.765, 32.765)  # south-east: the straight line crosses 熊本市南区's DID
CENTRE = (130.7085, 32.8031)  # Kumamoto city centre, inside 熊本市中央区's DID
POINTS = np.array([FREE_N, FREE_S, WEST, EAST, CENTRE])
I_FREE_N, I_FREE_S, I_WEST, I_EAST, I_CENTRE = range(5)


@pytest.fixture(scope="module")
def builtin(kumamoto: Region) -> Airspace:
    """The built-in region's airspace with the defaults (DID ``avoid``)."""
    return airspace_for_region(kumamoto)


@pytest.fixture(scope="module")
def builtin_matrix(builtin: Airspace) -> DroneMatrix:
    return drone_matrix(builtin, POINTS, cache_dir=False)


def _did_union(air: Airspace) -> shapely.geometry.base.BaseGeometry:
    return shapely.union_all([a.geometry for a in air.areas if a.kind == "did"])


def _geodesic_m(a: tuple[float, float] | np.ndarray, b: tuple[float, float] | np.ndarray) -> float:
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


def _one_line_naming(exc: pytest.ExceptionInfo[BaseException], path: Path) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    assert str(path) in msg
    return msg


def _write(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def _fc(*features: dict[str, object], crs: str | None = None) -> dict[str, object]:
    out: dict[str, object] = {"type": "FeatureCollection", "features": list(features)}
    if crs is not None:
        out["crs"] = {"type": "name", "properties": {"name": crs}}
    return out


def _poly_feature(ring: list[tuple[float, float]], **props: object) -> dict[str, object]:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]},
    }


def _square(lon: float, lat: float, half_deg: float) -> list[tuple[float, float]]:
    return [
        (lon - half_deg, lat - half_deg),
        (lon + half_deg, lat - half_deg),
        (lon + half_deg, lat + half_deg),
        (lon - half_deg, lat + half_deg),
        (lon - half_deg, lat - half_deg),
    ]


# ------------------------------------------------------------------------- layers


def test_builtin_layers_and_did_default_avoid(builtin: Airspace) -> None:
    kinds = [a.kind for a in builtin.areas]
    assert kinds.count("airport") == 1
    assert kinds.count("airport_surface") == 1
    assert kinds.count("did") == 18  # the clipped layer's 18 polygons
    assert {a.policy for a in builtin.areas if a.kind == "did"} == {"avoid"}
    assert "熊本市中央区" in {a.name for a in builtin.areas if a.kind == "did"}
    assert builtin.ceiling_m == DEFAULT_CEILING_M == 150.0
    # the C28 file's three features without geometry are reported, not silently lost
    assert any("without geometry" in n for n in builtin.notes)
    # same layer loaded directly from the file gives the same DIDs
    direct = load_airspace(did=[DID])
    assert len(direct.areas) == 18
    assert {a.policy for a in direct.areas} == {"avoid"}


def test_level4_permits_did_and_lists_crossings(kumamoto: Region, builtin: Airspace) -> None:
    l4 = airspace_for_region(kumamoto, level4=True)
    assert {a.policy for a in l4.areas if a.kind == "did"} == {"permit"}
    assert {a.policy for a in l4.areas if a.kind == "airport"} == {"avoid"}
    assert airspace_for_region(kumamoto, did_policy="permit").fingerprint() == l4.fingerprint()
    straight = np.array([WEST, EAST])
    crossings = l4.crossings(straight)
    assert crossings, "the straight line crosses a DID"
    assert {c.kind for c in crossings} == {"did"}
    assert {c.policy for c in crossings} == {"permit"}
    proj = _Projection.for_lonlat(straight)
    inside = proj.geom_to_xy(shapely.linestrings(straight)).intersection(
        proj.geom_to_xy(_did_union(l4))
    )
    assert sum(c.length_m for c in crossings) == pytest.approx(inside.length, rel=1e-6)
    assert l4.violations(straight) == []
    # the same line under the default policy is a violation naming the DID
    v = builtin.violations(straight)
    assert v and all("enters avoided did" in s for s in v)
    # a Level 4 matrix flies it straight, through the DID
    m = drone_matrix(l4, straight, cache_dir=False)
    assert m.reachable.all() and not m.detour.any()
    assert m.length_m[0, 1] == pytest.approx(_geodesic_m(WEST, EAST), rel=2e-3)


def test_airport_grounds_closed_and_surface_height_limit(tmp_path: Path) -> None:
    air = load_airspace(airports=[C28])
    grounds = next(a for a in air.areas if a.kind == "airport")
    surface = next(a for a in air.areas if a.kind == "airport_surface")
    assert grounds.name == "熊本空港" and grounds.height_limit_m is None
    assert surface.height_limit_m == DEFAULT_AIRPORT_SURFACE_HEIGHT_M == 45.0
    # grounds closed at every height; the surface only above 45 m
    assert air.active(1.0) == [grounds]
    assert air.active(45.0) == [grounds]
    assert air.active(45.5) == [grounds, surface]
    # the surface is the grounds grown by about 4,000 m
    proj = _Projection.for_centre(grounds.geometry.centroid.x, grounds.geometry.centroid.y)
    g_xy = proj.geom_to_xy(grounds.geometry)
    s_xy = proj.geom_to_xy(surface.geometry)
    assert s_xy.hausdorff_distance(g_xy.buffer(4000.0)) < 25.0
    # flights west-east across the airport
    ends = np.array([(130.76, 32.8362), (130.95, 32.8362)])
    low = drone_matrix(air, ends, cruise_altitude_m=40.0, cache_dir=False)
    high = drone_matrix(air, ends, cruise_altitude_m=60.0, cache_dir=False)
    straight = _geodesic_m(ends[0], ends[1])
    assert low.detour[0, 1] and high.detour[0, 1]
    assert straight < low.length_m[0, 1] < high.length_m[0, 1]
    low_path, high_path = low.path(0, 1), high.path(0, 1)
    assert air.violations(low_path, 40.0) == []
    assert air.violations(high_path, 60.0) == []
    # the low path passes under the surface: fine at 40 m, a violation at 60 m
    v = air.violations(low_path, 60.0)
    assert len(v) == 1 and "height limit 45 m" in v[0]
    # a point inside the surface but outside the grounds can take off only below 45 m
    near = np.array([(130.80, 32.8362), (130.76, 32.8362)])
    assert drone_matrix(air, near, cruise_altitude_m=40.0, cache_dir=False).reachable[0, 1]
    assert not drone_matrix(air, near, cruise_altitude_m=60.0, cache_dir=False).reachable[0, 1]
    # the ceiling: 150 m by default
    with pytest.raises(AirspaceError, match="ceiling 150 m"):
        drone_matrix(air, ends, cruise_altitude_m=151.0, cache_dir=False)
    air.check_altitude(150.0)


def test_osm_restricted_tags(tmp_path: Path) -> None:
    lon, lat = 130.66, 32.82
    d = 0.004
    nodes = {
        1: (lon - d, lat - d),
        2: (lon + d, lat - d),
        3: (lon + d, lat + d),
        4: (lon - d, lat + d),
        10: (lon + 0.02, lat),  # helipad node
        20: (lon - 0.02, lat - 0.01),  # runway line ends
        21: (lon - 0.02, lat + 0.01),
        30: (lon + 0.03, lat + 0.03),  # a building: not restricted
        31: (lon + 0.031, lat + 0.03),
        32: (lon + 0.031, lat + 0.031),
    }
    xml = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, (x, y) in nodes.items():
        xml.append(f'<node id="{nid}" version="1" lat="{y}" lon="{x}"')
        if nid == 10:
            xml[-1] += '><tag k="aeroway" v="helipad"/><tag k="name" v="H1"/></node>'
        else:
            xml[-1] += "/>"

    def way(wid: int, refs: list[int], tags: dict[str, str]) -> None:
        xml.append(f'<way id="{wid}" version="1">')
        xml.extend(f'<nd ref="{r}"/>' for r in refs)
        xml.extend(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        xml.append("</way>")

    way(100, [1, 2, 3, 4, 1], {"landuse": "military", "name": "camp"})
    way(101, [20, 21], {"aeroway": "runway"})
    way(102, [30, 31, 32, 30], {"building": "yes"})
    xml.append("</osm>")
    path = tmp_path / "restricted.osm"
    path.write_text("\n".join(xml), encoding="utf-8")

    areas = osm_restricted_areas(path)
    by_kind = {a.kind: a for a in areas}
    assert sorted(by_kind) == ["helipad", "military", "runway"]
    assert {a.policy for a in areas} == {"avoid"}
    assert by_kind["military"].name == "camp"
    assert by_kind["helipad"].name == "H1"
    assert by_kind["runway"].name == "aeroway=runway"
    proj = _Projection.for_centre(lon, lat)
    # a helipad node becomes a 50 m circle, a runway line a 100 m wide band
    assert proj.geom_to_xy(by_kind["helipad"].geometry).area == pytest.approx(
        math.pi * 50.0**2, rel=0.02
    )
    band = proj.geom_to_xy(by_kind["runway"].geometry)
    line = proj.geom_to_xy(shapely.LineString([nodes[20], nodes[21]]))
    assert band.area == pytest.approx(100.0 * line.length + math.pi * 50.0**2, rel=0.02)
    square = proj.geom_to_xy(shapely.Polygon([nodes[i] for i in (1, 2, 3, 4)]))
    military = proj.geom_to_xy(by_kind["military"].geometry)
    assert military.symmetric_difference(square).area < 1.0
    # the built-in roads-only extract has none of these tags
    assert osm_restricted_areas(DEFAULT_DATA_DIR / "kumamoto_chuo_highways_2023-01.osm.bz2") == []
    # a path across the military square bends around it and never enters it
    air = load_airspace(osm=[path])
    ends = np.array([(lon - 0.01, lat), (lon + 0.01, lat)])
    m = drone_matrix(air, ends, cache_dir=False)
    assert m.detour[0, 1]
    assert air.violations(m.path(0, 1)) == []
    with pytest.raises(MapDataError, match="OSM file not found"):
        osm_restricted_areas(tmp_path / "missing.osm")


def test_user_geofence(tmp_path: Path) -> None:
    lon, lat = FREE_N[0] + 0.003, (FREE_N[1] + FREE_S[1]) / 2
    path = _write(
        tmp_path / "fence.geojson",
        _fc(
            _poly_feature(_square(lon, lat, 0.002), name="festival"),
            _poly_feature(_square(lon, lat + 0.01, 0.002), policy="permit"),
            _poly_feature(_square(lon, lat - 0.01, 0.002), height_limit_m=30),
        ),
    )
    air = load_airspace(geofences=[path])
    a, b, c = air.areas
    assert (a.name, a.kind, a.policy, a.height_limit_m) == ("festival", "geofence", "avoid", None)
    assert (b.name, b.policy) == ("fence 1", "permit")
    assert (c.policy, c.height_limit_m) == ("avoid", 30.0)
    assert air.active(60.0, "avoid") == [a, c]
    assert air.active(20.0, "avoid") == [a]
    assert load_airspace(geofences=[path], geofence_policy="permit").areas[0].policy == "permit"
    # a user fence added to the built-in region blocks the free strip's straight line
    m = drone_matrix(air, np.array([FREE_N, FREE_S]), cache_dir=False)
    assert m.detour[0, 1]
    assert air.violations(m.path(0, 1)) == []
    bad = _write(
        tmp_path / "bad_policy.geojson", _fc(_poly_feature(_square(lon, lat, 0.001), policy="ok"))
    )
    with pytest.raises(MapDataError, match="policy 'ok'") as exc:
        load_airspace(geofences=[bad])
    _one_line_naming(exc, bad)


# ------------------------------------------------------------------------- errors


def test_invalid_polygon_is_one_line_error_naming_the_file(tmp_path: Path) -> None:
    bowtie = [(130.66, 32.80), (130.67, 32.81), (130.67, 32.80), (130.66, 32.81), (130.66, 32.80)]
    path = _write(tmp_path / "bowtie.geojson", _fc(_poly_feature(bowtie)))
    with pytest.raises(MapDataError) as exc:
        load_airspace(geofences=[path])
    assert "invalid polygon" in _one_line_naming(exc, path)


def test_empty_layers_are_errors(tmp_path: Path) -> None:
    empty = _write(tmp_path / "empty.geojson", _fc())
    with pytest.raises(MapDataError) as exc:
        load_airspace(did=[empty])
    assert "no features" in _one_line_naming(exc, empty)
    nulls = _write(
        tmp_path / "nulls.geojson",
        _fc({"type": "Feature", "properties": {"name": "x"}, "geometry": None}),
    )
    with pytest.raises(MapDataError) as exc:
        load_airspace(airports=[nulls])
    assert "no geometries" in _one_line_naming(exc, nulls)
    missing = tmp_path / "missing.geojson"
    with pytest.raises(MapDataError) as exc:
        load_airspace(geofences=[missing])
    assert "not found" in _one_line_naming(exc, missing)


def test_wrong_crs_is_one_line_error(tmp_path: Path) -> None:
    # Kumamoto city centre in Web Mercator metres, declared as such
    x, y = 14_551_000.0, 3_862_000.0
    ring = [(x, y), (x + 500, y), (x + 500, y + 500), (x, y + 500), (x, y)]
    declared = _write(
        tmp_path / "mercator.geojson",
        _fc(_poly_feature(ring), crs="urn:ogc:def:crs:EPSG::3857"),
    )
    with pytest.raises(MapDataError) as exc:
        load_airspace(geofences=[declared])
    msg = _one_line_naming(exc, declared)
    assert "projected CRS" in msg and "EPSG:4326" in msg
    # the same metres without a CRS member: caught by the coordinate range
    undeclared = _write(tmp_path / "metres.geojson", _fc(_poly_feature(ring)))
    with pytest.raises(MapDataError) as exc:
        load_airspace(did=[undeclared])
    assert "not lon/lat degrees" in _one_line_naming(exc, undeclared)


def test_points_file_as_no_fly_layer(tmp_path: Path) -> None:
    # the shipped hospitals layer holds points, not polygons
    with pytest.raises(MapDataError) as exc:
        load_airspace(geofences=[HOSPITALS])
    msg = _one_line_naming(exc, HOSPITALS)
    assert "Point" in msg and "not polygons" in msg
    not_json = tmp_path / "notes.geojson"
    not_json.write_text("hello", encoding="utf-8")
    with pytest.raises(MapDataError) as exc:
        load_airspace(did=[not_json])
    assert "not a readable" in _one_line_naming(exc, not_json)


def test_bad_settings() -> None:
    with pytest.raises(AirspaceError, match="policies"):
        load_airspace(did=[DID], did_policy="fly")  # type: ignore[arg-type]
    air = load_airspace(did=[DID])
    with pytest.raises(AirspaceError, match="margin_m"):
        drone_matrix(air, POINTS, margin_m=-1.0, cache_dir=False)
    with pytest.raises(AirspaceError, match="cruise_altitude_m"):
        drone_matrix(air, POINTS, cruise_altitude_m=0.0, cache_dir=False)
    with pytest.raises(AirspaceError, match="points_lonlat_from"):
        drone_matrix(air, [[130.7, 95.0]], cache_dir=False)


# -------------------------------------------------------------------- drone paths


def test_straight_where_nothing_is_in_the_way(
    builtin: Airspace, builtin_matrix: DroneMatrix
) -> None:
    m = builtin_matrix
    i, j = I_FREE_N, I_FREE_S
    assert m.reachable[i, j] and not m.detour[i, j]
    line = shapely.LineString([FREE_N, FREE_S])
    assert not line.intersects(_did_union(builtin))
    geodesic = _geodesic_m(FREE_N, FREE_S)
    assert m.length_m[i, j] == pytest.approx(geodesic, rel=1e-3)  # UTM scale error only
    proj = _Projection.for_centre(130.76, 32.8)
    planar = float(np.hypot(*np.diff(proj.to_xy(POINTS[[i, j]]), axis=0)[0]))
    assert m.length_m[i, j] == pytest.approx(planar, abs=0.5)
    assert m.distance_m[i, j] == round(m.length_m[i, j])
    assert np.array_equal(m.path(i, j), POINTS[[i, j]])
    assert m.length_m[i, j] == m.length_m[j, i]
    assert m.length_m[i, i] == 0.0


def test_detour_around_avoided_did(builtin: Airspace, builtin_matrix: DroneMatrix) -> None:
    m = builtin_matrix
    i, j = I_WEST, I_EAST
    assert m.reachable[i, j] and m.detour[i, j]
    path = m.path(i, j)
    assert len(path) > 2
    assert np.array_equal(path[0], POINTS[i]) and np.array_equal(path[-1], POINTS[j])
    proj = _Projection.for_centre(130.76, 32.8)
    xy = proj.to_xy(path)
    line = shapely.LineString(xy)
    # the path's own length is the matrix entry, and no shorter than straight
    assert line.length == pytest.approx(m.length_m[i, j], abs=0.05)
    assert m.length_m[i, j] > float(np.hypot(*(xy[-1] - xy[0])))
    assert m.length_m[i, j] > _geodesic_m(WEST, EAST)
    # never enters a DID, and keeps the 30 m margin (a few cm of rounding allowed)
    dids = proj.geom_to_xy(_did_union(builtin))
    assert not line.intersects(dids)
    assert line.distance(dids) >= m.margin_m - 0.05
    assert builtin.violations(path) == []
    assert builtin.crossings(path) == []
    # the reverse flight is the same length
    assert m.length_m[j, i] == pytest.approx(m.length_m[i, j], abs=0.01)
    # obstacles_lonlat (the grown areas) is what the path runs along, never inside
    grown = proj.geom_to_xy(obstacles_lonlat(builtin))
    assert line.intersection(grown).length > 1.0  # it does run along the boundary
    assert line.intersection(grown.buffer(-0.05)).length < 0.01
    assert grown.contains(proj.geom_to_xy(shapely.Point(CENTRE)))


def test_take_off_inside_avoided_area_is_unreachable(builtin_matrix: DroneMatrix) -> None:
    m = builtin_matrix
    k = I_CENTRE
    assert not m.reachable[k].any() and not m.reachable[:, k].any()
    assert (m.distance_m[k] == UNREACHABLE).all() and (m.distance_m[:, k] == UNREACHABLE).all()
    assert np.isinf(m.length_m[k]).all()
    assert (m.duration_s(12.0)[k] == UNREACHABLE).all()
    with pytest.raises(AirspaceError, match="no drone path from origin 4"):
        m.path(k, I_FREE_N)
    others = [I_FREE_N, I_FREE_S, I_WEST, I_EAST]
    assert m.reachable[np.ix_(others, others)].all()


def test_matrix_conventions_match_road_matrix(kumamoto: Region, builtin: Airspace) -> None:
    road = kumamoto.road
    grown = obstacles_lonlat(builtin)  # DIDs and airport grown by the 30 m margin
    outside = [
        k
        for k in range(0, road.n_nodes, 37)
        if not grown.intersects(shapely.Point(road.lon[k], road.lat[k]))
    ][:6]
    pts = np.column_stack([road.lon[outside], road.lat[outside]])
    pts = np.vstack([pts, [CENTRE]])  # one unreachable for the drone
    car = travel_matrices(road, pts[:-1], pts)
    dm = drone_matrix(builtin, pts[:-1], pts, cache_dir=False)
    drone = dm.travel_matrices(12.0)
    assert isinstance(drone, TravelMatrices)
    for name in ("duration_s", "distance_m", "reachable"):
        a, b = getattr(car, name), getattr(drone, name)
        assert a.shape == b.shape == (6, 7)
        assert a.dtype == b.dtype
        assert not b.flags.writeable
    assert (np.diag(drone.duration_s[:, :6]) == 0).all()
    assert (np.diag(drone.distance_m[:, :6]) == 0).all()
    assert (drone.distance_m[~drone.reachable] == UNREACHABLE).all()
    assert (drone.duration_s[~drone.reachable] == UNREACHABLE).all()
    assert not drone.reachable[:, 6].any()
    ok = drone.reachable
    # seconds are the metres at 12 m/s rounded up
    assert (drone.duration_s[ok] == np.ceil(dm.length_m[ok] / 12.0 - 1e-9)).all()
    # no drone flight is shorter than the straight line (roads may cross DIDs, drones not)
    for i, j in zip(*np.nonzero(ok), strict=True):
        assert dm.length_m[i, j] >= _geodesic_m(pts[i], pts[j]) * (1 - 1e-3)
    with pytest.raises(AirspaceError, match="cruise_speed_mps"):
        dm.duration_s(0.0)


def test_cache_returns_identical_matrix(
    builtin: Airspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = drone_matrix(builtin, POINTS, cache_dir=tmp_path)
    files = list(tmp_path.rglob("drone-*.npz"))
    assert len(files) == 1

    def boom(*args: object, **kwargs: object) -> DroneMatrix:
        msg = "recomputed although cached"
        raise AssertionError(msg)

    monkeypatch.setattr(airspace_mod, "_compute", boom)
    second = drone_matrix(builtin, POINTS, cache_dir=tmp_path)
    for name in ("distance_m", "length_m", "reachable", "detour"):
        assert np.array_equal(getattr(first, name), getattr(second, name))
        assert not getattr(second, name).flags.writeable
    assert np.array_equal(first.path(I_WEST, I_EAST), second.path(I_WEST, I_EAST))
    # another altitude, another key (here: a recomputation)
    with pytest.raises(AssertionError, match="recomputed"):
        drone_matrix(builtin, POINTS, cruise_altitude_m=50.0, cache_dir=tmp_path)
