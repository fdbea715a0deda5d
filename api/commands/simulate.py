"""``hakobu simulate`` and ``hakobu demo``: replay a service day and report KPIs."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

logger = logging.getLogger(__name__)

DEFAULT_OUT = Path("hakobu-out")

#: Solver iterations per re-optimization in ``simulate``/``demo``, and the time cap.
REOPT_ITERATIONS = 100
REOPT_CAP_S = 5.0


def _progress(message: str) -> None:
    typer.echo(message, err=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """What ``simulate`` replays (``demo`` uses the defaults)."""

    seed: int = 0
    vehicles: int = 5
    requests: int = 150
    deliveries: int = 30
    vans: int = 1
    delays: int = 0
    breakdowns: int = 0


def _check_args(o: RunOptions) -> None:
    checks = (("--seed", o.seed, 0), ("--vehicles", o.vehicles, 1),
              ("--requests", o.requests, 0), ("--deliveries", o.deliveries, 0),
              ("--vans", o.vans, 0), ("--delays", o.delays, 0), ("--breakdowns", o.breakdowns, 0))
    for name, value, low in checks:
        if value < low:
            raise _fail(f"{name} must be at least {low}, got {value}")
    if o.breakdowns > o.vehicles:
        raise _fail(f"--breakdowns ({o.breakdowns}) must not exceed --vehicles ({o.vehicles})")


def run(options: RunOptions, out: Path) -> dict[str, object]:
    """Build the built-in region, generate and replay a day, write the report; return KPIs."""
    from dispatch.demand import (
        DemandConfig,
        generate_day,
        sources_from_region,
        travel_table_for_day,
    )
    from dispatch.report import kpi_table, write_report
    from dispatch.simulate import SimulationConfig, simulate_day
    from maps.region import DEFAULT_ATTRIBUTION, default_region

    o = options
    t0 = time.perf_counter()
    _progress("loading the built-in Kumamoto region ...")
    region = default_region()
    _progress(f"region ready in {time.perf_counter() - t0:.1f} s; generating demand ...")
    day = generate_day(sources_from_region(region), DemandConfig(
        seed=o.seed, n_requests=o.requests, n_deliveries=o.deliveries))
    _progress(f"{len(day.rides)} rides, {len(day.deliveries)} deliveries on "
              f"{len(day.places)} places; computing road travel times ...")
    table = travel_table_for_day(region, day)
    _progress("dispatching the day ...")
    # Re-optimization bounded by iterations (the time limit is only a cap) so the same
    # seed gives the same day on any machine.
    result = simulate_day(day, table, SimulationConfig(
        seed=o.seed, vehicles=o.vehicles, vans=o.vans if o.deliveries else 0,
        delays=o.delays, breakdowns=o.breakdowns,
        reopt_time_limit_s=REOPT_CAP_S, reopt_max_iterations=REOPT_ITERATIONS),
        progress=_progress)
    kpis = write_report(result, out, road=region.road, attribution=DEFAULT_ATTRIBUTION)
    typer.echo(kpi_table(kpis))
    for note in result.notes:
        typer.echo(f"note: {note}")
    typer.echo(f"wrote {out / 'kpis.json'}, {out / 'report.json'}, {out / 'map.html'} and "
               f"plots ({time.perf_counter() - t0:.1f} s)")
    return kpis


def simulate(
    seed: Annotated[int, typer.Option(help="Seed of demand and rider behaviour.")] = 0,
    vehicles: Annotated[int, typer.Option(help="Ride vehicles (8 seats, 1 wheelchair).")] = 5,
    requests: Annotated[int, typer.Option(help="Ride requests in the day.")] = 150,
    deliveries: Annotated[int, typer.Option(help="Pharmacy-to-home deliveries.")] = 30,
    vans: Annotated[int, typer.Option(help="Delivery vans.")] = 1,
    delays: Annotated[int, typer.Option(help="Seeded 15-minute traffic delays.")] = 0,
    breakdowns: Annotated[int, typer.Option(help="Ride vehicles that break down.")] = 0,
    out: Annotated[Path, typer.Option(help="Output directory.")] = DEFAULT_OUT,
) -> None:
    """Replay a seeded service day on the built-in region and write DIR/kpis.json."""
    options = RunOptions(seed=seed, vehicles=vehicles, requests=requests,
                         deliveries=deliveries, vans=vans, delays=delays,
                         breakdowns=breakdowns)
    _check_args(options)
    _run_or_fail(options, out)


def demo(
    out: Annotated[Path, typer.Option(help="Output directory.")] = DEFAULT_OUT,
) -> None:
    """Run a demo day (rides and deliveries) on the built-in Kumamoto region, offline.

    Drones join the demo in a later issue; today deliveries go by van.
    """
    _run_or_fail(RunOptions(), out)


def _run_or_fail(options: RunOptions, out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise _fail(f"--out {out} exists and is not a directory")
    try:
        run(options, out)
    except (ValueError, OSError) as exc:
        raise _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` and ``demo`` commands to ``app``."""
    app.command("simulate")(simulate)
    app.command("demo")(demo)
