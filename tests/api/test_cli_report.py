"""``hakobu report``, ``hakobu export gtfs-flex`` and ``hakobu standing expand``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from api.commands.report import register

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "examples" / "profiles" / "kumamoto.toml"
STANDING = ROOT / "examples" / "standing.toml"


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _run(app: typer.Typer, *args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def _error(res: Result) -> str:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    return lines[0]


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from dispatch.demand import (
        DemandConfig,
        generate_day,
        sources_from_region,
        travel_table_for_day,
    )
    from dispatch.report import write_report
    from dispatch.simulate import SimulationConfig, simulate_day
    from maps.region import default_region

    region = default_region()
    root = tmp_path_factory.mktemp("cli-days")
    out = []
    for seed in (7, 8):
        day = generate_day(sources_from_region(region),
                           DemandConfig(seed=seed, n_requests=12, n_deliveries=0))
        res = simulate_day(day, travel_table_for_day(region, day),
                           SimulationConfig(seed=seed, vehicles=1, vans=0, reopt_every_s=0))
        write_report(res, root / f"day{seed}")
        out.append(root / f"day{seed}")
    return out


def test_report_writes_the_month(app: typer.Typer, days: list[Path], tmp_path: Path) -> None:
    res = _run(app, "report", *days, "--out", tmp_path / "m", "--title", "December")
    assert res.exit_code == 0, res.output
    assert "Trips served" in res.stdout and "n/a" in res.stdout
    served = sum(json.loads((d / "kpis.json").read_text(encoding="utf-8"))["served"]
                 for d in days)
    with (tmp_path / "m" / "totals.csv").open(encoding="utf-8") as fh:
        totals = {r["metric"]: r["value"] for r in csv.DictReader(fh)}
    assert int(totals["served"]) == served and int(totals["days"]) == 2
    assert (tmp_path / "m" / "report.html").is_file()


def test_report_bad_input(app: typer.Typer, days: list[Path], tmp_path: Path) -> None:
    assert "no kpis.json" in _error(_run(app, "report", tmp_path, "--out", tmp_path / "o"))
    assert "given twice" in _error(_run(app, "report", days[0], days[0], "--out",
                                        tmp_path / "o"))


def test_export_gtfs_flex(app: typer.Typer, tmp_path: Path) -> None:
    res = _run(app, "export", "gtfs-flex", "--profile", PROFILE, "--out", tmp_path / "f",
               "--start", "2026-12-01", "--end", "2027-03-31",
               "--agency-url", "https://example.org/")
    assert res.exit_code == 0, res.output
    assert "checked: every location" in res.stdout
    assert (tmp_path / "f" / "booking_rules.txt").is_file()
    assert "--agency-url" in _error(_run(app, "export", "gtfs-flex", "--profile", PROFILE,
                                         "--out", tmp_path / "g"))
    assert "--start" in _error(_run(app, "export", "gtfs-flex", "--profile", PROFILE,
                                    "--start", "2026-13-01", "--agency-url", "https://x.org/"))
    assert "file not found" in _error(_run(app, "export", "gtfs-flex", "--profile",
                                           tmp_path / "none.toml",
                                           "--agency-url", "https://x.org/"))
    pts = _run(app, "export", "gtfs-flex", "--profile", PROFILE, "--out", tmp_path / "p",
               "--agency-url", "https://example.org/", "--pickup", "points")
    assert pts.exit_code == 0, pts.output
    assert "location_groups.txt" in pts.stdout and "checked: every location" in pts.stdout
    assert "zones or points" in _error(_run(app, "export", "gtfs-flex", "--profile", PROFILE,
                                            "--agency-url", "https://x.org/", "--out",
                                            tmp_path / "q", "--pickup", "doors"))


def test_standing_expand(app: typer.Typer, tmp_path: Path) -> None:
    res = _run(app, "standing", "expand", STANDING, "--profile", PROFILE, "--from",
               "2027-01-04", "--to", "2027-01-15", "--now", "2027-01-04T08:45",
               "--out", tmp_path / "x.json")
    assert res.exit_code == 0, res.output
    assert "成人の日" in res.stdout and "cancelled" in res.stdout
    assert "too_short_notice" in res.stdout  # Monday 09:00 booked at 08:45
    doc = json.loads((tmp_path / "x.json").read_text(encoding="utf-8"))
    assert doc["skips"] and doc["flags"] and doc["bookings"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[[series]]\nid = 'a'\n", encoding="utf-8")
    assert "(a).days: missing" in _error(_run(app, "standing", "expand", bad))
