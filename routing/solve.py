"""One entry point for every routing problem: choose an engine, solve, check, fall back.

>>> solution = solve(problem, SolveParams(time_limit_s=5))   # doctest: +SKIP

Engines (``SolveParams.engine``):

``pyvrp``
    PyVRP 0.14 iterated local search, only for problems it expresses exactly (no ride
    limit, no breaks, no skills or allowed vehicles, closed routes).
``ortools``
    Our regret insertion and LNS (:mod:`routing.construct`) for part of the time, then
    OR-Tools guided local search from that solution (:mod:`routing.ortools_solver`).
``lns``
    Our insertion and LNS alone.
``auto``
    PyVRP where it applies, ``ortools`` otherwise.

Every result is re-timed by :mod:`routing.schedule` and checked by
:func:`routing.check.check`; a result with a violation is discarded for the LNS
solution (and in the worst case for an empty plan with everything unassigned), so no
plan that breaks a hard constraint is returned.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from routing import kernels
from routing.check import check
from routing.construct import Lns
from routing.model import ItemKind, Problem
from routing.schedule import (
    CompiledProblem,
    compile_problem,
    route_from_sequence,
    schedule_times,
    sequence_from_route,
    sequence_load_ok,
)
from routing.solution import Route, Solution, Unassigned

log = logging.getLogger(__name__)

ENGINES = ("auto", "ortools", "pyvrp", "lns")
OBJECTIVES = ("distance", "vehicles")

#: Share of the time limit the LNS gets before OR-Tools polishes (engine ``ortools``).
LNS_SHARE = 0.75
#: LNS-then-OR-Tools rounds (engine ``ortools``).
ROUNDS = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class SolveParams:
    """Options of :func:`solve`.

    ``seed`` drives our LNS and PyVRP; with a wall-clock limit the number of iterations
    (and so the plan) can vary between runs; set ``max_iterations`` (LNS engine) for a
    reproducible plan. ``objective="vehicles"`` is the literature's hierarchical
    objective: fewest vehicles first, then cost.
    """

    time_limit_s: float = 10.0
    seed: int = 0
    engine: str = "auto"
    objective: str = "distance"
    initial: Solution | None = None
    log_progress: bool = False
    max_iterations: int | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            msg = f"engine must be one of {ENGINES}, got {self.engine!r}"
            raise ValueError(msg)
        if self.objective not in OBJECTIVES:
            msg = f"objective must be one of {OBJECTIVES}, got {self.objective!r}"
            raise ValueError(msg)
        if not self.time_limit_s > 0:
            msg = f"time_limit_s must be positive, got {self.time_limit_s}"
            raise ValueError(msg)


@dataclass(slots=True)
class SolveStats:
    """Timings and engine details of one :func:`solve` call."""

    engine: str = ""
    build_s: float = 0.0
    search_s: float = 0.0
    lns_iterations: int = 0
    #: Time of the first construction (insertion of every unit), part of ``search_s``.
    construct_s: float = 0.0
    fallbacks: list[str] = field(default_factory=list)


def solve(problem: Problem, params: SolveParams | None = None) -> Solution:
    """Return a checked plan for ``problem`` (see :func:`solve_with_stats`)."""
    return solve_with_stats(problem, params)[0]


def solve_with_stats(
    problem: Problem, params: SolveParams | None = None
) -> tuple[Solution, SolveStats]:
    """Solve ``problem`` and return the plan with timings (model build vs search).

    Raises
    ------
    ValueError
        For bad parameters (inconsistent problems already fail when built).
    """
    params = params or SolveParams()
    kernels.warm_up()  # a one-time compile (cached on disk) is not search time
    t0 = time.perf_counter()
    stats = SolveStats()
    cp = compile_problem(problem)
    stats.build_s = time.perf_counter() - t0
    vehicle_cost = _vehicle_cost(cp) if params.objective == "vehicles" else 0
    engine = _choose_engine(problem, params.engine, stats)
    stats.engine = engine
    remaining = max(0.05, params.time_limit_s - (time.perf_counter() - t0))
    routes: list[Route] | None = None
    if engine == "pyvrp":
        routes = _run_pyvrp(problem, cp, params, remaining, vehicle_cost, stats)
        if routes is None:
            engine = stats.engine = "lns"
            remaining = max(0.05, params.time_limit_s - (time.perf_counter() - t0))
    if routes is None:
        routes = _run_lns_ortools(problem, cp, params, remaining, vehicle_cost, stats,
                                  use_ortools=engine == "ortools")
    solution = _finish(problem, cp, routes, stats, t0)
    if params.log_progress:
        log.info("%s: %d routes, %d unassigned, cost %d, build %.3f s, search %.2f s, "
                 "%d LNS iterations", engine, len(solution.routes), len(solution.unassigned),
                 solution.cost(problem), stats.build_s, stats.search_s, stats.lns_iterations)
    violations = check(problem, solution)
    if violations:
        stats.fallbacks.append(f"{engine}: {len(violations)} violations, e.g. {violations[0]}")
        log.warning("engine %s returned violations (%s); using an empty plan", engine,
                    violations[0])
        solution = _finish(problem, cp, [], stats, t0)
    return solution, stats


def _choose_engine(problem: Problem, wanted: str, stats: SolveStats) -> str:
    from routing.pyvrp_solver import pyvrp_unsupported

    no_pyvrp = pyvrp_unsupported(problem)
    if wanted == "auto":
        return "pyvrp" if no_pyvrp is None else "ortools"
    if wanted == "pyvrp" and no_pyvrp is not None:
        stats.fallbacks.append(f"pyvrp refused: {no_pyvrp}")
        return "ortools"
    return wanted


def _vehicle_cost(cp: CompiledProblem) -> int:
    """A per-vehicle cost larger than any route's arc cost (hierarchical objective)."""
    worst = max((max(max(row) for row in c) for c in cp.cost), default=1)
    return max(1, min(worst, 1 << 40)) * (cp.n_nodes + 2)


