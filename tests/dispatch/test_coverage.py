"""The coverage-gap study on the built-in Kumamoto region and on a Kyoto extract without
census data (buildings as the population proxy)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from dispatch.coverage import (
    Thresholds,
    access_study,
    counted_stops,
    in_gap,
    mesh_code,
    nearest_target,
    stop_modes,
    study_area,
)
from maps.region import DEFAULT_DATA_DIR, default_region, mesh_cell_bounds, region_from_files

ROOT = Path(__file__).resolve().parents[2]
FEEDS = sorted(DEFAULT_DATA_DIR.glob("*.gtfs.zip"))
KYOTO = ROOT / "tests" / "data" / "osm" / "kyoto_station_2017.osm.bz2"


@pytest.fixture(scope="module")
def kumamoto():  # type: ignore[no-untyped-def]
    return default_region()


@pytest.fixture(scope="module")
def study(kumamoto):  # type: ignore[no-untyped-def]
    return access_study(kumamoto, FEEDS)


def test_mesh_codes_decode_and_encode_back(kumamoto) -> None:  # type: ignore[no-untyped-def]
    codes = kumamoto.population["mesh_code"].astype(str).tolist()
    b = mesh_cell_bounds(codes)
    centre_lon, centre_lat = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    assert mesh_code(centre_lon, centre_lat).tolist() == codes
    # by hand: 32.8032 x 1.5 = 49.2048 -> 49, 1, 6 (south half); 130.7063 - 100 -> 30, 5, 6
    # (east half) -> quarter 2
    assert mesh_code([130.7063], [32.8032]).tolist() == ["493015662"]


def test_threshold_edges_are_strict() -> None:
    th = Thresholds(stop_m=500, station_m=1000)
    walk_bus = np.array([500.0, 500.1, 500.1, 499.0, np.inf])
    walk_rail = np.array([2000.0, 1000.0, 1000.1, 5000.0, np.inf])
    assert in_gap(walk_bus, walk_rail, th).tolist() == [False, False, True, False, True]


def test_a_stop_with_too_few_departures_does_not_count(kumamoto) -> None:  # type: ignore[no-untyped-def]
    stops = counted_stops(kumamoto.stops, {}, 10)
    dep = stops["departures_weekday"]
    gtfs = stops["source"] == "gtfs"
    assert stops.loc[gtfs & (dep >= 10), "counts"].all()
    assert not stops.loc[dep < 10, "counts"].any()
    assert not stops.loc[~gtfs, "counts"].any()  # OSM stops have no timetable
    few = access_study(kumamoto, FEEDS, Thresholds(min_departures=10**6)).summary
    assert few["stops_counted"] == few["stations_counted"] == 0
    assert few["population_in_gap"] == few["population_total"]


def test_totals_are_consistent_and_count_the_study_area(kumamoto, study) -> None:  # type: ignore[no-untyped-def]
    s = study.summary
    assert abs(s["population_in_gap"] + s["population_covered"] - s["population_total"]) <= 1
    assert 0 < s["population_in_gap"] < s["population_total"]
    assert s["population_65plus_in_gap"] <= s["population_65plus_total"]
    assert s["cells_in_gap"] == int(study.cells["in_gap"].sum()) <= s["cells_total"]
    # independent: the mesh population inside the map, each cell by its area share
    cells = kumamoto.population
    area = study_area(kumamoto)
    geoms = cells.geometry.to_numpy()
    share = shapely.area(shapely.intersection(geoms, area)) / shapely.area(geoms)
    assert s["population_total"] == round(float((cells["total"] * share).sum()))
    assert s["cells_partly_outside"] > 0
    # counted stops inside the map, independently
    x0, y0, x1, y1 = kumamoto.bounds
    st = study.stops
    inside = st["lon"].between(x0, x1) & st["lat"].between(y0, y1) & st["counts"]
    assert s["stops_counted_in_area"] == int((inside & ~st["station"]).sum())
    assert s["stations_counted_in_area"] == int((inside & st["station"]).sum())
    assert 0 < s["stops_counted_in_area"] < s["stops_counted"]
    # wider thresholds never put more people in a gap
    wide = access_study(kumamoto, FEEDS, Thresholds(stop_m=800, station_m=2000)).summary
    assert wide["population_in_gap"] < s["population_in_gap"]


def test_several_feeds_tell_stations_from_bus_stops(kumamoto) -> None:  # type: ignore[no-untyped-def]
    modes = stop_modes(FEEDS)
    feeds = {f for f, _ in modes}
    assert feeds == {"kumamotoshiden", "kumamotodentetsu"}  # the bus feeds are read fast
    assert all(m == {0} for (f, _), m in modes.items() if f == "kumamotoshiden")
    assert all(m == {2} for (f, _), m in modes.items() if f == "kumamotodentetsu")
    buses = [p for p in FEEDS if p.name.split(".")[0] not in feeds]
    with_rail = access_study(kumamoto, FEEDS).summary
    without = access_study(kumamoto, buses).summary
    assert with_rail["stations_counted"] > 0 and without["stations_counted"] == 0
    assert without["population_in_gap"] > with_rail["population_in_gap"]


def test_multi_source_distances_match_networkx(kumamoto) -> None:  # type: ignore[no-untyped-def]
    walk = kumamoto.walk
    rng = np.random.default_rng(0)
    targets = rng.choice(len(walk.lon), 25, replace=False)
    offsets = rng.uniform(0, 50, 25)
    got = nearest_target(walk, walk.length_m.astype(float), targets, offsets)
    g = nx.DiGraph()
    for u, v, w in zip(walk.tail, walk.head, walk.length_m, strict=True):
        if not g.has_edge(int(v), int(u)) or g[int(v)][int(u)]["w"] > w:
            g.add_edge(int(v), int(u), w=float(max(w, 1e-9)))  # reversed: towards targets
    for t, off in zip(targets, offsets, strict=True):
        g.add_edge(-1, int(t), w=float(off))
    ref = nx.single_source_dijkstra_path_length(g, -1, weight="w")
    nodes = np.array(sorted(k for k in ref if k >= 0))
    assert np.allclose(got[nodes], [ref[k] for k in nodes], atol=1e-6)


def test_a_region_without_census_uses_the_building_proxy(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    res = CliRunner().invoke(app, ["coverage", "--osm", str(KYOTO), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert "OSM buildings" in s["population_source"]
    assert s["population_total"] > 0 and s["population_65plus_total"] == 0
    assert s["stops_counted"] == 0 and s["population_in_gap"] == s["population_total"]
    assert "OSM buildings" in (tmp_path / "summary.md").read_text(encoding="utf-8")


def test_the_report_files_read_back(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    res = CliRunner().invoke(app, ["coverage", "--out", str(tmp_path), "--stop-m", "400"])
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    for key in ("population_total", "population_in_gap", "population_65plus_total",
                "population_65plus_in_gap", "cells_total", "cells_in_gap", "thresholds"):
        assert key in s
    assert s["thresholds"]["stop_m"] == 400
    cells = gpd.read_file(tmp_path / "cells.gpkg", layer="cells")
    table = pd.read_csv(tmp_path / "cells.csv", dtype={"mesh_code": str})
    assert len(cells) == len(table) == s["cells_total"]
    assert table["mesh_code"].str.fullmatch(r"\d{9}").all()
    assert round(table["population_counted"].sum()) == pytest.approx(s["population_total"], abs=5)
    assert (tmp_path / "coverage.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in (tmp_path / "map.html").read_text(encoding="utf-8")
    bad = CliRunner().invoke(app, ["coverage", "--stop-m", "0"])
    assert bad.exit_code == 2 and "--stop-m: must be a positive number" in bad.stderr
    nogtfs = CliRunner().invoke(app, ["coverage", "--gtfs", str(FEEDS[0])])
    assert nogtfs.exit_code == 2 and "need --osm" in nogtfs.stderr


def test_the_kyoto_extract_has_no_census_cells(tmp_path: Path) -> None:
    region = region_from_files(KYOTO, cache_dir=tmp_path)
    assert len(region.population) == 0  # no census: the proxy case above


def test_a_stop_in_several_feeds_is_one_stop_with_their_departures(kumamoto) -> None:  # type: ignore[no-untyped-def]
    st = kumamoto.stops
    key = (st["stop_id"] + "@" + st["lon"].round(5).astype(str) + ","
           + st["lat"].round(5).astype(str))
    shared = key[key.duplicated(keep=False)]
    assert len(shared), "the built-in bus feeds share stops"
    merged = counted_stops(st, {}, 10)
    assert len(merged) == key.nunique()
    k = shared.iloc[0]
    sid = st.loc[key == k, "stop_id"].iloc[0]
    row = merged[(merged["stop_id"] == sid)
                 & (merged["lon"].round(5) == st.loc[key == k, "lon"].round(5).iloc[0])]
    assert len(row) == 1
    assert row["departures_weekday"].iloc[0] == st.loc[key == k, "departures_weekday"].sum()
    assert "+" in row["feed"].iloc[0]
