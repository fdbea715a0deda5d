"""``hakobu solve-instance`` (literature benchmarks) and ``hakobu solve`` (product JSON)."""

from __future__ import annotations

import json
import math
import time
from enum import StrEnum
from itertools import pairwise
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
    TSPD = "tspd"
    FSTSP = "fstsp"


class Objective(StrEnum):
    """What the solver minimises first."""

    DISTANCE = "distance"
    VEHICLES = "vehicles"


def _fail(message: str) -> typer.Exit:
    """Print a one-line reason on stderr and return the exit to raise."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return typer.Exit(code=2)


def _warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


def _check_limits(time_limit: float, seed: int) -> None:
    from api.inputs import InputError, check_seed, check_time_limit

    try:
        check_time_limit(time_limit)
        check_seed(seed)
    except InputError as exc:
        raise _fail(str(exc)) from None


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
    time_limit: Annotated[
        float, typer.Option(help="Search time limit in seconds (more than 0, at most a day).")
    ],
    seed: Annotated[int, typer.Option(help="Random seed (0 or more).")] = 0,
    objective: Annotated[
        Objective,
        typer.Option(help="distance: total distance; vehicles: fewest vehicles, then distance."),
    ] = Objective.DISTANCE,
    endurance: Annotated[
        float | None,
        typer.Option(help="fstsp: drone endurance in minutes, launch to end of recovery "
                          "(default 20 as in Murray & Chu 2015; the paper also runs 40).",
                     show_default=False),
    ] = None,
    launch_time: Annotated[
        float | None,
        typer.Option(help="fstsp: launch time in minutes (default 1).", show_default=False),
    ] = None,
    recovery_time: Annotated[
        float | None,
        typer.Option(help="fstsp: recovery time in minutes (default 1).",
                     show_default=False),
    ] = None,
) -> None:
    """Solve one literature instance and print one JSON object on stdout.

    Keys: instance, format, cost (the literature convention, e.g. unrounded Euclidean
    distance; the makespan for tspd and fstsp), vehicles, feasible (the independent
    checker's verdict), unassigned (file node ids of the pickups / customers left out),
    runtime_s, routes (file node ids, depots excluded; for tspd and fstsp the truck's
    stops and legs and the drone's sorties and legs, depots included).
    """
    from routing.check import check
    from routing.errors import RoutingError
    from routing.instances import literature_cost, read_instance, route_node_ids
    from routing.solution import ItemKind

    _check_limits(time_limit, seed)
    drone_flags = {"--endurance": endurance, "--launch-time": launch_time,
                   "--recovery-time": recovery_time}
    if fmt in (InstanceFormat.TSPD, InstanceFormat.FSTSP):
        _solve_drone_instance(path, fmt, time_limit, seed, drone_flags)
        return
    given = [k for k, v in drone_flags.items() if v is not None]
    if given:
        raise _fail(f"{given[0]} applies to --format fstsp only")
    try:
        inst = read_instance(path, str(fmt))
    except (RoutingError, OSError) as exc:
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


#: Largest endurance, launch or recovery time accepted (minutes; a week).
_MAX_DRONE_MINUTES = 7 * 24 * 60.0


def _drone_settings(fmt: InstanceFormat, flags: dict[str, float | None]) -> dict[str, float]:
    """Check the FSTSP flags; return the reader's keyword arguments (paper defaults)."""
    from routing.tspd import FSTSP_DEFAULT_ENDURANCE, FSTSP_DEFAULT_LAUNCH, FSTSP_DEFAULT_RECOVERY

    if fmt is InstanceFormat.TSPD:
        given = [k for k, v in flags.items() if v is not None]
        if given:
            raise _fail(f"{given[0]} applies to --format fstsp only (TSP-D has no endurance, "
                        "launch or recovery time)")
        return {}
    defaults = {"--endurance": FSTSP_DEFAULT_ENDURANCE, "--launch-time": FSTSP_DEFAULT_LAUNCH,
                "--recovery-time": FSTSP_DEFAULT_RECOVERY}
    out: dict[str, float] = {}
    for flag, default in defaults.items():
        value = flags[flag]
        v = default if value is None else float(value)
        positive = flag == "--endurance"
        if not math.isfinite(v) or v < 0 or (positive and v == 0) or v > _MAX_DRONE_MINUTES:
            bound = "more than 0" if positive else "at least 0"
            raise _fail(f"{flag} must be {bound} and at most {_MAX_DRONE_MINUTES:g} minutes, "
                        f"got {value}")
        out[flag] = v
    return {"endurance": out["--endurance"], "launch_s": out["--launch-time"],
            "recovery_s": out["--recovery-time"]}


def _solve_drone_instance(path: Path, fmt: InstanceFormat, time_limit: float, seed: int,
                          flags: dict[str, float | None]) -> None:
    """``solve-instance --format tspd|fstsp``: one truck with one drone, makespan."""
    from routing.check_tspd import check_tspd
    from routing.errors import RoutingError
    from routing.instances.drone import read_fstsp, read_tspd
    from routing.tspd import solve

    settings = _drone_settings(fmt, flags)
    try:
        if fmt is InstanceFormat.TSPD:
            if path.is_dir():
                raise _fail(f"{path}: is a folder; a TSP-D instance is one file (an FSTSP "
                            "instance is a folder: --format fstsp)")
            inst = read_tspd(path)
        else:
            inst = read_fstsp(path, **settings)
    except (RoutingError, OSError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"... solving {inst.name} ({inst.n_customers} customers, truck + drone) for up "
               f"to {time_limit:g} s", err=True)
    try:
        sol = solve(inst, time_limit, seed)
    except RoutingError as exc:
        raise _fail(str(exc)) from None
    violations = check_tspd(inst, sol)
    for v in violations[:5]:
        typer.echo(f"violation: {v.kind}: {v.message}", err=True)
    ids = inst.node_id
    truck = sol.truck_route()
    sorties = sol.sorties()
    out: dict[str, Any] = {
        "instance": inst.name,
        "format": str(fmt),
        "cost": round(sol.makespan, 6),
        "vehicles": 1,
        "drones": 1,
        "feasible": not violations,
        "unassigned": [],
        "runtime_s": round(sol.runtime_s, 3),
        "method": sol.method,
        "routes": [
            {"vehicle": "truck", "stops": [ids(v) for v in truck],
             "legs": [[ids(a), ids(b)] for a, b in pairwise(truck) if a != b]},
            {"vehicle": "drone",
             "sorties": [{"launch": ids(a), "customer": ids(c), "land": ids(b)}
                         for a, c, b in sorties],
             "legs": [leg for a, c, b in sorties for leg in ([ids(a), ids(c)],
                                                            [ids(c), ids(b)])]},
        ],
    }
    if fmt is InstanceFormat.FSTSP:
        out["settings"] = {"endurance": inst.endurance, "launch_time": inst.launch_s,
                           "recovery_time": inst.recovery_s}
    typer.echo(json.dumps(out))


def _road_matrices(osm: Path | None) -> MatrixBuilder:
    """Return a builder of car matrices on the built-in region's roads (or ``osm``'s)."""

    def build(
        points: np.ndarray, profiles: tuple[str, ...]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        from maps.errors import GraphTooLargeError, MapsError, UnreachableLocationError
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
        except GraphTooLargeError as exc:
            raise ProblemError("durations", f"cannot be built on these roads: {exc}") from None
        except MapsError as exc:
            raise ProblemError("locations", str(exc)) from None
        return {Profile.CAR: m.duration_s}, {Profile.CAR: m.distance_m}

    return build


def _read_problem_json(path: Path) -> Any:
    from api.inputs import InputError, input_file

    try:
        input_file(path, "")
        return json.loads(path.read_bytes().decode("utf-8-sig"))
    except InputError as exc:
        raise _fail(str(exc).strip()) from None
    except OSError as exc:
        raise _fail(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise _fail(f"{path}: not a UTF-8 text file (a problem JSON is UTF-8)") from None
    except json.JSONDecodeError as exc:
        raise _fail(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise _fail(f"{path}: JSON nested too deeply") from None


def _check_osm_use(osm: Path | None, data: Any) -> None:
    """Check ``--osm`` before the (slow) road build; warn when the JSON makes it unused."""
    from api.inputs import InputError, check_osm

    if osm is None:
        return
    try:
        check_osm(osm)
    except InputError as exc:
        raise _fail(str(exc)) from None
    if isinstance(data, dict) and {"durations", "distances"} & set(data):
        _warn(f"--osm {osm} is ignored: the problem JSON has its own durations/distances")


def _write_plan(plan: dict[str, Any], output: Path | None) -> None:
    text = json.dumps(plan, ensure_ascii=False, indent=1) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"-o {output}: cannot write ({exc.strerror or exc})") from None


def solve_problem(
    problem_path: Annotated[Path, typer.Argument(help="Problem JSON (see README).")],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="Where to write the plan JSON ('-': stdout)."),
    ],
    time_limit: Annotated[
        float, typer.Option(help="Search time limit in seconds (more than 0, at most a day).")
    ] = 5.0,
    seed: Annotated[int, typer.Option(help="Random seed (0 or more).")] = 0,
    osm: Annotated[
        Path | None,
        typer.Option(help="OSM extract whose roads give the matrices when the JSON has none "
                          "(default: the built-in Kumamoto region)."),
    ] = None,
) -> None:
    """Solve a problem in the product's JSON shape and write the plan JSON."""
    from api.inputs import InputError, output_path
    from routing.check import check
    from routing.errors import ProblemError
    from routing.io import plan_to_dict, problem_from_dict
    from routing.reach import unreachable_items

    _check_limits(time_limit, seed)
    data = _read_problem_json(problem_path)
    try:
        out = output_path(output, "-o", inputs=[problem_path] + ([osm] if osm else []))
    except InputError as exc:
        raise _fail(str(exc)) from None
    _check_osm_use(osm, data)
    try:
        problem = problem_from_dict(data, build_matrices=_road_matrices(osm))
    except ProblemError as exc:
        raise _fail(f"{problem_path}: {exc}") from None
    if not problem.requests and not problem.jobs:
        _warn(f"{problem_path}: the problem has no requests and no jobs; the plan is empty")
    no_path = unreachable_items(problem)  # the solver gives them the same reason
    if no_path:
        ids = [problem.requests[i].id if k == "request" else problem.jobs[i].id
               for k, i in no_path]
        _warn(f"{len(ids)} of {len(problem.requests) + len(problem.jobs)} requests and jobs "
              f"have a location no vehicle can reach ({', '.join(ids[:3])}"
              f"{', ...' if len(ids) > 3 else ''}); they will be unassigned")
    solution = _run_solver(problem, time_limit, seed, "distance")
    violations = check(problem, solution)
    plan = plan_to_dict(problem, solution, feasible=not violations)
    _write_plan(plan, out)
    s = plan["summary"]
    typer.echo(f"{s['served']} served, {s['unassigned']} unassigned, {s['vehicles']} vehicles, "
               f"{s['distance_m'] / 1000:.1f} km, feasible={s['feasible']}, "
               f"{s['runtime_s']:.1f} s ({s['engine'] or 'solver'}) -> {out or 'stdout'}",
               err=True)
    for v in violations[:5]:
        typer.echo(f"violation: {v.kind}: {v.message}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``solve-instance`` and ``solve`` to the ``hakobu`` application."""
    app.command("solve-instance")(solve_instance)
    app.command("solve")(solve_problem)
