"""Model build and construction time of the solvers on a large dial-a-ride day.

Run ``python benchmarks/solver_scale.py`` (``--quick``: 100 requests, 5 s). The problem
is synthetic and says so: locations drawn uniformly (seeded) in a 30 km x 30 km square,
road distance = 1.3 x straight line, 30 km/h; requests over an 8-hour day with 15-minute
pickup windows, a maximum detour of 2 x the direct time and 1 seat each (every tenth a
wheelchair); minibuses with 8 seats and 1 wheelchair space from one central depot.

Per engine it prints (and writes with ``--json PATH``): the time to flatten the problem
(``compile_s``), the OR-Tools model build, the first construction, the LNS iterations,
the total wall time against the limit, and requests served.
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
import platform
import time
from typing import Any

import numpy as np

from routing.check import check
from routing.model import Location, Problem, Request, TimeWindow, Vehicle, VehicleType
from routing.schedule import compile_problem
from routing.solve import SolveParams, solve_with_stats

SIDE_M = 30_000.0
SPEED_MS = 30 / 3.6
DAY_S = 8 * 3600


def synthetic_day(n_requests: int, n_vehicles: int, seed: int = 0) -> Problem:
    """A seeded synthetic dial-a-ride day (see the module docstring)."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, SIDE_M, size=(2 * n_requests + 1, 2))
    xy[0] = SIDE_M / 2
    dist = np.rint(1.3 * np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)))
    dist = dist.astype(np.int64)
    dur = np.rint(dist / SPEED_MS).astype(np.int64)
    requests = []
    for r in range(n_requests):
        p, d = 1 + 2 * r, 2 + 2 * r
        start = int(rng.integers(1800, DAY_S - 3600 - int(dur[p, d])))
        requests.append(Request(
            id=f"r{r}", pickup=p, dropoff=d, load=(1, 0) if r % 10 else (0, 1),
            pickup_window=TimeWindow(earliest=start, latest=start + 900),
            pickup_service_s=60, dropoff_service_s=60, max_detour=2.0,
        ))
    return Problem(
        locations=tuple(Location(lon=float(x), lat=float(y)) for x, y in xy),
        dimensions=("seats", "wheelchairs"), durations={"car": dur}, distances={"car": dist},
        vehicle_types=(VehicleType(name="minibus", capacity=(8, 1)),),
        vehicles=tuple(Vehicle(id=f"v{k}", type=0, start=0, end=0,
                               shift=TimeWindow(earliest=0, latest=DAY_S))
                       for k in range(n_vehicles)),
        requests=tuple(requests),
    )


def run(problem: Problem, engine: str, limit: float) -> dict[str, Any]:
    """Solve once; return the timings and the outcome."""
    t0 = time.perf_counter()
    compile_problem(problem)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sol, stats = solve_with_stats(problem, SolveParams(time_limit_s=limit, engine=engine))
    wall = time.perf_counter() - t0
    return {
        "engine": engine, "requests": len(problem.requests), "limit_s": limit,
        "compile_s": round(compile_s, 3), "build_s": round(stats.build_s, 3),
        "construct_s": round(stats.construct_s, 3), "lns_iterations": stats.lns_iterations,
        "wall_s": round(wall, 2), "served": len(problem.requests) - len(sol.unassigned),
        "vehicles": sol.n_vehicles(), "cost_km": round(sol.cost(problem) / 1000, 1),
        "violations": len(check(problem, sol)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 requests, 5 s")
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--vehicles", type=int, default=40)
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--engines", default="ortools,lns")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    n, limit, nv = args.requests, args.time_limit, args.vehicles
    if args.quick:
        n, limit, nv = 100, 5.0, 10
    problem = synthetic_day(n, nv)
    rows = [run(problem, e, limit) for e in args.engines.split(",")]
    cols = list(rows[0])
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join(str(r[c]) for c in cols))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"machine": platform.processor() or platform.machine(),
                       "python": sys.version.split()[0], "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
