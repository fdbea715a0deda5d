"""Cheapest feasible insertion of a pickup-and-delivery pair into live vehicle plans.

A :class:`VehiclePlan` is the not-yet-executed part of one vehicle's route: where and
when the vehicle is free (``origin``, ``origin_s``), the ordered stops it still has to
serve, what is on board, its capacity and its shift end. Every stop carries hard
limits: a service-start window ``[earliest, latest]`` and, for a drop-off, a maximum
ride time measured from the pickup's departure (Cordeau's convention). Those limits are
how dispatch encodes its promises, so a plan that passes :func:`schedule` keeps every
promise.

Plans are timed by the one procedure of the solver: :func:`schedule` converts the plan
to flat stops (:func:`to_stops`) and times them with Cordeau & Laporte's procedure
(:func:`routing.schedule.time_stops`) in its rider-first mode: the vehicle waits where
it is and leaves just in time for its first stop, every service starts as early as its
window allows, and a pickup is delayed only while its rider would ride too long
(run by its compiled twin :func:`routing.kernels.live_times`). The engine executes
exactly those times.

:func:`best_insertion` tries every vehicle, every candidate (e.g. alternative meeting
stops) and every pair of positions ``i <= j`` at once: positions are pruned with
necessary conditions on the current schedule (windows, capacity, forward slack), then
every surviving pair is simulated at the *earliest* schedule (leave at once, wait at
the stop); both run compiled (:func:`routing.kernels.live_insertion_pairs`,
:func:`routing.kernels.live_insertion_rows`, which stop a row once it fails). A plan
feasible at the earliest schedule is feasible under the rule (it then keeps the
earliest service times), with the same distance and end time, so the same cost; and
the rule fails wherever the earliest schedule breaks a window, the capacity or the
shift end. So only the rows whose sole fault at the
earliest schedule is a ride that is too long can differ: those cheaper than the best
feasible row are timed by the rule (:func:`rule_times`), cheapest first (:data:`DELAYED_CHECKS` at
most), which makes the search exact under the one rule. The chosen insertion is
re-timed (and re-checked) by :func:`schedule` before it is returned.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from routing import kernels
from routing.model import UNREACHABLE, Load, StopKind
from routing.schedule import INF, Stops

logger = logging.getLogger(__name__)

#: A stop at this location is served where the vehicle already is (a driver break).
STAY = -1

#: "No limit" for windows: far beyond any service day, small enough never to overflow.
OPEN = 10**12

IntArray = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanStop:
    """One stop of a vehicle plan.

    Parameters
    ----------
    key
        Identifier of what is served; a pickup and its drop-off share the key.
    kind
        Pickup, drop-off or break (``JOB`` is treated like a drop-off without pair).
    location
        Location index, or :data:`STAY` for a stop served where the vehicle is.
    earliest, latest
        Service may start no earlier than ``earliest`` and no later than ``latest``.
    service_s
        Service duration.
    delta
        Load change when served (positive at a pickup, negative at a drop-off).
    ride_limit_s
        For a drop-off: the latest start of service, counted from the departure of
        its pickup. ``None`` for no limit.
    ride_from_s
        For a drop-off whose pickup is already done: that pickup's departure time.
    """

    key: str
    kind: StopKind
    location: int
    delta: Load
    earliest: int = 0
    latest: int = OPEN
    service_s: int = 0
    ride_limit_s: int | None = None
    ride_from_s: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VehiclePlan:
    """The remaining work of one vehicle.

    Parameters
    ----------
    vehicle
        Caller's vehicle index (returned in :class:`Insertion`).
    origin, origin_s
        Where the vehicle is free to leave from, and when.
    stops
        Remaining stops in order.
    capacity
        Capacity per load dimension.
    onboard
        Load on board at ``origin``.
    n_locked
        The first ``n_locked`` stops are fixed (the leg in progress): nothing may be
        inserted before them.
    end, end_latest
        End depot (``None`` for an open route) and the latest arrival there (the end
        of the shift); for an open route the last departure must respect it.
    distance_cost, duration_cost
        Weights of metres driven and seconds of route duration in the cost.
    active
        ``False`` for a vehicle that takes no new work (broken down, off shift).
    """

    vehicle: int
    origin: int
    origin_s: int
    stops: tuple[PlanStop, ...]
    capacity: Load
    onboard: Load
    n_locked: int = 0
    end: int | None = None
    end_latest: int = OPEN
    distance_cost: int = 1
    duration_cost: int = 0
    active: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """Times of a plan (see :func:`schedule`), with every violation found."""

    arrival: tuple[int, ...]
    start: tuple[int, ...]
    departure: tuple[int, ...]
    end_s: int
    distance_m: int
    cost: int
    violations: tuple[str, ...]
    long_rides: tuple[str, ...] = ()

    @property
    def feasible(self) -> bool:
        """Return whether no hard limit is broken."""
        return not self.violations


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """One way to serve a new request: its pickup and drop-off stops.

    ``extra_cost`` is added to the insertion cost (e.g. the rider's walk), and
    ``vehicles`` restricts which plans (by position in the list given to
    :func:`best_insertion`) may take it.
    """

    pickup: PlanStop
    dropoff: PlanStop
    extra_cost: int = 0
    vehicles: frozenset[int] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Insertion:
    """Where a candidate goes: before original stops ``i`` (pickup) and ``j`` (drop-off).

    The new stop tuple is ``stops[:i] + (pickup,) + stops[i:j] + (dropoff,) + stops[j:]``.
    """

    plan: int
    candidate: int
    i: int
    j: int
    cost: int
    pickup_start: int
    dropoff_start: int


# --------------------------------------------------------------------- exact schedule
def to_stops(plan: VehiclePlan, durations: IntArray) -> Stops:
    """Return ``plan`` as the flat :class:`routing.schedule.Stops` the solver times.

    A rider on board (``ride_from_s`` set) has the ride limit as a latest start of the
    drop-off; a stop served where the vehicle is (:data:`STAY`) has travel 0.
    """
    n = len(plan.stops)
    travel, early, late, svc, plim = [], [], [], [], []
    pick_of, limit = [-1] * n, [INF] * n
    ride = {s.key: s.ride_limit_s for s in plan.stops
            if s.kind is not StopKind.PICKUP and s.ride_limit_s is not None}
    at: dict[str, int] = {}
    cur = plan.origin
    for i, s in enumerate(plan.stops):
        nxt = cur if s.location == STAY else s.location
        travel.append(min(int(durations[cur, nxt]), OPEN))
        cur = nxt
        early.append(s.earliest)
        svc.append(s.service_s)
        latest = s.latest
        if s.kind is StopKind.PICKUP:
            plim.append(ride.get(s.key, INF))
            at[s.key] = i
        else:
            plim.append(INF)
            if s.ride_limit_s is not None and s.key in at:
                pick_of[i], limit[i] = at[s.key], s.ride_limit_s
            elif s.ride_limit_s is not None and s.ride_from_s is not None:
                latest = min(latest, s.ride_from_s + s.ride_limit_s)
        late.append(latest)
    end = 0 if plan.end is None else min(int(durations[cur, plan.end]), OPEN)
    return Stops(travel=travel, early=early, late=late, service=svc, pickup_limit=plim,
                 pick_of=pick_of, limit=limit, travel_end=end)


def schedule(
    plan: VehiclePlan, durations: IntArray, distances: IntArray
) -> Schedule:
    """Time ``plan`` by the solver's rule and list every broken limit.

    Parameters
    ----------
    plan
        The plan to time.
    durations, distances
        Square travel matrices indexed by location.

    Returns
    -------
    Schedule
        Arrival, start and departure per stop, the end time, distance, cost and a
        human-readable violation per broken window, capacity, ride limit or shift end.

    Notes
    -----
    A feasible plan gets the times of :func:`routing.schedule.time_stops` from
    ``origin_s`` to ``end_latest`` in its rider-first mode: the vehicle waits where it
    is until it must leave for its first stop, services start as early as their windows
    allow, pickups are delayed only while a ride is too long. When that
    procedure finds no schedule, the times are those of the earliest schedule (leave at
    once, wait at each stop) with every limit they break: promises and incidents need
    the list even for a failing plan. Distance and end time, hence the cost, are the
    same under both.
    """
    early, load_ok = _earliest(plan, durations, distances)
    if not load_ok:
        return early
    t = rule_times(plan, durations)
    if t is None:
        return early
    arrival, start, departure = (tuple(row) for row in t.tolist())
    return replace(early, arrival=arrival, start=start, departure=departure, violations=(),
                   long_rides=())


def rule_times(plan: VehiclePlan, durations: IntArray) -> IntArray | None:
    """Return the arrival, start and departure per stop (rows) of ``plan`` under the one
    timing rule, or ``None`` when it finds no schedule; capacity is not checked.

    :func:`routing.schedule.time_stops` in its rider-first mode (``hold=False,
    full=False``) from ``origin_s`` to ``end_latest``, run by its compiled twin
    :func:`routing.kernels.live_times` (property-tested to agree).
    """
    st = to_stops(plan, durations)

    def arr(x: list[int]) -> IntArray:
        return np.array(x, dtype=np.int64)

    ok, times = kernels.live_times(
        arr(st.travel), arr(st.early), arr(st.late), arr(st.service), arr(st.pickup_limit),
        arr(st.pick_of), arr(st.limit), st.travel_end, plan.origin_s, plan.end_latest, INF,
        UNREACHABLE)
    return times if ok else None


def _earliest(
    plan: VehiclePlan, durations: IntArray, distances: IntArray
) -> tuple[Schedule, bool]:
    """Drive ``plan`` at the earliest schedule; also return whether capacity holds."""
    arr: list[int] = []
    st: list[int] = []
    dep: list[int] = []
    bad: list[str] = []
    long_rides: list[str] = []
    load_ok = True
    cur, t, dist = plan.origin, plan.origin_s, 0
    load = list(plan.onboard)
    pick_dep: dict[str, int] = {}
    for s in plan.stops:
        nxt = cur if s.location == STAY else s.location
        a = t + min(int(durations[cur, nxt]), OPEN)
        dist += int(distances[cur, nxt])
        b = max(a, s.earliest)
        if b > s.latest:
            bad.append(f"{s.key}: {s.kind} starts at {b}, after latest {s.latest}")
        load = [x + d for x, d in zip(load, s.delta, strict=True)]
        if any(x > c for x, c in zip(load, plan.capacity, strict=True)):
            load_ok = False
            bad.append(f"{s.key}: load {tuple(load)} exceeds capacity {plan.capacity}")
        if s.kind is StopKind.PICKUP:
            pick_dep[s.key] = b + s.service_s
        elif s.ride_limit_s is not None:
            frm = pick_dep.get(s.key, s.ride_from_s)
            if frm is not None and b - frm > s.ride_limit_s:
                long_rides.append(s.key)
                bad.append(f"{s.key}: ride {b - frm} s exceeds limit {s.ride_limit_s} s")
        arr.append(a)
        st.append(b)
        dep.append(b + s.service_s)
        cur, t = nxt, b + s.service_s
    end_s = t
    if plan.end is not None:
        end_s = t + min(int(durations[cur, plan.end]), OPEN)
        dist += int(distances[cur, plan.end])
    if end_s > plan.end_latest:
        bad.append(f"vehicle {plan.vehicle}: ends at {end_s}, after shift end {plan.end_latest}")
    cost = plan.distance_cost * dist + plan.duration_cost * (end_s - plan.origin_s)
    return Schedule(arrival=tuple(arr), start=tuple(st), departure=tuple(dep), end_s=end_s,
                    distance_m=dist, cost=cost, violations=tuple(bad),
                    long_rides=tuple(long_rides)), load_ok


def held_pickups(plan: VehiclePlan, start: Sequence[int]) -> VehiclePlan:
    """Return ``plan`` with every pickup's ``earliest`` raised to its time in ``start``.

    Used by the insertion filter only (the stored plan is never changed): if ``start``
    is a feasible schedule, the earliest schedule of the returned plan is feasible too
    (no stop earlier than in ``start``, every pickup exactly then).
    """
    return replace(plan, stops=tuple(
        replace(s, earliest=max(s.earliest, start[k])) if s.kind is StopKind.PICKUP else s
        for k, s in enumerate(plan.stops)))


def insert(plan: VehiclePlan, ins: Insertion, cand: Candidate) -> VehiclePlan:
    """Return ``plan`` with ``cand`` inserted at the positions of ``ins``."""
    s = plan.stops
    stops = (*s[: ins.i], cand.pickup, *s[ins.i : ins.j], cand.dropoff, *s[ins.j :])
    return replace(plan, stops=stops)


def remove(plan: VehiclePlan, key: str) -> VehiclePlan:
    """Return ``plan`` without the stops of ``key`` (locked stops shift accordingly)."""
    keep = tuple(s for s in plan.stops if s.key != key)
    gone_locked = sum(1 for s in plan.stops[: plan.n_locked] if s.key == key)
    return replace(plan, stops=keep, n_locked=plan.n_locked - gone_locked)


def remove_repaired(
    plan: VehiclePlan, key: str, durations: IntArray, distances: IntArray
) -> VehiclePlan:
    """Return ``plan`` without ``key``; no ride gets too long.

    Under the one timing rule this is :func:`remove`: Cordeau's procedure delays a
    pickup whose rider would wait on board. Only should it find no schedule for the
    shorter plan (it is a heuristic), the remaining pickups are held at their times
    before the removal, which keeps the plan feasible; that is logged.
    """
    out = remove(plan, key)
    if schedule(out, durations, distances).feasible:
        return out
    before = schedule(plan, durations, distances)
    if not before.feasible:
        return out
    logger.warning("removing %s: pickups held at their times (no schedule found)", key)
    start = [before.start[k] for k, s in enumerate(plan.stops) if s.key != key]
    return held_pickups(out, start)


# --------------------------------------------------------------------- batch search
#: Columns of :attr:`_Pool.tab`.
_LOC, _EARLIEST, _LATEST, _SERVICE, _RIDE_LIMIT, _RIDE_FROM, _PAIR = range(7)


@dataclass(slots=True)
class _Pool:
    """Stop attributes of plans and candidates, one row per stop.

    ``tab`` columns: location (-1 stay), earliest, latest, service, ride limit (``OPEN``
    none), ride start (-1 none), local index of the pickup in its plan (-1 none);
    ``delta``: the load change per dimension.
    """

    tab: IntArray
    delta: IntArray


def _stop_rows(stops: Sequence[PlanStop], n_dim: int) -> _Pool:
    keys = {s.key: k for k, s in enumerate(stops) if s.kind is StopKind.PICKUP}
    rows = [
        (
            s.location, s.earliest, s.latest, s.service_s,
            OPEN if s.ride_limit_s is None else s.ride_limit_s,
            -1 if s.ride_from_s is None else s.ride_from_s,
            keys.get(s.key, -1) if s.kind is not StopKind.PICKUP else -1,
        )
        for s in stops
    ]
    tab = np.array(rows, dtype=np.int64).reshape(len(stops), 7)
    delta = np.array([s.delta for s in stops], dtype=np.int64).reshape(len(stops), n_dim)
    return _Pool(tab=tab, delta=delta)


@dataclass(slots=True)
class _PlanArrays:
    """One plan's current schedule and stop rows, as arrays (cached per plan object)."""

    plan: VehiclePlan
    dep_before: IntArray  # departure of the stop before position i (origin for i=0)
    loc_before: IntArray  # location of the vehicle before position i
    load_before: IntArray  # (m+1, D) load on board before position i
    cost: int
    pool: _Pool
    arr_at: IntArray  # arrival at the stop at position i (at m: the end)
    loc_at: IntArray  # its location, -1 where it is served where the vehicle is
    slack: IntArray  # forward time slack: the most the arrival at i may be delayed


def _plan_arrays(plan: VehiclePlan, durations: IntArray, distances: IntArray) -> _PlanArrays:
    sch, _ = _earliest(plan, durations, distances)
    stops = plan.stops
    locs = [plan.origin]
    for s in stops:
        locs.append(locs[-1] if s.location == STAY else s.location)
    dep_before = np.array([plan.origin_s, *sch.departure], dtype=np.int64)
    n_dim = len(plan.capacity)
    deltas = np.array([s.delta for s in stops], dtype=np.int64).reshape(len(stops), n_dim)
    load_before = np.vstack([np.zeros((1, n_dim), np.int64), np.cumsum(deltas, axis=0)])
    load_before += np.array(plan.onboard, dtype=np.int64)
    pool = _stop_rows(stops, n_dim)
    arr_at = np.array([*sch.arrival, sch.end_s], dtype=np.int64)
    loc_at = np.append(pool.tab[:, _LOC], -1 if plan.end is None else plan.end)
    start = np.array(sch.start, dtype=np.int64)
    # Savelsbergh's forward time slack: a delay d at the arrival at i shifts the start
    # of every later stop q by max(0, d - waits from i to q); windows and shift end only
    # (ride limits are left to the exact evaluation)
    cum_wait = np.concatenate([[0], np.cumsum(start - arr_at[:-1])])
    room = np.append(pool.tab[:, _LATEST] - start, plan.end_latest - sch.end_s) + np.append(
        cum_wait[1:], cum_wait[-1])
    slack = np.minimum.accumulate(room[::-1])[::-1] - cum_wait
    return _PlanArrays(plan=plan, dep_before=dep_before,
                       loc_before=np.array(locs, dtype=np.int64), load_before=load_before,
                       cost=sch.cost, pool=pool, arr_at=arr_at, loc_at=loc_at,
                       slack=slack)


class PlanCache:
    """Remembers the arrays of plans already seen (plans are immutable).

    Give one cache per travel table to :func:`best_insertion`; entries of plans no
    longer passed in are dropped at each call.
    """

    def __init__(self) -> None:
        self._entries: dict[int, _PlanArrays] = {}
        self._fleet: tuple[list[VehiclePlan], _Fleet] | None = None

    def arrays(
        self, plans: Sequence[VehiclePlan], durations: IntArray, distances: IntArray
    ) -> list[_PlanArrays]:
        """Return the arrays of every plan, computing only the new ones."""
        out = []
        fresh: dict[int, _PlanArrays] = {}
        for p in plans:
            hit = self._entries.get(id(p))
            if hit is None or hit.plan is not p:
                hit = _plan_arrays(p, durations, distances)
            fresh[id(p)] = hit
            out.append(hit)
        self._entries = fresh
        return out

    def fleet(self, plans: Sequence[VehiclePlan], arrays: Sequence[_PlanArrays]) -> _Fleet:
        """Return the concatenated positions of ``plans``, kept while the same plan
        objects come back (an offer and its alternatives search the same plans)."""
        seen = self._fleet
        if seen is not None and len(seen[0]) == len(plans) and all(
                a is b for a, b in zip(seen[0], plans, strict=True)):
            return seen[1]
        f = _fleet(plans, arrays)
        self._fleet = (list(plans), f)
        return f


@dataclass(slots=True)
class _Fleet:
    """Every active plan's positions concatenated (global indices).

    ``pos`` columns: plan index, first and last global position of the plan, locked
    (before ``n_locked``), departure and location before the position, arrival at and
    location of its stop (-1 served where the vehicle is; at the end: the end), the
    stop's forward time slack. ``load_before``/``cap``: load before the position and
    its plan's capacity, per dimension.
    """

    pos: IntArray
    load_before: IntArray
    cap: IntArray


def _fleet(plans: Sequence[VehiclePlan], arrays: Sequence[_PlanArrays]) -> _Fleet:
    act = [k for k, p in enumerate(plans) if p.active]
    sizes = np.array([len(plans[k].stops) + 1 for k in act], dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    first = np.repeat(start, sizes)
    local = np.arange(int(sizes.sum()), dtype=np.int64) - first
    n_locked = np.repeat(np.array([plans[k].n_locked for k in act], dtype=np.int64), sizes)
    caps = np.array([plans[k].capacity for k in act], dtype=np.int64)
    pos = np.column_stack([
        np.repeat(np.array(act, dtype=np.int64), sizes), first,
        first + np.repeat(sizes, sizes) - 1, local < n_locked,
        np.concatenate([arrays[k].dep_before for k in act]),
        np.concatenate([arrays[k].loc_before for k in act]),
        np.concatenate([arrays[k].loc_at for k in act]),
        np.concatenate([arrays[k].arr_at for k in act]),
        np.concatenate([arrays[k].slack for k in act]),
    ]).astype(np.int64)
    return _Fleet(pos=pos,
                  load_before=np.concatenate([arrays[k].load_before for k in act]),
                  cap=np.repeat(caps, sizes, axis=0))


@dataclass(slots=True)
class _Batch:
    """Rows to evaluate: one per (plan, candidate, i, j), the columns of ``rows``."""

    rows: IntArray

    @property
    def plan(self) -> IntArray:
        return self.rows[:, 0]

    @property
    def cand(self) -> IntArray:
        return self.rows[:, 1]

    @property
    def i(self) -> IntArray:
        return self.rows[:, 2]

    @property
    def j(self) -> IntArray:
        return self.rows[:, 3]


def _pairs(f: _Fleet, plans: Sequence[VehiclePlan], candidates: Sequence[Candidate],
           durations: IntArray) -> _Batch:
    """Return the rows that pass the necessary conditions (compiled:
    :func:`routing.kernels.live_insertion_pairs`).

    A pickup at position ``i`` must meet its window, fit the load, not go before a
    locked stop and delay the stop that follows by no more than its forward slack (the
    stop is delayed at least as much as by the pickup alone); the drop-off goes after
    original stop ``j - 1``, whose departure can only get later, under the same
    conditions, and the capacity must hold on every original stop in between. Travel
    times obey the triangle inequality up to rounding; stops served where the vehicle
    is (breaks) and open ends are not pruned.
    """
    n_dim = f.cap.shape[1]
    cand_tab = np.array([(c.pickup.location, c.pickup.earliest, c.pickup.latest,
                          c.pickup.service_s, c.dropoff.location, c.dropoff.earliest,
                          c.dropoff.latest, c.dropoff.service_s) for c in candidates],
                        dtype=np.int64).reshape(len(candidates), 8)
    delta = np.array([c.pickup.delta for c in candidates], dtype=np.int64).reshape(
        len(candidates), n_dim)
    allowed = np.ones((len(candidates), len(plans)), dtype=bool)
    for n, c in enumerate(candidates):
        if c.vehicles is not None:
            allowed[n] = False
            allowed[n, [k for k in c.vehicles if 0 <= k < len(plans)]] = True
    return _Batch(rows=kernels.live_insertion_pairs(f.pos, f.load_before, f.cap, cand_tab,
                                                    delta, allowed, durations, OPEN))


def best_insertions(
    plans: Sequence[VehiclePlan],
    candidates: Sequence[Candidate],
    durations: IntArray,
    distances: IntArray,
    *,
    cache: PlanCache | None = None,
) -> list[Insertion | None]:
    """Return the cheapest feasible insertion of each candidate (``None`` if none fits).

    Parameters
    ----------
    plans
        Current plans; inactive plans are skipped.
    candidates
        Ways to serve a request (meeting stops, shifted times...), each judged alone.
    durations, distances
        Square travel matrices indexed by location (diagonal zero).
    cache
        Optional :class:`PlanCache` so unchanged plans are not re-timed.

    Notes
    -----
    Cost is the plan's cost increase (distance and duration weights of the plan) plus
    the candidate's ``extra_cost``. Ties go to the lowest plan and positions, so the
    result is deterministic. Every pair that survives pruning is simulated in full at
    the earliest schedule (the filter of the module docstring); ``pickup_start`` and
    ``dropoff_start`` are the times of that simulation (:func:`best_insertion` re-times
    its winner by :func:`schedule`).
    """
    return _search(plans, candidates, durations, distances, cache=cache, joint=False)


def _search(
    plans: Sequence[VehiclePlan],
    candidates: Sequence[Candidate],
    durations: IntArray,
    distances: IntArray,
    *,
    cache: PlanCache | None,
    joint: bool,
) -> list[Insertion | None]:
    """Return the best insertion per candidate (``joint``: only the best of all counts)."""
    out: list[Insertion | None] = [None] * len(candidates)
    if not candidates or not any(p.active for p in plans):
        return out
    cache = cache or PlanCache()
    arrays = cache.arrays(plans, durations, distances)
    batch = _pairs(cache.fleet(plans, arrays), plans, candidates, durations)
    if batch.plan.size == 0:
        return out
    timely, ride_ok, fixable, cost, p_start, d_start = _evaluate(
        plans, arrays, candidates, batch, durations, distances)
    ok = timely & ride_ok
    big = np.iinfo(np.int64).max
    order = np.lexsort((batch.j, batch.i, batch.plan, np.where(ok, cost, big), batch.cand))
    first = np.ones(order.size, dtype=bool)
    first[1:] = batch.cand[order][1:] != batch.cand[order][:-1]
    for r in order[first & ok[order]].tolist():
        out[int(batch.cand[r])] = Insertion(
            plan=int(batch.plan[r]), candidate=int(batch.cand[r]), i=int(batch.i[r]),
            j=int(batch.j[r]), cost=int(cost[r]), pickup_start=int(p_start[r]),
            dropoff_start=int(d_start[r]))
    _delayed(plans, candidates, batch, (timely & ~ride_ok & fixable, cost), out, joint,
             (durations, distances))
    return out


#: At most this many insertions per search are timed in Python because only the
#: delayed rule can keep their rides (see :func:`_delayed`).
DELAYED_CHECKS = 16


def _delayed(
    plans: Sequence[VehiclePlan], candidates: Sequence[Candidate], b: _Batch,
    rows: tuple[Bools, IntArray], out: list[Insertion | None],
    joint: bool, matrices: tuple[IntArray, IntArray],
) -> None:
    """Improve ``out`` with rows only Cordeau's rule may accept, cheapest first.

    A row whose windows, capacity and shift hold at the earliest schedule but one of
    whose rides is too long there may still be feasible when its pickup is delayed
    (the delayed rule can only fail where the earliest schedule breaks a window), if
    no ride is too long by more than the waiting between its pickup and drop-off (a
    delay shortens a ride by at most that). Such rows cheaper than the best found are
    timed by :func:`schedule`, in order of cost, at most :data:`DELAYED_CHECKS`.
    """
    maybe, cost = rows
    big = np.iinfo(np.int64).max
    bar = np.array([big if x is None else x.cost for x in out], dtype=np.int64)
    if joint:
        bar[:] = bar.min()
    idx = np.nonzero(maybe & (cost < bar[b.cand]))[0]
    idx = idx[np.lexsort((b.j[idx], b.i[idx], b.plan[idx], b.cand[idx], cost[idx]))]
    checks = 0
    for r in idx.tolist():
        c = int(b.cand[r])
        if cost[r] >= bar[c]:
            continue
        if checks >= DELAYED_CHECKS:
            break
        checks += 1
        ins = Insertion(plan=int(b.plan[r]), candidate=c, i=int(b.i[r]), j=int(b.j[r]),
                        cost=int(cost[r]), pickup_start=0, dropoff_start=0)
        # capacity, windows and shift hold at the earliest schedule: the rule decides
        t = rule_times(insert(plans[ins.plan], ins, candidates[c]), matrices[0])
        if t is not None:
            out[c] = replace(ins, pickup_start=int(t[1, ins.i]),
                             dropoff_start=int(t[1, ins.j + 1]))
            if joint:
                bar[:] = cost[r]
            else:
                bar[c] = cost[r]


def best_insertion(
    plans: Sequence[VehiclePlan],
    candidates: Sequence[Candidate],
    durations: IntArray,
    distances: IntArray,
    *,
    cache: PlanCache | None = None,
) -> Insertion | None:
    """Return the cheapest feasible insertion of any candidate into any plan.

    The winner of the filter (see :func:`best_insertions` for the parameters) is timed
    by :func:`schedule`: its ``pickup_start`` and ``dropoff_start`` are the planned
    times of the new plan. It is always feasible (a disagreement would be a bug: it is
    logged and ``None`` returned rather than a plan that breaks a promise).
    """
    found = [x for x in _search(plans, candidates, durations, distances, cache=cache,
                                joint=True) if x is not None]
    if not found:
        return None
    ins = min(found, key=lambda x: (x.cost, x.plan, x.candidate, x.i, x.j))
    new_plan = insert(plans[ins.plan], ins, candidates[ins.candidate])
    sch = schedule(new_plan, durations, distances)
    if not sch.feasible:  # pragma: no cover - a disagreement is a bug, fail safe
        logger.error("vectorized insertion disagrees with schedule(): %s", sch.violations)
        return None
    return replace(ins, pickup_start=sch.start[ins.i], dropoff_start=sch.start[ins.j + 1])


def _evaluate(
    plans: Sequence[VehiclePlan],
    arrays: Sequence[_PlanArrays],
    candidates: Sequence[Candidate],
    b: _Batch,
    durations: IntArray,
    distances: IntArray,
) -> tuple[Bools, Bools, Bools, IntArray, IntArray, IntArray]:
    """Simulate every row at the earliest schedule.

    Returns whether windows, capacity, deadlines of riders on board and the shift end
    hold; whether every ride that starts in the plan keeps its limit too; whether every
    ride too long is too long by no more than the waiting between its pickup and
    drop-off (else no delay can save it); the cost; the new pickup's and drop-off's
    start times (:func:`routing.kernels.live_insertion_rows`; a row that can be neither
    accepted nor saved by a delay is reported not ``ok``, its other values unset).
    """
    n_dim = len(plans[0].capacity)
    used = sorted(set(b.plan.tolist()))
    offsets = np.zeros(len(plans), dtype=np.int64)
    n_stops = 0
    for k in used:
        offsets[k] = n_stops
        n_stops += len(plans[k].stops)
    # each candidate on its own, so that pair indices stay local
    extra = _stop_rows([s for c in candidates for s in (c.pickup, c.dropoff)], n_dim)
    extra.tab[:, _PAIR] = -1
    extra.tab[1::2, _PAIR] = -2  # the drop-off candidate's pickup is at position i of its row
    pools = [*(arrays[k].pool for k in used), extra]
    plan_tab = np.array([(p.origin, p.origin_s, -1 if p.end is None else p.end, p.end_latest,
                          p.distance_cost, p.duration_cost, a.cost, len(p.stops))
                         for p, a in zip(plans, arrays, strict=True)], dtype=np.int64)
    return kernels.live_insertion_rows(
        b.rows, offsets, plan_tab,
        np.array([p.capacity for p in plans], dtype=np.int64).reshape(len(plans), n_dim),
        np.array([p.onboard for p in plans], dtype=np.int64).reshape(len(plans), n_dim),
        np.concatenate([x.tab for x in pools]), np.concatenate([x.delta for x in pools]),
        n_stops, np.array([c.extra_cost for c in candidates], dtype=np.int64),
        durations, distances, OPEN)


def unreachable(durations: IntArray, a: int, b: int) -> bool:
    """Return whether the matrix has no path from ``a`` to ``b``."""
    return int(durations[a, b]) >= UNREACHABLE
