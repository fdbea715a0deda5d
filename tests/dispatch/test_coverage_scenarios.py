"""Coverage scenarios: N on-demand vehicles and D drones for the residents of the gaps, on
the built-in Kumamoto region (real roads, feeds, census mesh, hospitals and DIDs), with
small demand rates so each run takes seconds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dispatch.coverage import CoverageError, access_study
from dispatch.coverage_scenarios import (
    ScenarioConfig,
    gap_cells,
    load_scenario_config,
    run_scenarios,
    write_scenarios,
)
from maps.region import DEFAULT_DATA_DIR, default_region

ROOT = Path(__file__).resolve().parents[2]
FEEDS = sorted(DEFAULT_DATA_DIR.glob("*.gtfs.zip"))
#: About 30 ride requests and 9 parcels for Kumamoto's ~150,000 gap residents.
SMALL = {"trips_per_resident": 0.0002, "parcels_per_resident": 0.00006,
         "reopt_iterations": 20, "drone_iterations": 50}


@pytest.fixture(scope="module")
def kumamoto():  # type: ignore[no-untyped-def]
    return default_region()


@pytest.fixture(scope="module")
def study(kumamoto):  # type: ignore[no-untyped-def]
    return access_study(kumamoto, FEEDS)


@pytest.fixture(scope="module")
def sweep(kumamoto, study):  # type: ignore[no-untyped-def]
    cfg = ScenarioConfig(did_policy="permit", **SMALL)  # type: ignore[arg-type]
    return run_scenarios(kumamoto, study, [0, 1, 3], [0, 2], cfg)


def test_demand_comes_from_the_gap_residents_only(kumamoto, study) -> None:  # type: ignore[no-untyped-def]
    gap = gap_cells(study, kumamoto)
    assert gap.total == pytest.approx(study.summary["population_in_gap"], abs=2)
    cells = study.cells
    assert set(gap.mesh) == set(cells.loc[cells["gap_share"] > 0, "mesh_code"])
    x0, y0, x1, y1 = kumamoto.bounds
    assert (gap.bounds[:, 0] >= x0).all() and (gap.bounds[:, 2] <= x1).all()
    assert (gap.bounds[:, 1] >= y0).all() and (gap.bounds[:, 3] <= y1).all()


def test_every_fleet_and_drone_count_gets_a_row(sweep) -> None:  # type: ignore[no-untyped-def]
    rows = {(r["vehicles"], r["drones"]): r for r in sweep.rows}
    assert set(rows) == {(f, d) for f in (0, 1, 3) for d in (0, 2)}
    n = sweep.info["ride_requests"]
    assert 20 <= n <= 40
    for (f, d), r in rows.items():
        if f == 0:
            assert r["served"] == 0 and r["cost_per_trip_jpy"] is None
        else:
            assert r["requests"] == n and 0 < r["served"] <= n
            assert r["served_share"] == pytest.approx(r["served"] / n, abs=1e-4)
            assert r["wait_p95_min"] >= r["wait_mean_min"] >= 0
        if d == 0:
            assert r["parcels_by_drone"] == 0
    # More vehicles serve at least as many of the same requests.
    assert rows[(3, 0)]["served"] >= rows[(1, 0)]["served"]


def test_cost_per_trip_follows_the_cost_model(sweep) -> None:  # type: ignore[no-untyped-def]
    c = sweep.config.costs
    for r in sweep.rows:
        if r["vehicles"] == 0:
            continue
        cost = (c.per_vehicle_hour_jpy * r["vehicle_hours"] + c.per_km_jpy * r["vehicle_km"]
                + c.per_vehicle_day_jpy * r["vehicles"])
        assert r["operating_cost_jpy"] == pytest.approx(cost, rel=0.01)
        assert r["cost_per_trip_jpy"] == pytest.approx(r["operating_cost_jpy"] / r["served"],
                                                       abs=1)


def test_drones_fly_parcels_and_the_access_union_is_consistent(sweep) -> None:  # type: ignore[no-untyped-def]
    gap_total = sweep.info["gap_residents"]
    for r in sweep.rows:
        trip, drone = (r["gap_residents_hospital_trip_under_target"],
                       r["gap_residents_drone_reach_under_target"])
        assert max(trip, drone) - 1 <= r["gap_residents_either_under_target"] <= trip + drone + 1
        assert r["gap_residents_either_under_target"] <= gap_total + 1
        if r["drones"]:
            assert r["parcels_by_drone"] > 0 and r["flight_hours"] > 0
            assert r["cost_per_delivery_jpy"] == pytest.approx(
                r["drone_cost_jpy"] / r["parcels_by_drone"], abs=1)
            assert drone > 0
    one = {r["vehicles"]: r for r in sweep.rows if r["drones"] == 0}
    assert one[0]["gap_residents_either_under_target"] == 0
    assert one[3]["gap_residents_hospital_trip_under_target"] > 0


def test_drones_that_avoid_dids_cannot_reach_gap_residents_inside_one(kumamoto, study  # type: ignore[no-untyped-def]
                                                                      ) -> None:
    cfg = ScenarioConfig(did_policy="avoid", **SMALL)  # type: ignore[arg-type]
    res = run_scenarios(kumamoto, study, [0], [2], cfg)
    row = res.rows[0]
    assert "unreachable" in row["parcels_refused"]
    assert row["parcels_by_drone"] < row["parcels"]


def test_the_scenario_files_read_back(tmp_path: Path, sweep) -> None:  # type: ignore[no-untyped-def]
    write_scenarios(tmp_path, sweep)
    table = pd.read_csv(tmp_path / "scenarios.csv")
    assert len(table) == len(sweep.rows)
    assert list(table["vehicles"]) == [r["vehicles"] for r in sweep.rows]
    doc = json.loads((tmp_path / "scenarios.json").read_text(encoding="utf-8"))
    assert doc["rows"][-1]["served"] == sweep.rows[-1]["served"]
    assert (tmp_path / "scenarios.png").read_bytes()[:4] == b"\x89PNG"


def test_the_config_file_is_read_and_bad_keys_named(tmp_path: Path) -> None:
    good = tmp_path / "s.toml"
    good.write_text("[demand]\ntrips_per_resident = 0.001\n[drones]\ndid_policy = 'permit'\n"
                    "per_port = 3\n[costs]\nper_vehicle_hour_jpy = 3000\n", encoding="utf-8")
    cfg = load_scenario_config(good)
    assert (cfg.trips_per_resident, cfg.did_policy, cfg.drones_per_port) == (0.001, "permit", 3)
    assert cfg.costs.per_vehicle_hour_jpy == 3000 and cfg.costs.per_km_jpy == 35
    example = load_scenario_config(ROOT / "examples" / "coverage_scenarios.toml")
    assert example == ScenarioConfig()
    for text, where in (("[demand]\ntrips_per_residnt = 1\n", "[demand] trips_per_residnt"),
                        ("[demand]\ntrips_per_resident = 2\n", "[demand] trips_per_resident"),
                        ("[drones]\ndid_policy = 'fly'\n", "[drones] did_policy"),
                        ("[costs]\nper_km_jpy = 'x'\n", "[costs] per_km_jpy")):
        good.write_text(text, encoding="utf-8")
        with pytest.raises(CoverageError, match="s.toml: " + re.escape(where)):
            load_scenario_config(good)


def test_hakobu_coverage_runs_the_scenarios(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    cfg = tmp_path / "small.toml"
    cfg.write_text("[demand]\ntrips_per_resident = 0.0002\nparcels_per_resident = 0.00006\n"
                   "[drones]\ndid_policy = 'permit'\n", encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["coverage", "--out", str(out), "--fleet", "0,2",
                                   "--drones", "0,2", "--scenario-config", str(cfg)])
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert len(s["scenarios"]) == 4 and s["scenario_info"]["ride_requests"] > 0
    assert "## Scenarios" in (out / "summary.md").read_text(encoding="utf-8")
    assert (out / "scenarios.png").exists() and (out / "scenarios.csv").exists()
    assert "2 vehicles, 2 drones" in res.stdout
    assert np.isfinite(pd.read_csv(out / "scenarios.csv")["served_share"]).all()
    for args, message in ((["--fleet", "a,2"], "--fleet: need whole numbers"),
                          (["--fleet", "-1"], "--fleet: need counts between 0 and 200"),
                          (["--drones", "2"], "--drones: give --fleet too"),
                          (["--fleet", "1", "--scenario-config", str(tmp_path / "no.toml")],
                           "scenario config not found")):
        bad = CliRunner().invoke(app, ["coverage", "--out", str(out), *args])
        assert bad.exit_code == 2 and message in bad.stderr, bad.output


def test_user_files_with_no_fly_layers_ground_the_drones_over_dids(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    d = ROOT / "maps" / "data" / "kumamoto"
    cfg = tmp_path / "small.toml"
    cfg.write_text("[demand]\ntrips_per_resident = 0.0001\nparcels_per_resident = 0.0001\n",
                   encoding="utf-8")
    files = ["--osm", str(d / "kumamoto_chuo_highways_2023-01.osm.bz2"),
             *(x for f in FEEDS for x in ("--gtfs", str(f))),
             "--population", str(d / "tblT001101H4930.txt"),
             "--pois", str(d / "kumamoto_city_hospitals.geojson"),
             "--fleet", "0", "--drones", "2", "--scenario-config", str(cfg)]
    rows = {}
    for name, extra in (("open", []), ("did", ["--no-fly", str(d / "r02_did_43_kumamoto_"
                                                                "clipped.geojson")])):
        out = tmp_path / name
        res = CliRunner().invoke(app, ["coverage", *files, *extra, "--out", str(out)])
        assert res.exit_code == 0, res.output
        rows[name] = next(r for r in json.loads((out / "summary.json").read_text(
            encoding="utf-8"))["scenarios"] if r["drones"] == 2)
    # Without the DID layer the drones fly over the city; with it they cannot reach the
    # gap residents inside the DIDs.
    assert rows["open"]["parcels_by_drone"] > rows["did"]["parcels_by_drone"]
    assert "unreachable" in rows["did"]["parcels_refused"]
