"""Re-optimize all not-yet-started work of a live engine, keeping every promise.

:func:`reoptimize` works on a snapshot of the engine's plans (so booking never waits
for it), improves them and merges the result back:

1. **Snapshot** — every vehicle's plan as of now: the leg in progress is locked, riders
   on board are pinned to their vehicle, every stop carries its promised limits
   (pickup window, latest arrival, maximum ride).
2. **Improve** — with the solver (:func:`routing.solve.solve`) on a
   :class:`routing.model.Problem` built from the snapshot (vehicles start at their
   locked stop, riders on board become delivery jobs restricted to their vehicle,
   waiting riders are mandatory requests with their promised windows and ride limit),
   warm-started from the current plans; or, without the solver, by local re-insertion
   (remove each request and insert it again where it is cheapest).
3. **Validate** — the new plans must serve exactly the same stops, keep riders on board
   on their vehicle, pass :func:`routing.insertion.schedule` (every promise kept under
   the engine's own timing) and, for solver plans, :func:`routing.check.check`; and
   they must be cheaper by at least ``min_gain``.
4. **Merge** — bookings confirmed or cancelled since the snapshot are replayed onto the
   new plans (cheapest insertion under their promise, or removal); if a vehicle event
   happened meanwhile, or a new booking no longer fits, the new plans are discarded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from routing.insertion import (
    STAY,
    Candidate,
    PlanCache,
    PlanStop,
    VehiclePlan,
    best_insertion,
    insert,
    pin_pickups,
    remove_repaired,
    schedule,
)
from routing.model import (
    Break,
    Job,
    JobKind,
    Location,
    Problem,
    Request,
    RequestKind,
    TimeWindow,
    Vehicle,
    VehicleType,
)
from routing.solution import Route, Solution, StopKind, Visit

if TYPE_CHECKING:
    from dispatch.engine import Engine

logger = logging.getLogger(__name__)

#: Change kinds that can be replayed onto re-optimized plans.
_REPLAYABLE = frozenset({"confirm", "remove"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ReoptParams:
    """Options of :func:`reoptimize`.

    ``use_solver=False`` (or a solver failure, or a solver plan that is not better)
    uses local re-insertion only; it is deterministic unless ``time_limit_s`` is hit.
    With the solver, ``max_iterations`` makes the run reproducible; ``polish`` runs the
    re-insertion search on the solver's plan too.
    """

    time_limit_s: float = 2.0
    seed: int = 0
    min_gain: int = 1
    use_solver: bool = True
    engine: str = "lns"
    max_iterations: int | None = None
    reinsertion_rounds: int = 2
    polish: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ReoptResult:
    """What one re-optimization did."""

    adopted: bool
    reason: str
    cost_before: int
    cost_after: int
    method: str
    runtime_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """The engine's plans at one moment, with the change counter to merge against."""

    version: int
    now: int
    plans: tuple[VehiclePlan, ...]


def snapshot(engine: Engine) -> Snapshot:
    """Take a snapshot of every vehicle plan (leg in progress locked)."""
    return Snapshot(version=engine.version, now=engine.now, plans=tuple(engine.live_plans()))


def plans_cost(plans: Sequence[VehiclePlan], engine: Engine) -> int:
    """Return the summed cost of ``plans`` (distance and duration weights)."""
    d, m = engine.table.durations, engine.table.distances
    return sum(schedule(p, d, m).cost for p in plans if p.active)


def reoptimize(engine: Engine, params: ReoptParams | None = None) -> ReoptResult:
    """Improve every not-yet-started plan of ``engine`` and adopt it if it is better.

    Parameters
    ----------
    engine
        The live engine; it is only changed when the new plans are adopted.
    params
        Time limit, seed and method.

    Returns
    -------
    ReoptResult
        Whether the new plans were adopted, why, and the costs before and after.
    """
    params = params or ReoptParams()
    t0 = time.perf_counter()
    snap = snapshot(engine)
    before = plans_cost(snap.plans, engine)
    method = "reinsertion"
    new: list[VehiclePlan] | None = None
    if params.use_solver:
        try:
            new = solve_snapshot(snap, engine, params)
            method = "solver"
        except Exception as exc:  # the solver must never take dispatch down
            logger.warning("solver re-optimization failed, using re-insertion: %s", exc)
            new = None
    if new is not None:
        problem = _validate(snap.plans, new, engine)
        if problem is not None:
            logger.info("solver plan discarded: %s", problem)
            new = None
        elif plans_cost(new, engine) >= before:
            new = None  # not better: the local search below may still find a gain
    if new is None:
        method = "reinsertion"
        new = list(snap.plans)
    elif params.polish:
        method = "solver+reinsertion"
    if method == "reinsertion" or params.polish:
        new = reinsert_all(new, engine, params)
    after = plans_cost(new, engine)
    return _finish(engine, snap, new, (before, after), method, params, t0)


