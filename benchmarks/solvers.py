"""Routing solvers against the literature: Cordeau DARP, Li & Lim PDPTW, Solomon VRPTW.

Run ``python benchmarks/solvers.py`` (add ``--quick`` for a < 1 minute smoke run). For
each instance set and time limit it solves every instance with ``routing.solve`` and the
peers named in ``--peers`` in the same run, checks every plan with ``routing.check``,
and prints per set: instances, feasible (complete and violation-free), mean and max gap
to the best-known solution, vehicles, runtime and model-build time.

Gaps: Cordeau against the best-known routing cost; Solomon against the distance-only
optimum (CVRPLIB, arcs truncated to one decimal, so a plan at the optimum shows a tiny
positive gap); Li & Lim against the best-known distance, reported over all instances
(``mean_gap_pct``) and over those at the best-known vehicle count
(``gap_at_bks_vehicles_pct``). ``vs_pyvrp_pct`` compares distances with PyVRP's in the
same run. With ``--objective vehicles`` the hierarchical objective is solved and the
vehicle excess over the best-known count is reported too.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path: its coverage.py and dispatch.py
# would shadow the coverage package (numba imports it) and the dispatch package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import json
import logging
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from routing.check import check
from routing.instances import Instance, best_known, literature_cost, read_instance
from routing.schedule import compile_problem, route_from_sequence
from routing.solution import ItemKind, Route, Solution, Unassigned
from routing.solve import SolveParams, solve_with_stats

BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"
SETS = {
    "cordeau": ("darp_cordeau/instances", "cordeau", "*.txt"),
    "lilim": ("pdptw_li_lim/instances", "lilim", "*.txt"),
    "solomon": ("vrptw_solomon/instances", "solomon", "*.txt"),
}
DEFAULT_PEERS = {
    "cordeau": ("ortools_plain", "hakobu_lns"),
    "lilim": ("pyvrp", "vroom", "ortools_plain"),
    "solomon": ("pyvrp", "vroom", "ortools_plain"),
}
QUICK = {"cordeau": ["a2-16", "a3-24"], "lilim": ["lc101"], "solomon": ["C101"]}


@dataclass(slots=True)
class Row:
    """One solver on one instance."""

    instance: str
    solver: str
    feasible: bool
    cost: float
    vehicles: int
    runtime_s: float
    build_s: float
    unassigned: int
    violations: int


def _evaluate(inst: Instance, name: str, sol: Solution, runtime: float, build: float) -> Row:
    viol = check(inst.problem, sol)
    return Row(instance=inst.name, solver=name, feasible=not viol and not sol.unassigned,
               cost=literature_cost(inst, sol), vehicles=sol.n_vehicles(), runtime_s=runtime,
               build_s=build, unassigned=len(sol.unassigned), violations=len(viol))


def run_hakobu(inst: Instance, tl: float, objective: str, engine: str = "auto") -> Row:
    """Solve with :func:`routing.solve.solve_with_stats`."""
    sol, stats = solve_with_stats(inst.problem, SolveParams(time_limit_s=tl, objective=objective,
                                                            engine=engine))
    return _evaluate(inst, "hakobu" if engine == "auto" else f"hakobu_{engine}", sol,
                     sol.runtime_s, stats.build_s)


def _solution_from_sequences(inst: Instance, seqs: list[list[int]], engine: str,
                             runtime: float) -> Solution:
    cp = compile_problem(inst.problem)
    routes: list[Route] = []
    served: set[int] = set()
    for k, seq in enumerate(seqs):
        if not seq:
            continue
        r = route_from_sequence(cp, k, seq)
        if r is not None:
            routes.append(r)
            served.update(seq)
    nr = cp.n_requests
    un = [Unassigned(kind=ItemKind.REQUEST, ref=i, reason="not served")
          for i in range(nr) if 2 * i not in served]
    un += [Unassigned(kind=ItemKind.JOB, ref=j, reason="not served")
           for j in range(len(inst.problem.jobs)) if 2 * nr + j not in served]
    return Solution(routes=tuple(routes), unassigned=tuple(un), engine=engine,
                    runtime_s=runtime)


#: First-solution strategy of the plain OR-Tools peer. PARALLEL_CHEAPEST_INSERTION is what
#: the OR-Tools pickup-and-delivery guide and most users configure for paired stops; it is
#: used for the VRPTW sets too (see ``--ortools-first``).
ORTOOLS_FIRST = "PARALLEL_CHEAPEST_INSERTION"


def run_ortools_plain(inst: Instance, tl: float, objective: str) -> Row:
    """Plain OR-Tools: ``ORTOOLS_FIRST`` first solution, then guided local search.

    The model is our OR-Tools model (whole matrices, time and capacity dimensions,
    pickup-and-delivery pairs, ride limits) with every mandatory item hard and no first
    solution of ours; only the search parameters are set here, as an OR-Tools user would.
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    from routing.ortools_solver import _Model
    from routing.solve import _vehicle_cost

    cp = compile_problem(inst.problem)
    t0 = time.perf_counter()
    vc = _vehicle_cost(cp) if objective == "vehicles" else 0
    model = _Model(inst.problem, cp, vc, True)
    routing = model.routing
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy,
                                             ORTOOLS_FIRST)
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH)
    params.time_limit.FromMilliseconds(max(1, int(tl * 1000)))
    routing.CloseModelWithParameters(params)
    build = time.perf_counter() - t0
    assignment = routing.SolveWithParameters(params)
    seqs: list[list[int]] = [[] for _ in inst.problem.vehicles]
    if assignment is not None:
        for k in range(len(seqs)):
            idx = assignment.Value(routing.NextVar(routing.Start(k)))
            while not routing.IsEnd(idx):
                seqs[k].append(model.manager.IndexToNode(idx))
                idx = assignment.Value(routing.NextVar(idx))
    sol = _solution_from_sequences(inst, seqs, "ortools_plain", time.perf_counter() - t0)
    return _evaluate(inst, "ortools_plain", sol, sol.runtime_s, build)


