"""``hakobu solve-instance`` (literature benchmarks) and ``hakobu solve`` (product JSON)."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import numpy as np

    from routing.io import MatrixBuilder
    from routing.model import Problem
    from routing.solution import Solution


class InstanceFormat(StrEnum):
    """Literature formats understood by ``solve-instance``."""

    CORDEAU = "cordeau"
    LILIM = "lilim"
    SOLOMON = "solomon"
    VRPLIB = "vrplib"


class Objective(StrEnum):
    """What the solver minimises first."""

    DISTANCE = "distance"
    VEHICLES = "vehicles"


def _fail(message: str) -> typer.Exit:
    """Print a one-line reason on stderr and return the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _run_solver(problem: Problem, time_limit: float, seed: int, objective: str) -> Solution:
    from routing.errors import RoutingError
    from routing.solve import SolveParams, solve

    try:
        return solve(problem, SolveParams(time_limit_s=time_limit, seed=seed,
                                          objective=objective))
    except RoutingError as exc:
        raise _fail(str(exc)) from None


def solve_instance(
    path: Annotated[Path, typer.Argument(help="Instance file as published.")],
    fmt: Annotated[InstanceFormat, typer.Option("--format", help="Instance format.")],
    time_limit: Annotated[float, typer.Option(help="Search time limit in seconds.", min=0.0)],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    objective: Annotated[
        Objective,
        typer.Option(help="distance: total distance; vehicles: fewest vehicles, then distance."),
    ] = Objective.DISTANCE,
) -> None:
    """Solve one literature instance and print one JSON object on stdout.

    Keys: instance, format, cost (the literature convention, e.g. unrounded Euclidean
    distance), vehicles, feasible (the independent checker's verdict), unassigned (file
    node ids of the pickups / customers left out), runtime_s, routes (file node ids,
    depots excluded).
    """
    from routing.check import check
    from routing.errors import RoutingError
    from routing.instances import literature_cost, read_instance, route_node_ids
    from routing.solution import ItemKind

    try:
        inst = read_instance(path, str(fmt))
    except RoutingError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"... solving {inst.name} ({len(inst.problem.requests)} requests, "
               f"{len(inst.problem.jobs)} jobs) for up to {time_limit:g} s", err=True)
    t0 = time.perf_counter()
    solution = _run_solver(inst.problem, time_limit, seed, str(objective))
    runtime = time.perf_counter() - t0
    p = inst.problem
    unassigned = [inst.node_ids[p.requests[u.ref].pickup if u.kind is ItemKind.REQUEST
                                else p.jobs[u.ref].location] for u in solution.unassigned]
    out: dict[str, Any] = {
        "instance": inst.name,
        "format": str(fmt),
        "cost": round(literature_cost(inst, solution), 6),
        "vehicles": solution.n_vehicles(),
        "feasible": not check(p, solution),
        "unassigned": unassigned,
        "runtime_s": round(runtime, 3),
        "routes": route_node_ids(inst, solution),
    }
    typer.echo(json.dumps(out))


def _road_matrices(osm: Path | None) -> MatrixBuilder:
    """Return a builder of car matrices on the built-in region's roads (or ``osm``'s)."""

    def build(
        points: np.ndarray, profiles: tuple[str, ...]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        from maps.errors import MapsError, UnreachableLocationError
        from maps.matrix import travel_matrices
        from maps.region import default_region, region_from_files
        from routing.errors import ProblemError
        from routing.model import Profile

        other = [p for p in profiles if p != Profile.CAR]
        if other:
            msg = (f"no road matrices for profile(s) {other}; give durations and distances "
                   "inline")
            raise ProblemError("vehicle_types.profile", msg)
        typer.echo("... building road travel times for the locations", err=True)
        try:
            region = default_region() if osm is None else region_from_files(osm)
            m = travel_matrices(region.road, points)
        except UnreachableLocationError as exc:
            where = ", ".join(f"locations[{i}]" for i in exc.indices[:5])
            raise ProblemError(where, f"farther from a road than allowed ({exc})") from None
        except MapsError as exc:
            raise ProblemError("locations", str(exc)) from None
        return {Profile.CAR: m.duration_s}, {Profile.CAR: m.distance_m}

    return build


def solve_problem(
    problem_path: Annotated[Path, typer.Argument(help="Problem JSON (see README).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the plan JSON.")],
    time_limit: Annotated[float, typer.Option(help="Search time limit in seconds.", min=0.0)] = 5.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    osm: Annotated[
        Path | None,
        typer.Option(help="OSM extract whose roads give the matrices when the JSON has none "
                          "(default: the built-in Kumamoto region)."),
    ] = None,
) -> None:
    """Solve a problem in the product's JSON shape and write the plan JSON."""
    from routing.check import check
    from routing.errors import ProblemError
    from routing.io import plan_to_dict, problem_from_dict

    try:
        data = json.loads(problem_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(f"{problem_path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"{problem_path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise _fail(f"{problem_path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    try:
        problem = problem_from_dict(data, build_matrices=_road_matrices(osm))
    except ProblemError as exc:
        raise _fail(f"{problem_path}: {exc}") from None
    solution = _run_solver(problem, time_limit, seed, "distance")
    violations = check(problem, solution)
    plan = plan_to_dict(problem, solution, feasible=not violations)
    try:
        output.write_text(json.dumps(plan, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        raise _fail(f"{output}: cannot write ({exc})") from None
    s = plan["summary"]
    typer.echo(f"{s['served']} served, {s['unassigned']} unassigned, {s['vehicles']} vehicles, "
               f"{s['distance_m'] / 1000:.1f} km, feasible={s['feasible']}, "
               f"{s['runtime_s']:.1f} s ({s['engine'] or 'solver'}) -> {output}", err=True)
    for v in violations[:5]:
        typer.echo(f"violation: {v.kind}: {v.message}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``solve-instance`` and ``solve`` to the ``hakobu`` application."""
    app.command("solve-instance")(solve_instance)
    app.command("solve")(solve_problem)