def _finish(
    engine: Engine, snap: Snapshot, new: list[VehiclePlan], costs: tuple[int, int],
    method: str, params: ReoptParams, t0: float,
) -> ReoptResult:
    before, after = costs

    def result(adopted: bool, reason: str, cost_after: int = after) -> ReoptResult:
        return ReoptResult(adopted=adopted, reason=reason, cost_before=before,
                           cost_after=cost_after, method=method,
                           runtime_s=time.perf_counter() - t0)

    if after > before - params.min_gain:
        return result(False, "no improvement")
    problem = _validate(snap.plans, new, engine)
    if problem is not None:
        return result(False, f"new plan rejected: {problem}")
    merged = merge(engine, snap, new)
    if merged is None:
        return result(False, "state changed since the snapshot and could not be merged")
    engine.adopt_plans(merged, cause=f"reoptimize ({method})")
    return result(True, "better plan adopted", plans_cost(merged, engine))


# ---------------------------------------------------------------------- validation
def _stop_set(plans: Sequence[VehiclePlan]) -> set[tuple[str, StopKind]]:
    return {(s.key, s.kind) for p in plans for s in p.stops}


def _pinned(plans: Sequence[VehiclePlan]) -> set[tuple[str, int]]:
    """Drop-offs of riders on board (or locked stops) and the vehicle they must stay on."""
    out: set[tuple[str, int]] = set()
    for p in plans:
        picked = {s.key for s in p.stops if s.kind is StopKind.PICKUP}
        out |= {(s.key, p.vehicle) for s in p.stops
                if s.kind is not StopKind.PICKUP and s.key not in picked}
        out |= {(s.key, p.vehicle) for s in p.stops[: p.n_locked]}
    return out


def _validate(
    old: Sequence[VehiclePlan], new: Sequence[VehiclePlan], engine: Engine
) -> str | None:
    """Return why ``new`` may not replace ``old``, or ``None`` when it may."""
    if len(old) != len(new):
        return "wrong number of plans"
    if _stop_set(old) != _stop_set(new):
        return "the stops served differ"
    if sum(len(p.stops) for p in new) != sum(len(p.stops) for p in old):
        return "a stop is served twice"
    if not _pinned(old) <= _pinned(new) | {(s.key, p.vehicle) for p in new for s in p.stops}:
        return "a pinned stop moved"
    for o, n in zip(old, new, strict=True):
        if o.stops[: o.n_locked] != n.stops[: o.n_locked] or (o.origin, o.origin_s) != (
                n.origin, n.origin_s):
            return f"vehicle {o.vehicle}: locked leg changed"
        if not n.active and n.stops:
            return f"vehicle {o.vehicle} is out of service"
        for key, kind in ((s.key, s.kind) for s in n.stops):
            if kind is StopKind.PICKUP and not _pickup_before_dropoff(n, key):
                return f"{key}: drop-off before pickup"
        sch = schedule(n, engine.table.durations, engine.table.distances)
        if not sch.feasible:
            return f"vehicle {o.vehicle}: {sch.violations[0]}"
    return None


def _pickup_before_dropoff(plan: VehiclePlan, key: str) -> bool:
    kinds = [s.kind for s in plan.stops if s.key == key]
    return kinds == [StopKind.PICKUP, StopKind.DROPOFF]