def _run_pyvrp(
    problem: Problem, cp: CompiledProblem, params: SolveParams, limit: float,
    vehicle_cost: int, stats: SolveStats,
) -> list[Route] | None:
    from routing.pyvrp_solver import solve_pyvrp

    try:
        run = solve_pyvrp(problem, cp, time_limit_s=limit, seed=params.seed,
                          vehicle_cost=vehicle_cost)
    except (ValueError, RuntimeError) as exc:  # PyVRP rejects some data it cannot model
        log.warning("PyVRP failed (%s); using the LNS", exc)
        stats.fallbacks.append(f"pyvrp failed: {exc}")
        return None
    stats.build_s += run.build_s
    stats.search_s += run.search_s
    if not run.feasible:
        stats.fallbacks.append("pyvrp: infeasible or unschedulable result, using LNS")
        return None
    return run.routes


def _warm_sequences(cp: CompiledProblem, initial: Solution | None) -> list[list[int]] | None:
    if initial is None:
        return None
    seqs: list[list[int]] = [[] for _ in cp.problem.vehicles]
    for r in initial.routes:
        if 0 <= r.vehicle < len(seqs):
            seqs[r.vehicle] = [x for x in sequence_from_route(cp, r) if x >= 0]
    return seqs


def _run_lns_ortools(
    problem: Problem, cp: CompiledProblem, params: SolveParams, limit: float,
    vehicle_cost: int, stats: SolveStats, *, use_ortools: bool,
) -> list[Route]:
    """LNS alone, or ``ROUNDS`` rounds of LNS then OR-Tools, each from the best so far."""
    t0 = time.perf_counter()
    lns = Lns(cp, seed=params.seed, vehicle_cost=vehicle_cost)
    best: list[list[int]] | None = _warm_sequences(cp, params.initial)
    best_cost = -1
    rounds = ROUNDS if use_ortools else 1
    for rnd in range(rounds):
        round_end = limit * (rnd + 1) / rounds
        share = LNS_SHARE if use_ortools else 1.0
        lns_limit = max(0.01, (round_end - (time.perf_counter() - t0)) * share)
        res = lns.run(lns_limit, initial=best, max_iterations=params.max_iterations)
        stats.lns_iterations += res.iterations
        if rnd == 0:
            stats.construct_s = res.construct_s
        best, best_cost = res.routes, res.cost
        if use_ortools:
            left = max(0.05, round_end - (time.perf_counter() - t0))
            found = _ortools_round(problem, lns, left, best, vehicle_cost, stats)
            if found is not None and found[1] < best_cost:
                best, best_cost = found
    stats.search_s += time.perf_counter() - t0
    out = []
    for k, seq in enumerate(best or []):
        if seq:
            route = route_from_sequence(cp, k, seq)
            if route is not None:
                out.append(route)
    return out


