"""``hakobu simulate`` and ``hakobu demo`` through typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from api.commands.simulate import register

ROOT = Path(__file__).resolve().parents[2]
TRIPS = ROOT / "examples" / "trips.csv"
FLEET = ROOT / "examples" / "fleet.toml"
OAKLAND = ROOT / "tests" / "data" / "osm" / "West-Oakland.osm.bz2"
HOSPITALS = ROOT / "maps" / "data" / "kumamoto" / "kumamoto_city_hospitals.geojson"

CONTRACT_KEYS = (
    "requests", "served", "rejected", "promises_kept_share", "wait_mean_s", "wait_p95_s",
    "ride_mean_s", "detour_mean", "pooling_rate", "vehicle_km", "vehicle_hours",
    "pax_per_vehicle_hour", "offer_latency_p95_ms",
)


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _run(app: typer.Typer, *args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def _one_error_line(res: Result, *, upfront: bool = True) -> str:
    """Return the one ``error:`` line; ``upfront``: it is all stderr holds (no progress
    line, so nothing slow started before the check)."""
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], res.stderr
    assert "Traceback" not in res.output
    if upfront:
        assert lines == errors, res.stderr
    return errors[0]


def test_deliveries_without_a_van_are_warned_about(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "sim"
    res = _run(app, "simulate", "--seed", "3", "--vehicles", "1", "--requests", "4",
               "--deliveries", "3", "--vans", "0", "--out", out)
    assert res.exit_code == 0, res.output
    warnings = [ln for ln in res.stderr.splitlines() if ln.startswith("warning:")]
    assert any("--vans 0" in ln and "deliveries" in ln for ln in warnings), res.stderr
    kpis = json.loads((out / "kpis.json").read_text())
    assert (kpis["deliveries"], kpis["deliveries_served"]) == (3, 0)
    quiet = _run(app, "simulate", "--seed", "3", "--vehicles", "1", "--requests", "4",
                 "--deliveries", "0", "--vans", "0", "--out", tmp_path / "quiet")
    assert quiet.exit_code == 0, quiet.output
    assert "warning:" not in quiet.stderr


def test_simulate_writes_kpis(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "sim"
    res = _run(app, "simulate", "--seed", "3", "--vehicles", "2", "--requests", "24",
               "--deliveries", "4", "--out", out)
    assert res.exit_code == 0, res.output
    kpis = json.loads((out / "kpis.json").read_text())
    for key in CONTRACT_KEYS:
        assert key in kpis, key
    assert kpis["requests"] == 24
    assert kpis["deliveries"] == 4
    assert kpis["served"] + kpis["rejected"] <= kpis["requests"]
    assert "census mesh" in kpis["demand_placement"]["origins"]
    assert (out / "map.html").is_file() and (out / "occupancy.png").is_file()
    assert "Served" in res.stdout and "origins: census mesh" in res.stdout


def test_simulate_same_seed_same_kpis(app: typer.Typer, tmp_path: Path) -> None:
    timing = {"offer_latency_p50_ms", "offer_latency_p95_ms", "offer_latency_p99_ms",
              "sim_wall_s"}
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        res = _run(app, "simulate", "--seed", "8", "--vehicles", "2", "--requests", "16",
                   "--deliveries", "2", "--out", out)
        assert res.exit_code == 0, res.output
        kpis = json.loads((out / "kpis.json").read_text())
        runs.append({k: v for k, v in kpis.items() if k not in timing})
    assert runs[0] == runs[1]


def test_simulate_replays_the_example_trips(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "trips"
    res = _run(app, "simulate", "--trips", TRIPS, "--fleet", FLEET, "--out", out)
    assert res.exit_code == 0, res.output
    kpis = json.loads((out / "kpis.json").read_text())
    report = json.loads((out / "report.json").read_text())
    assert kpis["requests"] == 36 and kpis["deliveries"] == 0
    assert kpis["cancelled"] == kpis["no_show"] == 0  # the records say who travelled
    assert kpis["served"] > 0
    assert "trips.csv" in kpis["demand_placement"]["origins"]
    assert report["inputs"]["bad_rows"] == [] and report["inputs"]["trips_read"] == 36
    # The fleet file's two buses and depot are used.
    assert [v["id"] for v in report["vehicles"]] == ["bus1", "bus2"]
    ids = {r["id"] for r in report["records"]}
    assert len(ids) == 36
    # Flags win over the fleet file.
    out2 = tmp_path / "trips3"
    res = _run(app, "simulate", "--trips", TRIPS, "--fleet", FLEET, "--vehicles", "3",
               "--out", out2)
    assert res.exit_code == 0, res.output
    report = json.loads((out2 / "report.json").read_text())
    assert [v["id"] for v in report["vehicles"]] == ["bus1", "bus2", "bus3"]


def _bad_trips(tmp_path: Path) -> tuple[Path, int, int]:
    """The example with t003's latitude unreadable and t010 moved to Tokyo."""
    lines = TRIPS.read_text(encoding="utf-8").splitlines()
    k3 = next(i for i, ln in enumerate(lines) if ln.startswith("t003,"))
    cells = lines[k3].split(",")
    cells[3] = "32,8"  # a decimal comma splits the row: one value too many
    lines[k3] = ",".join(cells)
    k10 = next(i for i, ln in enumerate(lines) if ln.startswith("t010,"))
    cells = lines[k10].split(",")
    cells[2], cells[3] = "139.767", "35.681"
    lines[k10] = ",".join(cells)
    p = tmp_path / "bad.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p, k3 + 1, k10 + 1


