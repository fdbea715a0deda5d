"""One coverage study from region files to report files (:func:`run_study`).

The function behind ``hakobu coverage`` and the batch tasks of :mod:`dispatch.batch`:
load the region, run the access study (:func:`dispatch.coverage.access_study`), write the
report (:func:`dispatch.coverage_report.write_coverage_report`) and, when fleets are
given, the scenarios (:mod:`dispatch.coverage_scenarios`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maps.files import RegionFiles, load_region

if TYPE_CHECKING:
    from dispatch.coverage import CoverageResult, Thresholds
    from dispatch.coverage_scenarios import ScenarioConfig, ScenarioResult
    from maps.region import Region

ATTRIBUTION = ("Roads © OpenStreetMap contributors (ODbL); stops and timetables from the "
               "operators' GTFS-JP feeds; population: 2020 census 500 m mesh (e-Stat).")


def study_feeds(files: RegionFiles) -> list[Path]:
    """The GTFS feeds the region's stops come from (the built-in five without ``osm``)."""
    from maps.region import DEFAULT_DATA_DIR

    if files.osm is None:
        return sorted(DEFAULT_DATA_DIR.glob("*.gtfs.zip"))
    return list(files.gtfs)


def load_study_region(files: RegionFiles, say: Callable[[str], None] | None = None
                      ) -> tuple[Region, list[Path]]:
    """Load the region and return it with the GTFS feeds its stops came from."""
    return load_region(files, say), study_feeds(files)


def study_access(region: Region, files: RegionFiles, feeds: Sequence[Path],
                 thresholds: Thresholds, *, progress: Callable[[str], None] | None = None
                 ) -> tuple[CoverageResult, dict[str, Any]]:
    """Run the access study on a loaded region; return it with the data sources.

    Without census cells the residents are estimated from the OSM buildings of
    ``files.osm`` (:func:`dispatch.coverage.building_proxy`), and the sources say so.
    """
    from dispatch.coverage import CoverageError, access_study, building_proxy

    population = None
    source = "2020 census 500 m mesh (e-Stat T001101)"
    if len(region.population) == 0 or not (region.population["total"] > 0).any():
        if files.osm is None:
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
    return result, sources


@dataclass(slots=True, kw_only=True)
class StudyOutput:
    """What :func:`run_study` computed (the files are in its ``out`` folder)."""

    result: CoverageResult
    scenarios: ScenarioResult | None = None


def run_study(files: RegionFiles, thresholds: Thresholds, out: Path, *,
              fleets: Sequence[int] = (), drones: Sequence[int] = (0,),
              scenario_config: ScenarioConfig | None = None,
              progress: Callable[[str], None] | None = None) -> StudyOutput:
    """Load the region, run the access study, write the report; return the results.

    With ``fleets``, also simulate every fleet size (and plan every drone count) for the
    gap residents and add ``scenarios.csv``/``.json``/``.png`` and a section of
    ``summary.md``; ``summary.json`` then holds the rows under ``scenarios``.

    Raises
    ------
    dispatch.coverage.CoverageError, maps.errors.MapsError
        Inputs the study cannot use (one line each).
    """
    from dispatch.coverage_report import write_coverage_report

    region, feeds = load_study_region(files, progress)
    result, sources = study_access(region, files, feeds, thresholds, progress=progress)
    scen = None
    extra: dict[str, Any] = {}
    markdown = ""
    if fleets:
        from dispatch.coverage_scenarios import (
            run_scenarios,
            scenarios_markdown,
            write_scenarios,
        )

        scen = run_scenarios(region, result, fleets, drones, scenario_config,
                             progress=progress)
        write_scenarios(out, scen)
        extra = {"scenarios": scen.rows,
                 "scenario_info": {k: v for k, v in scen.info.items() if k != "config"}}
        markdown = scenarios_markdown(scen)
    write_coverage_report(out, result, region, sources=sources, attribution=ATTRIBUTION,
                          extra=extra, more_markdown=markdown)
    return StudyOutput(result=result, scenarios=scen)
