"""Reports of a simulated day: kpis.json, a text table, PNG plots and an HTML map.

The HTML map is one self-contained file (inline SVG and CSS, no scripts, tiles or fonts
from the network): places are projected from lon/lat with a local equirectangular
projection, and each vehicle's day is drawn along the road graph between the stops it
executed, in execution order (straight segments when no road graph is given).
"""

from __future__ import annotations

import html
import json
import logging
import math
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dispatch.demand import LocationKind, demand_summary
from dispatch.kpi import compute_kpis, occupancy_series
from dispatch.simulate import FinalState, SimulationResult

if TYPE_CHECKING:
    from maps.road import RoadGraph

logger = logging.getLogger(__name__)

#: Colours of vehicle routes (Okabe-Ito palette, readable by colour-blind viewers).
PALETTE: tuple[str, ...] = (
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
)

_LABELS: dict[str, tuple[str, str]] = {
    "requests": ("Ride requests", "{:d}"),
    "served": ("Served", "{:d}"),
    "rejected": ("Rejected (no fit)", "{:d}"),
    "declined": ("Declined by rider", "{:d}"),
    "cancelled": ("Cancelled", "{:d}"),
    "no_show": ("No-show", "{:d}"),
    "promises_kept_share": ("Promises kept", "{:.1%}"),
    "wait_mean_s": ("Wait mean (min)", "min"),
    "wait_p95_s": ("Wait p95 (min)", "min"),
    "arrive_on_time_share": ("Arrive-by on time", "{:.1%}"),
    "ride_mean_s": ("Ride mean (min)", "min"),
    "detour_mean": ("Detour (ride/direct)", "{:.2f}"),
    "pooling_rate": ("Pooled riders", "{:.1%}"),
    "vehicle_km": ("Vehicle-km", "{:.1f}"),
    "vehicle_hours": ("Vehicle-hours", "{:.1f}"),
    "pax_per_vehicle_hour": ("Pax per vehicle-hour", "{:.2f}"),
    "offer_latency_p95_ms": ("Offer latency p95 (ms)", "{:.1f}"),
    "deliveries": ("Deliveries", "{:d}"),
    "deliveries_served": ("Deliveries served", "{:d}"),
    "van_km": ("Van-km", "{:.1f}"),
    "deliveries_by_drone": ("Deliveries by drone", "{:d}"),
    "drone_flight_hours": ("Drone flight-hours", "{:.1f}"),
    "sim_wall_s": ("Simulation wall time (s)", "{:.1f}"),
}


def kpi_table(kpis: dict[str, Any]) -> str:
    """Return the KPIs as an aligned two-column text table (``n/a`` for a rate or mean
    over nothing; the drone rows only when drones flew)."""
    rows = []
    for key, (label, fmt) in _LABELS.items():
        if key not in kpis or (key.startswith(("deliveries_by_drone", "drone_"))
                               and not kpis.get("drone_sorties")):
            continue
        v = kpis[key]
        text = "n/a" if v is None else f"{v / 60:.1f}" if fmt == "min" else fmt.format(v)
        rows.append((label, text))
    width = max(len(a) for a, _ in rows)
    return "\n".join(f"{a:<{width}}  {b:>10}" for a, b in rows)


def write_json(result: SimulationResult, kpis: dict[str, Any], path: Path, *,
               inputs: dict[str, Any] | None = None) -> None:
    """Write the KPIs (top level), the demand summary (with how demand was placed), the
    run's inputs (``inputs``, e.g. files and bad rows), per-request records and each
    vehicle's executed stops."""
    vehicles = [{"id": t.id, "van": t.is_van, "km": round(t.km, 3), "hours": round(t.hours, 3),
                 "stops": [{"location": x.location, "name": result.day.places[x.location].name,
                            "arrival_s": x.arrival_s, "departure_s": x.departure_s,
                            "start_s": x.start_s, "kind": x.kind, "request_id": x.request_id,
                            "load_after": list(x.load_after)} for x in t.stops]}
                for t in result.traces]
    doc = {**kpis,
           "demand": demand_summary(result.day),
           "inputs": inputs or {},
           "notes": list(result.notes),
           "records": [r.to_dict() for r in result.records],
           "vehicles": vehicles}
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")