def run_pyvrp(inst: Instance, tl: float, objective: str) -> Row:
    """PyVRP through our adapter only (no fallback, no LNS)."""
    from routing.pyvrp_solver import solve_pyvrp
    from routing.solve import _vehicle_cost

    cp = compile_problem(inst.problem)
    t0 = time.perf_counter()
    vc = _vehicle_cost(cp) if objective == "vehicles" else 0
    run = solve_pyvrp(inst.problem, cp, time_limit_s=tl, vehicle_cost=vc)
    sol = Solution(routes=tuple(run.routes), unassigned=tuple(run.unassigned), engine="pyvrp",
                   runtime_s=time.perf_counter() - t0)
    return _evaluate(inst, "pyvrp", sol, sol.runtime_s, run.build_s)


#: VROOM reads costs as unsigned 32-bit integers (``UserCost``).
VROOM_MAX_COST = (1 << 32) - 1


def run_vroom(inst: Instance, tl: float, objective: str) -> Row:
    """VROOM (pyvroom) on the same integer matrices, exploration level 5, one thread.

    Under ``--objective vehicles`` every vehicle gets the same fixed cost as our engines
    (larger than any route's distance, in the units of the cost matrix, which VROOM
    scales like the matrix), so VROOM minimises vehicles first too.
    """
    import datetime

    import numpy as np
    import vroom

    from routing.solve import _vehicle_cost

    p = inst.problem
    t0 = time.perf_counter()
    fixed = _vehicle_cost(compile_problem(p)) if objective == "vehicles" else 0
    if fixed > VROOM_MAX_COST:
        logging.warning("%s: vehicle cost %d capped at VROOM's %d", inst.name, fixed,
                        VROOM_MAX_COST)
        fixed = VROOM_MAX_COST
    costs = vroom.VehicleCosts(fixed=fixed)
    vin = vroom.Input()
    prof = str(p.vehicle_types[0].profile)
    vin.set_durations_matrix("car", np.asarray(p.durations[prof]))
    vin.set_costs_matrix("car", np.asarray(p.distances[prof]))
    for k, v in enumerate(p.vehicles):
        t = p.vehicle_type(k)
        vin.add_vehicle(vroom.Vehicle(id=k, start=v.start, end=v.end, capacity=list(t.capacity),
                                      time_window=vroom.TimeWindow(v.shift.earliest,
                                                                   v.shift.latest),
                                      costs=costs))
    for j, job in enumerate(p.jobs):
        amount = vroom.Amount(list(job.load))
        kw = {"delivery": amount} if job.kind.value == "delivery" else {"pickup": amount}
        vin.add_job(vroom.Job(id=j, location=job.location, default_service=job.service_s,
                              time_windows=[vroom.TimeWindow(job.window.earliest,
                                                             job.window.latest)], **kw))
    for r, req in enumerate(p.requests):
        pw, dw = req.effective_pickup_window, req.dropoff_window
        vin.add_shipment(
            pickup=vroom.ShipmentStep(id=r, location=req.pickup,
                                      default_service=req.pickup_service_s,
                                      time_windows=[vroom.TimeWindow(pw.earliest, pw.latest)]),
            delivery=vroom.ShipmentStep(id=r, location=req.dropoff,
                                        default_service=req.dropoff_service_s,
                                        time_windows=[vroom.TimeWindow(dw.earliest,
                                                                       dw.latest)]),
            amount=vroom.Amount(list(req.load)))
    build = time.perf_counter() - t0
    res = vin.solve(exploration_level=5, nb_threads=1,
                    timeout=datetime.timedelta(seconds=tl))
    nr = len(p.requests)
    seqs: list[list[int]] = [[] for _ in p.vehicles]
    df = res.routes
    for row in df.itertuples():
        kind = str(row.type)
        if kind == "job":
            seqs[int(row.vehicle_id)].append(2 * nr + int(row.id))
        elif kind == "pickup":
            seqs[int(row.vehicle_id)].append(2 * int(row.id))
        elif kind == "delivery":
            seqs[int(row.vehicle_id)].append(2 * int(row.id) + 1)
    sol = _solution_from_sequences(inst, seqs, "vroom", time.perf_counter() - t0)
    return _evaluate(inst, "vroom", sol, sol.runtime_s, build)


