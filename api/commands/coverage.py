"""``hakobu coverage``: the coverage-gap study (交通空白) of the built-in region or of the
user's files, into ``./hakobu-out/`` (or ``--out DIR``).

Inputs as ``hakobu simulate`` takes them (``--osm`` with ``--gtfs`` ..., ``--population``,
``--pois``); without ``--population`` (or with a census file that does not touch the map)
the residents are estimated from the OSM buildings, and the report says so. Every flag
and file is checked before the slow work; a bad one ends the run with one ``error:``
line and exit status 2.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from api.commands import DEFAULT_OUT, RegionFiles, check_out
from api.commands import fail as _fail
from api.commands import progress as _progress


def _counts(flag: str, text: str | None) -> list[int]:
    """``"0,2,4,8"`` -> ``[0, 2, 4, 8]``; a bad list ends the run naming the flag."""
    if text is None:
        return []
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise _fail(f"{flag}: need whole numbers separated by commas, got {text!r}") from None
    if not values or any(v < 0 or v > 200 for v in values):
        raise _fail(f"{flag}: need counts between 0 and 200, got {text!r}")
    return values


def coverage(  # noqa: PLR0913
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = DEFAULT_OUT,
    osm: Annotated[Path | None, typer.Option("--osm", help="OSM extract of the study area.")
                   ] = None,
    gtfs: Annotated[list[Path] | None, typer.Option(
        "--gtfs", help="GTFS / GTFS-JP zip (repeatable; stops merged).")] = None,
    population: Annotated[Path | None, typer.Option(
        "--population", help="e-Stat 500 m mesh CSV (T001101).")] = None,
    pois: Annotated[list[Path] | None, typer.Option(
        "--pois", help="Hospitals GeoJSON (repeatable).")] = None,
    stop_m: Annotated[float, typer.Option(
        "--stop-m", help="Walk beyond which a bus stop is out of reach, m.")] = 500.0,
    station_m: Annotated[float, typer.Option(
        "--station-m", help="Walk beyond which a station is out of reach, m.")] = 1000.0,
    min_departures: Annotated[int, typer.Option(
        "--min-departures", help="Weekday departures a stop needs to count.")] = 10,
    max_access_m: Annotated[float, typer.Option(
        "--max-access-m", help="Farthest straight walk to the mapped walk graph, m.")
    ] = 250.0,
    detour: Annotated[float, typer.Option(
        "--detour", help="Walk estimate: this times the straight line.")] = 1.3,
    hospital_min: Annotated[float, typer.Option(
        "--hospital-min", help="Target drive time to a hospital, minutes.")] = 30.0,
    fleet: Annotated[str | None, typer.Option(
        "--fleet", help="Scenarios: on-demand fleet sizes to simulate, e.g. 0,2,4,8.")
    ] = None,
    drones: Annotated[str | None, typer.Option(
        "--drones", help="Scenarios: drone counts to plan, e.g. 0,4 (needs --fleet).")
    ] = None,
    scenario_config: Annotated[Path | None, typer.Option(
        "--scenario-config", help="Scenario TOML: demand rates, drone policy, costs.")
    ] = None,
    no_fly: Annotated[list[Path] | None, typer.Option(
        "--no-fly", help="Scenarios: no-fly GeoJSON layers for the drones on your map "
                         "(DID, airport, geofence; repeatable; needs --osm).")] = None,
) -> None:
    """Find who lives beyond reach of useful transit and how far hospitals are."""
    from api.inputs import InputError, check_region_files
    from dispatch.coverage import CoverageError, Thresholds
    from dispatch.coverage_study import run_study
    from maps.errors import MapsError

    t0 = time.perf_counter()
    try:
        th = Thresholds(stop_m=stop_m, station_m=station_m, min_departures=min_departures,
                        max_access_m=max_access_m, detour=detour,
                        hospital_target_min=hospital_min)
    except CoverageError as exc:
        flag = str(exc).split(":")[0].replace("_", "-").replace("hospital-target-min",
                                                                 "hospital-min")
        raise _fail(f"--{flag}:{str(exc).split(':', 1)[1]}") from None
    fleets = _counts("--fleet", fleet)
    drone_counts = _counts("--drones", drones) or [0]
    if drones is not None and not fleets:
        raise _fail("--drones: give --fleet too (e.g. --fleet 0,2,4 --drones 0,4)")
    cfg = None
    if scenario_config is not None:
        from dispatch.coverage_scenarios import load_scenario_config

        try:
            cfg = load_scenario_config(scenario_config)
        except CoverageError as exc:
            raise _fail(f"--scenario-config {exc}") from None
    files = RegionFiles(osm=osm, gtfs=tuple(gtfs or ()), population=population,
                        pois=tuple(pois or ()), no_fly=tuple(no_fly or ()))
    try:
        check_region_files(osm, gtfs=files.gtfs, population=population, pois=files.pois,
                           no_fly=files.no_fly)
    except InputError as exc:
        raise _fail(str(exc)) from None
    check_out(out)
    try:
        done = run_study(files, th, out, fleets=fleets, drones=drone_counts,
                         scenario_config=cfg, progress=_progress)
    except (CoverageError, MapsError) as exc:
        raise _fail(str(exc)) from None
    s = done.result.summary
    typer.echo(f"{s['region']}: {s['population_in_gap']:,} of {s['population_total']:,} "
               f"residents ({100 * s['share_in_gap']:.1f} %) in a transport gap, "
               f"{s['population_65plus_in_gap']:,} of them aged 65+; {s['cells_in_gap']} of "
               f"{s['cells_total']} cells; {s['population_hospital_beyond_target']:,} more "
               f"than {hospital_min:g} min from a hospital by car")
    if done.scenarios is not None:
        for r in done.scenarios.rows:
            typer.echo(
                f"  {r['vehicles']} vehicles, {r['drones']} drones: "
                f"{100 * r['served_share']:.0f} % of {done.scenarios.info['ride_requests']} "
                f"ride requests served, cost per trip {r['cost_per_trip_jpy'] or '-'} JPY, "
                f"{r['parcels_by_drone']} of {r['parcels']} parcels by drone; "
                f"{r['gap_residents_either_under_target']:,} gap residents under "
                f"{hospital_min:g} min of a hospital (a trip there, or medicine flown from it)")
    typer.echo(f"wrote {out / 'summary.json'}, cells.gpkg, cells.csv, coverage.png, "
               f"map.html{', scenarios.csv/.json/.png' if fleets else ''} and summary.md in "
               f"{time.perf_counter() - t0:.1f} s")


def register(app: typer.Typer) -> None:
    """Add ``coverage`` to the ``hakobu`` application."""
    app.command("coverage")(coverage)
