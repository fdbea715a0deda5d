"""The municipal report: a month (or any run of days) of a service, for the town.

A town that runs or subsidises an on-demand service reports to its local transport
council (地域公共交通会議) and applies for subsidy with a few numbers: riders, trips by
purpose, rider class and area, refusals and why, on-time performance, connections with
trains kept, fare revenue, operating cost, the farebox ratio (収支率 = revenue / cost)
and the subsidy per rider ((cost − revenue) / riders).

:func:`load_day` reads one simulated or served day (the ``hakobu simulate`` / ``demo``
output folder: ``kpis.json``, and ``report.json`` with the per-request records when it
is there; ``connections.json`` with a :meth:`dispatch.connections.ConnectionWatch.summary`
when the day had timed connections). :func:`build_report` adds the days up and
:func:`write_report` writes CSV tables, a Markdown and a self-contained HTML summary and
PNG plots.

Totals are sums of the days' own numbers: counts add up, and every rate is recomputed
from the summed counts (never an average of daily rates); money comes from the days'
``fare_revenue_jpy`` and ``operating_cost_jpy`` (a day without them has no money
figures, and a total over days that lack them is ``None``, printed ``n/a``).
"""

from __future__ import annotations

import base64
import csv
import html
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dispatch.errors import DispatchError

#: Day counts that add up over days (kpis.json keys).
COUNT_KEYS: tuple[str, ...] = (
    "requests", "served", "rejected", "declined", "cancelled", "no_show", "expired",
    "unfinished", "deliveries", "deliveries_served", "took_alternative")
#: Day sums in other units.
SUM_KEYS: tuple[str, ...] = ("vehicle_km", "vehicle_hours", "van_km", "van_hours")
#: Money fields of a day's KPIs (JPY).
MONEY_KEYS: tuple[str, ...] = ("fare_revenue_jpy", "operating_cost_jpy")