SOLVERS: dict[str, Callable[[Instance, float, str], Row]] = {
    "hakobu": run_hakobu,
    "hakobu_lns": lambda i, t, o: run_hakobu(i, t, o, engine="lns"),
    "hakobu_ortools": lambda i, t, o: run_hakobu(i, t, o, engine="ortools"),
    "ortools_plain": run_ortools_plain,
    "pyvrp": run_pyvrp,
    "vroom": run_vroom,
}


def _reference(path: Path, fmt: str) -> tuple[float | None, int | None]:
    """Return the reference distance and vehicle count for gaps (see module docstring)."""
    bk = best_known(path, fmt)
    if bk is None:
        return None, None
    if fmt == "solomon" and bk.distance_only_cost is not None:
        return bk.distance_only_cost, bk.distance_only_vehicles
    return bk.cost, bk.vehicles


def summarise(rows: list[Row], refs: dict[str, tuple[float | None, int | None]],
              pyvrp: dict[str, float]) -> dict[str, Any]:
    """Return the figures of one solver on one set and time limit."""
    feas = [r for r in rows if r.feasible]
    gaps, at_v, v_excess = [], [], []
    for r in feas:
        ref, ref_v = refs[r.instance]
        if ref:
            gaps.append(100 * (r.cost / ref - 1))
            if ref_v in (None, r.vehicles):
                at_v.append(100 * (r.cost / ref - 1))
        if ref_v is not None:
            v_excess.append(r.vehicles - ref_v)
    vs_py = [100 * (r.cost / pyvrp[r.instance] - 1) for r in feas if r.instance in pyvrp]

    def mean(xs: list[float]) -> float | None:
        return round(statistics.fmean(xs), 3) if xs else None

    return {
        "instances": len(rows), "feasible": len(feas),
        "mean_gap_pct": mean(gaps), "max_gap_pct": round(max(gaps), 3) if gaps else None,
        "at_bks_vehicles": len(at_v), "gap_at_bks_vehicles_pct": mean(at_v),
        "vs_pyvrp_pct": mean(vs_py),
        "mean_vehicles": mean([float(r.vehicles) for r in feas]),
        "mean_vehicle_excess": mean([float(x) for x in v_excess]),
        "mean_runtime_s": mean([r.runtime_s for r in rows]),
        "max_build_s": round(max(r.build_s for r in rows), 4) if rows else None,
    }