# ---------------------------------------------------------------------- merge
def merge(engine: Engine, snap: Snapshot, new: list[VehiclePlan]) -> list[VehiclePlan] | None:
    """Replay the engine's changes since ``snap`` onto ``new``; ``None`` if impossible."""
    changes = [c for c in engine.changes if c[0] > snap.version]
    if not changes:
        return new
    if any(kind not in _REPLAYABLE for _, kind, _ in changes):
        return None
    plans = list(new)
    live = engine.live_plans()
    for p_new, p_live in zip(plans, live, strict=True):
        if (p_new.origin, p_new.origin_s, p_new.n_locked) != (
                p_live.origin, p_live.origin_s, p_live.n_locked):
            return None
    for _, kind, key in changes:
        if kind == "remove":
            d, m = engine.table.durations, engine.table.distances
            plans = [remove_repaired(p, key, d, m) if any(s.key == key for s in p.stops)
                     else p for p in plans]
            continue
        if any(s.key == key for p in plans for s in p.stops):
            continue
        cand = engine.promise_candidate(key)
        ins = best_insertion(plans, [cand], engine.table.durations, engine.table.distances)
        if ins is None:
            return None
        plans[ins.plan] = insert(plans[ins.plan], ins, cand)
    return plans


# ---------------------------------------------------------------------- re-insertion
def _movable(plan: VehiclePlan) -> list[str]:
    """Keys with both stops in the unlocked part of ``plan``."""
    free = plan.stops[plan.n_locked :]
    picks = {s.key for s in free if s.kind is StopKind.PICKUP}
    return [s.key for s in free if s.kind is StopKind.DROPOFF and s.key in picks]


def reinsert_all(
    plans: list[VehiclePlan], engine: Engine, params: ReoptParams
) -> list[VehiclePlan]:
    """Improve ``plans`` by removing each request and re-inserting it where cheapest.

    Deterministic: requests are visited in plan order; a move is kept only when it
    lowers the total cost. Promises stay hard limits throughout.
    """
    d, m = engine.table.durations, engine.table.distances
    cache = PlanCache()
    deadline = time.perf_counter() + params.time_limit_s
    for _ in range(params.reinsertion_rounds):
        improved = False
        for k in range(len(plans)):
            for key in _movable(plans[k]):
                if time.perf_counter() > deadline:
                    return plans
                stops = [s for s in plans[k].stops if s.key == key]
                cand = Candidate(pickup=stops[0], dropoff=stops[1])
                without = remove_repaired(plans[k], key, d, m)
                saving = schedule(plans[k], d, m).cost - schedule(without, d, m).cost
                trial = [*plans[:k], without, *plans[k + 1 :]]
                ins = best_insertion(trial, [cand], d, m, cache=cache)
                if ins is not None and ins.cost < saving:
                    trial[ins.plan] = insert(trial[ins.plan], ins, cand)
                    plans = trial
                    improved = True
        if not improved:
            break
    return plans


# ---------------------------------------------------------------------- solver
@dataclass(slots=True)
class BuiltProblem:
    """A routing problem built from a snapshot, with the map back to the plan stops."""

    problem: Problem
    heads: list[tuple[PlanStop, ...]]  # locked stops per active vehicle
    vehicles: list[int]  # engine vehicle per problem vehicle
    items: list[tuple[str, int]]  # per request: key; jobs listed separately
    req_stops: list[tuple[PlanStop, PlanStop]]
    job_stops: list[PlanStop]
    breaks: list[list[PlanStop]]
    loc_index: dict[int, int]


def _locked_head(plan: VehiclePlan, engine: Engine) -> tuple[VehiclePlan, tuple[PlanStop, ...]]:
    """Execute the locked stops virtually: the vehicle starts after them."""
    if plan.n_locked == 0:
        return plan, ()
    head = plan.stops[: plan.n_locked]
    sch = schedule(replace(plan, stops=head), engine.table.durations, engine.table.distances)
    loc = plan.origin
    onboard = list(plan.onboard)
    rest = list(plan.stops[plan.n_locked :])
    for k, s in enumerate(head):
        loc = loc if s.location == STAY else s.location
        onboard = [a + b for a, b in zip(onboard, s.delta, strict=True)]
        if s.kind is StopKind.PICKUP:
            rest = [replace(x, ride_from_s=sch.departure[k]) if x.key == s.key else x
                    for x in rest]
    start_s = sch.departure[-1]
    return replace(plan, origin=loc, origin_s=start_s, stops=tuple(rest),
                   onboard=tuple(onboard), n_locked=0), head


