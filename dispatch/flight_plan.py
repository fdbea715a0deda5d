"""Drone delivery days and the flight plans an operator files (``hakobu drone-plan``).

Inputs (:func:`read_jobs_csv`, :func:`read_ports_csv`): UTF-8 CSV files,

* jobs: ``id,lon,lat,weight_kg,earliest,latest,priority`` (``earliest``/``latest`` as
  ``HH:MM`` or ``HH:MM:SS`` local time, empty for the operating hours; ``priority`` an
  integer, higher first, empty for 0; ``weight_kg`` the parcel's mass);
* droneports: ``id,lon,lat,drones``.

A bad file, row or value is refused with one :class:`FlightPlanInputError` line naming the
file, the row and the column.

:func:`demo_day` draws a seeded day on a region: droneports at hospitals inside the map and
outside the avoided airspace, chosen greedily to cover the most residents within half
the parcels' radius, and parcels inside the map at populated census cells outside the
avoided airspace (population-weighted),
40 % medicine (light, priority 2, delivered by noon) and 60 % groceries (1-5.5 kg, some
over the payload limit, afternoon windows). Parcels inside the avoided airspace are not
drawn; some drawn parcels lie in pockets that avoided areas enclose, and are refused as
unreachable, as a real day would refuse them.

Outputs (:func:`write_flight_plan`):

* ``flights.geojson``: one feature per sortie, a 3D LineString of (lon, lat, metres above
  ground) as flown (vertical climb at the pad, cruise, descent to the drop height at each
  customer, landing), with take-off and landing times (ISO 8601, Japan time), the drone,
  the parcels, payload, energy used, the reserve left, the distance, the cruise altitude
  and the permit areas crossed;
* ``deliveries.csv``: every job with its mode (``drone``, ``van``, ``none``), drone or van,
  sortie, delivery time and the reason for a refusal;
* ``summary.csv``: one row per drone (sorties, parcels, kg, km, flight minutes, Wh, first
  take-off, last landing) and a ``total`` row;
* ``plan.json``: the totals, the inputs and the airspace rules used;
* ``map.html``: a self-contained SVG map of the avoided and permit areas, droneports,
  sorties and refused parcels.
"""

from __future__ import annotations

import csv
import html
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from routing.drone import (
    DAY_HOURS,
    DroneJob,
    DronePlan,
    Droneport,
    DroneProblem,
    DroneSpec,
    Sortie,
    endurance_s,
    flight_track,
    path_length_m,
)
from routing.errors import ProblemError
from routing.model import StopKind, TimeWindow

if TYPE_CHECKING:
    from maps.airspace import Airspace
    from maps.region import Region
    from routing.drone_plan import MixedPlan

JST = timezone(timedelta(hours=9), "JST")
JOB_COLUMNS = ("id", "lon", "lat", "weight_kg", "earliest", "latest", "priority")
PORT_COLUMNS = ("id", "lon", "lat", "drones")
#: Share of the demo day's parcels that are medicine.
MEDICINE_SHARE = 0.4
MEDICINE_PRIORITY = 2
#: Demo parcels lie within this share of the straight-line out-and-back range with 2.5 kg
#: (paths around avoided areas are longer than straight lines).
DEMO_REACH = 0.6


class FlightPlanInputError(ValueError):
    """A jobs or droneports file (or a value in it) that cannot be used; one line."""


# ----------------------------------------------------------------------------- inputs
def parse_clock(text: str, what: str) -> int:
    """Parse ``HH:MM`` or ``HH:MM:SS`` (up to 48:00) into seconds since midnight."""
    parts = text.strip().split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        h, m = int(parts[0]), int(parts[1])
        s = int(parts[2]) if len(parts) == 3 else 0
    except ValueError:
        msg = f"{what}: {text!r} is not a time of day HH:MM"
        raise FlightPlanInputError(msg) from None
    if not (0 <= m < 60 and 0 <= s < 60 and 0 <= h * 3600 + m * 60 + s <= 48 * 3600):
        msg = f"{what}: {text!r} is not a time of day between 00:00 and 48:00"
        raise FlightPlanInputError(msg)
    return h * 3600 + m * 60 + s