def write_plots(result: SimulationResult, out: Path) -> list[Path]:
    """Write wait-distribution and occupancy PNGs; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    served = [r for r in result.records
              if r.kind == "ride" and r.final is FinalState.SERVED and r.picked_up_s is not None]
    waits = [(r.picked_up_s - r.promised_pickup_earliest) / 60  # type: ignore[operator]
             for r in served if r.promised_pickup_earliest is not None]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(waits, bins=20, color=PALETTE[0])
    ax.set_xlabel("wait: actual pickup minus start of the accepted window (min)")
    ax.set_ylabel("riders")
    ax.set_title("Wait of served rides")
    fig.tight_layout()
    p = out / "wait_distribution.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)

    times, occ = occupancy_series(result)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([t / 3600 for t in times], occ, color=PALETTE[1])
    ax.set_xlabel("hour of day")
    ax.set_ylabel("riders on board per vehicle")
    ax.set_title("Mean vehicle occupancy")
    fig.tight_layout()
    p = out / "occupancy.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)
    return paths


# --------------------------------------------------------------------------- map
def _projector(lonlat: np.ndarray, width: int, height: int, pad: int) -> Any:
    lon0, lat0 = lonlat.min(axis=0)
    lon1, lat1 = lonlat.max(axis=0)
    kx = math.cos(math.radians((lat0 + lat1) / 2))
    span_x = max((lon1 - lon0) * kx, 1e-6)
    span_y = max(lat1 - lat0, 1e-6)
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)

    def project(lon: float, lat: float) -> tuple[float, float]:
        return (pad + (lon - lon0) * kx * scale, height - pad - (lat - lat0) * scale)

    return project


def _road_path(road: RoadGraph, proj: Any) -> str:
    """Return one SVG path of the road network (each two-way road once), whole pixels."""
    edges = np.flatnonzero((road.reverse < 0) | (np.arange(len(road.reverse)) < road.reverse))
    cmds: list[str] = []
    for e in edges:
        pts = road.geom_lonlat[road.geom_ptr[e]:road.geom_ptr[e + 1]]
        xy = [proj(float(x), float(y)) for x, y in pts]
        cells = [f"{round(x)} {round(y)}" for x, y in xy]
        dedup = [c for i, c in enumerate(cells) if i == 0 or c != cells[i - 1]]
        if len(dedup) > 1:
            cmds.append("M" + "L".join(dedup))
    return (f'<path d="{"".join(cmds)}" fill="none" stroke="#d8d8d0" stroke-width="0.7"/>'
            if cmds else "")


def road_paths(result: SimulationResult, road: RoadGraph) -> dict[int, list[tuple[float, float]]]:
    """Return, per vehicle, the lon/lat polyline of its day along the road graph.

    Each executed leg is drawn as the fastest node-to-node path between the graph nodes
    nearest the two stops (the matrices snap to edges, so a leg's ends may differ from
    the drawing by part of an edge).
    """
    from maps.snap import snap_points

    day = result.day
    node = snap_points(road, day.lonlat).node
    legs = {tr.vehicle: [int(node[i]) for i in (day.depot, *(x.location for x in tr.stops))]
            for tr in result.traces if tr.stops}
    lines = node_paths(road, list(legs.values()))
    return {k: line for k, line in zip(legs, lines, strict=True) if line}


def node_paths(road: RoadGraph, legs: list[list[int]]) -> list[list[tuple[float, float]]]:
    """Return, per sequence of graph nodes, the lon/lat line of the fastest paths
    through them along the roads (empty for a sequence of fewer than two nodes)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    sources = sorted({a for seq in legs for a in seq[:-1]})
    if not sources:
        return [[] for _ in legs]
    n = len(road.lon)
    graph = csr_matrix((road.travel_s.astype(np.float64), (road.tail, road.head)), shape=(n, n))
    _, pred = dijkstra(graph, indices=sources, return_predecessors=True)
    row = {s: k for k, s in enumerate(sources)}
    out: list[list[tuple[float, float]]] = []
    for seq in legs:
        if len(seq) < 2:
            out.append([])
            continue
        pts: list[int] = [seq[0]]
        for a, b in pairwise(seq):
            back = [b]
            while back[-1] != a and pred[row[a], back[-1]] >= 0:
                back.append(int(pred[row[a], back[-1]]))
            pts.extend(reversed(back[:-1]) if back[-1] == a else [b])
        out.append(polyline(road, pts))
    return out


def polyline(road: RoadGraph, nodes: list[int]) -> list[tuple[float, float]]:
    """Return the lon/lat polyline through ``nodes`` along each edge's own geometry."""
    out: list[tuple[float, float]] = [(float(road.lon[nodes[0]]), float(road.lat[nodes[0]]))]
    for u, v in pairwise(nodes):
        if u == v:
            continue
        edges = np.arange(road.indptr[u], road.indptr[u + 1])
        edges = edges[road.head[edges] == v]
        if len(edges) == 0:
            out.append((float(road.lon[v]), float(road.lat[v])))
            continue
        e = int(edges[np.argmin(road.travel_s[edges])])
        geom = road.geom_lonlat[road.geom_ptr[e]:road.geom_ptr[e + 1]]
        out.extend((float(x), float(y)) for x, y in geom[1:])
    return out


