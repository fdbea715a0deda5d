"""The coverage study's report files (:func:`write_coverage_report`).

* ``summary.json``: the totals of :func:`dispatch.coverage.access_study` (at least
  ``population_total``, ``population_in_gap``, ``population_65plus_total``,
  ``population_65plus_in_gap``, ``cells_total``, ``cells_in_gap``, ``thresholds``), the
  data sources and the notes on what is approximated;
* ``cells.gpkg`` (layer ``cells``) and ``cells.csv``: one row per cell with its 9-digit
  mesh code;
* ``coverage.png``: a choropleth of the share of each cell's residents in a gap, with the
  counted stops, stations and hospitals;
* ``map.html``: the same map as self-contained SVG (hover a cell for its numbers);
* ``summary.md``: a short Markdown summary with the thresholds and data sources.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from dispatch.coverage import CoverageResult
    from maps.region import Region


def _colour(share: float) -> str:
    """White (no gap) to dark red (everyone in a gap)."""
    s = min(max(share, 0.0), 1.0)
    r, g, b = 255 - int(75 * s), 245 - int(215 * s), 240 - int(210 * s)
    return f"#{r:02x}{g:02x}{b:02x}"


def write_png(result: CoverageResult, region: Region, path: Path) -> None:
    """Write the choropleth of the gap share with stops, stations and hospitals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = result.cells
    fig, ax = plt.subplots(figsize=(8, 8), dpi=110)
    cells.plot(ax=ax, column="gap_share", cmap="Reds", vmin=0, vmax=1, edgecolor="#bbb",
               linewidth=0.3, legend=True,
               legend_kwds={"label": "share of residents in a transport gap",
                            "shrink": 0.6})
    st = result.stops
    bus = st[st["counts"] & ~st["station"]]
    rail = st[st["counts"] & st["station"]]
    ax.scatter(bus["lon"], bus["lat"], s=2, c="#1d3557", label="bus stop (counted)")
    ax.scatter(rail["lon"], rail["lat"], s=12, marker="s", c="#2a9d8f", label="station")
    pois = region.pois
    if len(pois):
        h = pois[pois["kind"] == "hospital"]
        ax.scatter(h.geometry.x, h.geometry.y, s=22, marker="+", c="#000", label="hospital")
    x0, y0, x1, y1 = (float(v) for v in region.bounds)
    ax.plot([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0], c="#555", lw=0.8, ls="--",
            label="study area")
    ax.set_xlim(x0 - 0.005, x1 + 0.005)
    ax.set_ylim(y0 - 0.005, y1 + 0.005)
    ax.set_aspect(1 / math.cos(math.radians((y0 + y1) / 2)))
    s = result.summary
    ax.set_title(f"{s['region']}: {s['population_in_gap']:,} of {s['population_total']:,} "
                 f"residents ({100 * s['share_in_gap']:.1f} %) in a transport gap", fontsize=9)
    ax.legend(loc="lower left", fontsize=7)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def html_map(result: CoverageResult, region: Region, *, width: int = 900,
             height: int = 800, attribution: str = "") -> str:
    """Return a self-contained HTML page with the gap map (SVG) and the totals."""
    from dispatch.report import _projector, svg_page

    x0, y0, x1, y1 = (float(v) for v in region.bounds)
    proj = _projector(np.array([[x0, y0], [x1, y1]]), width, height, 20)
    parts: list[str] = []
    for row in result.cells.itertuples():
        a0, b0, a1, b1 = row.geometry.bounds
        (px0, py1), (px1, py0) = proj(a0, b0), proj(a1, b1)
        tip = (f"{row.mesh_code}: {row.population} residents ({row.age65plus} aged 65+), "
               f"{100 * row.gap_share:.0f} % in a gap; walk to a bus stop {row.walk_stop_m:g} m"
               f", to a station {row.walk_station_m:g} m; hospital by car "
               f"{row.drive_hospital_min:g} min")
        parts.append(f'<rect x="{px0:.1f}" y="{py0:.1f}" width="{px1 - px0:.1f}" '
                     f'height="{py1 - py0:.1f}" fill="{_colour(row.gap_share)}" '
                     f'stroke="#ccc" stroke-width="0.4"><title>{html.escape(tip)}</title>'
                     "</rect>")
    st = result.stops
    for r in st[st["counts"]].itertuples():
        x, y = proj(r.lon, r.lat)
        if r.station:
            parts.append(f'<rect x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" '
                         f'fill="#2a9d8f"><title>{html.escape(str(r.name))} (station, '
                         f"{r.departures_weekday} weekday departures)</title></rect>")
        else:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.6" fill="#1d3557">'
                         f"<title>{html.escape(str(r.name))} ({r.departures_weekday} weekday "
                         "departures)</title></circle>")
    pois = region.pois
    if len(pois):
        for p in pois[pois["kind"] == "hospital"].itertuples():
            x, y = proj(p.geometry.x, p.geometry.y)
            parts.append(f'<path d="M{x - 4:.1f} {y:.1f}h8M{x:.1f} {y - 4:.1f}v8" '
                         f'stroke="#000" stroke-width="2"><title>{html.escape(str(p.name))}'
                         "</title></path>")
    s = result.summary
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in s.items() if not isinstance(v, dict))
    rows += "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>"
                    for k, v in s["thresholds"].items())
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    intro = ("Cells: 500 m census mesh, darker red = a larger share of the residents "
             "beyond walking\nreach of a bus stop and of a station with useful service. "
             "Dark blue dots: bus stops\ncounted; green squares: stations; black crosses: "
             "hospitals. Hover for numbers.")
    return svg_page(title="Hakobu: coverage gaps",
                    heading=f"Transport gaps (交通空白): {s['region']}", intro=intro,
                    svg="".join(parts),
                    side=f"<h2>Totals</h2><table>{rows}</table><h2>Notes</h2><ul>{notes}</ul>",
                    size=(width, height), attribution=attribution,
                    css="td, th { text-align: left; padding: 0 .6em 0 0; font-size: small; }")


