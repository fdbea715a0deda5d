"""``hakobu drone-plan``: the demo day on the built-in region, the user's files, the
exported flight plans read back, and one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import typer
from typer.testing import CliRunner, Result

from api.commands.drone import register
from maps.airspace import airspace_for_region, load_airspace
from maps.region import DEFAULT_DATA_DIR, default_region

DID = DEFAULT_DATA_DIR / "r02_did_43_kumamoto_clipped.geojson"
AIRPORT = DEFAULT_DATA_DIR / "kumamoto_airport_C28.geojson"
OSM = DEFAULT_DATA_DIR / "kumamoto_chuo_highways_2023-01.osm.bz2"
#: A droneport west of the city: it and the parcels of the user day lie outside every DID.
PORT = (130.665, 32.835)


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    app.command("unused")(lambda: None)  # two commands: drone-plan is not the root
    return app


def _run(app: typer.Typer, *args: str | Path) -> Result:
    return CliRunner().invoke(app, ["drone-plan", *(str(a) for a in args)])


def _error(res: Result) -> str:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert lines[-1].startswith("error:") and "Traceback" not in res.output, res.stderr
    assert sum(ln.startswith("error:") for ln in lines) == 1
    return lines[-1]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def demo(app: typer.Typer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    res = _run(app, "--out", out, "--date", "2026-12-03", "--time-limit", "1")
    assert res.exit_code == 0, res.output
    return out


def test_the_demo_day_writes_flight_plans_that_read_back(demo: Path) -> None:
    flights = gpd.read_file(demo / "flights.geojson")
    assert len(flights) > 10
    assert flights.geometry.has_z.all()
    plan = json.loads((demo / "plan.json").read_text(encoding="utf-8"))
    assert plan["sorties"] == len(flights)
    cruise = plan["drone"]["cruise_alt_m"]
    for geom, row in zip(flights.geometry, flights.itertuples(), strict=True):
        z = [c[2] for c in geom.coords]
        assert z[0] == z[-1] == 0.0 and max(z) == cruise == row.max_alt_m
        assert row.takeoff < row.landing and str(row.takeoff.date()) == "2026-12-03"
        assert row.takeoff.utcoffset().total_seconds() == 9 * 3600  # Japan time
        assert row.reserve_left_pct >= 20.0  # the battery reserve holds on every flight
    deliveries = _rows(demo / "deliveries.csv")
    assert len(deliveries) == plan["jobs"] == len(_rows(demo / "jobs.csv"))
    by_drone = [d for d in deliveries if d["mode"] == "drone"]
    assert len(by_drone) == plan["by_drone"] == sum(len(j) for j in flights["jobs"])
    for d in deliveries:
        if d["mode"] == "none":
            assert d["reason"], d
        else:
            assert d["earliest"] <= d["delivered"] <= d["latest"], d
    summary = _rows(demo / "summary.csv")
    assert summary[-1]["drone"] == "total"
    assert int(summary[-1]["parcels"]) == plan["by_drone"]
    assert "<svg" in (demo / "map.html").read_text(encoding="utf-8")


def test_demo_flights_stay_out_of_avoided_airspace(demo: Path) -> None:
    air = airspace_for_region(default_region())
    avoided = shapely.union_all([a.geometry for a in air.active(60.0, "avoid")])
    assert not avoided.is_empty
    flights = gpd.read_file(demo / "flights.geojson")
    for geom in flights.geometry:
        flat = shapely.force_2d(geom)
        assert not flat.intersects(avoided.buffer(-1e-6)), "a sortie enters a DID"
    assert all(len(p) == 0 for p in flights["permit_areas_crossed"])


def test_a_level4_operator_crosses_dids_and_each_crossing_is_listed(
        app: typer.Typer, tmp_path: Path) -> None:
    res = _run(app, "--out", tmp_path, "--level4", "--time-limit", "0.5")
    assert res.exit_code == 0, res.output
    flights = gpd.read_file(tmp_path / "flights.geojson")
    air = airspace_for_region(default_region(), level4=True)
    permit = [a for a in air.areas if a.policy == "permit"]
    assert permit and all(a.kind == "did" for a in permit)
    crossed = 0
    for geom, listed in zip(flights.geometry, flights["permit_areas_crossed"], strict=True):
        flat = shapely.force_2d(geom)
        actual = {a.name for a in permit if flat.intersects(a.geometry)}
        assert actual == set(listed)
        crossed += bool(actual)
    assert crossed > 0


def _write(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _user_day(tmp: Path) -> tuple[Path, Path]:
    lon, lat = PORT
    jobs = _write(tmp / "jobs.csv", "id,lon,lat,weight_kg,earliest,latest,priority",
                  f"a,{lon + 0.02},{lat},1.0,09:00,10:00,2",
                  f"b,{lon + 0.02},{lat + 0.01},2.0,,,0",
                  f"heavy,{lon + 0.01},{lat - 0.01},7.0,,,0")
    ports = _write(tmp / "ports.csv", "id,lon,lat,drones", f"p,{lon},{lat},1")
    return jobs, ports


def test_user_files_with_a_geofence_are_flown_around(app: typer.Typer,
                                                     tmp_path: Path) -> None:
    jobs, ports = _user_day(tmp_path)
    lon, lat = PORT
    fence = shapely.box(lon + 0.008, lat - 0.004, lon + 0.012, lat + 0.004)
    fence_file = tmp_path / "school.geojson"
    gpd.GeoDataFrame({"name": ["school"]}, geometry=[fence], crs="EPSG:4326").to_file(
        fence_file, driver="GeoJSON")
    out = tmp_path / "out"
    res = _run(app, "--out", out, "--jobs", jobs, "--droneports", ports, "--osm", OSM,
               "--no-fly", DID, "--no-fly", AIRPORT, "--geofence", fence_file,
               "--time-limit", "0.5")
    assert res.exit_code == 0, res.output
    flights = gpd.read_file(out / "flights.geojson")
    assert {j for js in flights["jobs"] for j in js} == {"a", "b"}
    for geom in flights.geometry:
        assert not shapely.force_2d(geom).intersects(fence.buffer(-1e-6))
    straight = shapely.LineString([PORT, (lon + 0.02, lat)])
    assert straight.intersects(fence)  # so the sortie to "a" had to detour
    rows = {r["id"]: r for r in _rows(out / "deliveries.csv")}
    assert rows["heavy"]["mode"] == "none" and rows["heavy"]["reason"].startswith("payload")
    assert "09:00:00" <= rows["a"]["delivered"] <= "10:00:00"
    assert not (out / "jobs.csv").exists()  # the user's day is not written back


def test_with_vans_a_parcel_too_heavy_to_fly_goes_by_van(app: typer.Typer,
                                                         tmp_path: Path) -> None:
    jobs, ports = _user_day(tmp_path)
    out = tmp_path / "out"
    res = _run(app, "--out", out, "--jobs", jobs, "--droneports", ports, "--vans", "1",
               "--van-snap-m", "2000", "--time-limit", "0.5")
    assert res.exit_code == 0, res.output
    rows = {r["id"]: r for r in _rows(out / "deliveries.csv")}
    assert rows["heavy"]["mode"] == "van" and rows["heavy"]["carrier"].startswith("van-")
    assert "payload" in rows["heavy"]["reason"]
    assert json.loads((out / "plan.json").read_text())["van_km"] > 0
    # With a drone on the van: one row per van route, in sidekick.csv and plan.json.
    res = _run(app, "--out", out, "--jobs", jobs, "--droneports", ports, "--vans", "1",
               "--van-snap-m", "2000", "--time-limit", "0.5", "--sidekick")
    assert res.exit_code == 0, res.output
    (row,) = _rows(out / "sidekick.csv")
    assert row["van"].startswith("van-") and row["used"] in ("True", "False")
    assert "heavy" not in row["flown_from_van"].split()  # 7 kg: over the drone's payload
    assert json.loads((out / "plan.json").read_text())["sidekicks"][0]["van"] == row["van"]
    assert "with its drone" in res.stdout
    assert "needs --vans" in _error(_run(app, "--sidekick"))


def test_wind_over_the_maximum_grounds_the_drones_with_the_reason(
        app: typer.Typer, tmp_path: Path) -> None:
    jobs, ports = _user_day(tmp_path)
    out = tmp_path / "out"
    res = _run(app, "--out", out, "--jobs", jobs, "--droneports", ports,
               "--wind-speed", "12", "--time-limit", "0.3")
    assert res.exit_code == 0, res.output
    rows = _rows(out / "deliveries.csv")
    assert {r["mode"] for r in rows} == {"none"}
    assert {r["reason"].split(":")[0] for r in rows if r["id"] != "heavy"} == {"wind"}


def test_bad_inputs_get_one_line_naming_the_problem(app: typer.Typer, tmp_path: Path) -> None:
    jobs, ports = _user_day(tmp_path)
    bad_lon = _write(tmp_path / "bad.csv", "id,lon,lat,weight_kg", "x,east,32.8,1")
    assert "row 2: lon: 'east' is not a number" in _error(
        _run(app, "--jobs", bad_lon, "--droneports", ports, "--out", tmp_path / "o"))
    no_weight = _write(tmp_path / "nw.csv", "id,lon,lat", "x,130.7,32.8")
    assert "missing column(s) weight_kg" in _error(
        _run(app, "--jobs", no_weight, "--droneports", ports, "--out", tmp_path / "o"))
    late = _write(tmp_path / "late.csv", "id,lon,lat,weight_kg,earliest,latest",
                  "x,130.7,32.8,1,11:00,10:00")
    assert "row 2: latest: 10:00:00 is before earliest 11:00:00" in _error(
        _run(app, "--jobs", late, "--droneports", ports, "--out", tmp_path / "o"))
    assert "--jobs and --droneports go together" in _error(_run(app, "--jobs", jobs))
    assert "--did-policy" in _error(_run(app, "--did-policy", "maybe"))
    assert "--payload-kg: must be positive" in _error(_run(app, "--payload-kg", "0"))
    assert "--cruise-alt-m: 200 m is above the ceiling" in _error(
        _run(app, "--cruise-alt-m", "200"))
    points = tmp_path / "points.geojson"
    gpd.GeoDataFrame(geometry=[shapely.Point(PORT)], crs="EPSG:4326").to_file(
        points, driver="GeoJSON")
    msg = _error(_run(app, "--jobs", jobs, "--droneports", ports, "--no-fly", points,
                      "--out", tmp_path / "o"))
    assert "points.geojson" in msg and "Polygon" in msg
    # a droneport inside a DID: no drone may take off there
    did = load_airspace(did=[DID]).areas[0].geometry.representative_point()
    inside = _write(tmp_path / "inside.csv", "id,lon,lat,drones", f"c,{did.x},{did.y},1")
    msg = _error(_run(app, "--jobs", jobs, "--droneports", inside, "--out", tmp_path / "o"))
    assert "droneport c" in msg and "no drone may take off there" in msg