def clock(seconds: float) -> str:
    """Format seconds since midnight as ``HH:MM:SS``."""
    s = round(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _rows(path: Path, columns: Sequence[str], required: Sequence[str]
          ) -> list[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FlightPlanInputError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise FlightPlanInputError(f"{path}: not a UTF-8 CSV file") from None
    except OSError as exc:
        raise FlightPlanInputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        msg = (f"{path}: missing column(s) {', '.join(missing)} (the columns are "
               f"{','.join(columns)})")
        raise FlightPlanInputError(msg)
    out = []
    for n, row in enumerate(reader, start=2):
        clean = {(k or "").strip(): (v or "").strip() for k, v in row.items()
                 if isinstance(v, str)}
        if any(clean.values()):
            out.append((n, clean))
    if not out:
        raise FlightPlanInputError(f"{path}: no rows")
    return out


def _number(path: Path, n: int, col: str, text: str, *, integer: bool = False) -> float:
    try:
        val = int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        msg = f"{path}: row {n}: {col}: {text!r} is not {kind}"
        raise FlightPlanInputError(msg) from None
    if not math.isfinite(val):
        raise FlightPlanInputError(f"{path}: row {n}: {col}: must be finite")
    return val


def _lonlat(path: Path, n: int, row: dict[str, str]) -> tuple[float, float]:
    lon = _number(path, n, "lon", row["lon"])
    lat = _number(path, n, "lat", row["lat"])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        msg = f"{path}: row {n}: lon,lat {lon},{lat} is outside WGS84 longitude/latitude"
        raise FlightPlanInputError(msg)
    return lon, lat


def _unique(path: Path, n: int, seen: set[str], ident: str) -> None:
    if not ident:
        raise FlightPlanInputError(f"{path}: row {n}: id: must not be empty")
    if ident in seen:
        raise FlightPlanInputError(f"{path}: row {n}: id: {ident!r} appears twice")
    seen.add(ident)


def read_jobs_csv(path: str | Path, hours: TimeWindow) -> list[DroneJob]:
    """Read a jobs file (``id,lon,lat,weight_kg,earliest,latest,priority``).

    Empty ``earliest``/``latest`` take the operating ``hours``; empty ``priority`` is 0.
    """
    p = Path(path)
    jobs: list[DroneJob] = []
    seen: set[str] = set()
    for n, row in _rows(p, JOB_COLUMNS, ("id", "lon", "lat", "weight_kg")):
        ident = row["id"]
        _unique(p, n, seen, ident)
        lon, lat = _lonlat(p, n, row)
        weight = _number(p, n, "weight_kg", row["weight_kg"])
        if weight < 0:
            raise FlightPlanInputError(f"{p}: row {n}: weight_kg: must not be negative")
        early = (parse_clock(row["earliest"], f"{p}: row {n}: earliest")
                 if row.get("earliest") else hours.earliest)
        late = (parse_clock(row["latest"], f"{p}: row {n}: latest")
                if row.get("latest") else hours.latest)
        if late < early:
            msg = (f"{p}: row {n}: latest: {clock(late)} is before earliest "
                   f"{clock(early)}")
            raise FlightPlanInputError(msg)
        prio = (int(_number(p, n, "priority", row["priority"], integer=True))
                if row.get("priority") else 0)
        jobs.append(DroneJob(id=ident, lon=lon, lat=lat, weight_kg=weight,
                             window=TimeWindow(earliest=early, latest=late), priority=prio))
    return jobs


def read_ports_csv(path: str | Path) -> list[Droneport]:
    """Read a droneports file (``id,lon,lat,drones``)."""
    p = Path(path)
    ports: list[Droneport] = []
    seen: set[str] = set()
    for n, row in _rows(p, PORT_COLUMNS, PORT_COLUMNS):
        ident = row["id"]
        _unique(p, n, seen, ident)
        lon, lat = _lonlat(p, n, row)
        drones = int(_number(p, n, "drones", row["drones"], integer=True))
        if drones < 0:
            raise FlightPlanInputError(f"{p}: row {n}: drones: must not be negative")
        ports.append(Droneport(id=ident, lon=lon, lat=lat, drones=drones))
    if not sum(pt.drones for pt in ports):
        raise FlightPlanInputError(f"{p}: drones: no droneport has a drone")
    return ports


def check_ports(ports: Sequence[Droneport], airspace: Airspace, altitude_m: float,
                margin_m: float) -> list[str]:
    """Return one line per droneport that lies inside an avoided area (it cannot be used:
    a drone may not take off there)."""
    from maps.airspace import _grow_lonlat

    bad = []
    for a in airspace.active(altitude_m, "avoid"):
        grown = _grow_lonlat(a.geometry, margin_m)
        bad += [f"droneport {p.id} ({p.lon:.5f},{p.lat:.5f}) is inside the avoided area "
                f"{a.name!r}: no drone may take off there" for p in ports
                if grown.contains(shapely.Point(p.lon, p.lat))]
    return bad


def write_day_csv(out: Path, jobs: Sequence[DroneJob], ports: Sequence[Droneport]) -> None:
    """Write ``jobs.csv`` and ``droneports.csv`` in the input format (read back by
    :func:`read_jobs_csv` and :func:`read_ports_csv`)."""
    _write_csv(out / "jobs.csv", [
        {"id": j.id, "lon": j.lon, "lat": j.lat, "weight_kg": j.weight_kg,
         "earliest": clock(j.window.earliest)[:5], "latest": clock(j.window.latest)[:5],
         "priority": j.priority} for j in jobs])
    _write_csv(out / "droneports.csv", [
        {"id": p.id, "lon": p.lon, "lat": p.lat, "drones": p.drones} for p in ports])


# ----------------------------------------------------------------------------- demo day
def _range_m(spec: DroneSpec, payload_kg: float) -> float:
    """A conservative out-and-back radius with ``payload_kg`` (80 % of the endurance)."""
    return 0.8 * endurance_s(spec, payload_kg) * spec.cruise_mps / 2


def _metres(lon0: float, lat0: float, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    kx = 111_320.0 * math.cos(math.radians(lat0))
    return np.hypot((lon - lon0) * kx, (lat - lat0) * 110_574.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoDay:
    """A seeded drone day: droneports, parcels and how they were drawn."""

    ports: tuple[Droneport, ...]
    jobs: tuple[DroneJob, ...]
    notes: tuple[str, ...]


def demo_day(region: Region, airspace: Airspace, *, spec: DroneSpec, n_jobs: int = 40,  # noqa: PLR0913
             n_ports: int = 3, drones_per_port: int = 2, seed: int = 0,
             hours: TimeWindow = DAY_HOURS, margin_m: float = 60.0) -> DemoDay:
    """Draw a seeded delivery day on ``region`` (see the module docstring).

    Raises
    ------
    ProblemError
        When the region has no hospital or no populated cell outside the avoided airspace.
    """
    rng = random.Random(seed)
    blocked = airspace.avoided(spec.cruise_alt_m, margin_m)
    pois = region.pois[region.pois["kind"] == "hospital"]
    hx, hy = pois.geometry.x.to_numpy(), pois.geometry.y.to_numpy()
    x0, y0, x1, y1 = (float(v) for v in region.bounds)

    def inside(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x0 <= x) & (x <= x1) & (y0 <= y) & (y <= y1)

    free_h = ~shapely.contains_xy(blocked, hx, hy) & inside(hx, hy)
    cells = region.population[region.population["total"] > 0]
    b = cells.geometry.bounds
    cx = ((b["minx"] + b["maxx"]) / 2).to_numpy()
    cy = ((b["miny"] + b["maxy"]) / 2).to_numpy()
    free_c = ~shapely.contains_xy(blocked, cx, cy) & inside(cx, cy)
    if not free_h.any() or not free_c.any():
        raise ProblemError("region", "no hospital or populated cell outside the avoided "
                           "airspace to draw a drone day from")
    names = pois["name"].to_numpy()[free_h]
    hx, hy = hx[free_h], hy[free_h]
    cells, cx, cy = cells[free_c], cx[free_c], cy[free_c]
    pop = cells["total"].to_numpy(dtype=float)
    reach = DEMO_REACH * _range_m(spec, 2.5)
    dist = np.stack([_metres(x, y, cx, cy) for x, y in zip(hx, hy, strict=True)])
    covered = np.zeros(len(cells), dtype=bool)
    chosen: list[int] = []
    for _ in range(min(n_ports, len(hx))):
        gain = ((dist <= reach / 2) & ~covered) @ pop
        gain[chosen] = -1
        k = int(np.argmax(gain))
        if gain[k] <= 0:
            break
        chosen.append(k)
        covered |= dist[k] <= reach / 2
    covered = np.asarray((dist[chosen] <= reach).any(axis=0), dtype=bool)
    ports = tuple(Droneport(id=f"port-{i + 1}", lon=round(float(hx[k]), 6),
                            lat=round(float(hy[k]), 6), drones=drones_per_port)
                  for i, k in enumerate(chosen))
    weights = pop * covered
    geoms = cells.geometry.to_numpy()
    jobs: list[DroneJob] = []
    while len(jobs) < n_jobs:
        cell = rng.choices(range(len(cells)), weights=weights.tolist())[0]
        a0, b0, a1, b1 = geoms[cell].bounds
        x, y = rng.uniform(a0, a1), rng.uniform(b0, b1)
        if shapely.contains_xy(blocked, x, y) or not inside(np.array(x), np.array(y)):
            continue
        k = len(jobs) + 1
        if rng.random() < MEDICINE_SHARE:
            ready = rng.randrange(hours.earliest, 11 * 3600, 900)
            jobs.append(DroneJob(id=f"med-{k:03d}", lon=round(x, 6), lat=round(y, 6),
                                 weight_kg=round(rng.uniform(0.2, 1.5), 2),
                                 window=TimeWindow(earliest=ready,
                                                   latest=min(ready + 2 * 3600, 12 * 3600)),
                                 priority=MEDICINE_PRIORITY))
        else:
            start = rng.randrange(12 * 3600, hours.latest - 2 * 3600 + 1, 3600)
            jobs.append(DroneJob(id=f"groc-{k:03d}", lon=round(x, 6), lat=round(y, 6),
                                 weight_kg=round(rng.uniform(1.0, 5.5), 1),
                                 window=TimeWindow(earliest=start, latest=start + 2 * 3600),
                                 priority=0))
    notes = (f"droneports at {len(ports)} hospitals outside the avoided airspace: "
             + ", ".join(f"{p.id} = {names[k]}" for p, k in zip(ports, chosen, strict=True)),
             f"{n_jobs} parcels drawn (seed {seed}) at populated 500 m census cells within "
             f"{reach / 1000:.1f} km of a droneport and outside the avoided airspace, "
             "weighted by population; 40 % medicine (0.2-1.5 kg, priority 2, within 2 h, "
             "by noon), 60 % groceries (1-5.5 kg, a 2 h afternoon window)")
    return DemoDay(ports=ports, jobs=tuple(jobs), notes=notes)


# ----------------------------------------------------------------------------- outputs
def _iso(day: date, seconds: float) -> str:
    t = datetime(day.year, day.month, day.day, tzinfo=JST) + timedelta(seconds=round(seconds))
    return t.isoformat()


def sortie_feature(problem: DroneProblem, k: int, s: Sortie, day: date) -> dict[str, Any]:
    """Return the GeoJSON feature of sortie ``k`` (3D LineString and its flight data)."""
    spec = problem.spec
    track = flight_track(spec, s.paths)
    payload = sum(problem.jobs[j].weight_kg for j in s.jobs)
    return {
        "type": "Feature",
        "geometry": {"type": "LineString",
                     "coordinates": [[round(x, 7), round(y, 7), round(z, 1)]
                                     for x, y, z in track]},
        "properties": {
            "sortie": f"S{k + 1:03d}",
            "drone": s.drone,
            "droneport": problem.ports[s.port].id,
            "jobs": [problem.jobs[j].id for j in s.jobs],
            "takeoff": _iso(day, s.takeoff_s),
            "landing": _iso(day, s.landing_s),
            "drops": [_iso(day, t) for t in s.drop_s],
            "payload_kg": round(payload, 3),
            "energy_wh": round(s.energy_wh, 1),
            "battery_wh": spec.battery_wh,
            "reserve_left_wh": round(spec.battery_wh - s.energy_wh, 1),
            "reserve_left_pct": round(100 * (1 - s.energy_wh / spec.battery_wh), 1),
            "distance_m": round(sum(path_length_m(p) for p in s.paths)),
            "cruise_alt_m": spec.cruise_alt_m,
            "max_alt_m": max(z for _, _, z in track),
            "permit_areas_crossed": list(s.permits),
        },
    }


def flights_geojson(problem: DroneProblem, plan: DronePlan, day: date,
                    wind: dict[str, float]) -> dict[str, Any]:
    """Return the ``flights.geojson`` document of ``plan``."""
    feats = [sortie_feature(problem, k, s, day) for k, s in enumerate(plan.sorties)]
    for f in feats:
        f["properties"]["wind"] = wind
    return {"type": "FeatureCollection", "features": feats}


def _drone_rows(problem: DroneProblem, plan: DronePlan) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for drone, port in problem.drones():
        mine = [s for s in plan.sorties if s.drone == drone]
        km = sum(path_length_m(p) for s in mine for p in s.paths) / 1000
        rows.append({
            "drone": drone, "droneport": problem.ports[port].id, "sorties": len(mine),
            "parcels": sum(len(s.jobs) for s in mine),
            "payload_kg": round(sum(problem.jobs[j].weight_kg for s in mine for j in s.jobs),
                                2),
            "flight_km": round(km, 2),
            "flight_min": round(sum(s.landing_s - s.takeoff_s for s in mine) / 60, 1),
            "energy_wh": round(sum(s.energy_wh for s in mine), 1),
            "first_takeoff": clock(min(s.takeoff_s for s in mine)) if mine else "",
            "last_landing": clock(max(s.landing_s for s in mine)) if mine else "",
        })
    total = {"drone": "total", "droneport": "",
             **{c: round(sum(r[c] for r in rows), 2) for c in
                ("sorties", "parcels", "payload_kg", "flight_km", "flight_min", "energy_wh")},
             "first_takeoff": min((r["first_takeoff"] for r in rows if r["first_takeoff"]),
                                  default=""),
             "last_landing": max((r["last_landing"] for r in rows if r["last_landing"]),
                                 default="")}
    return [*rows, total]


def delivery_rows(problem: DroneProblem, plan: DronePlan,
                  mixed: MixedPlan | None = None) -> list[dict[str, Any]]:
    """One row per job: mode, carrier, sortie, delivery time, reason."""
    rows: dict[int, dict[str, Any]] = {}
    for k, s in enumerate(plan.sorties):
        for j, t in zip(s.jobs, s.drop_s, strict=True):
            rows[j] = {"mode": "drone", "carrier": s.drone, "sortie": f"S{k + 1:03d}",
                       "delivered": clock(t), "reason": ""}
    if mixed is not None and mixed.van is not None and mixed.van_problem is not None:
        vp = mixed.van_problem
        by_id = {job.id: i for i, job in enumerate(problem.jobs)}
        for r in mixed.van.routes:
            for v in r.visits:
                if v.kind != StopKind.JOB:
                    continue
                j = by_id[vp.jobs[v.ref].id]
                rows[j] = {"mode": "van", "carrier": vp.vehicles[r.vehicle].id, "sortie": "",
                           "delivered": clock(v.start), "reason": ""}
    why = {m.job: m.reason for m in mixed.modes} if mixed is not None else {}
    why.update({r.job: f"{r.reason}: {r.detail}" if r.detail else r.reason
                for r in plan.refused if mixed is None})
    out = []
    for j, job in enumerate(problem.jobs):
        row = rows.get(j) or {"mode": "none", "carrier": "", "sortie": "", "delivered": "",
                              "reason": why.get(j, "")}
        if mixed is not None and row["mode"] != "none":
            row["reason"] = why.get(j, "")
        out.append({"id": job.id, "weight_kg": job.weight_kg, "priority": job.priority,
                    "earliest": clock(job.window.earliest), "latest": clock(job.window.latest),
                    **row})
    return out


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _svg_polys(geom: Any, proj: Any, style: str, title: str) -> str:
    polys = getattr(geom, "geoms", [geom])
    out = []
    for poly in polys:
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        rings = [poly.exterior, *poly.interiors]
        d = " ".join("M" + " L".join("{:.1f} {:.1f}".format(*proj(x, y))
                                     for x, y in ring.coords) + " Z" for ring in rings)
        out.append(f'<path d="{d}" {style} fill-rule="evenodd"><title>{html.escape(title)}'
                   "</title></path>")
    return "".join(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class FlightDay:
    """A planned day: the problem, the drone plan, the airspace flown in and, for a mixed
    plan, the vans' part."""

    problem: DroneProblem
    plan: DronePlan
    airspace: Airspace
    mixed: MixedPlan | None = None


def html_map(day: FlightDay, totals: dict[str, Any], *, road: Any = None,
             attribution: str = "", width: int = 900, height: int = 760) -> str:
    """Return a self-contained HTML page: airspace, droneports, sorties, refused parcels."""
    problem, plan, airspace, mixed = day.problem, day.plan, day.airspace, day.mixed
    from dispatch.report import PALETTE, _projector, _road_path, svg_page

    pts = [(p.lon, p.lat) for p in problem.ports] + [(j.lon, j.lat) for j in problem.jobs]
    lonlat = np.asarray(pts, dtype=float)
    lo, hi = lonlat.min(axis=0) - 0.01, lonlat.max(axis=0) + 0.01
    proj = _projector(np.vstack([lo, hi]), width, height, 20)
    window = shapely.box(lo[0], lo[1], hi[0], hi[1])
    parts = [_road_path(road, proj)] if road is not None else []
    for a in airspace.areas:
        geom = a.geometry.intersection(window)
        if geom.is_empty:
            continue
        style = ('fill="#d33" fill-opacity="0.18" stroke="#d33" stroke-width="0.6"'
                 if a.policy == "avoid" and a.height_limit_m is None else
                 'fill="#f90" fill-opacity="0.10" stroke="#f90" stroke-width="0.6"'
                 if a.policy == "permit" else
                 'fill="none" stroke="#d33" stroke-width="0.8" stroke-dasharray="4 3"')
        limit = f", above {a.height_limit_m:g} m" if a.height_limit_m is not None else ""
        parts.append(_svg_polys(geom, proj, style, f"{a.name} ({a.kind}, {a.policy}{limit})"))
    drones = [d for d, _ in problem.drones()]
    for k, s in enumerate(plan.sorties):
        colour = PALETTE[drones.index(s.drone) % len(PALETTE)]
        seq = [p for path in s.paths for p in path]
        line = " ".join("{:.1f},{:.1f}".format(*proj(x, y)) for x, y in seq)
        ids = ", ".join(problem.jobs[j].id for j in s.jobs)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" '
                     f'stroke-width="1.5" stroke-opacity="0.85"><title>S{k + 1:03d} '
                     f"{html.escape(s.drone)} {clock(s.takeoff_s)}-{clock(s.landing_s)}: "
                     f"{html.escape(ids)}, {s.energy_wh:.0f} Wh</title></polyline>")
    modes = {r["id"]: r for r in delivery_rows(problem, plan, mixed)}
    fills = {"drone": "#06c", "van": "#393", "none": "#fff"}
    for job in problem.jobs:
        x, y = proj(job.lon, job.lat)
        row = modes[job.id]
        stroke = "#c00" if row["mode"] == "none" else "#222"
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.2" fill="{fills[row["mode"]]}" '
                     f'stroke="{stroke}" stroke-width="1"><title>{html.escape(job.id)} '
                     f"{job.weight_kg} kg: {row['mode']} {html.escape(str(row['reason']))}"
                     "</title></circle>")
    for p in problem.ports:
        x, y = proj(p.lon, p.lat)
        parts.append(f'<rect x="{x - 6:.1f}" y="{y - 6:.1f}" width="12" height="12" '
                     f'fill="#000"><title>{html.escape(p.id)}: {p.drones} drones</title></rect>')
    table = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                    for k, v in totals.items() if not isinstance(v, dict | list))
    intro = ("Black squares: droneports. Coloured lines: sorties (one colour per drone); "
             "hover for the\ntimes, parcels and energy. Red areas: avoided airspace; red "
             "dashed: height-limited (airport\nhorizontal surface, approximated); orange: "
             "permit areas (crossings are listed in\nflights.geojson). Dots: parcels, blue "
             "by drone, green by van, white with a red ring refused.\n")
    return svg_page(title="Hakobu: drone flight plan", heading="Drone flight plan",
                    intro=intro, svg="".join(parts),
                    side=f"<h2>The day</h2><table>{table}</table>",
                    size=(width, height), attribution=attribution,
                    css="td, th { text-align: left; padding: 0 .6em 0 0; font-size: small; }")


def plan_totals(problem: DroneProblem, plan: DronePlan,
                mixed: MixedPlan | None = None) -> dict[str, Any]:
    """The day's totals (printed by the command and written to ``plan.json``)."""
    rows = delivery_rows(problem, plan, mixed)
    by_mode = {m: sum(r["mode"] == m for r in rows) for m in ("drone", "van", "none")}
    reasons: dict[str, int] = {}
    for r in rows:
        if r["mode"] == "none":
            key = str(r["reason"]).split(":")[0] or "unknown"
            reasons[key] = reasons.get(key, 0) + 1
    done = plan.completion_s() if mixed is None else mixed.completion_s()
    out: dict[str, Any] = {
        "jobs": len(problem.jobs),
        "by_drone": by_mode["drone"],
        "by_van": by_mode["van"],
        "refused": by_mode["none"],
        "refused_by_reason": reasons,
        "sorties": len(plan.sorties),
        "drones": len(problem.drones()),
        "flight_km": round(sum(path_length_m(p) for s in plan.sorties for p in s.paths)
                           / 1000, 2),
        "energy_wh": round(sum(s.energy_wh for s in plan.sorties), 1),
        "min_reserve_left_pct": round(min((100 * (1 - s.energy_wh / problem.spec.battery_wh)
                                           for s in plan.sorties), default=100.0), 1),
        "permit_crossings": sum(len(s.permits) for s in plan.sorties),
        "completion": clock(done) if done is not None else "",
    }
    if mixed is not None:
        out["van_km"] = round(mixed.van_km(), 2)
    return out


def write_flight_plan(out: Path, fday: FlightDay, *, day: date, inputs: dict[str, Any],
                      road: Any = None, attribution: str = "") -> dict[str, Any]:
    """Write flights.geojson, deliveries.csv, summary.csv, plan.json and map.html.

    ``day`` dates the flight times; ``inputs`` goes into ``plan.json``; ``road`` (a road
    graph) is drawn under the map. Returns the totals (as in ``plan.json``).
    """
    problem, plan, airspace, mixed = fday.problem, fday.plan, fday.airspace, fday.mixed
    out.mkdir(parents=True, exist_ok=True)
    wind = {"speed_mps": problem.wind.speed_mps, "from_deg": problem.wind.from_deg}
    doc = flights_geojson(problem, plan, day, wind)
    (out / "flights.geojson").write_text(json.dumps(doc, ensure_ascii=False),
                                         encoding="utf-8")
    _write_csv(out / "deliveries.csv", delivery_rows(problem, plan, mixed))
    _write_csv(out / "summary.csv", _drone_rows(problem, plan))
    totals = plan_totals(problem, plan, mixed)
    rules = [{"name": a.name, "kind": a.kind, "policy": a.policy,
              "height_limit_m": a.height_limit_m} for a in airspace.areas]
    full = {"date": day.isoformat(), **totals, "wind": wind,
            "drone": {k: getattr(problem.spec, k) for k in problem.spec.__slots__},
            "airspace": {"ceiling_m": airspace.ceiling_m, "areas": len(rules),
                         "avoid": sum(r["policy"] == "avoid" for r in rules),
                         "permit": sum(r["policy"] == "permit" for r in rules),
                         "notes": list(airspace.notes)},
            "inputs": inputs}
    (out / "plan.json").write_text(json.dumps(full, indent=1, ensure_ascii=False),
                                   encoding="utf-8")
    page = html_map(fday, totals, road=road, attribution=attribution)
    (out / "map.html").write_text(page, encoding="utf-8")
    return totals
