"""``hakobu drone-plan``: plan a drone (or van + drone) delivery day and write flight plans.

With no arguments it plans a seeded demo day on the built-in Kumamoto region (DIDs
avoided: Level 3.5 operations) into ``./hakobu-out/``. With ``--jobs`` and
``--droneports`` (CSV, :mod:`dispatch.flight_plan`) it plans the user's day, over the
built-in airspace or, with ``--osm FILE`` and ``--no-fly GEOJSON ...``, over the user's:
OSM restricted areas (aerodromes, helipads, military land, prisons, power plants and
substations) plus every no-fly layer (a file whose name contains ``did`` is a DID layer,
one containing ``c28`` or ``airport`` airport grounds, any other an avoided geofence;
``--geofence`` files may say ``policy: permit`` per feature).

Every flag is checked before the slow work starts; a bad one ends the run with one
``error:`` line naming the flag, file or row, and exit status 2.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.commands import DEFAULT_OUT, RegionFiles, check_out, load_region
from api.commands import fail as _fail
from api.commands import progress as _progress

if TYPE_CHECKING:
    import numpy as np

    from maps.airspace import Airspace
    from maps.region import Region
    from routing.drone import DroneJob, Droneport, DroneSpec
    from routing.model import TimeWindow

@dataclass(frozen=True, slots=True, kw_only=True)
class AirspaceFlags:
    """How the airspace is built."""

    osm: Path | None
    no_fly: tuple[Path, ...]
    geofence: tuple[Path, ...]
    did_policy: str | None
    level4: bool
    airport_radius_m: float
    airport_height_m: float
    ceiling_m: float


def _hours(text: str) -> TimeWindow:
    from dispatch.flight_plan import FlightPlanInputError, parse_clock
    from routing.model import TimeWindow

    a, sep, b = text.partition("-")
    try:
        if not sep:
            raise FlightPlanInputError(f"--hours: {text!r} is not HH:MM-HH:MM")
        lo, hi = parse_clock(a, "--hours"), parse_clock(b, "--hours")
    except FlightPlanInputError as exc:
        raise _fail(str(exc)) from None
    if hi <= lo:
        raise _fail(f"--hours: {text!r} ends before it starts")
    return TimeWindow(earliest=lo, latest=hi)


def _day(text: str | None) -> date:
    if text is None:
        return datetime.now(timezone(timedelta(hours=9))).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(f"--date: {text!r} is not a date YYYY-MM-DD") from None


def _spec(values: dict[str, float | None]) -> DroneSpec:
    from routing.drone import DroneSpec
    from routing.errors import ProblemError

    given = {k: v for k, v in values.items() if v is not None}
    if "swap_s" in given:
        given["swap_s"] = int(given["swap_s"])
    try:
        return DroneSpec(**given)  # type: ignore[arg-type]
    except ProblemError as exc:
        field = str(exc.field).split(".")[-1]
        raise _fail(f"--{field.replace('_', '-')}: {exc.problem}") from None


def _check_files(flags: AirspaceFlags, jobs: Path | None, ports: Path | None) -> None:
    for what, paths in (("--osm", (flags.osm,) if flags.osm else ()),
                        ("--no-fly", flags.no_fly), ("--geofence", flags.geofence),
                        ("--jobs", (jobs,) if jobs else ()),
                        ("--droneports", (ports,) if ports else ())):
        for p in paths:
            if not p.is_file():
                raise _fail(f"{what} {p}: file not found")
    if (jobs is None) != (ports is None):
        raise _fail("--jobs and --droneports go together (a user day needs both files)")
    if flags.osm is not None and jobs is None:
        raise _fail("--osm: give the day with --jobs JOBS.csv and --droneports PORTS.csv")


def _airspace(flags: AirspaceFlags, region: Region | None,
              points: np.ndarray) -> Airspace:
    from maps.airspace import airspace_for_region
    from maps.region import no_fly_from_files

    common: dict[str, Any] = {
        "did_policy": flags.did_policy, "level4": flags.level4,
        "geofences": list(flags.geofence),
        "airport_surface_radius_m": flags.airport_radius_m,
        "airport_surface_height_m": flags.airport_height_m, "ceiling_m": flags.ceiling_m,
    }
    if flags.osm is None and not flags.no_fly:
        return airspace_for_region(region or load_region(RegionFiles(), _progress), **common)
    lo, hi = points.min(axis=0), points.max(axis=0)
    site = SimpleNamespace(bounds=(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])),
                           no_fly=no_fly_from_files(list(flags.no_fly)))
    return airspace_for_region(site, osm=[flags.osm] if flags.osm else [], **common)


#: Speed on the stretch between a point and the nearest modelled road (minor roads that
#: the extract does not hold), km/h.
ACCESS_KMH = 20.0


def drone_plan(  # noqa: PLR0913, C901
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = DEFAULT_OUT,
    jobs: Annotated[Path | None, typer.Option(
        "--jobs", help="Parcels CSV: id,lon,lat,weight_kg,earliest,latest,priority.")] = None,
    droneports: Annotated[Path | None, typer.Option(
        "--droneports", help="Droneports CSV: id,lon,lat,drones.")] = None,
    osm: Annotated[Path | None, typer.Option(
        "--osm", help="OSM file: restricted areas (and roads for --vans).")] = None,
    no_fly: Annotated[list[Path] | None, typer.Option(
        "--no-fly", help="No-fly GeoJSON layer (DID, airport grounds, geofence); "
        "repeatable.")] = None,
    geofence: Annotated[list[Path] | None, typer.Option(
        "--geofence", help="Geofence GeoJSON (feature property policy=avoid|permit, "
        "optional height_limit_m); repeatable.")] = None,
    did_policy: Annotated[str | None, typer.Option(
        "--did-policy", help="avoid (Level 3.5, the default) or permit.")] = None,
    level4: Annotated[bool, typer.Option(
        "--level4", help="The operator holds a Level 4 permission: DIDs may be crossed "
        "(each crossing is listed).")] = False,
    airport_radius_m: Annotated[float, typer.Option(
        "--airport-radius-m", help="Approximated airport horizontal surface radius.")
    ] = 4000.0,
    airport_height_m: Annotated[float, typer.Option(
        "--airport-height-m", help="Height limit inside the horizontal surface.")] = 45.0,
    ceiling_m: Annotated[float, typer.Option(
        "--ceiling-m", help="Altitude ceiling above ground.")] = 150.0,
    wind_speed: Annotated[float, typer.Option("--wind-speed", help="Wind, m/s.")] = 0.0,
    wind_from: Annotated[float, typer.Option(
        "--wind-from", help="Direction the wind blows from, degrees (0 = north).")] = 0.0,
    payload_kg: Annotated[float | None, typer.Option("--payload-kg")] = None,
    battery_wh: Annotated[float | None, typer.Option("--battery-wh")] = None,
    reserve: Annotated[float | None, typer.Option(
        "--reserve", help="Battery reserve at landing, share (default 0.2).")] = None,
    cruise_mps: Annotated[float | None, typer.Option("--cruise-mps")] = None,
    cruise_alt_m: Annotated[float | None, typer.Option("--cruise-alt-m")] = None,
    max_wind_mps: Annotated[float | None, typer.Option("--max-wind-mps")] = None,
    swap_s: Annotated[float | None, typer.Option(
        "--swap-s", help="Battery swap / charge time between sorties.")] = None,
    hours: Annotated[str, typer.Option("--hours", help="Operating hours.")] = "08:00-18:00",
    day: Annotated[str | None, typer.Option(
        "--date", help="The day (YYYY-MM-DD) of the flight-plan times; today by default.")
    ] = None,
    objective: Annotated[str, typer.Option("--objective", help="time or cost.")] = "time",
    time_limit: Annotated[float, typer.Option(
        "--time-limit", help="Seconds of search.")] = 2.0,
    max_stops: Annotated[int, typer.Option(
        "--max-stops", help="Most parcels per sortie.")] = 4,
    vans: Annotated[int, typer.Option(
        "--vans", help="Vans at every droneport: a mixed van + drone plan.")] = 0,
    van_snap_m: Annotated[float, typer.Option(
        "--van-snap-m", help="Farthest a parcel may lie from a modelled road for a van "
        "(the stretch is driven at 20 km/h).")] = 500.0,
    sidekick: Annotated[bool, typer.Option(
        "--sidekick", help="With --vans: each van carries a drone launched and recovered "
        "at its stops (flying sidekick).")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the demo day and search.")] = 0,
    demo_jobs: Annotated[int, typer.Option(
        "--demo-jobs", help="Parcels of the demo day.")] = 40,
) -> None:
    """Plan drone sorties (and vans with --vans) and write flight plans into --out."""
    import numpy as np

    from dispatch.flight_plan import (
        FlightDay,
        FlightPlanInputError,
        check_ports,
        demo_day,
        read_jobs_csv,
        read_ports_csv,
        write_day_csv,
        write_flight_plan,
    )
    from maps.errors import MapsError
    from maps.matrix import masked_travel_matrices
    from routing.drone import DroneProblem, Wind
    from routing.drone_plan import (
        AirspaceAir,
        DronePlanParams,
        MixedParams,
        VanFleet,
        drone_points,
        plan_drones,
        plan_mixed,
    )
    from routing.errors import ProblemError

    t0 = time.perf_counter()
    flags = AirspaceFlags(osm=osm, no_fly=tuple(no_fly or ()), geofence=tuple(geofence or ()),
                          did_policy=did_policy, level4=level4,
                          airport_radius_m=airport_radius_m, airport_height_m=airport_height_m,
                          ceiling_m=ceiling_m)
    if did_policy is not None and did_policy not in ("avoid", "permit"):
        raise _fail(f"--did-policy: {did_policy!r} is not avoid or permit")
    if objective not in ("time", "cost"):
        raise _fail(f"--objective: {objective!r} is not time or cost")
    for name, val, low in (("--time-limit", time_limit, 0.0), ("--ceiling-m", ceiling_m, 0.0)):
        if not (math.isfinite(val) and val > low):
            raise _fail(f"{name}: must be a positive number, got {val}")
    for name, val in (("--airport-radius-m", airport_radius_m), ("--van-snap-m", van_snap_m),
                      ("--airport-height-m", airport_height_m), ("--wind-speed", wind_speed)):
        if not (math.isfinite(val) and val >= 0):
            raise _fail(f"{name}: must be a number >= 0, got {val}")
    if not math.isfinite(wind_from):
        raise _fail("--wind-from: must be a finite number of degrees")
    if sidekick and not vans:
        raise _fail("--sidekick: needs --vans N (the drone rides on the vans)")
    for name, n, low in (("--max-stops", max_stops, 1), ("--vans", vans, 0),
                         ("--demo-jobs", demo_jobs, 1)):
        if n < low:
            raise _fail(f"{name}: must be at least {low}, got {n}")
    spec = _spec({"payload_kg": payload_kg, "battery_wh": battery_wh, "reserve": reserve,
                  "cruise_mps": cruise_mps, "cruise_alt_m": cruise_alt_m,
                  "max_wind_mps": max_wind_mps, "swap_s": swap_s})
    if spec.cruise_alt_m > ceiling_m:
        raise _fail(f"--cruise-alt-m: {spec.cruise_alt_m:g} m is above the ceiling "
                    f"--ceiling-m {ceiling_m:g} m")
    window = _hours(hours)
    when = _day(day)
    _check_files(flags, jobs, droneports)
    check_out(out)

    region: Region | None = None
    notes: tuple[str, ...] = ()
    job_list: list[DroneJob]
    port_list: list[Droneport]
    try:
        if jobs is not None and droneports is not None:
            job_list = read_jobs_csv(jobs, window)
            port_list = read_ports_csv(droneports)
            points = np.asarray([(p.lon, p.lat) for p in port_list]
                                + [(j.lon, j.lat) for j in job_list])
            _progress("building the airspace ...")
            airspace = _airspace(flags, None, points)
        else:
            region = load_region(RegionFiles(), _progress)
            airspace = _airspace(flags, region, np.zeros((1, 2)))
            demo = demo_day(region, airspace, spec=spec, n_jobs=demo_jobs, seed=seed,
                            hours=window)
            job_list, port_list, notes = list(demo.jobs), list(demo.ports), demo.notes
        bad = check_ports(port_list, airspace, spec.cruise_alt_m, 30.0)
        if bad:
            raise FlightPlanInputError(f"--droneports: {bad[0]}")
        problem = DroneProblem(jobs=tuple(job_list), ports=tuple(port_list), spec=spec,
                               wind=Wind(speed_mps=wind_speed, from_deg=wind_from),
                               hours=window)
        _progress(f"drone paths around {len(airspace.active(spec.cruise_alt_m, 'avoid'))} "
                  f"avoided areas for {len(job_list)} parcels and {len(port_list)} "
                  "droneports ...")
        air = AirspaceAir(airspace=airspace, cruise_altitude_m=spec.cruise_alt_m)
        legs = air.legs(drone_points(problem))
        mixed = None
        sidekicks: tuple[Any, ...] = ()
        off_road = 0
        if vans:
            if region is None:
                region = load_region(RegionFiles(osm=osm), _progress)
            depots = tuple(p.lonlat for p in port_list)
            dur, dist, on_road = masked_travel_matrices(
                region.edge_index(), np.asarray([*depots, *((j.lon, j.lat) for j in job_list)]),
                max_snap_m=van_snap_m, access_kmh=ACCESS_KMH)
            off_road = int((~on_road).sum())
            fleet = VanFleet(depots=depots, vans=(vans,) * len(depots), shift=window)
            _progress(f"planning {vans * len(depots)} vans and {len(problem.drones())} drones "
                      "...")
            mixed = plan_mixed(problem, legs, fleet, dur, dist, MixedParams(
                objective=objective, drone_time_limit_s=time_limit,
                van_time_limit_s=max(time_limit, 2.0), seed=seed))
            plan = mixed.drone
            if sidekick:
                from routing.sidekick import plan_sidekicks

                _progress("a drone on every van route (flying sidekick) ...")
                sidekicks = plan_sidekicks(mixed, problem, air, fleet, dur, dist)
        else:
            _progress(f"planning {len(problem.drones())} drones ...")
            plan = plan_drones(problem, legs, DronePlanParams(
                objective=objective, time_limit_s=time_limit, seed=seed,
                max_stops=max_stops))
    except (FlightPlanInputError, ProblemError, MapsError) as exc:
        raise _fail(str(exc)) from None
    inputs: dict[str, Any] = {
        "jobs": str(jobs) if jobs else "demo day", "droneports": str(droneports) if
        droneports else "demo day", "osm": str(osm) if osm else "built-in Kumamoto",
        "no_fly": [str(p) for p in flags.no_fly] or "built-in DID and Kumamoto Airport",
        "geofence": [str(p) for p in flags.geofence], "objective": objective,
        "time_limit_s": time_limit, "seed": seed, "vans_per_port": vans,
        "off_road_points": off_road, "notes": list(notes),
    }
    attribution = ("Airspace: e-Stat 2020 census DID boundaries; MLIT 国土数値情報 C28 "
                   "airport data; © OpenStreetMap contributors (ODbL).")
    fday = FlightDay(problem=problem, plan=plan, airspace=airspace, mixed=mixed)
    totals = write_flight_plan(out, fday, day=when, inputs=inputs,
                               road=region.road if region is not None else None,
                               attribution=attribution)
    if jobs is None:
        write_day_csv(out, job_list, port_list)
    if sidekick:
        _write_sidekicks(out, problem, sidekicks)
    for note in notes:
        _progress(note)
    reasons = ", ".join(f"{k} {v}" for k, v in totals["refused_by_reason"].items())
    van = f", {totals['by_van']} by van ({totals['van_km']} van-km)" if mixed else ""
    typer.echo(f"{totals['jobs']} parcels: {totals['by_drone']} by drone in "
               f"{totals['sorties']} sorties{van}, {totals['refused']} refused"
               f"{' (' + reasons + ')' if reasons else ''}; {totals['flight_km']} km flown, "
               f"lowest reserve left {totals['min_reserve_left_pct']} %, done by "
               f"{totals['completion'] or '-'}")
    for r in sidekicks:
        typer.echo(f"  {r.van} with its drone: " + (
            f"{len(r.drone_jobs)} parcels flown from the van, route "
            f"{r.van_only_s / 60:.0f} -> {r.with_drone_s / 60:.0f} min, "
            f"{r.van_only_m / 1000:.1f} -> {r.with_drone_m / 1000:.1f} km" if r.used
            else f"not used ({r.reason})"))
    day_files = " and the day as jobs.csv, droneports.csv" if jobs is None else ""
    typer.echo(f"wrote {out / 'flights.geojson'}, deliveries.csv, summary.csv, plan.json, "
               f"map.html{day_files} in {time.perf_counter() - t0:.1f} s")


def _write_sidekicks(out: Path, problem: Any, routes: tuple[Any, ...]) -> None:
    """``sidekick.csv`` (one row per van route) and the same rows in ``plan.json``."""
    import csv
    import json

    rows = [{"van": r.van, "used": r.used, "reason": r.reason,
             "van_only_min": round(r.van_only_s / 60, 1),
             "with_drone_min": round(r.with_drone_s / 60, 1),
             "van_only_km": round(r.van_only_m / 1000, 2),
             "with_drone_km": round(r.with_drone_m / 1000, 2),
             "flown_from_van": " ".join(problem.jobs[j].id for j in r.drone_jobs)}
            for r in routes]
    with (out / "sidekick.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["van", "used", "reason", "van_only_min",
                                           "with_drone_min", "van_only_km", "with_drone_km",
                                           "flown_from_van"])
        w.writeheader()
        w.writerows(rows)
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    doc["sidekicks"] = rows
    (out / "plan.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False),
                                   encoding="utf-8")


def register(app: typer.Typer) -> None:
    """Add ``drone-plan`` to the ``hakobu`` application."""
    app.command("drone-plan")(drone_plan)
