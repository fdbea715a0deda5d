"""Region: GTFS-JP stops, census mesh decoding, POIs, cache, summary and samples."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from maps import region as rg
from maps.errors import MapDataError
from maps.region import Region

FEED_STOPS = {  # figures from shared/data/README.md
    "toshibus": 819,
    "kumabus": 579,
    "dentetsubus": 618,
    "kumamotoshiden": 69,
    "kumamotodentetsu": 18,
}


def test_gtfs_stop_counts_per_feed(kumamoto: Region) -> None:
    counts = kumamoto.stops.groupby("feed").size().to_dict()
    for feed, n in FEED_STOPS.items():
        assert counts[feed] == n
    assert counts["osm"] == 74
    gtfs = kumamoto.stops[kumamoto.stops["source"] == "gtfs"]
    assert (gtfs["departures_weekday"] >= 0).all()
    # most stops are served on a weekday (a terminus only sees arrivals)
    assert (gtfs["departures_weekday"] > 0).mean() > 0.8
    tram = gtfs[gtfs["feed"] == "kumamotoshiden"]
    assert (tram["departures_weekday"] > 0).mean() > 0.9
    assert kumamoto.stops.crs.to_epsg() == 4326


def test_weekday_departures_of_the_tram() -> None:
    stops = rg.stops_from_gtfs(rg.DEFAULT_DATA_DIR / "kumamotoshiden.gtfs.zip")
    with zipfile.ZipFile(rg.DEFAULT_DATA_DIR / "kumamotoshiden.gtfs.zip") as zf:
        trips_total = len(zf.read("trips.txt").decode("utf-8-sig").strip().splitlines()) - 1
    # each weekday trip departs from all its stops but the last; fewer trips than the feed has
    per_trip = stops["departures_weekday"].sum()
    assert 0 < per_trip < trips_total * 69


def test_mesh_decoding_known_cells() -> None:
    # hand-computed from the formula in shared/data/README.md
    cells = rg.mesh_cell_bounds(["493001002", "493075131", "493064774"])
    expected_sw = np.array(
        [
            [130.0 + 1 * 7.5 / 60 + 22.5 / 3600, 49 / 1.5],
            [130.0 + 5 * 7.5 / 60 + 3 * 45 / 3600, 49 / 1.5 + 7 * 5 / 60 + 1 * 30 / 3600],
            [
                130.0 + 4 * 7.5 / 60 + 7 * 45 / 3600 + 22.5 / 3600,
                49 / 1.5 + 6 * 5 / 60 + 7 * 30 / 3600 + 15 / 3600,
            ],
        ]
    )
    assert np.allclose(cells[:, :2], expected_sw, atol=1e-9)
    assert np.allclose(cells[:, 2] - cells[:, 0], 22.5 / 3600)
    assert np.allclose(cells[:, 3] - cells[:, 1], 15 / 3600)
    assert cells[0, 1] == pytest.approx(32.666667, abs=1e-6)
    assert cells[1, 0] == pytest.approx(130.6625)


@pytest.mark.parametrize("code", ["49300100", "4930010a2", "493081002", "493001005"])
def test_bad_mesh_codes(code: str) -> None:
    with pytest.raises(MapDataError, match="mesh code"):
        rg.mesh_cell_bounds([code])


def test_population_mesh_matches_readme(kumamoto: Region) -> None:
    pop = kumamoto.population
    assert pop["mesh_code"].is_unique
    # e-Stat merges tiny cells: a receiving cell's age bands can include its donor's
    # people while "total" does not, so the ordering holds in aggregate, not per cell
    assert pop["total"].sum() > pop["age65plus"].sum() > pop["age75plus"].sum()
    assert (pop["total"] >= pop["age65plus"]).mean() > 0.99
    assert (pop["age65plus"] >= pop["age75plus"]).all()
    # README: 462 meshes with 594,668 people fall inside the OSM bounding box (counting
    # a cell by its south-west corner, the point its code encodes); the region keeps
    # every cell that touches the box.
    lo, la, hi, ha = kumamoto.bounds
    sw = pop.geometry.bounds
    inside = sw["minx"].between(lo, hi) & sw["miny"].between(la, ha)
    assert int(inside.sum()) == 462
    assert int(pop.loc[inside, "total"].sum()) == 594_668
    # the cell around Kumamoto City Hall (130.7079 E, 32.8032 N), downtown, is inhabited
    hall = pop[pop.geometry.contains(rg.shapely.Point(130.7079, 32.8032))]
    assert len(hall) == 1 and int(hall["total"].iloc[0]) > 100


def test_suppressed_values_are_noted(kumamoto: Region) -> None:
    assert any("suppressed" in note for note in kumamoto.notes)


def test_pois_and_no_fly(kumamoto: Region) -> None:
    assert (kumamoto.pois["kind"] == "hospital").sum() == 90
    assert set(kumamoto.no_fly["layer"]) == {"r02_did_43_kumamoto_clipped", "kumamoto_airport_C28"}
    assert (kumamoto.no_fly.geometry.geom_type.isin(["Polygon", "MultiPolygon"])).all()


def test_summary(kumamoto: Region) -> None:
    s = kumamoto.summary()
    assert s["nodes"] == kumamoto.road.n_nodes and s["edges"] == kumamoto.road.n_edges
    assert s["stops"] == len(kumamoto.stops)
    assert s["population"] == int(kumamoto.population["total"].sum())
    assert s["hospitals"] == 90


def test_cache_roundtrip(kumamoto: Region, region_cache: Path) -> None:
    # the session fixture wrote the entry; loading it again gives equal, read-only data
    entries = list(region_cache.glob("region-*"))
    assert len(entries) == 1
    again = rg.default_region(cache_dir=region_cache)
    assert np.array_equal(again.road.travel_s, kumamoto.road.travel_s)
    assert np.array_equal(again.walk.head, kumamoto.walk.head)
    assert not again.road.travel_s.flags.writeable
    assert again.summary() == kumamoto.summary()
    assert list(region_cache.glob("region-*")) == entries


def test_cache_key_follows_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAKOBU_CACHE_DIR", str(tmp_path))
    assert rg.cache_root() == tmp_path
    assert rg.cache_root(tmp_path / "x") == tmp_path / "x"
    tram = rg.DEFAULT_DATA_DIR / "kumamotoshiden.gtfs.zip"
    copy = tmp_path / "renamed.zip"
    copy.write_bytes(tram.read_bytes())
    key = rg._cache_key({"gtfs": [tram]})
    assert rg._cache_key({"gtfs": [copy]}) == key  # same bytes, same key
    copy.write_bytes(tram.read_bytes() + b"\0")
    assert rg._cache_key({"gtfs": [copy]}) != key


def test_travel_time_sample(kumamoto: Region) -> None:
    rows = rg.travel_time_sample(kumamoto, n=4, seed=1)
    assert len(rows) == 4
    assert all(r["duration_s"] > 0 and r["distance_m"] > 0 for r in rows)
    assert rows == rg.travel_time_sample(kumamoto, n=4, seed=1)


def test_kyoto_region(shared_data: Path, tmp_path: Path) -> None:
    osm = shared_data / "japan-kyoto-station-osm" / "kyoto_station_2017.osm"
    region = rg.region_from_files(osm, cache_dir=tmp_path)
    s = region.summary()
    assert s["stops"] == 18 and s["population"] == 0 and s["nodes"] > 100


def test_bad_gtfs(tmp_path: Path) -> None:
    not_zip = tmp_path / "feed.zip"
    not_zip.write_text("hello")
    with pytest.raises(MapDataError, match="not a GTFS zip"):
        rg.stops_from_gtfs(not_zip)
    no_stops = tmp_path / "nostops.zip"
    with zipfile.ZipFile(no_stops, "w") as zf:
        zf.writestr("agency.txt", "agency_id\n1\n")
    with pytest.raises(MapDataError, match=r"no stops\.txt"):
        rg.stops_from_gtfs(no_stops)
    with pytest.raises(MapDataError, match="not found"):
        rg.stops_from_gtfs(tmp_path / "missing.zip")


def test_bad_population_and_pois(tmp_path: Path) -> None:
    bad = tmp_path / "mesh.txt"
    bad.write_bytes("a,b\n1,2\n3,4\n".encode("cp932"))
    with pytest.raises(MapDataError, match="missing columns"):
        rg.population_from_estat(bad)
    junk = tmp_path / "pois.geojson"
    junk.write_text("{ not json")
    with pytest.raises(MapDataError, match=r"pois\.geojson"):
        rg.pois_from_geojson(junk)


def test_population_with_a_value_that_is_not_a_count(tmp_path: Path) -> None:
    # the built-in mesh file with one total replaced by text: named by file, mesh and column
    lines = (rg.DEFAULT_DATA_DIR / "tblT001101H4930.txt").read_bytes().decode("cp932")
    rows = lines.splitlines()
    header = rows[0].split(",")
    cells = rows[2].split(",")
    cells[header.index("T001101001")] = "many"
    bad = tmp_path / "mesh.txt"
    bad.write_bytes("\n".join([rows[0], rows[1], ",".join(cells)]).encode("cp932"))
    with pytest.raises(MapDataError, match=rf"mesh\.txt: mesh {cells[0]}: T001101001"):
        rg.population_from_estat(bad)


def test_bad_mesh_code_names_the_file(tmp_path: Path) -> None:
    rows = (rg.DEFAULT_DATA_DIR / "tblT001101H4930.txt").read_bytes().decode("cp932")
    head = rows.splitlines()[:3]
    head[2] = "12345" + head[2][9:]
    bad = tmp_path / "mesh.txt"
    bad.write_bytes("\n".join(head).encode("cp932"))
    with pytest.raises(MapDataError, match=r"mesh\.txt: mesh code '12345"):
        rg.population_from_estat(bad)


def test_no_fly_file_without_polygons_is_refused() -> None:
    # the hospitals are points: as a no-fly layer they must be refused, not dropped
    with pytest.raises(MapDataError, match=r"kumamoto_city_hospitals\.geojson: no Polygon"):
        rg.no_fly_from_files([rg.DEFAULT_DATA_DIR / "kumamoto_city_hospitals.geojson"])


def test_gunma_gtfs_jp_feeds(shared_data: Path) -> None:
    # stop counts from shared/data/README.md; rural feeds with calendar_dates exceptions
    expected = {
        "uenomura": 9,
        "shimonitamachi": 101,
        "nanmokumura": 56,
        "takayamamura": 69,
        "showamura": 146,
    }
    for path in sorted((shared_data / "gtfs-jp-gunma").glob("*.zip")):
        stops = rg.stops_from_gtfs(path)
        key = next(k for k in expected if k in path.name)
        assert len(stops) == expected[key]
        assert stops["departures_weekday"].sum() > 0
        assert stops["lat"].between(36.0, 36.7).all()
