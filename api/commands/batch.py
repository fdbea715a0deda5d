"""``hakobu coverage-batch REGIONS.toml``: coverage studies and fleet scenarios for many
regions, on a Dask ``LocalCluster`` (the default), an existing scheduler
(``--scheduler tcp://host:port``) or in this process (``--local``).

Writes ``results.parquet``, ``results.csv`` and ``summary.md`` into ``--out``, and each
task's row under ``tasks/`` (a re-run skips the tasks that finished). A region that fails
is reported with its error and does not stop the others; the exit status is 1 when any
task failed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from api.commands import check_out
from api.commands import fail as _fail
from api.commands import progress as _progress

DEFAULT_OUT = Path("hakobu-batch")


def _cell(v: Any) -> str:
    """A table cell: whole numbers without ``.0``, missing values as ``-``."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float) and v.is_integer() and abs(v) >= 1:
        return f"{int(v):,}"
    if isinstance(v, int | float):
        return f"{v:,}" if abs(v) >= 1000 else f"{v:g}"
    return str(v)


def failures(rows: list[dict[str, Any]]) -> list[str]:
    """One line per region and error: ``name: error (k tasks)``."""
    seen: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        if r["status"] != "ok":
            seen.setdefault((r["region"], r["error"]), []).append(r["kind"])
    return [f"{name}: {err} ({len(kinds)} task{'s' if len(kinds) > 1 else ''}: "
            f"{', '.join(sorted(set(kinds)))})" for (name, err), kinds in seen.items()]


def write_results(out: Path, rows: list[dict[str, Any]], header: list[str]) -> None:
    """Write ``results.parquet``, ``results.csv`` and ``summary.md``."""
    import pandas as pd

    frame = pd.DataFrame([{k: v for k, v in r.items() if k != "traceback"} for r in rows])
    frame.to_csv(out / "results.csv", index=False)
    frame.to_parquet(out / "results.parquet", index=False)
    lines = ["# Coverage batch", "", *header, ""]
    ok = frame[frame["status"] == "ok"]
    bad = frame[frame["status"] != "ok"]
    for name, part in ok.groupby("region", sort=False):
        lines += [f"## {name}", ""]
        access = part[part["kind"] == "access"]
        if len(access):
            a = access.iloc[0]
            cols = [c for c in ("population_total", "population_in_gap",
                                "population_65plus_in_gap", "cells_in_gap", "cells_total")
                    if c in access.columns]
            lines += [f"- {c}: {_cell(a[c])}" for c in cols]
            if "map" in access.columns and isinstance(a["map"], str) and a["map"]:
                lines += ["", f"![{name}]({a['map']})"]
        sc = part[part["kind"] == "scenario"]
        if len(sc):
            show = [c for c in ("fleet", "drones", "seed", "served_share", "wait_mean_min",
                                "wait_p95_min", "ride_mean_min", "vehicle_hours",
                                "cost_per_trip_jpy", "parcels_by_drone",
                                "gap_residents_either_under_target") if c in sc.columns]
            lines += ["", "| " + " | ".join(show) + " |", "|" + "---|" * len(show)]
            lines += ["| " + " | ".join(_cell(r[c]) for c in show) + " |"
                      for _, r in sc.iterrows()]
        lines.append("")
    if len(bad):
        lines += ["## Failed", ""]
        lines += [f"- {line}" for line in failures(rows)]
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def coverage_batch(
    batch_file: Annotated[Path, typer.Argument(help="REGIONS.toml: [[region]] tables and "
                                               "a [scenarios] table.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = DEFAULT_OUT,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Address of a running Dask scheduler (tcp://host:port).")
    ] = None,
    workers: Annotated[int, typer.Option(
        "--workers", help="Worker processes of the LocalCluster.")] = 2,
    local: Annotated[bool, typer.Option(
        "--local", help="Run the tasks in this process, one after the other.")] = False,
) -> None:
    """Run the coverage study and the fleet scenarios of every region in BATCH_FILE."""
    from dispatch.batch import BatchError, read_batch, run_batch

    if workers < 1:
        raise _fail(f"--workers: must be at least 1, got {workers}")
    if local and scheduler:
        raise _fail("--local and --scheduler: choose one")
    if scheduler is not None and not scheduler.startswith(("tcp://", "tls://", "inproc://")):
        raise _fail(f"--scheduler: {scheduler!r} is not a scheduler address tcp://host:port")
    try:
        batch = read_batch(batch_file)
    except BatchError as exc:
        raise _fail(str(exc)) from None
    check_out(out)
    try:
        run = run_batch(batch, out, scheduler=scheduler, local=local, workers=workers,
                        progress=_progress)
    except OSError as exc:  # the scheduler cannot be reached
        raise _fail(f"--scheduler {scheduler}: {' '.join(str(exc).split())}") from None
    header = [f"- batch: `{batch_file}`; {len(batch.regions)} regions, {len(run.rows)} tasks "
              f"({run.ran} run on {run.where} in {run.seconds:.1f} s, {run.skipped} "
              f"finished before, {run.failed} failed)",
              f"- scenarios: fleet {list(batch.fleet)}, drones {list(batch.drones)}, seeds "
              f"{list(batch.seeds)}"]
    write_results(out, run.rows, header)
    for line in failures(run.rows):
        typer.echo(f"failed: {line}", err=True)
    typer.echo(f"{len(run.rows)} tasks ({run.skipped} skipped, {run.ran} run, {run.failed} "
               f"failed) in {run.seconds:.1f} s; wrote {out / 'results.parquet'}, "
               "results.csv and summary.md")
    if run.failed:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add ``coverage-batch`` to the ``hakobu`` application."""
    app.command("coverage-batch")(coverage_batch)
