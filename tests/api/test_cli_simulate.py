"""``hakobu simulate`` and ``hakobu demo`` through typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("dispatch.engine")  # until the dispatch engine lands
import typer
from typer.testing import CliRunner

from api.commands.simulate import register

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


def test_simulate_writes_kpis(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "sim"
    res = CliRunner().invoke(app, ["simulate", "--seed", "3", "--vehicles", "2",
                                   "--requests", "24", "--deliveries", "4", "--out", str(out)])
    assert res.exit_code == 0, res.output
    kpis = json.loads((out / "kpis.json").read_text())
    for key in CONTRACT_KEYS:
        assert key in kpis, key
    assert kpis["requests"] == 24
    assert kpis["deliveries"] == 4
    assert kpis["served"] + kpis["rejected"] <= kpis["requests"]
    assert (out / "map.html").is_file() and (out / "occupancy.png").is_file()
    assert "Served" in res.stdout


def test_simulate_same_seed_same_kpis(app: typer.Typer, tmp_path: Path) -> None:
    timing = {"offer_latency_p50_ms", "offer_latency_p95_ms", "offer_latency_p99_ms",
              "sim_wall_s"}
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        res = CliRunner().invoke(app, ["simulate", "--seed", "8", "--vehicles", "2",
                                       "--requests", "16", "--deliveries", "2", "--out",
                                       str(out)])
        assert res.exit_code == 0, res.output
        kpis = json.loads((out / "kpis.json").read_text())
        runs.append({k: v for k, v in kpis.items() if k not in timing})
    assert runs[0] == runs[1]


@pytest.mark.parametrize("args", [["--vehicles", "0"], ["--requests", "-5"], ["--seed", "-1"],
                                  ["--vehicles", "2", "--breakdowns", "3"]])
def test_simulate_bad_input_exits_with_one_line(app: typer.Typer, tmp_path: Path,
                                                args: list[str]) -> None:
    res = CliRunner().invoke(app, ["simulate", *args, "--out", str(tmp_path)])
    assert res.exit_code != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr


def test_simulate_out_is_a_file(app: typer.Typer, tmp_path: Path) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    res = CliRunner().invoke(app, ["simulate", "--requests", "5", "--out", str(f)])
    assert res.exit_code != 0
    assert "not a directory" in res.stderr


@pytest.mark.slow
def test_demo_end_to_end(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert res.exit_code == 0, res.output
    kpis = json.loads((out / "kpis.json").read_text())
    report = json.loads((out / "report.json").read_text())
    assert kpis["requests"] == 150 and kpis["deliveries"] == 30
    assert kpis["served"] > 0 and kpis["deliveries_served"] > 0
    assert len(report["records"]) == 180
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "<svg" in page and "OpenStreetMap contributors" in page and "e-Stat" in page