def _svg_body(result: SimulationResult, width: int, height: int,
              road: RoadGraph | None) -> list[str]:
    day = result.day
    lonlat = day.lonlat
    proj = _projector(lonlat, width, height, 20)
    parts: list[str] = [_road_path(road, proj)] if road is not None else []
    paths = road_paths(result, road) if road is not None else {}
    for tr in result.traces:
        if not tr.stops:
            continue
        colour = PALETTE[tr.vehicle % len(PALETTE)]
        seq = paths.get(tr.vehicle) or [
            (float(lonlat[i, 0]), float(lonlat[i, 1]))
            for i in (day.depot, *(s.location for s in tr.stops))]
        pts = " ".join("{:.1f},{:.1f}".format(*proj(*p)) for p in seq)
        dash = ' stroke-dasharray="6 3"' if tr.is_van else ""
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" '
                     f'stroke-width="1.6" stroke-opacity="0.75"{dash}>'
                     f"<title>{html.escape(tr.id)}: {len(tr.stops)} stops, {tr.km:.1f} km"
                     "</title></polyline>")
    styles = {LocationKind.STOP: ("#444", 2.2), LocationKind.HOME: ("#888", 1.8),
              LocationKind.HOSPITAL: ("#C00", 4.0), LocationKind.PHARMACY: ("#080", 5.0),
              LocationKind.DEPOT: ("#000", 7.0), LocationKind.POI: ("#A60", 3.0),
              LocationKind.POINT: ("#666", 2.0)}
    for i, place in enumerate(day.places):
        colour, r = styles[place.kind]
        x, y = proj(place.lon, place.lat)
        square = place.kind in (LocationKind.DEPOT, LocationKind.PHARMACY)
        tag = "rect" if square else "circle"
        shape = (f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r}" height="{2 * r}"'
                 if square else f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}"')
        parts.append(f'{shape} fill="{colour}"><title>{i}: {html.escape(place.name)} '
                     f"({place.kind})</title></{tag}>")
    return parts


def html_map(result: SimulationResult, kpis: dict[str, Any], *, road: RoadGraph | None = None,
             attribution: str = "", width: int = 900, height: int = 700) -> str:
    """Return a self-contained HTML page with the day's map and the KPI table.

    ``road`` (the region's drive graph) is drawn faintly underneath when given;
    ``attribution`` (the data sources' required credit) is printed under the map.
    """
    body = "\n".join(_svg_body(result, width, height, road))
    legend = "".join(
        f'<li><span style="background:{PALETTE[t.vehicle % len(PALETTE)]}"></span>'
        f"{html.escape(t.id)}: {len(t.stops)} stops, {t.km:.1f} km</li>"
        for t in result.traces)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    intro = ("Black square: depot; green square: pharmacy or shop stand-in; red: hospitals; "
             "dark grey:\nstops; light grey: homes (door-to-door); brown: other POIs; grey: "
             "trip-record points.\nColoured lines follow each vehicle's executed stops in "
             "order along the roads; dashed lines\nare delivery vans. Hover for names.")
    side = (f"<h2>KPIs</h2><pre>{html.escape(kpi_table(kpis))}</pre>\n"
            f'<h2>Vehicles</h2><ul class="legend">{legend}</ul>\n'
            f"<h2>Notes</h2><ul>{notes}<li>Deliveries go by van; drones are not dispatched "
            "yet.</li></ul>")
    css = ("pre { background: #f4f4f4; padding: .6em; }\n"
           "ul.legend li span { display: inline-block; width: 1.4em; height: .7em; "
           "margin-right: .4em; }")
    return svg_page(title="Hakobu: simulated day", heading="Simulated service day",
                    intro=intro, svg=body, side=side, size=(width, height),
                    attribution=attribution, css=css)


def svg_page(*, title: str, heading: str, intro: str, svg: str, side: str,
             size: tuple[int, int], attribution: str = "", css: str = "") -> str:
    """Return a self-contained HTML page: a heading, an introduction (already HTML), an
    SVG map of ``size`` (width, height) holding ``svg`` and a side panel (already HTML),
    with ``attribution`` printed below."""
    width, height = size
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; color: #222; }}
.wrap {{ display: flex; gap: 1.5em; flex-wrap: wrap; }}
svg {{ border: 1px solid #ccc; background: #fafaf7; }}
{css}
</style></head><body>
<h1>{html.escape(heading)}</h1>
<p>{intro}</p>
<div class="wrap">
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"
 viewBox="0 0 {width} {height}">
{svg}
</svg>
<div>{side}</div>
</div>
<p style="font-size:small;color:#555">{html.escape(attribution)}</p>
</body></html>
"""


def write_report(result: SimulationResult, out: Path, *,
                 road: RoadGraph | None = None, attribution: str = "",
                 inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write kpis.json, report.json, PNG plots and map.html into ``out``; return the KPIs.

    ``road`` (optional) is drawn under the map, ``attribution`` printed below it;
    ``inputs`` (files used, bad rows skipped...) goes into report.json. kpis.json holds
    the KPIs followed by ``demand_placement`` (how origins and destinations were placed).
    """
    out.mkdir(parents=True, exist_ok=True)
    kpis = compute_kpis(result)
    doc = {**kpis, "demand_placement": result.day.placement.to_dict()}
    (out / "kpis.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False),
                                   encoding="utf-8")
    write_json(result, kpis, out / "report.json", inputs=inputs)
    write_plots(result, out)
    page = html_map(result, kpis, road=road, attribution=attribution)
    (out / "map.html").write_text(page, encoding="utf-8")
    logger.info("wrote report to %s", out)
    return kpis
