"""``hakobu solve-instance --format tspd|fstsp`` through typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from api.commands.solve import register

DATA = Path(__file__).parents[2] / "routing" / "instances" / "drone_data"
TSPD = DATA / "tspd" / "instances"
FSTSP = DATA / "fstsp" / "instances"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def _json(app: typer.Typer, runner: CliRunner, args: list[str]) -> dict[str, Any]:
    res = runner.invoke(app, ["solve-instance", *args])
    assert res.exit_code == 0, res.output
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def test_tspd_prints_the_optimal_makespan_with_truck_and_drone_legs(
    app: typer.Typer, runner: CliRunner
) -> None:
    out = _json(app, runner, [str(TSPD / "uniform-22-n7.txt"), "--format", "tspd",
                              "--time-limit", "2"])
    assert set(out) >= {"instance", "format", "cost", "vehicles", "feasible", "unassigned",
                        "runtime_s", "routes", "method"}
    assert out["instance"] == "uniform-22-n7" and out["format"] == "tspd"
    assert out["cost"] == pytest.approx(192.925207, abs=1e-6)
    assert out["feasible"] is True and out["method"] == "exact" and out["unassigned"] == []
    truck, drone = out["routes"]
    assert truck["vehicle"] == "truck" and drone["vehicle"] == "drone"
    assert truck["stops"][0] == 0 and truck["stops"][-1] == 0
    assert truck["legs"][0][0] == 0
    served = {s for s in truck["stops"] if s} | {s["customer"] for s in drone["sorties"]}
    assert served == set(range(1, 7))
    assert len(drone["legs"]) == 2 * len(drone["sorties"])
    for s, (a, b) in zip(drone["sorties"], zip(drone["legs"][::2], drone["legs"][1::2],
                                               strict=True), strict=True):
        assert a == [s["launch"], s["customer"]] and b == [s["customer"], s["land"]]


def test_fstsp_flags_change_the_makespan(app: typer.Typer, runner: CliRunner) -> None:
    folder = str(FSTSP / "20140810T123443v1")
    short = _json(app, runner, [folder, "--format", "fstsp", "--time-limit", "3"])
    assert short["settings"] == {"endurance": 20.0, "launch_time": 1.0, "recovery_time": 1.0}
    assert short["feasible"] is True and short["routes"][0]["stops"][-1] == 11
    long = _json(app, runner, [folder, "--format", "fstsp", "--time-limit", "3",
                               "--endurance", "40"])
    assert long["cost"] < short["cost"]
    slow = _json(app, runner, [folder, "--format", "fstsp", "--time-limit", "3",
                               "--endurance", "40", "--launch-time", "3",
                               "--recovery-time", "3"])
    assert slow["cost"] > long["cost"]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["fstsp", "--endurance", "0"], "--endurance must be more than 0"),
        (["fstsp", "--launch-time", "-1"], "--launch-time must be at least 0"),
        (["fstsp", "--recovery-time", "nan"], "--recovery-time must be at least 0"),
        (["tspd", "--endurance", "20"], "--endurance applies to --format fstsp only"),
        (["cordeau", "--launch-time", "1"], "--launch-time applies to --format fstsp only"),
    ],
)
def test_bad_drone_flags_get_one_line(
    app: typer.Typer, runner: CliRunner, args: list[str], reason: str
) -> None:
    fmt, *flags = args
    path = FSTSP / "20140810T123443v1" if fmt == "fstsp" else TSPD / "uniform-1-n5.txt"
    res = runner.invoke(app, ["solve-instance", str(path), "--format", fmt,
                              "--time-limit", "1", *flags])
    assert res.exit_code == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and reason in lines[0], res.stderr


def test_wrong_kind_of_input_gets_one_line(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    cases = [
        (FSTSP / "20140810T123443v1", "tspd", "is a folder; a TSP-D instance is one file"),
        (TSPD / "uniform-1-n5.txt", "fstsp", "is a file; an FSTSP instance is a folder"),
        (tmp_path / "none.txt", "tspd", "no such file"),
        (tmp_path, "fstsp", "missing tau.csv"),
    ]
    for path, fmt, reason in cases:
        res = runner.invoke(app, ["solve-instance", str(path), "--format", fmt,
                                  "--time-limit", "1"])
        assert res.exit_code == 2, (path, res.output)
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and reason in lines[0], res.stderr
        assert "Traceback" not in res.output
