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
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.commands import DEFAULT_OUT, RegionFiles, load_region
from api.commands import fail as _fail
from api.commands import progress as _progress

if TYPE_CHECKING:
    from dispatch.coverage import CoverageResult, Thresholds
    from maps.region import Region

ATTRIBUTION = ("Roads © OpenStreetMap contributors (ODbL); stops and timetables from the "
               "operators' GTFS-JP feeds; population: 2020 census 500 m mesh (e-Stat).")


def load_study_region(files: RegionFiles, say: Any = None) -> tuple[Region, list[Path]]:
    """Load the region and return it with the GTFS feeds its stops came from."""
    from maps.region import DEFAULT_DATA_DIR

    feeds = sorted(DEFAULT_DATA_DIR.glob("*.gtfs.zip")) if files.osm is None else list(
        files.gtfs)
    return load_region(files, say), feeds


def run_study(files: RegionFiles, thresholds: Thresholds, out: Path, *,
              progress: Any = None) -> CoverageResult:
    """Load the region, run the access study, write the report; return the result.

    The one study function behind ``hakobu coverage`` and the batch tasks.
    """
    from dispatch.coverage import access_study, building_proxy
    from dispatch.coverage_report import write_coverage_report

    region, feeds = load_study_region(files, progress)
    population = None
    source = "2020 census 500 m mesh (e-Stat T001101)"
    if len(region.population) == 0 or not (region.population["total"] > 0).any():
        if files.osm is None:
            from dispatch.coverage import CoverageError

            raise CoverageError("the built-in region has no population")
        population = building_proxy(files.osm)
        source = (f"OSM buildings ({int(population['buildings'].sum()):,}) x 2.21 persons "
                  "(the 2020 census mean household size; one household per building): "
                  "a proxy, no census data was given; ages unknown (0)")
    result = access_study(region, feeds, thresholds, population=population,
                          population_source="census" if population is None else source,
                          progress=progress)
    sources = {"roads": str(files.osm or "built-in Kumamoto OSM extract (2023-01)"),
               "gtfs": [p.name for p in feeds], "population": source if population is not
               None else str(files.population or "built-in 2020 census mesh (Kumamoto)"),
               "hospitals": [str(p) for p in files.pois] or "built-in Kumamoto hospitals"}
    write_coverage_report(out, result, region, sources=sources, attribution=ATTRIBUTION)
    return result


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
) -> None:
    """Find who lives beyond reach of useful transit and how far hospitals are."""
    from api.inputs import InputError, check_region_files
    from dispatch.coverage import CoverageError, Thresholds
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
    files = RegionFiles(osm=osm, gtfs=tuple(gtfs or ()), population=population,
                        pois=tuple(pois or ()))
    try:
        check_region_files(osm, gtfs=files.gtfs, population=population, pois=files.pois)
    except InputError as exc:
        raise _fail(str(exc)) from None
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fail(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    try:
        result = run_study(files, th, out, progress=_progress)
    except (CoverageError, MapsError) as exc:
        raise _fail(str(exc)) from None
    s = result.summary
    typer.echo(f"{s['region']}: {s['population_in_gap']:,} of {s['population_total']:,} "
               f"residents ({100 * s['share_in_gap']:.1f} %) in a transport gap, "
               f"{s['population_65plus_in_gap']:,} of them aged 65+; {s['cells_in_gap']} of "
               f"{s['cells_total']} cells; {s['population_hospital_beyond_target']:,} more "
               f"than {hospital_min:g} min from a hospital by car")
    typer.echo(f"wrote {out / 'summary.json'}, cells.gpkg, cells.csv, coverage.png, "
               f"map.html and summary.md in {time.perf_counter() - t0:.1f} s")


def register(app: typer.Typer) -> None:
    """Add ``coverage`` to the ``hakobu`` application."""
    app.command("coverage")(coverage)
