"""Re-optimize all not-yet-started work of a live engine, keeping every promise.

A re-optimization has a pure middle between two short steps in the engine's thread:

1. **Snapshot** (:func:`snapshot`, engine thread) — every vehicle's plan as of now: the
   leg in progress locked (and, for a run off the booking path, every stop the vehicle
   starts before ``lock_until``), riders on board pinned to their vehicle, every stop
   with its promised limits (pickup window, latest arrival, maximum ride).
2. **Improve** (:func:`improve`, pure: snapshot, travel table and parameters in,
   candidate plans out; runs inline or in a worker process, see
   :mod:`dispatch.background`) — with the solver (:func:`routing.solve.solve`) on a
   :class:`routing.model.Problem` built from the snapshot (vehicles start after their
   locked stops, riders on board become delivery jobs restricted to their vehicle,
   waiting riders are mandatory requests with their promised windows and ride limit),
   warm-started from the current plans; and/or by local re-insertion (remove each
   request and insert it again where it is cheapest). Solver plans must serve exactly
   the same stops, keep riders on board on their vehicle, pass
   :func:`routing.insertion.schedule` and :func:`routing.check.check`.
3. **Merge** (:func:`finish`, engine thread) — the candidate plans are rebased onto the
   live plans: stops served since the snapshot must be the ones the candidate planned
   first (the locked ones), bookings confirmed since are inserted at their cheapest
   place under their promise and cancelled ones removed; a vehicle event since the
   snapshot (delay, position, breakdown, other adopted plans) drops the result. The
   merged plans are adopted only if they are cheaper than the live plans by
   ``min_gain``, and :meth:`dispatch.engine.Engine.adopt_plans` itself refuses any plan
   that breaks a confirmed promise; every outcome comes back as a :class:`ReoptResult`
   with its reason.

:func:`reoptimize` runs the three steps inline (the synchronous convenience);
:class:`dispatch.background.BackgroundReoptimizer` runs step 2 in a worker process while
the engine keeps answering bookings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from dispatch.engine.fleet import timed
from dispatch.errors import DispatchError
from dispatch.network import TravelTable
from routing.insertion import (
    STAY,
    Candidate,
    PlanCache,
    PlanStop,
    VehiclePlan,
    best_insertion,
    insert,
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

#: Key prefix of the zero-length stop that keeps a vehicle at its last locked stop until
#: ``lock_until`` in a snapshot (never part of an engine plan).
HOLD_PREFIX = "__hold__:"

#: Change kinds a result can be merged across (any other change since the snapshot,
#: a vehicle event or other adopted plans, drops the result).
_MERGEABLE = frozenset({"confirm", "remove", "execute"})


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
    """What one re-optimization did.

    ``cost_before`` and ``cost_after`` are the summed plan costs the decision compared:
    the live plans and the merged new plans (for a result that was not merged, the
    snapshot's plans and the candidate). ``method`` is what produced the candidate:
    ``"solver"``, ``"solver+reinsertion"`` (re-insertion improved the solver's plan
    further) or ``"reinsertion"``. ``runtime_s`` is the wall time from the snapshot to
    the decision; ``improve_s`` the part spent in :func:`improve` (in a worker, for a
    background run) and ``merge_s`` the part spent merging in the engine's thread.
    """

    adopted: bool
    reason: str
    cost_before: int
    cost_after: int
    method: str
    runtime_s: float
    improve_s: float = 0.0
    merge_s: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """The engine's plans at one moment, with what is needed to merge against it.

    ``executed`` counts the stops each vehicle had served; ``dimensions`` are the
    engine's load dimensions. Plain picklable data: it is what a worker receives.
    """

    version: int
    now: int
    plans: tuple[VehiclePlan, ...]
    executed: tuple[int, ...] = ()
    dimensions: tuple[str, ...] = ()
    lock_until: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Improvement:
    """Candidate plans for a snapshot, from :func:`improve` (no engine involved)."""

    plans: tuple[VehiclePlan, ...]
    method: str
    cost_before: int
    cost_after: int
    runtime_s: float
    note: str = ""


def _table(source: Engine | TravelTable) -> TravelTable:
    return source if isinstance(source, TravelTable) else source.table


def snapshot(engine: Engine, *, lock_until: int | None = None) -> Snapshot:
    """Take a snapshot of every vehicle plan (leg in progress locked).

    Parameters
    ----------
    engine
        The live engine (read only).
    lock_until
        Also lock every stop a vehicle starts driving to before this time (as planned
        now), and let idle vehicles start no earlier: a result merged at that time then
        finds the vehicles where it planned them. ``None`` locks the leg in progress only.
    """
    plans = tuple(engine.live_plans())
    if lock_until is not None and lock_until > engine.now:
        plans = tuple(_lock_ahead(p, engine.table, lock_until) for p in plans)
    return Snapshot(version=engine.version, now=engine.now, plans=plans,
                    executed=tuple(len(engine.history(k)) for k in range(len(plans))),
                    dimensions=tuple(engine.config.dimensions), lock_until=lock_until)


def _lock_ahead(plan: VehiclePlan, table: TravelTable, until: int) -> VehiclePlan:
    """Lock the stops ``plan`` starts driving to by ``until`` (the engine leaves just in
    time: at the later of the previous departure and the stop's start minus the drive)."""
    if not plan.active:
        return plan
    d = table.durations
    sch = schedule(plan, d, table.distances)
    n, loc, dep = plan.n_locked, plan.origin, plan.origin_s
    for i, s in enumerate(plan.stops):
        at = loc if s.location == STAY else s.location
        if i >= n:
            if max(dep, sch.start[i] - int(d[loc, at])) > until:
                break
            n = i + 1
        loc, dep = at, sch.departure[i]
    if n == 0:
        return replace(plan, origin_s=max(plan.origin_s, until))
    stops = plan.stops
    if sch.departure[n - 1] < until:
        # The vehicle cannot leave its last locked stop before the result comes back:
        # a zero-length hold there (removed again by the merge) says so to the worker.
        hold = PlanStop(key=f"{HOLD_PREFIX}{plan.vehicle}", kind=StopKind.BREAK,
                        location=STAY, delta=(0,) * len(plan.capacity), earliest=until)
        stops = (*stops[:n], hold, *stops[n:])
        n += 1
    return replace(plan, stops=stops, n_locked=n)


def _is_hold(stop: PlanStop) -> bool:
    return stop.kind is StopKind.BREAK and stop.key.startswith(HOLD_PREFIX)


def plans_cost(plans: Sequence[VehiclePlan], source: Engine | TravelTable) -> int:
    """Return the summed cost of ``plans`` (distance and duration weights)."""
    table = _table(source)
    return sum(timed(p, table).cost for p in plans if p.active)


def reoptimize(engine: Engine, params: ReoptParams | None = None) -> ReoptResult:
    """Improve every not-yet-started plan of ``engine`` and adopt it if it is better.

    The synchronous convenience: snapshot, :func:`improve` and :func:`finish` inline,
    so the engine answers nothing meanwhile (see
    :class:`dispatch.background.BackgroundReoptimizer` for the run off the booking path).

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
    return finish(engine, snap, improve(snap, engine.table, params), params, t0=t0)


def improve(snap: Snapshot, table: TravelTable, params: ReoptParams) -> Improvement:
    """Return better plans for ``snap`` (or its own plans when none is found).

    Pure: depends only on its arguments, touches no engine, so it runs in a worker.
    The solver's plan (when asked for) is kept only when it passes the checks and is
    cheaper; re-insertion then polishes it, or improves the snapshot's plans alone.
    """
    t0 = time.perf_counter()
    before = plans_cost(snap.plans, table)
    new: list[VehiclePlan] | None = None
    note = ""
    if params.use_solver:
        try:
            new = solve_snapshot(snap, table, params)
        except Exception as exc:  # the solver must never take dispatch down
            logger.warning("solver re-optimization failed, using re-insertion: %s", exc)
            note = f"solver failed: {exc}"
    if new is not None:
        problem = _validate(snap.plans, new, table)
        if problem is not None:
            logger.info("solver plan discarded: %s", problem)
            note, new = f"solver plan discarded: {problem}", None
        elif plans_cost(new, table) >= before:
            note, new = "solver found no gain", None
    if new is None:
        method, new = "reinsertion", reinsert_all(list(snap.plans), table, params)
    else:
        method = "solver"
        if params.polish:
            solver_cost = plans_cost(new, table)
            new = reinsert_all(new, table, params)
            if plans_cost(new, table) < solver_cost:
                method = "solver+reinsertion"
    return Improvement(plans=tuple(new), method=method, cost_before=before,
                       cost_after=plans_cost(new, table), runtime_s=time.perf_counter() - t0,
                       note=note)


def finish(
    engine: Engine, snap: Snapshot, imp: Improvement, params: ReoptParams, *,
    t0: float | None = None,
) -> ReoptResult:
    """Merge ``imp`` (made from ``snap``) into ``engine`` and adopt it if still better.

    Runs in the engine's thread. The result is dropped, with the reason, when the
    candidate found no gain, when a vehicle event happened since the snapshot, when the
    bookings made meanwhile do not fit, when the merged plans are no cheaper than the
    live ones, or when :meth:`~dispatch.engine.Engine.adopt_plans` refuses them.
    """
    t_merge = time.perf_counter()
    start = t_merge - imp.runtime_s if t0 is None else t0

    def result(adopted: bool, reason: str, costs: tuple[int, int]) -> ReoptResult:
        now = time.perf_counter()
        return ReoptResult(adopted=adopted, reason=reason, cost_before=costs[0],
                           cost_after=costs[1], method=imp.method, runtime_s=now - start,
                           improve_s=imp.runtime_s, merge_s=now - t_merge)

    if imp.cost_after > imp.cost_before - params.min_gain:
        why = "no improvement" + (f" ({imp.note})" if imp.note else "")
        return result(False, why, (imp.cost_before, imp.cost_after))
    merged, why = merge_plans(engine, snap, list(imp.plans))
    if merged is None:
        return result(False, f"dropped: {why}", (imp.cost_before, imp.cost_after))
    costs = (plans_cost(engine.live_plans(), engine), plans_cost(merged, engine))
    if costs[1] > costs[0] - params.min_gain:
        return result(False, "no improvement left after merging the changes since the "
                             "snapshot", costs)
    try:
        engine.adopt_plans(merged, cause=f"reoptimize ({imp.method})")
    except (DispatchError, ValueError) as exc:  # PlanRejectedError names request and limit
        return result(False, f"refused by the engine: {exc}", costs)
    return result(True, "better plan adopted", costs)


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
    old: Sequence[VehiclePlan], new: Sequence[VehiclePlan], source: Engine | TravelTable
) -> str | None:
    """Return why ``new`` may not replace ``old``, or ``None`` when it may."""
    table = _table(source)
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
        sch = schedule(n, table.durations, table.distances)
        if not sch.feasible:
            return f"vehicle {o.vehicle}: {sch.violations[0]}"
    return None


def _pickup_before_dropoff(plan: VehiclePlan, key: str) -> bool:
    kinds = [s.kind for s in plan.stops if s.key == key]
    return kinds == [StopKind.PICKUP, StopKind.DROPOFF]


# ---------------------------------------------------------------------- merge
def merge(engine: Engine, snap: Snapshot, new: list[VehiclePlan]) -> list[VehiclePlan] | None:
    """Replay the engine's changes since ``snap`` onto ``new``; ``None`` if impossible."""
    return merge_plans(engine, snap, new)[0]


def merge_plans(
    engine: Engine, snap: Snapshot, new: list[VehiclePlan]
) -> tuple[list[VehiclePlan] | None, str]:
    """Rebase ``new`` (made from ``snap``) onto the live plans; return it or why not.

    Each vehicle's stops served since the snapshot must be the first stops of its new
    plan; the rest of the new plan follows the vehicle's live position, load and locked
    leg. Requests cancelled since are removed, requests confirmed since are inserted at
    their cheapest place under their promise. Any other change since the snapshot (a
    vehicle event, other adopted plans) makes the new plans stale.
    """
    changes = [c for c in engine.changes if c[0] > snap.version]
    stale = next((c for c in changes if c[1] not in _MERGEABLE), None)
    if stale is not None:
        return None, f"{stale[1]} ({stale[2]}) since the snapshot"
    live = engine.live_plans()
    if len(live) != len(new) or len(snap.executed) != len(new):
        return None, "the fleet changed since the snapshot"
    plans: list[VehiclePlan] = []
    stops = {(s.key, s.kind): s for p in live for s in p.stops}
    for k, (p_new, p_live) in enumerate(zip(new, live, strict=True)):
        done = engine.history(k)[snap.executed[k]:]
        rebased = _rebase(p_new, p_live, [(h.key, str(h.kind)) for h in done], stops)
        if isinstance(rebased, str):
            return None, f"vehicle {k}: {rebased}"
        plans.append(rebased)
    table = engine.table
    d, m = table.durations, table.distances
    wanted = _stop_set(live)
    for gone in sorted({key for key, _ in _stop_set(plans)} - {key for key, _ in wanted}):
        plans = [remove_repaired(p, gone, d, m) if any(s.key == gone for s in p.stops)
                 else p for p in plans]
    have = {key for key, _ in _stop_set(plans)}
    cache = PlanCache()
    for _, kind, key in changes:
        if kind != "confirm" or key in have or (key, StopKind.PICKUP) not in wanted:
            continue
        cand = engine.promise_candidate(key)
        ins = best_insertion(plans, [cand], d, m, cache=cache)
        if ins is None:
            return None, f"request {key}, booked since the snapshot, does not fit the new plans"
        plans[ins.plan] = insert(plans[ins.plan], ins, cand)
        have.add(key)
    return plans, ""


def _rebase(
    new: VehiclePlan, live: VehiclePlan, done: list[tuple[str, str]],
    stops: dict[tuple[str, StopKind], PlanStop],
) -> VehiclePlan | str:
    """Return ``new`` without its ``done`` stops, starting where ``live`` is, or why not.

    ``stops`` are the live stops of the whole fleet, whose limits the new stops take on.
    """
    new = replace(new, stops=tuple(s for s in new.stops if not _is_hold(s)))
    head = [(s.key, str(s.kind)) for s in new.stops[: len(done)]]
    if head != done:
        i = next((i for i, (a, b) in enumerate(zip(head, done, strict=False)) if a != b),
                 len(head))
        return (f"served {done[i][1]} of {done[i][0]} since the snapshot, which the new "
                "plan had not planned next")
    rest = new.stops[len(done):]
    n = live.n_locked
    if [(s.key, s.kind) for s in rest[:n]] != [(s.key, s.kind) for s in live.stops[:n]]:
        s = live.stops[n - 1]
        return (f"started the leg to the {s.kind} of {s.key} since the snapshot, which the "
                "new plan had not planned next")
    tail = tuple(_tightened(s, stops.get((s.key, s.kind))) for s in rest[n:])
    return replace(live, stops=(*live.stops[:n], *tail))


def _tightened(new: PlanStop, live: PlanStop | None) -> PlanStop:
    """Return ``new`` within the live stop's limits (the engine may have tightened them
    since the snapshot, e.g. pinned a pickup after a cancellation) and ride start."""
    if live is None or live == new:
        return new
    return replace(new, earliest=max(new.earliest, live.earliest),
                   latest=min(new.latest, live.latest), ride_from_s=live.ride_from_s)


# ---------------------------------------------------------------------- re-insertion
def _movable(plan: VehiclePlan) -> list[str]:
    """Keys with both stops in the unlocked part of ``plan``."""
    free = plan.stops[plan.n_locked :]
    picks = {s.key for s in free if s.kind is StopKind.PICKUP}
    return [s.key for s in free if s.kind is StopKind.DROPOFF and s.key in picks]


def reinsert_all(
    plans: list[VehiclePlan], source: Engine | TravelTable, params: ReoptParams
) -> list[VehiclePlan]:
    """Improve ``plans`` by removing each request and re-inserting it where cheapest.

    Deterministic: requests are visited in plan order; a move is kept only when it
    lowers the total cost. Promises stay hard limits throughout.
    """
    table = _table(source)
    d, m = table.durations, table.distances
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


def _locked_head(
    plan: VehiclePlan, table: TravelTable
) -> tuple[VehiclePlan, tuple[PlanStop, ...]]:
    """Execute the locked stops virtually: the vehicle starts after them.

    The locked stops keep the times the whole plan gives them (the one timing rule
    times the plan, not its head alone: a pickup the plan delays to keep a ride short
    starts that rider's ride clock at the delayed departure).
    """
    if plan.n_locked == 0:
        return plan, ()
    head = plan.stops[: plan.n_locked]
    sch = timed(plan, table)
    loc = plan.origin
    onboard = list(plan.onboard)
    rest = list(plan.stops[plan.n_locked :])
    for k, s in enumerate(head):
        loc = loc if s.location == STAY else s.location
        onboard = [a + b for a, b in zip(onboard, s.delta, strict=True)]
        if s.kind is StopKind.PICKUP:
            rest = [replace(x, ride_from_s=sch.departure[k]) if x.key == s.key else x
                    for x in rest]
    start_s = sch.departure[plan.n_locked - 1]
    return replace(plan, origin=loc, origin_s=start_s, stops=tuple(rest),
                   onboard=tuple(onboard), n_locked=0), head


def build_problem(snap: Snapshot, source: Engine | TravelTable) -> BuiltProblem:
    """Return the routing problem of the snapshot's unlocked work."""
    table = _table(source)
    dimensions = snap.dimensions or (
        () if isinstance(source, TravelTable) else tuple(source.config.dimensions))
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
        free, head = _locked_head(p, table)
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
        dimensions=dimensions,
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


def initial_solution(
    built: BuiltProblem, snap: Snapshot, source: Engine | TravelTable
) -> Solution:
    """Return the current plans as a solution of the built problem (warm start)."""
    table = _table(source)
    req_ix = {p.key: i for i, (p, _) in enumerate(built.req_stops)}
    job_ix = {s.key: i for i, s in enumerate(built.job_stops)}
    active = [p for p in snap.plans if p.active]
    routes = []
    for v, p in enumerate(active):
        free, _ = _locked_head(p, table)
        sch = schedule(free, table.durations, table.distances)
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


def solve_snapshot(
    snap: Snapshot, source: Engine | TravelTable, params: ReoptParams
) -> list[VehiclePlan]:
    """Solve the snapshot's routing problem and return the new plans (unvalidated).

    Raises
    ------
    RuntimeError
        When the solver leaves a confirmed request out.
    """
    from routing.check import check
    from routing.solve import SolveParams, solve

    table = _table(source)
    built = build_problem(snap, table)
    if not built.problem.requests and not built.problem.jobs:
        return list(snap.plans)
    sol = solve(built.problem, SolveParams(
        time_limit_s=params.time_limit_s, seed=params.seed, engine=params.engine,
        max_iterations=params.max_iterations, initial=_safe_initial(built, snap, table)))
    if sol.unassigned:
        msg = f"solver left {len(sol.unassigned)} confirmed items out"
        raise RuntimeError(msg)
    violations = check(built.problem, sol)
    if violations:
        msg = f"solver plan has violations: {violations[0]}"
        raise RuntimeError(msg)
    return _to_plans(built, sol, snap, table)


def _safe_initial(built: BuiltProblem, snap: Snapshot, table: TravelTable) -> Solution | None:
    try:
        return initial_solution(built, snap, table)
    except (KeyError, ValueError) as exc:  # pragma: no cover - warm start is optional
        logger.debug("no warm start: %s", exc)
        return None


def _to_plans(
    built: BuiltProblem, sol: Solution, snap: Snapshot, table: TravelTable
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
        # the engine's own stops (riders picked up in the locked head have no ride_from);
        # the plan is timed by the solver's own rule, so nothing is pinned
        out[k] = _restore_ride_from(old, replace(old, stops=(*built.heads[v], *stops)))
    return out


def _restore_ride_from(old: VehiclePlan, new: VehiclePlan) -> VehiclePlan:
    original = {(s.key, s.kind): s for s in old.stops}
    return replace(new, stops=tuple(original.get((s.key, s.kind), s) for s in new.stops))
