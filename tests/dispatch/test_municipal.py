"""The municipal report: its totals are the KPIs of the days it covers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from dispatch.demand import DemandConfig, generate_day, sources_from_region, travel_table_for_day
from dispatch.municipal import (
    COUNT_KEYS,
    ReportError,
    build_report,
    load_day,
    write_report,
)
from dispatch.report import write_report as write_day
from dispatch.simulate import SimulationConfig, simulate_day
from maps.region import default_region


@pytest.fixture(scope="module")
def day_dirs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three small simulated days (one vehicle: some requests are refused; delays break
    some promises) written as hakobu simulate writes them."""
    region = default_region()
    sources = sources_from_region(region)
    root = tmp_path_factory.mktemp("days")
    out = []
    for seed in (1, 2, 3):
        day = generate_day(sources, DemandConfig(seed=seed, n_requests=24, n_deliveries=0))
        res = simulate_day(day, travel_table_for_day(region, day), SimulationConfig(
            seed=seed, vehicles=1, vans=0, reopt_every_s=0, delays=3, p_cancel=0.05))
        folder = root / f"2026-12-0{seed + 6}"
        write_day(res, folder)
        out.append(folder)
    return out


def _kpis(d: Path) -> dict[str, object]:
    return json.loads((d / "kpis.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_report_totals_equal_the_days_kpis(day_dirs: list[Path], tmp_path: Path) -> None:
    days = [load_day(d) for d in day_dirs]
    report = build_report(days, "December 2026")
    t = report.totals
    kpis = [_kpis(d) for d in day_dirs]
    for key in COUNT_KEYS:
        assert t[key] == sum(int(k[key]) for k in kpis), key  # type: ignore[call-overload]
    assert t["vehicle_km"] == pytest.approx(sum(float(k["vehicle_km"]) for k in kpis),  # type: ignore[arg-type]
                                            abs=1e-3)
    assert t["rejected"] > 0  # one vehicle cannot take every request
    assert sum(report.refusals.values()) == t["rejected"]
    assert sum(report.by_purpose.values()) == t["served"]
    # On time is recomputed from the records with the KPI's own rule: equal per day.
    for d, k in zip(days, kpis, strict=True):
        one = build_report([d]).totals
        share = k["promises_kept_share"]
        assert one["on_time_share"] == pytest.approx(share, abs=5e-5)  # kpis round to 4
        assert one["served"] == k["served"]
    assert t["on_time"] == sum(d.on_time for d in days)
    assert t["fare_revenue_jpy"] is None and t["farebox_ratio"] is None  # no profile
    paths = write_report(report, tmp_path / "month")
    names = {p.name for p in paths}
    assert {"totals.csv", "days.csv", "purpose.csv", "refusals.csv", "report.md",
            "report.html", "riders.png", "purpose.png", "rates.png"} <= names
    with (tmp_path / "month" / "totals.csv").open(encoding="utf-8") as fh:
        back = {r["metric"]: r["value"] for r in csv.DictReader(fh)}
    assert int(back["served"]) == t["served"] and back["farebox_ratio"] == ""
    with (tmp_path / "month" / "days.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["requests"]) for r in rows] == [k["requests"] for k in kpis]
    md = (tmp_path / "month" / "report.md").read_text(encoding="utf-8")
    assert "Farebox ratio 収支率 | n/a" in md and "December 2026" in md
    assert "data:image/png;base64," in (tmp_path / "month" / "report.html").read_text(
        encoding="utf-8")


def test_money_and_connections_add_up(day_dirs: list[Path], tmp_path: Path) -> None:
    # Copies of the days with money fields and a connection summary, as a day run with a
    # profile and timed connections writes them (amounts made up for the arithmetic).
    money = [(3000, 48000), (2500, 47000), (4100, 50000)]
    folders = []
    for d, (rev, cost) in zip(day_dirs, money, strict=True):
        f = tmp_path / d.name
        f.mkdir()
        k = _kpis(d) | {"fare_revenue_jpy": rev, "operating_cost_jpy": cost}
        (f / "kpis.json").write_text(json.dumps(k), encoding="utf-8")
        (f / "report.json").write_text((d / "report.json").read_text(encoding="utf-8"),
                                       encoding="utf-8")
        folders.append(f)
    (folders[0] / "connections.json").write_text(json.dumps(
        {"connections": 3, "kept": 2, "broken": 1, "pending": 0, "void": 0}), encoding="utf-8")
    report = build_report([load_day(f) for f in folders])
    t = report.totals
    assert t["fare_revenue_jpy"] == 9600 and t["operating_cost_jpy"] == 145000
    assert t["farebox_ratio"] == pytest.approx(9600 / 145000)
    assert t["subsidy_per_rider_jpy"] == pytest.approx((145000 - 9600) / t["riders"])
    assert (t["connections"], t["connections_kept"], t["connection_rate"]) == (
        3, 2, pytest.approx(2 / 3))
    assert not any("money" in n for n in report.notes)


def test_bad_day_folders(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"no kpis\.json"):
        load_day(tmp_path)
    (tmp_path / "kpis.json").write_text('{"requests": -1}', encoding="utf-8")
    with pytest.raises(ReportError, match="requests must be a count"):
        load_day(tmp_path)
    with pytest.raises(ReportError, match="no day given"):
        build_report([])


def test_a_day_under_the_profile_reports_its_own_money(tmp_path: Path) -> None:
    """A day dispatched by the example profile: the report's revenue, cost, farebox
    ratio, subsidy per rider and counts by class and area are that day's KPIs."""
    from datetime import date

    from dispatch.demand import sources_within
    from dispatch.profile import load_profile
    from dispatch.rules import points_within
    from dispatch.simulate import assign_classes

    root = Path(__file__).resolve().parents[2]
    profile = load_profile(root / "examples" / "profiles" / "kumamoto.toml")
    region = default_region()
    sources = sources_within(sources_from_region(region),
                             lambda ll: points_within(profile, ll))
    day = generate_day(sources, DemandConfig(seed=4, n_requests=30, n_deliveries=0))
    res = simulate_day(day, travel_table_for_day(region, day), SimulationConfig(
        seed=4, vehicles=2, vans=0, reopt_every_s=0, profile=profile,
        service_date=date(2026, 12, 7), rider_classes=assign_classes(day, profile, 4)))
    folder = tmp_path / "day"
    write_day(res, folder, inputs={"service_date": "2026-12-07"})
    k = _kpis(folder)
    d = load_day(folder)
    t = build_report([d]).totals
    assert d.label == "2026-12-07"
    assert t["fare_revenue_jpy"] == k["fare_revenue_jpy"] > 0
    assert t["operating_cost_jpy"] == k["operating_cost_jpy"]
    assert t["farebox_ratio"] == pytest.approx(k["farebox_ratio"], abs=5e-5)
    assert t["subsidy_per_rider_jpy"] == pytest.approx(k["subsidy_per_rider_jpy"], abs=5e-3)
    assert d.by_class == k["served_by_class"] and d.by_area == k["served_by_area"]
    assert d.refusals == k["rejected_by_reason"]