def summary_markdown(result: CoverageResult, sources: dict[str, Any]) -> str:
    """Return the Markdown summary (totals, thresholds, data sources, notes)."""
    s = result.summary
    th = s["thresholds"]
    pct = 100 * s["share_in_gap"]
    age = s["population_65plus_in_gap"]
    age_total = max(s["population_65plus_total"], 1)
    lines = [
        f"# Transport gaps (交通空白): {s['region']}", "",
        f"- **{s['population_in_gap']:,}** of {s['population_total']:,} residents "
        f"(**{pct:.1f} %**) live beyond {th['stop_m']:g} m of walking to a bus stop and "
        f"beyond {th['station_m']:g} m of walking to a station with at least "
        f"{th['min_departures']} weekday departures.",
        f"- Aged 65 and over: {age:,} of {s['population_65plus_total']:,} "
        f"({100 * age / age_total:.1f} %); aged 75 and over: "
        f"{s['population_75plus_in_gap']:,} of {s['population_75plus_total']:,}.",
        f"- Cells: {s['cells_in_gap']} of {s['cells_total']} are gap cells (half their "
        f"residents or more in a gap); {s['cells_no_walk_road']} have no mapped walkable "
        f"road within {th['max_access_m']:g} m; {s['cells_partly_outside']} lie partly "
        "outside the study area and are counted by their share inside.",
        f"- Hospital by car: {s['population_hospital_beyond_target']:,} residents are more "
        f"than {th['hospital_target_min']:g} min from the nearest of {s['hospitals']} "
        "hospitals.",
        f"- Stops counted: {s['stops_counted_in_area']} bus stops and "
        f"{s['stations_counted_in_area']} stations inside the map ({s['stops_counted']} and "
        f"{s['stations_counted']} in the feeds, those outside the map serve residents near "
        f"its edge); {s['stops_too_few_departures']} timetabled stops have fewer than "
        f"{th['min_departures']} weekday departures and do not count.",
        "", "## Thresholds", "",
        *(f"- `{k}` = {v}" for k, v in th.items()),
        "", "## Data", "",
        *(f"- {k}: {v}" for k, v in sources.items()),
        "", "## What is approximated", "",
        *(f"- {n}" for n in result.notes),
        f"- {s['population_walk_estimated']:,} residents' walks are the estimate "
        f"({th['detour']} x the straight line), shorter than the mapped network walk.",
    ]
    return "\n".join(lines) + "\n"


def write_coverage_report(out: Path, result: CoverageResult, region: Region, *,
                          sources: dict[str, Any], attribution: str = "",
                          extra: dict[str, Any] | None = None,
                          more_markdown: str = "") -> list[Path]:
    """Write every report file into ``out``; return their paths.

    ``extra`` adds keys to ``summary.json`` and ``more_markdown`` a section to
    ``summary.md`` (the scenarios of :mod:`dispatch.coverage_scenarios`).
    """
    out.mkdir(parents=True, exist_ok=True)
    doc = {**result.summary, "sources": sources, "notes": result.notes, **(extra or {})}
    files = [out / n for n in ("summary.json", "cells.gpkg", "cells.csv", "coverage.png",
                               "map.html", "summary.md")]
    files[0].write_text(json.dumps(doc, indent=1, ensure_ascii=False, default=str),
                        encoding="utf-8")
    cells = result.cells.copy()
    cells["mesh_code"] = cells["mesh_code"].astype(str)
    if files[1].exists():
        files[1].unlink()
    cells.to_file(files[1], layer="cells", driver="GPKG")
    cells.drop(columns="geometry").to_csv(files[2], index=False)
    write_png(result, region, files[3])
    files[4].write_text(html_map(result, region, attribution=attribution), encoding="utf-8")
    files[5].write_text(summary_markdown(result, sources) + more_markdown, encoding="utf-8")
    return files