def build_problem(snap: Snapshot, engine: Engine) -> BuiltProblem:
    """Return the routing problem of the snapshot's unlocked work."""
    table = engine.table
    used: dict[int, int] = {}

    def idx(loc: int) -> int:
        return used.setdefault(loc, len(used))

    types: list[VehicleType] = []
    vehicles: list[Vehicle] = []
    built = BuiltProblem(problem=None, heads=[], vehicles=[], items=[],  # type: ignore[arg-type]
                   req_stops=[], job_stops=[], breaks=[], loc_index=used)
    requests: list[Request] = []
    jobs: list[Job] = []
    for p in snap.plans:
        if not p.active:
            continue
        free, head = _locked_head(p, engine)
        v = len(vehicles)
        types.append(VehicleType(name=f"t{p.vehicle}", capacity=p.capacity,
                                 distance_cost=p.distance_cost, duration_cost=p.duration_cost))
        brs = [s for s in free.stops if s.kind is StopKind.BREAK]
        vehicles.append(Vehicle(
            id=str(p.vehicle), type=v, start=idx(free.origin),
            end=None if free.end is None else idx(free.end),
            shift=TimeWindow(earliest=free.origin_s, latest=max(free.origin_s, free.end_latest)),
            breaks=tuple(Break(window=TimeWindow(earliest=s.earliest, latest=s.latest),
                               duration_s=s.service_s) for s in brs)))
        built.heads.append(head)
        built.vehicles.append(p.vehicle)
        built.breaks.append(brs)
        _add_work(free, v, idx, requests, jobs, built)
    locs = sorted(used, key=used.__getitem__)
    sub = table.subset(locs)
    lonlat = sub.locations
    problem = Problem(
        locations=tuple(Location(lon=float(x), lat=float(y)) for x, y in lonlat),
        dimensions=engine.config.dimensions,
        durations={"car": sub.durations}, distances={"car": sub.distances},
        vehicle_types=tuple(types), vehicles=tuple(vehicles), requests=tuple(requests),
        jobs=tuple(jobs), name=f"reoptimize@{snap.now}")
    built.problem = problem
    return built


def _add_work(
    free: VehiclePlan, v: int, idx: Callable[[int], int], requests: list[Request],
    jobs: list[Job], built: BuiltProblem,
) -> None:
    picks = {s.key: s for s in free.stops if s.kind is StopKind.PICKUP}
    for s in free.stops:
        if s.kind is StopKind.DROPOFF and s.key in picks:
            p = picks[s.key]
            requests.append(Request(
                id=s.key, pickup=idx(p.location), dropoff=idx(s.location), load=p.delta,
                kind=RequestKind.RIDE if s.ride_limit_s is not None else RequestKind.DELIVERY,
                pickup_window=TimeWindow(earliest=p.earliest, latest=p.latest),
                dropoff_window=TimeWindow(earliest=s.earliest, latest=s.latest),
                pickup_service_s=p.service_s, dropoff_service_s=s.service_s,
                max_ride_s=s.ride_limit_s))
            built.req_stops.append((p, s))
        elif s.kind is StopKind.DROPOFF:
            latest = s.latest
            if s.ride_limit_s is not None and s.ride_from_s is not None:
                latest = min(latest, s.ride_from_s + s.ride_limit_s)
            jobs.append(Job(id=s.key, location=idx(s.location),
                            load=tuple(-q for q in s.delta), kind=JobKind.DELIVERY,
                            window=TimeWindow(earliest=s.earliest, latest=max(latest, s.earliest)),
                            service_s=s.service_s, allowed_vehicles=(v,)))
            built.job_stops.append(s)