def _ortools_round(
    problem: Problem, lns: Lns, limit: float, start: list[list[int]], vehicle_cost: int,
    stats: SolveStats,
) -> tuple[list[list[int]], int] | None:
    """Run OR-Tools from ``start``; return its sequences and cost when all schedulable."""
    from routing.ortools_solver import solve_ortools

    try:
        run = solve_ortools(problem, lns.cp, time_limit_s=limit, initial=start,
                            vehicle_cost=vehicle_cost)
    except Exception as exc:  # OR-Tools raises bare Exception ("CP Solver fail")
        log.warning("OR-Tools failed (%s); keeping the LNS solution", exc)
        stats.fallbacks.append(f"ortools failed: {exc}")
        return None
    stats.build_s += run.build_s
    if not run.found:
        return None
    if not all(_schedulable(lns, k, s) for k, s in enumerate(run.sequences)):
        stats.fallbacks.append("ortools: a route has no Cordeau schedule; kept LNS")
        return None
    return run.sequences, lns.total_cost(run.sequences, _missing_units(lns, run.sequences))


def _schedulable(lns: Lns, k: int, seq: list[int]) -> bool:
    return not seq or (sequence_load_ok(lns.cp, k, seq) and (
        lns.feasible(k, seq) if lns.has_breaks[k] else schedule_times(lns.cp, k, seq)
        is not None))


def _missing_units(lns: Lns, seqs: list[list[int]]) -> list[int]:
    placed = {lns.unit_of(x) for s in seqs for x in s if x >= 0}
    return [u for u in range(lns.n_units) if u not in placed]


def _reason(cp: CompiledProblem, lns: Lns, u: int) -> str:
    """Explain why unit ``u`` was left out: alone on a vehicle, or no room."""
    nodes = list(lns.nodes(u))
    item = "request" if u < cp.n_requests else "job"
    if not any(cp.allowed[k][nodes[0]] for k in range(len(cp.problem.vehicles))):
        return f"no vehicle has the capacity, skills and permission for this {item}"
    for k in range(len(cp.problem.vehicles)):
        if cp.allowed[k][nodes[0]] and lns.feasible(k, nodes):
            if cp.problem.requests and u < cp.n_requests and cp.problem.requests[u].optional:
                return "optional and left out: serving it costs more than its penalty"
            if u >= cp.n_requests and cp.problem.jobs[u - cp.n_requests].optional:
                return "optional and left out: serving it costs more than its penalty"
            return "no room: could not be fitted beside the other work within the time limit"
    return (f"infeasible: even alone on any allowed vehicle, this {item} misses its time "
            "window, ride-time limit, shift or maximum route duration")


def _finish(
    problem: Problem, cp: CompiledProblem, routes: list[Route], stats: SolveStats, t0: float
) -> Solution:
    from routing.reach import unreachable_items

    lns = Lns(cp)
    served_r = {v.ref for r in routes for v in r.visits if v.kind.value == "pickup"}
    served_j = {v.ref for r in routes for v in r.visits if v.kind.value == "job"}
    left = ([("request", i) for i in range(len(problem.requests)) if i not in served_r]
            + [("job", j) for j in range(len(problem.jobs)) if j not in served_j])
    no_path = unreachable_items(problem) if left else {}
    unassigned = [Unassigned(
        kind=ItemKind.REQUEST if kind == "request" else ItemKind.JOB, ref=i,
        reason=no_path.get((kind, i)) or _reason(
            cp, lns, i if kind == "request" else cp.n_requests + i))
        for kind, i in left]
    return Solution(routes=tuple(sorted(routes, key=lambda r: r.vehicle)),
                    unassigned=tuple(unassigned), engine=stats.engine,
                    runtime_s=time.perf_counter() - t0)