class ReportError(DispatchError, ValueError):
    """A day folder that cannot be read: the message names the folder and file."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DayData:
    """One day's numbers as the report uses them.

    ``on_time`` counts served rides that kept every promise; ``arrive_by`` and
    ``arrive_by_on_time`` the served appointment rides and those on time; ``riders``
    the passengers of served rides (companions included); ``by_purpose``, ``by_class``
    and ``by_area`` count served rides (empty when the day does not say);
    ``refusals`` counts rejected requests by reason (the rule's name under a profile).
    Each breakdown is the day's own (``served_by_purpose``, ``served_by_class``,
    ``served_by_area``, ``rejected_by_reason`` in ``kpis.json``) when it has one, else
    counted from the records.
    """

    label: str
    source: Path
    kpis: Mapping[str, Any]
    riders: int
    on_time: int
    arrive_by: int
    arrive_by_on_time: int
    by_purpose: Mapping[str, int] = field(default_factory=dict)
    by_class: Mapping[str, int] = field(default_factory=dict)
    by_area: Mapping[str, int] = field(default_factory=dict)
    refusals: Mapping[str, int] = field(default_factory=dict)
    connections: Mapping[str, Any] | None = None
    has_records: bool = True


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"{path}: cannot read JSON ({exc})"
        raise ReportError(msg) from None


def _count(kpis: Mapping[str, Any], key: str, path: Path) -> int:
    v = kpis.get(key, 0)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        msg = f"{path}: {key} must be a count, got {v!r}"
        raise ReportError(msg)
    return v


def _from_share(kpis: Mapping[str, Any], key: str, n: int) -> int:
    share = kpis.get(key)
    return round(float(share) * n) if isinstance(share, int | float) and n else 0


def _record_kept(r: Mapping[str, Any]) -> bool:
    """The promise rule of :func:`dispatch.kpi.promise_kept` on a report.json record."""
    from dispatch.kpi import promise_kept
    from dispatch.simulate import FinalState, TripRecord

    fields = TripRecord.__dataclass_fields__
    kw = {k: v for k, v in r.items() if k in fields}
    kw["final"] = FinalState[str(r["final"]).upper()]
    kw["broken"] = tuple(r.get("broken") or ())
    return promise_kept(TripRecord(**kw))


def _area_of(r: Mapping[str, Any]) -> str | None:
    for key in ("area", "zone", "origin_zone"):
        v = r.get(key)
        if v:
            return str(v)
    return None


def load_day(folder: str | Path, label: str | None = None) -> DayData:
    """Read one day folder (``kpis.json``, optional ``report.json``/``connections.json``).

    Raises
    ------
    ReportError
        When the folder or its ``kpis.json`` is missing or unreadable, or a count is
        not a count.
    """
    d = Path(folder)
    if not d.is_dir():
        msg = f"{d}: not a folder (give the output folder of hakobu simulate or demo)"
        raise ReportError(msg)
    kp = d / "kpis.json"
    if not kp.is_file():
        msg = f"{d}: no kpis.json (not an output folder of hakobu simulate or demo)"
        raise ReportError(msg)
    kpis = _read_json(kp)
    if not isinstance(kpis, dict):
        msg = f"{kp}: must hold a JSON object"
        raise ReportError(msg)
    for key in COUNT_KEYS:
        _count(kpis, key, kp)
    served = _count(kpis, "served", kp)
    conn = _read_json(d / "connections.json") if (d / "connections.json").is_file() else None
    if conn is None and isinstance(kpis.get("connections"), dict):
        conn = kpis["connections"]
    name = label or str(kpis.get("service_date") or d.name)
    rp = d / "report.json"
    if not rp.is_file():
        return DayData(label=name, source=d, kpis=kpis, riders=served,
                       on_time=_from_share(kpis, "promises_kept_share", served),
                       arrive_by=0, arrive_by_on_time=0, connections=conn, has_records=False)
    doc = _read_json(rp)
    inputs = doc.get("inputs") if isinstance(doc, dict) else None
    if label is None and not kpis.get("service_date") and isinstance(inputs, dict) and (
            inputs.get("service_date")):
        name = str(inputs["service_date"])
    records = doc.get("records") if isinstance(doc, dict) else None
    if not isinstance(records, list):
        msg = f"{rp}: has no records list"
        raise ReportError(msg)
    rides = [r for r in records if isinstance(r, dict) and r.get("kind") == "ride"]
    done = [r for r in rides if r.get("final") == "served"]
    try:
        kept = sum(1 for r in done if _record_kept(r))
    except (KeyError, TypeError, ValueError) as exc:
        msg = f"{rp}: a record lacks a field of the simulation's records ({exc})"
        raise ReportError(msg) from None
    appts = [r for r in done if r.get("arrive_by_s") is not None]
    return DayData(
        label=name, source=d, kpis=kpis,
        riders=sum(int(r.get("load") or 1) for r in done), on_time=kept,
        arrive_by=len(appts),
        arrive_by_on_time=sum(1 for r in appts
                              if r.get("dropped_off_s") is not None
                              and r["dropped_off_s"] <= r["arrive_by_s"]),
        by_purpose=_breakdown_of(kpis, "served_by_purpose", kp, Counter(
            str(r.get("purpose") or "other") for r in done)),
        by_class=_breakdown_of(kpis, "served_by_class", kp, Counter(
            str(r["rider_class"]) for r in done if r.get("rider_class"))),
        by_area=_breakdown_of(kpis, "served_by_area", kp, Counter(
            a for r in done if (a := _area_of(r)) is not None)),
        refusals=_breakdown_of(kpis, "rejected_by_reason", kp, Counter(
            str(r.get("reject_reason") or "unknown") for r in rides
            if r.get("final") == "rejected")),
        connections=conn)


def _breakdown_of(kpis: Mapping[str, Any], key: str, path: Path,
                  from_records: Counter[str]) -> dict[str, int]:
    """The day's own count by category (``kpis.json``) when it has one, else the count
    from its records."""
    value = kpis.get(key)
    if value is None:
        return dict(from_records)
    if not isinstance(value, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values()):
        msg = f"{path}: {key} must map names to counts"
        raise ReportError(msg)
    return {str(k): int(v) for k, v in value.items()}


# ------------------------------------------------------------------------------ totals
def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _money(days: Sequence[DayData], key: str) -> float | None:
    vals = [d.kpis.get(key) for d in days]
    if not vals or any(not isinstance(v, int | float) or isinstance(v, bool) for v in vals):
        return None
    return float(sum(vals))  # type: ignore[arg-type]


def _add(maps: Sequence[Mapping[str, int]]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for m in maps:
        out.update(m)
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def totals_of(days: Sequence[DayData]) -> dict[str, Any]:
    """Return the report's totals over ``days`` (see the module docstring)."""
    t: dict[str, Any] = {"days": len(days)}
    for key in COUNT_KEYS:
        t[key] = sum(int(d.kpis.get(key, 0)) for d in days)
    for key in SUM_KEYS:
        t[key] = round(sum(float(d.kpis.get(key) or 0.0) for d in days), 3)
    t["riders"] = sum(d.riders for d in days)
    t["on_time"] = sum(d.on_time for d in days)
    t["on_time_share"] = _ratio(t["on_time"], t["served"])
    appts = sum(d.arrive_by for d in days)
    t["arrive_by_on_time_share"] = (_ratio(sum(d.arrive_by_on_time for d in days), appts)
                                    if all(d.has_records for d in days) else None)
    t["rejection_rate"] = _ratio(t["rejected"], t["requests"])
    t["riders_per_vehicle_hour"] = _ratio(t["riders"], t["vehicle_hours"])
    conns = [d.connections for d in days if d.connections]
    kept = sum(int(c.get("kept", 0)) for c in conns)
    broken = sum(int(c.get("broken", 0)) for c in conns)
    t["connections"] = sum(int(c.get("connections", 0)) for c in conns) if conns else None
    t["connections_kept"] = kept if conns else None
    t["connections_broken"] = broken if conns else None
    t["connection_rate"] = _ratio(kept, kept + broken) if conns else None
    revenue = _money(days, "fare_revenue_jpy")
    cost = _money(days, "operating_cost_jpy")
    t["fare_revenue_jpy"] = revenue
    t["operating_cost_jpy"] = cost
    t["farebox_ratio"] = (_ratio(revenue, cost)
                          if revenue is not None and cost is not None else None)
    t["subsidy_jpy"] = cost - revenue if revenue is not None and cost is not None else None
    t["subsidy_per_rider_jpy"] = (_ratio(t["subsidy_jpy"], t["riders"])
                                  if t["subsidy_jpy"] is not None else None)
    return t