def run_set(name: str, tl: float, args: argparse.Namespace) -> tuple[dict[str, Any], list[Row]]:
    """Run every solver on every instance of one set at one time limit."""
    folder, fmt, pattern = SETS[name]
    paths = sorted((BENCH / folder).glob(pattern))
    wanted = args.instances or (QUICK[name] if args.quick else None)
    if wanted:
        paths = [p for p in paths if p.stem in wanted]
    peers = args.peers.split(",") if args.peers else list(DEFAULT_PEERS[name])
    peers = [p for p in peers if p != "none"]
    solvers = ["hakobu", *[p for p in peers if p]]
    rows: list[Row] = []
    refs = {}
    for path in paths:
        inst = read_instance(path, fmt)
        refs[inst.name] = _reference(path, fmt)
        for s in solvers:
            row = SOLVERS[s](inst, tl, args.objective)
            rows.append(row)
            ref = refs[inst.name][0]
            gap = f"{100 * (row.cost / ref - 1):7.2f}%" if ref and row.feasible else "   -   "
            print(f"  {name:8s} {tl:5.0f}s {inst.name:8s} {s:15s} feasible={row.feasible!s:5s} "
                  f"cost={row.cost:9.2f} gap={gap} veh={row.vehicles:3d} "
                  f"t={row.runtime_s:6.2f}s build={row.build_s:.3f}s", flush=True)
    pyvrp = {r.instance: r.cost for r in rows if r.solver == "pyvrp" and r.feasible}
    out = {s: summarise([r for r in rows if r.solver == s], refs, pyvrp) for s in solvers}
    summary = dict(out["hakobu"])
    for s in solvers[1:]:
        summary[s] = out[s]
    return summary, rows


def print_table(results: dict[str, dict[str, Any]]) -> None:
    """Print one line per set, time limit and solver."""
    head = (f"{'set':8s} {'limit':>6s} {'solver':15s} {'inst':>4s} {'feas':>4s} "
            f"{'mean gap':>9s} {'max gap':>8s} {'@bksV':>5s} {'gap@V':>7s} {'vsPyVRP':>8s} "
            f"{'veh':>6s} {'time':>6s} {'build':>7s}")
    print(head)
    print("-" * len(head))

    def f(x: Any, w: int, pct: bool = False) -> str:
        return f"{'-':>{w}s}" if x is None else f"{x:>{w - 1}.2f}{'%' if pct else ' '}"

    for key, summary in results.items():
        set_name, tl = key.split("@")
        solvers = {"hakobu": summary, **{k: v for k, v in summary.items() if isinstance(v, dict)}}
        for s, m in solvers.items():
            print(f"{set_name:8s} {tl:>6s} {s:15s} {m['instances']:4d} {m['feasible']:4d} "
                  f"{f(m['mean_gap_pct'], 9, True)} {f(m['max_gap_pct'], 8, True)} "
                  f"{m['at_bks_vehicles']:5d} {f(m['gap_at_bks_vehicles_pct'], 7, True)} "
                  f"{f(m['vs_pyvrp_pct'], 8, True)} {f(m['mean_vehicles'], 6)} "
                  f"{f(m['mean_runtime_s'], 6)} {m['max_build_s']:7.3f}")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the sets, print the table and write JSON."""
    global ORTOOLS_FIRST  # the peer functions share one signature; the strategy rides here
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few instances, 2 s each")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    ap.add_argument("--sets", default="cordeau,lilim,solomon")
    ap.add_argument("--instances", type=lambda s: s.split(","), default=None)
    ap.add_argument("--time-limits", default=None, help="comma-separated seconds (5,30)")
    ap.add_argument("--objective", choices=("distance", "vehicles"), default="distance")
    ap.add_argument("--ortools-first", default=ORTOOLS_FIRST,
                    help="first-solution strategy of the plain OR-Tools peer "
                         f"(a FirstSolutionStrategy name; default {ORTOOLS_FIRST})")
    ap.add_argument("--peers", default=None,
                    help=f"comma-separated, from {sorted(SOLVERS)}, or none "
                         "(default per set)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    ORTOOLS_FIRST = args.ortools_first.upper()
    if not BENCH.is_dir():
        print(f"benchmarks not found at {BENCH}", file=sys.stderr)
        return 1
    limits = [float(x) for x in (args.time_limits or ("2" if args.quick else "5,30")).split(",")]
    results: dict[str, dict[str, Any]] = {}
    all_rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for tl in limits:
        for name in args.sets.split(","):
            summary, rows = run_set(name, tl, args)
            results[f"{name}@{tl:g}"] = summary
            all_rows += [dict(_row_dict(r),
                              set=name, time_limit_s=tl) for r in rows]
    print()
    print_table(results)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, " \
              f"Python {platform.python_version()}"
    print(f"\nmachine: {machine}; objective: {args.objective}; "
          f"plain OR-Tools first solution: {ORTOOLS_FIRST}; "
          f"wall time {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "objective": args.objective,
                                         "ortools_first_solution": ORTOOLS_FIRST,
                                         "results": results, "rows": all_rows}, indent=1))
    return 0


def _row_dict(r: Row) -> dict[str, Any]:
    return {k: getattr(r, k) for k in Row.__slots__}


if __name__ == "__main__":
    sys.exit(main())