def initial_solution(built: BuiltProblem, snap: Snapshot, engine: Engine) -> Solution:
    """Return the current plans as a solution of the built problem (warm start)."""
    req_ix = {p.key: i for i, (p, _) in enumerate(built.req_stops)}
    job_ix = {s.key: i for i, s in enumerate(built.job_stops)}
    active = [p for p in snap.plans if p.active]
    routes = []
    for v, p in enumerate(active):
        free, _ = _locked_head(p, engine)
        sch = schedule(free, engine.table.durations, engine.table.distances)
        visits: list[Visit] = []
        brk = 0
        for k, s in enumerate(free.stops):
            if s.kind is StopKind.BREAK:
                kind, ref, brk = StopKind.BREAK, brk, brk + 1
            elif s.kind is StopKind.PICKUP:
                kind, ref = StopKind.PICKUP, req_ix[s.key]
            elif s.key in req_ix:
                kind, ref = StopKind.DROPOFF, req_ix[s.key]
            else:
                kind, ref = StopKind.JOB, job_ix[s.key]
            if s.location != STAY:
                loc = built.loc_index[s.location]
            else:  # a break repeats the previous location (routing.solution.Visit)
                loc = visits[-1].location if visits else built.problem.vehicles[v].start
            visits.append(Visit(kind=kind, ref=ref, location=loc, arrival=sch.arrival[k],
                                start=sch.start[k], departure=sch.departure[k]))
        routes.append(Route(vehicle=v, visits=tuple(visits), start_s=free.origin_s,
                            end_s=sch.end_s))
    return Solution(routes=tuple(routes), engine="current")


def solve_snapshot(snap: Snapshot, engine: Engine, params: ReoptParams) -> list[VehiclePlan]:
    """Solve the snapshot's routing problem and return the new plans (unvalidated).

    Raises
    ------
    RuntimeError
        When the solver leaves a confirmed request out.
    """
    from routing.check import check
    from routing.solve import SolveParams, solve

    built = build_problem(snap, engine)
    if not built.problem.requests and not built.problem.jobs:
        return list(snap.plans)
    sol = solve(built.problem, SolveParams(
        time_limit_s=params.time_limit_s, seed=params.seed, engine=params.engine,
        max_iterations=params.max_iterations, initial=_safe_initial(built, snap, engine)))
    if sol.unassigned:
        msg = f"solver left {len(sol.unassigned)} confirmed items out"
        raise RuntimeError(msg)
    violations = check(built.problem, sol)
    if violations:
        msg = f"solver plan has violations: {violations[0]}"
        raise RuntimeError(msg)
    return _to_plans(built, sol, snap, engine)


def _safe_initial(built: BuiltProblem, snap: Snapshot, engine: Engine) -> Solution | None:
    try:
        return initial_solution(built, snap, engine)
    except (KeyError, ValueError) as exc:  # pragma: no cover - warm start is optional
        logger.debug("no warm start: %s", exc)
        return None


def _to_plans(
    built: BuiltProblem, sol: Solution, snap: Snapshot, engine: Engine
) -> list[VehiclePlan]:
    by_vehicle = {r.vehicle: r for r in sol.routes}
    out = list(snap.plans)
    for v, k in enumerate(built.vehicles):
        route = by_vehicle.get(v)
        stops: list[PlanStop] = []
        for x in route.visits if route else ():
            if x.kind is StopKind.PICKUP:
                stops.append(built.req_stops[x.ref][0])
            elif x.kind is StopKind.DROPOFF:
                stops.append(built.req_stops[x.ref][1])
            elif x.kind is StopKind.JOB:
                stops.append(built.job_stops[x.ref])
            else:
                stops.append(built.breaks[v][x.ref])
        old = snap.plans[k]
        targets = {built.req_stops[x.ref][0].key: x.start for x in (route.visits if route else ())
                   if x.kind is StopKind.PICKUP}
        # the engine's own stops (riders picked up in the locked head have no ride_from)
        plan = _restore_ride_from(old, replace(old, stops=(*built.heads[v], *stops)))
        out[k] = pin_pickups(plan, targets, engine.table.durations, engine.table.distances)
    return out


def _restore_ride_from(old: VehiclePlan, new: VehiclePlan) -> VehiclePlan:
    original = {(s.key, s.kind): s for s in old.stops}
    return replace(new, stops=tuple(original.get((s.key, s.kind), s) for s in new.stops))