@dataclass(frozen=True, slots=True, kw_only=True)
class MonthlyReport:
    """The report over some days: the days, the totals, and the breakdowns."""

    title: str
    days: tuple[DayData, ...]
    totals: Mapping[str, Any]
    by_purpose: Mapping[str, int]
    by_class: Mapping[str, int]
    by_area: Mapping[str, int]
    refusals: Mapping[str, int]
    notes: tuple[str, ...] = ()


def build_report(days: Sequence[DayData], title: str = "") -> MonthlyReport:
    """Add up ``days`` into a report.

    Raises
    ------
    ReportError
        With no day, or the same day label twice.
    """
    if not days:
        raise ReportError("report: no day given")
    labels = Counter(d.label for d in days)
    twice = [k for k, n in labels.items() if n > 1]
    if twice:
        msg = f"report: day {twice[0]!r} is given twice"
        raise ReportError(msg)
    notes = []
    missing_money = [d.label for d in days if any(
        not isinstance(d.kpis.get(k), int | float) for k in MONEY_KEYS)]
    if missing_money:
        notes.append(f"{len(missing_money)} of {len(days)} days have no fare revenue or "
                     "operating cost (simulated without --profile): money totals are n/a")
    if not all(d.has_records for d in days):
        notes.append("some days have no report.json: trips by purpose, class and area and "
                     "refusals by rule leave those days out")
    if not any(d.connections for d in days):
        notes.append("no day has timed train connections: the connection rate is n/a")
    if not any(d.by_class for d in days):
        notes.append("no day names rider classes: trips by class are n/a")
    if not any(d.by_area for d in days):
        notes.append("no day names areas: trips by area are n/a")
    return MonthlyReport(
        title=title or f"Service report, {days[0].label} to {days[-1].label}",
        days=tuple(days), totals=totals_of(days),
        by_purpose=_add([d.by_purpose for d in days]),
        by_class=_add([d.by_class for d in days]), by_area=_add([d.by_area for d in days]),
        refusals=_add([d.refusals for d in days]), notes=tuple(notes))


# ------------------------------------------------------------------------------ output
_TOTAL_ROWS: tuple[tuple[str, str, str], ...] = (
    ("days", "Days", "{:d}"),
    ("requests", "Ride requests", "{:d}"),
    ("served", "Trips served", "{:d}"),
    ("riders", "Riders (passengers, companions included)", "{:d}"),
    ("rejected", "Refused", "{:d}"),
    ("rejection_rate", "Refusal rate", "{:.1%}"),
    ("cancelled", "Cancelled", "{:d}"),
    ("no_show", "No-show", "{:d}"),
    ("on_time_share", "On time (every promise kept)", "{:.1%}"),
    ("arrive_by_on_time_share", "Appointments reached on time", "{:.1%}"),
    ("connection_rate", "Train connections kept", "{:.1%}"),
    ("vehicle_km", "Vehicle-km", "{:,.1f}"),
    ("vehicle_hours", "Vehicle-hours", "{:,.1f}"),
    ("riders_per_vehicle_hour", "Riders per vehicle-hour", "{:.2f}"),
    ("fare_revenue_jpy", "Fare revenue (JPY)", "{:,.0f}"),
    ("operating_cost_jpy", "Operating cost (JPY)", "{:,.0f}"),
    ("farebox_ratio", "Farebox ratio 収支率", "{:.1%}"),
    ("subsidy_jpy", "Subsidy needed (JPY)", "{:,.0f}"),
    ("subsidy_per_rider_jpy", "Subsidy per rider (JPY)", "{:,.0f}"),
)


