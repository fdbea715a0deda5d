"""``hakobu region``: inspect the built-in region or a region built from the user's files."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

_SUMMARY_KEYS = ("nodes", "edges", "stops", "population", "hospitals")


def _progress(message: str) -> None:
    typer.echo(f"... {message}", err=True)


def _print_summary(summary: dict[str, Any], elapsed_s: float) -> None:
    typer.echo(f"region      {summary['name']}")
    typer.echo(f"road graph  {summary['nodes']:,} nodes, {summary['edges']:,} edges (car)")
    typer.echo(f"walk graph  {summary['walk_nodes']:,} nodes, {summary['walk_edges']:,} edges")
    typer.echo(f"stops       {summary['stops']:,} ({summary['stops_in_area']:,} near the roads)")
    typer.echo(
        f"population  {summary['population']:,} (65+: {summary['age65plus']:,}) in the mesh cells"
    )
    typer.echo(f"hospitals   {summary['hospitals']:,} (POIs: {summary['pois']:,})")
    typer.echo(f"no-fly      {summary['no_fly_polygons']:,} polygons")
    b = summary["bounds"]
    typer.echo(f"bounds      lon {b[0]:.4f}..{b[2]:.4f}, lat {b[1]:.4f}..{b[3]:.4f}")
    typer.echo(f"loaded in   {elapsed_s:.1f} s")


def info(
    osm: Annotated[
        Path | None,
        typer.Option(help="OSM file (.osm, .osm.bz2, .osm.pbf); default: built-in Kumamoto."),
    ] = None,
    gtfs: Annotated[
        list[Path] | None, typer.Option(help="GTFS / GTFS-JP zip (repeatable).")
    ] = None,
    population: Annotated[
        Path | None, typer.Option(help="e-Stat 500 m mesh CSV (table T001101, CP932).")
    ] = None,
    pois: Annotated[
        list[Path] | None, typer.Option(help="GeoJSON points, e.g. hospitals (repeatable).")
    ] = None,
    no_fly: Annotated[
        list[Path] | None,
        typer.Option("--no-fly", help="GeoJSON polygons, e.g. DIDs or airports (repeatable)."),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON object (nodes, edges, stops, ...)."),
    ] = False,
    cache_dir: Annotated[
        Path | None,
        typer.Option(help="Region cache folder (default $HAKOBU_CACHE_DIR or ~/.cache/hakobu)."),
    ] = None,
) -> None:
    """Print a region's summary: road graph size, stops, population, hospitals."""
    from api.inputs import InputError, check_folder, check_region_files, region_warnings
    from maps.errors import MapsError
    from maps.region import default_region, region_from_files

    try:
        check_region_files(osm, gtfs=gtfs or [], population=population, pois=pois or [],
                           no_fly=no_fly or [])
        if cache_dir is not None:
            check_folder(cache_dir, "--cache-dir")
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    start = time.perf_counter()
    try:
        if osm is None:
            region = default_region(cache_dir=cache_dir, progress=_progress)
        else:
            region = region_from_files(
                osm,
                gtfs=gtfs or [],
                population=population,
                pois=pois or [],
                no_fly=no_fly or [],
                cache_dir=cache_dir,
                progress=_progress,
            )
    except (MapsError, OSError) as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(code=2) from None
    for line in region_warnings(region, gtfs=gtfs or [], population=population,
                                pois=pois or []):
        typer.echo(f"warning: {line}", err=True)
    summary = region.summary()
    if as_json:
        out = {k: summary[k] for k in _SUMMARY_KEYS}
        out.update({k: v for k, v in summary.items() if k not in out})
        typer.echo(json.dumps(out, ensure_ascii=False))
    else:
        _print_summary(summary, time.perf_counter() - start)


def register(app: typer.Typer) -> None:
    """Add the ``region`` command group to the ``hakobu`` application."""
    group = typer.Typer(help="Inspect regions (road graph, stops, population, POIs).")
    group.command("info")(info)
    app.add_typer(group, name="region")