def test_bad_trip_rows_fail_by_default(app: typer.Typer, tmp_path: Path) -> None:
    p, line3, _ = _bad_trips(tmp_path)
    err = _one_error_line(_run(app, "simulate", "--trips", p, "--out", tmp_path / "o"))
    assert f"bad.csv line {line3}, (row): more values than header columns" in err
    assert "--on-bad-row skip" in err


def test_bad_trip_rows_skipped_on_request(app: typer.Typer, tmp_path: Path) -> None:
    p, line3, line10 = _bad_trips(tmp_path)
    out = tmp_path / "o"
    res = _run(app, "simulate", "--trips", p, "--on-bad-row", "skip", "--vehicles", "2",
               "--out", out)
    assert res.exit_code == 0, res.output
    warnings = [ln for ln in res.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 3, res.stderr
    report = json.loads((out / "report.json").read_text())
    bad = [(b["line"], b["field"]) for b in report["inputs"]["bad_rows"]]
    # t003 is unreadable, which drops its return t004; t010 is off the map.
    assert bad == [(line3, "(row)"), (line3 + 1, "return_of"),
                   (line10, "pickup_lon/pickup_lat")]
    assert report["inputs"]["trips_read"] == 33
    assert json.loads((out / "kpis.json").read_text())["requests"] == 33


def test_simulate_on_an_extract_without_mesh_or_pois(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "oak"
    res = _run(app, "simulate", "--osm", OAKLAND, "--requests", "12", "--vehicles", "1",
               "--out", out)
    assert res.exit_code == 0, res.output
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["requests"] == 12 and kpis["deliveries"] == 0
    assert "road network" in kpis["demand_placement"]["origins"]
    assert "transit stops" in kpis["demand_placement"]["destinations"]
    assert kpis["arrive_on_time_share"] is None  # no appointments without hospitals
    assert "no POI to ship from" in res.stderr
    assert "Arrive-by on time" in res.stdout and "n/a" in res.stdout
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "OpenStreetMap contributors" in page and "e-Stat" not in page


def test_demo_on_an_extract(app: typer.Typer, tmp_path: Path) -> None:
    res = _run(app, "demo", "--osm", OAKLAND, "--out", tmp_path / "d")
    assert res.exit_code == 0, res.output
    kpis = json.loads((tmp_path / "d" / "kpis.json").read_text())
    assert kpis["requests"] == 150


def test_empty_day_says_na(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "empty"
    res = _run(app, "simulate", "--requests", "0", "--deliveries", "0", "--out", out)
    assert res.exit_code == 0, res.output
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["promises_kept_share"] is None and kpis["pooling_rate"] is None
    row = next(ln for ln in res.stdout.splitlines() if ln.startswith("Promises kept"))
    assert row.split()[-1] == "n/a"


def _toml(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "fleet.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(("args", "needle"), [
    (["--vehicles", "0"], "--vehicles must lie in 1..1000, got 0"),
    (["--requests", "-1"], "--requests must lie in 0..20000, got -1"),
    (["--requests", "1000000"], "--requests must lie in 0..20000"),
    (["--seats", "0"], "--seats must lie in 1..100, got 0"),
    (["--wheelchairs", "-1"], "--wheelchairs must lie in 0..20"),
    (["--van-parcels", "0"], "--van-parcels must lie in 1..1000"),
    (["--vans", "-1"], "--vans must lie in 0..1000"),
    (["--deliveries", "-2"], "--deliveries must lie in 0..5000"),
    (["--seed", "-1"], "--seed must lie in 0.."),
    (["--delays", "-1"], "--delays must lie in 0..1000"),
    (["--vehicles", "2", "--breakdowns", "3"], "--breakdowns (3) must not exceed"),
    (["--depot", "east"], "--depot expects LON,LAT"),
    (["--depot", "32.80,130.70"], "the order is LON,LAT"),
    (["--fleet", "{tmp}/none.toml"], "--fleet {tmp}/none.toml: fleet file not found"),
    (["--fleet", str(TRIPS)], "fleet file must be .toml or .json"),
    (["--fleet", "{fleet:[buses]\ncount = 0\n}"], "buses.count must be at least 1"),
    (["--fleet", "{fleet:[buses\n}"], "not a valid TOML fleet file"),
    (["--fleet", "{fleet:[shift]\nstart = \"10:00\"\nend = \"12:00\"\n}"],
     "shift 10:00-12:00 is shorter than the 4 hours"),
    (["--fleet", "{fleet:[shift]\nstart = \"17:30\"\n}"], "is not before the service end 17:00"),
    (["--trips", "{tmp}/none.csv"], "trip file not found"),
    (["--trips", str(FLEET)], "not a trip CSV"),
    (["--trips", str(OAKLAND)], "not UTF-8 text"),
    (["--trips", str(TRIPS), "--requests", "5"], "--requests cannot be combined with --trips"),
    (["--trips", str(TRIPS), "--deliveries", "5"], "--deliveries cannot be combined"),
    (["--pois", str(HOSPITALS)], "--pois/--no-fly need --osm"),
    (["--osm", "{tmp}/none.osm"], "--osm {tmp}/none.osm: no such file"),
    (["--osm", str(TRIPS)], "not an OpenStreetMap file"),
    (["--osm", str(OAKLAND), "--pois", str(TRIPS)], "--pois"),
    (["--osm", str(OAKLAND), "--gtfs", str(HOSPITALS)], "not a zip file"),
    (["--osm", str(OAKLAND), "--population", str(HOSPITALS)], "not a CP932"),
    (["--osm", str(OAKLAND), "--population", str(ROOT / "tests" / "data" / "instances" /
                                                "lc101.txt")], "not an e-Stat 500 m mesh"),
    (["--out", "{tmp}/file.txt/sub"], "cannot write there"),
    (["--out", "{tmp}/file.txt"], "exists and is not a directory"),
])
def test_simulate_bad_input_exits_with_one_line(app: typer.Typer, tmp_path: Path,
                                                args: list[str], needle: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    filled = []
    for a in args:
        if a.startswith("{fleet:"):
            a = str(_toml(tmp_path, a[len("{fleet:"):-1]))
        filled.append(a.replace("{tmp}", str(tmp_path)))
    if "--out" not in filled:
        filled += ["--out", str(tmp_path / "out")]
    res = _run(app, "simulate", *filled)
    err = _one_error_line(res)
    assert needle.replace("{tmp}", str(tmp_path)) in err, err


def test_simulate_depot_off_the_map(app: typer.Typer, tmp_path: Path) -> None:
    err = _one_error_line(_run(app, "simulate", "--depot", "139.767,35.681", "--requests",
                               "5", "--out", tmp_path), upfront=False)
    assert "--depot 139.767,35.681: more than 500 m from the roads of region" in err


def test_demo_bad_input(app: typer.Typer, tmp_path: Path) -> None:
    err = _one_error_line(_run(app, "demo", "--gtfs", TRIPS, "--out", tmp_path))
    assert "need --osm" in err


@pytest.mark.slow
def test_demo_end_to_end(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = _run(app, "demo", "--out", out)
    assert res.exit_code == 0, res.output
    kpis = json.loads((out / "kpis.json").read_text())
    report = json.loads((out / "report.json").read_text())
    assert kpis["requests"] == 150 and kpis["deliveries"] == 30
    assert kpis["served"] > 0 and kpis["deliveries_served"] > 0
    assert len(report["records"]) == 180
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "<svg" in page and "OpenStreetMap contributors" in page and "e-Stat" in page


def test_fleet_shift_sets_the_service_hours(app: typer.Typer, tmp_path: Path) -> None:
    fleet = _toml(tmp_path, '[buses]\ncount = 2\n[shift]\nstart = "10:00"\nend = "15:00"\n')
    out = tmp_path / "o"
    res = _run(app, "simulate", "--fleet", fleet, "--requests", "30", "--deliveries", "3",
               "--out", out)
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    assert [v["id"] for v in report["vehicles"]] == ["bus1", "bus2", "van1"]
    rides = [r for r in report["records"] if r["kind"] == "ride"]
    wanted = [r["requested_pickup_s"] if r["requested_pickup_s"] is not None
              else r["arrive_by_s"] for r in rides]
    assert len(wanted) == 30
    assert all(10 * 3600 <= t <= 15 * 3600 for t in wanted), wanted