def fmt(value: Any, pattern: str) -> str:
    """Format a value, ``n/a`` for ``None``."""
    return "n/a" if value is None else pattern.format(value)


def _day_row(d: DayData) -> dict[str, Any]:
    t = totals_of([d])
    return {"day": d.label, **{k: t[k] for k in (
        "requests", "served", "riders", "rejected", "cancelled", "no_show", "on_time",
        "on_time_share", "connection_rate", "vehicle_km", "vehicle_hours",
        "fare_revenue_jpy", "operating_cost_jpy", "farebox_ratio",
        "subsidy_per_rider_jpy")}}


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(["" if v is None else round(v, 4) if isinstance(v, float) else v
                     for v in row] for row in rows)


def _breakdown(report: MonthlyReport, attr: str) -> list[list[Any]]:
    total: Mapping[str, int] = getattr(report, attr)
    return [[k, *(getattr(d, attr).get(k, 0) for d in report.days), n]
            for k, n in total.items()]


def _plots(report: MonthlyReport, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dispatch.report import PALETTE

    paths: list[Path] = []
    labels = [d.label for d in report.days]

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        p = out / name
        fig.savefig(p, dpi=100)
        plt.close(fig)
        paths.append(p)

    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.bar(labels, [d.riders for d in report.days], color=PALETTE[0])
    ax.set_ylabel("riders")
    ax.set_title("Riders per day")
    ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    save(fig, "riders.png")
    for attr, name, title in (("by_purpose", "purpose.png", "Trips by purpose"),
                              ("by_class", "class.png", "Trips by rider class"),
                              ("by_area", "area.png", "Trips by area"),
                              ("refusals", "refusals.png", "Refusals by rule")):
        data: Mapping[str, int] = getattr(report, attr)
        if not data:
            continue
        fig, ax = plt.subplots(figsize=(7, 0.4 * len(data) + 1.2))
        keys = list(data)[::-1]
        ax.barh(keys, [data[k] for k in keys], color=PALETTE[2 if attr != "refusals" else 1])
        ax.set_xlabel("trips" if attr != "refusals" else "requests refused")
        ax.set_title(title)
        save(fig, name)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    rows = [_day_row(d) for d in report.days]
    for key, colour, name in (("on_time_share", PALETTE[0], "on time"),
                              ("connection_rate", PALETTE[3], "train connections kept")):
        ys = [r[key] for r in rows]
        if any(y is not None for y in ys):
            ax.plot(labels, [float("nan") if y is None else 100 * y for y in ys], "o-",
                    color=colour, label=name)
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.set_title("On-time and connection rates per day")
    ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    ax.legend(loc="lower left")
    save(fig, "rates.png")
    if report.totals["fare_revenue_jpy"] is not None:
        import numpy as np

        x = np.arange(len(labels))
        fig, ax = plt.subplots(figsize=(7, 3.2))
        ax.bar(x - 0.2, [r["operating_cost_jpy"] for r in rows], 0.4, label="operating cost",
               color=PALETTE[1])
        ax.bar(x + 0.2, [r["fare_revenue_jpy"] for r in rows], 0.4, label="fare revenue",
               color=PALETTE[2])
        ax.set_xticks(x, labels, rotation=60, fontsize=7)
        ax.set_ylabel("JPY")
        ax.set_title("Revenue and cost per day")
        ax.legend()
        save(fig, "money.png")
    return paths


def markdown(report: MonthlyReport, images: Sequence[str] = ()) -> str:
    """Return the report as Markdown (``images``: PNG file names to show)."""
    t = report.totals
    lines = [f"# {report.title}", "",
             f"Days: {', '.join(d.label for d in report.days)}", "",
             "| | total |", "|---|---:|"]
    lines += [f"| {label} | {fmt(t[key], pattern)} |" for key, label, pattern in _TOTAL_ROWS]
    lines += ["", "## Per day", "",
              "| day | requests | served | riders | refused | on time | connections kept "
              "| revenue (JPY) | cost (JPY) | 収支率 | subsidy/rider (JPY) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for d in report.days:
        r = _day_row(d)
        lines.append(
            f"| {r['day']} | {r['requests']} | {r['served']} | {r['riders']} | "
            f"{r['rejected']} | {fmt(r['on_time_share'], '{:.1%}')} | "
            f"{fmt(r['connection_rate'], '{:.1%}')} | "
            f"{fmt(r['fare_revenue_jpy'], '{:,.0f}')} | "
            f"{fmt(r['operating_cost_jpy'], '{:,.0f}')} | "
            f"{fmt(r['farebox_ratio'], '{:.1%}')} | "
            f"{fmt(r['subsidy_per_rider_jpy'], '{:,.0f}')} |")
    for attr, title in (("by_purpose", "Trips by purpose"), ("by_class", "Trips by rider class"),
                        ("by_area", "Trips by area"), ("refusals", "Refusals by rule")):
        data: Mapping[str, int] = getattr(report, attr)
        lines += ["", f"## {title}", ""]
        if not data:
            lines.append("n/a")
            continue
        lines += ["| | trips |", "|---|---:|"] + [f"| {k} | {n} |" for k, n in data.items()]
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    if images:
        lines += ["", "## Plots", ""] + [f"![{Path(i).stem}]({i})" for i in images]
    return "\n".join(lines) + "\n"


def _html(report: MonthlyReport, md: str, images: Sequence[Path]) -> str:
    """A self-contained HTML page: the Markdown tables as HTML, plots inline."""
    body: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        if not table:
            return
        head, *rows = [r for r in table if not set("".join(r)) <= set("-: ")]
        cells = "".join(f"<th>{html.escape(c)}</th>" for c in head)
        body.append(f"<table><tr>{cells}</tr>" + "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
            for r in rows) + "</table>")
        table.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            table.append([c.strip() for c in line.strip("|").split("|")])
            continue
        flush()
        if line.startswith("![") or line == "## Plots":
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('# '))}</h{level}>")
        elif line.startswith("- "):
            body.append(f"<p>• {html.escape(line[2:])}</p>")
        elif line:
            body.append(f"<p>{html.escape(line)}</p>")
    flush()
    for p in images:
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        body.append(f'<p><img alt="{html.escape(p.stem)}" src="data:image/png;base64,{data}">'
                    "</p>")
    return ("<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(report.title)}</title><style>body{{font-family:sans-serif;"
            "margin:1em;color:#222}table{border-collapse:collapse;margin:.5em 0}"
            "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}"
            "td:first-child,th:first-child{text-align:left}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write_report(report: MonthlyReport, out: str | Path) -> list[Path]:
    """Write the report into ``out``: ``totals.csv``, ``days.csv``, ``purpose.csv``,
    ``class.csv``, ``area.csv``, ``refusals.csv``, ``report.json``, ``report.md``,
    ``report.html`` and PNG plots. Return the paths written."""
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    t = report.totals
    _write_csv(o / "totals.csv", ["metric", "value"], [[k, v] for k, v in t.items()])
    rows = [_day_row(d) for d in report.days]
    _write_csv(o / "days.csv", list(rows[0]), [list(r.values()) for r in rows])
    written += [o / "totals.csv", o / "days.csv"]
    labels = [d.label for d in report.days]
    for attr, name in (("by_purpose", "purpose"), ("by_class", "class"), ("by_area", "area"),
                       ("refusals", "refusals")):
        _write_csv(o / f"{name}.csv", [name, *labels, "total"], _breakdown(report, attr))
        written.append(o / f"{name}.csv")
    doc = {"title": report.title, "days": labels, "totals": dict(t),
           "by_purpose": dict(report.by_purpose), "by_class": dict(report.by_class),
           "by_area": dict(report.by_area), "refusals": dict(report.refusals),
           "per_day": rows, "notes": list(report.notes)}
    (o / "report.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False),
                                   encoding="utf-8")
    images = _plots(report, o)
    md = markdown(report, [p.name for p in images])
    (o / "report.md").write_text(md, encoding="utf-8")
    (o / "report.html").write_text(_html(report, md, images), encoding="utf-8")
    return [*written, o / "report.json", *images, o / "report.md", o / "report.html"]


def totals_table(report: MonthlyReport) -> str:
    """Return the totals as an aligned text table (what the CLI prints)."""
    t = report.totals
    rows = [(label, fmt(t[key], pattern)) for key, label, pattern in _TOTAL_ROWS]
    w = max(len(a) for a, _ in rows)
    return "\n".join(f"{a:<{w}}  {b:>12}" for a, b in rows)
