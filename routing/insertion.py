"""Cheapest feasible insertion of a pickup-and-delivery pair into live vehicle plans.

A :class:`VehiclePlan` is the not-yet-executed part of one vehicle's route: where and
when the vehicle is free (``origin``, ``origin_s``), the ordered stops it still has to
serve, what is on board, its capacity and its shift end. Every stop carries hard
limits: a service-start window ``[earliest, latest]`` and, for a drop-off, a maximum
ride time measured from the pickup's departure (Cordeau's convention). Those limits are
how dispatch encodes its promises, so a plan that passes :func:`schedule` keeps every
promise.

The vehicle drives the *earliest* schedule: it leaves as early as it can and, when it
arrives before a stop's ``earliest``, waits until then. :func:`best_insertion` tries
every vehicle, every candidate (e.g. alternative meeting stops) and every pair of
positions ``i <= j`` at once: positions are pruned with necessary conditions on the
current schedule (windows, capacity), then every surviving pair is simulated exactly
in one vectorized numpy pass (one step per stop position, all pairs in parallel), so
the result is exact, not a slack approximation. The chosen insertion is re-checked by
the plain-Python :func:`schedule` before it is returned.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from routing.model import UNREACHABLE, Load
from routing.solution import StopKind

logger = logging.getLogger(__name__)

#: A stop at this location is served where the vehicle already is (a driver break).
STAY = -1

#: "No limit" for windows: far beyond any service day, small enough never to overflow.
OPEN = 10**12

IntArray = npt.NDArray[np.int64]


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
    """Times of a plan driven at the earliest schedule, with every violation found."""

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
def schedule(
    plan: VehiclePlan, durations: IntArray, distances: IntArray
) -> Schedule:
    """Drive ``plan`` at the earliest schedule and list every broken limit.

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
    """
    arr: list[int] = []
    st: list[int] = []
    dep: list[int] = []
    bad: list[str] = []
    long_rides: list[str] = []
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
                    long_rides=tuple(long_rides))


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


def pin_pickups(
    plan: VehiclePlan, targets: dict[str, int], durations: IntArray, distances: IntArray
) -> VehiclePlan:
    """Delay pickups whose rider would ride too long to their ``targets`` start times.

    Removing a stop can make the earliest schedule pick a rider up sooner and then wait
    with them on board (at a later pickup's window), so the ride gets longer. Setting
    such a pickup's ``earliest`` to a start time of a known feasible schedule (the plan
    before the removal, or a solver's timing) restores the ride without moving any stop
    past that schedule. Pickups are pinned one at a time until no ride is too long.
    """
    for _ in range(len(plan.stops)):
        sch = schedule(plan, durations, distances)
        late = [k for k in sch.long_rides if k in targets]
        if not late:
            return plan
        key = late[0]
        stops = tuple(
            replace(s, earliest=max(s.earliest, min(targets[key], s.latest)))
            if s.key == key and s.kind is StopKind.PICKUP else s
            for s in plan.stops
        )
        if stops == plan.stops:
            return plan
        plan = replace(plan, stops=stops)
    return plan


def remove_repaired(
    plan: VehiclePlan, key: str, durations: IntArray, distances: IntArray
) -> VehiclePlan:
    """Return ``plan`` without ``key``, pickups pinned so that no ride gets too long."""
    sch = schedule(plan, durations, distances)
    targets = {s.key: sch.start[k] for k, s in enumerate(plan.stops)
               if s.kind is StopKind.PICKUP}
    return pin_pickups(remove(plan, key), targets, durations, distances)


# --------------------------------------------------------------------- batch search
@dataclass(slots=True)
class _Pool:
    """Stop attributes of every plan and candidate, concatenated (last row: padding)."""

    loc: IntArray
    earliest: IntArray
    latest: IntArray
    service: IntArray
    delta: IntArray
    ride_limit: IntArray
    ride_from: IntArray
    pair: IntArray  # local index of the pickup in its plan, -1 none


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
    arr = np.array(rows, dtype=np.int64).reshape(len(stops), 7)
    delta = np.array([s.delta for s in stops], dtype=np.int64).reshape(len(stops), n_dim)
    return _Pool(loc=arr[:, 0], earliest=arr[:, 1], latest=arr[:, 2], service=arr[:, 3],
                 delta=delta, ride_limit=arr[:, 4], ride_from=arr[:, 5], pair=arr[:, 6])


def _concat(pools: Sequence[_Pool]) -> _Pool:
    return _Pool(
        loc=np.concatenate([p.loc for p in pools]),
        earliest=np.concatenate([p.earliest for p in pools]),
        latest=np.concatenate([p.latest for p in pools]),
        service=np.concatenate([p.service for p in pools]),
        delta=np.concatenate([p.delta for p in pools]),
        ride_limit=np.concatenate([p.ride_limit for p in pools]),
        ride_from=np.concatenate([p.ride_from for p in pools]),
        pair=np.concatenate([p.pair for p in pools]),
    )


@dataclass(slots=True)
class _Base:
    """Current schedule of one plan, as arrays for pruning."""

    dep_before: IntArray  # departure of the stop before position i (origin for i=0)
    loc_before: IntArray  # location of the vehicle before position i
    load_before: IntArray  # (m+1, D) load on board before position i
    cost: int


def _base(plan: VehiclePlan, durations: IntArray, distances: IntArray) -> _Base:
    sch = schedule(plan, durations, distances)
    m = len(plan.stops)
    dep_before = np.empty(m + 1, dtype=np.int64)
    loc_before = np.empty(m + 1, dtype=np.int64)
    load_before = np.empty((m + 1, len(plan.capacity)), dtype=np.int64)
    cur, t, load = plan.origin, plan.origin_s, np.array(plan.onboard, dtype=np.int64)
    for k in range(m + 1):
        dep_before[k], loc_before[k], load_before[k] = t, cur, load
        if k < m:
            s = plan.stops[k]
            cur = cur if s.location == STAY else s.location
            t = sch.departure[k]
            load = load + np.array(s.delta, dtype=np.int64)
    return _Base(dep_before=dep_before, loc_before=loc_before, load_before=load_before,
                 cost=sch.cost)


def _pairs(
    plan: VehiclePlan, base: _Base, cand: Candidate, durations: IntArray
) -> tuple[IntArray, IntArray]:
    """Return the position pairs ``(i, j)`` that pass the necessary conditions."""
    m = len(plan.stops)
    p, d = cand.pickup, cand.dropoff
    q = np.array(p.delta, dtype=np.int64)
    cap = np.array(plan.capacity, dtype=np.int64)
    if (q > cap).any():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    pos = np.arange(m + 1)
    arr_p = base.dep_before + np.minimum(durations[base.loc_before, p.location], OPEN)
    start_p = np.maximum(arr_p, p.earliest)
    fits: npt.NDArray[np.bool_] = np.asarray(((base.load_before + q) <= cap).all(axis=1))
    ok_i = (start_p <= p.latest) & (pos >= plan.n_locked) & fits
    # the drop-off goes after original stop j-1, whose departure can only get later
    arr_d = base.dep_before + np.minimum(durations[base.loc_before, d.location], OPEN)
    ok_j = np.maximum(arr_d, d.earliest) <= d.latest
    direct = start_p + p.service_s + min(int(durations[p.location, d.location]), OPEN)
    ok_direct = np.maximum(direct, d.earliest) <= d.latest
    # capacity must hold on every original stop between the pickup and the drop-off
    over_at = np.where(fits, m + 1, pos)
    next_over = np.minimum.accumulate(over_at[::-1])[::-1]
    ii, jj = np.nonzero(np.triu(np.ones((m + 1, m + 1), dtype=bool)))
    keep: npt.NDArray[np.bool_] = (
        ok_i[ii] & (jj < next_over[ii]) & np.where(jj == ii, ok_direct[ii], ok_j[jj])
    )
    return ii[keep].astype(np.int64), jj[keep].astype(np.int64)


@dataclass(slots=True)
class _Batch:
    """Rows to evaluate: one per (plan, candidate, i, j)."""

    plan: IntArray
    cand: IntArray
    i: IntArray
    j: IntArray


def best_insertion(
    plans: Sequence[VehiclePlan],
    candidates: Sequence[Candidate],
    durations: IntArray,
    distances: IntArray,
) -> Insertion | None:
    """Return the cheapest feasible insertion of any candidate into any plan.

    Parameters
    ----------
    plans
        Current plans; inactive plans are skipped.
    candidates
        Alternative ways to serve the request (meeting stops); the cheapest wins.
    durations, distances
        Square travel matrices indexed by location (diagonal zero).

    Returns
    -------
    Insertion or None
        ``None`` when no candidate fits any plan without breaking a limit.

    Notes
    -----
    Cost is the plan's cost increase (distance and duration weights of the plan)
    plus the candidate's ``extra_cost``. Ties go to the lowest plan, candidate and
    positions, so the result is deterministic.
    """
    bases = [_base(p, durations, distances) if p.active else None for p in plans]
    batch = _collect(plans, bases, candidates, durations)
    if batch.plan.size == 0:
        return None
    ok, cost, p_start, d_start = _evaluate(plans, bases, candidates, batch, durations, distances)
    if not ok.any():
        return None
    cost = np.where(ok, cost, np.iinfo(np.int64).max)
    best = int(np.argmin(cost))
    ins = Insertion(plan=int(batch.plan[best]), candidate=int(batch.cand[best]),
                    i=int(batch.i[best]), j=int(batch.j[best]), cost=int(cost[best]),
                    pickup_start=int(p_start[best]), dropoff_start=int(d_start[best]))
    new_plan = insert(plans[ins.plan], ins, candidates[ins.candidate])
    sch = schedule(new_plan, durations, distances)
    if not sch.feasible:  # pragma: no cover - a disagreement is a bug, fail safe
        logger.error("vectorized insertion disagrees with schedule(): %s", sch.violations)
        return None
    return ins


def _collect(
    plans: Sequence[VehiclePlan],
    bases: Sequence[_Base | None],
    candidates: Sequence[Candidate],
    durations: IntArray,
) -> _Batch:
    parts: list[tuple[int, int, IntArray, IntArray]] = []
    for k, (plan, base) in enumerate(zip(plans, bases, strict=True)):
        if base is None:
            continue
        for c, cand in enumerate(candidates):
            if cand.vehicles is not None and k not in cand.vehicles:
                continue
            ii, jj = _pairs(plan, base, cand, durations)
            if ii.size:
                parts.append((k, c, ii, jj))
    if not parts:
        e = np.empty(0, dtype=np.int64)
        return _Batch(plan=e, cand=e, i=e, j=e)
    return _Batch(
        plan=np.concatenate([np.full(ii.size, k, np.int64) for k, _, ii, _ in parts]),
        cand=np.concatenate([np.full(ii.size, c, np.int64) for _, c, ii, _ in parts]),
        i=np.concatenate([ii for _, _, ii, _ in parts]),
        j=np.concatenate([jj for _, _, _, jj in parts]),
    )


def _cost(base: _Base | None) -> int:
    return 0 if base is None else base.cost


def _evaluate(
    plans: Sequence[VehiclePlan],
    bases: Sequence[_Base | None],
    candidates: Sequence[Candidate],
    b: _Batch,
    durations: IntArray,
    distances: IntArray,
) -> tuple[npt.NDArray[np.bool_], IntArray, IntArray, IntArray]:
    n_dim = len(plans[0].capacity)
    used = sorted(set(b.plan.tolist()))
    offsets: dict[int, int] = {}
    groups: list[Sequence[PlanStop]] = []
    n_stops = 0
    for k in used:
        offsets[k] = n_stops
        groups.append(plans[k].stops)
        n_stops += len(plans[k].stops)
    cand_off = n_stops
    # each candidate on its own, so that pair indices stay local
    groups.extend((c.pickup, c.dropoff) for c in candidates)
    pad = PlanStop(key="", kind=StopKind.BREAK, location=STAY, delta=(0,) * n_dim)
    groups.append((pad,))
    pool = _concat([_stop_rows(g, n_dim) for g in groups])
    pad_id = pool.loc.size - 1
    # the drop-off candidate's pickup is at position i of its own row
    pool.pair[cand_off + 1 : pad_id : 2] = -2

    m_row = np.array([len(plans[k].stops) for k in b.plan.tolist()], dtype=np.int64)
    off_row = np.array([offsets[k] for k in b.plan.tolist()], dtype=np.int64)
    n_pos = int(m_row.max()) + 2
    r = b.plan.size
    t_idx = np.arange(n_pos)[None, :]
    i_, j_ = b.i[:, None], b.j[:, None]
    local = np.where(t_idx < i_, t_idx, np.where(t_idx <= j_, t_idx - 1, t_idx - 2))
    seq = off_row[:, None] + local
    seq = np.where(t_idx == i_, cand_off + 2 * b.cand[:, None], seq)
    seq = np.where(t_idx == j_ + 1, cand_off + 2 * b.cand[:, None] + 1, seq)
    seq = np.where(t_idx >= m_row[:, None] + 2, pad_id, seq)

    origin = np.array([plans[k].origin for k in b.plan.tolist()], dtype=np.int64)
    time = np.array([plans[k].origin_s for k in b.plan.tolist()], dtype=np.int64)
    cap = np.array([plans[k].capacity for k in b.plan.tolist()], dtype=np.int64)
    load = np.array([plans[k].onboard for k in b.plan.tolist()], dtype=np.int64)
    origin_s = time.copy()
    cur, dist = origin, np.zeros(r, dtype=np.int64)
    ok = np.ones(r, dtype=bool)
    deps = np.zeros((r, n_pos), dtype=np.int64)
    p_start = np.zeros(r, dtype=np.int64)
    d_start = np.zeros(r, dtype=np.int64)
    rows = np.arange(r)
    for t in range(n_pos):
        sid = seq[:, t]
        loc = pool.loc[sid]
        nxt = np.where(loc < 0, cur, loc)
        start = np.maximum(time + np.minimum(durations[cur, nxt], OPEN), pool.earliest[sid])
        ok &= start <= pool.latest[sid]
        load += pool.delta[sid]
        ok &= (load <= cap).all(axis=1)
        pl = pool.pair[sid]
        ppos = np.where(pl == -2, b.i, np.where(pl < b.i, pl, np.where(pl < b.j, pl + 1, pl + 2)))
        pdep = np.where(pl == -1, pool.ride_from[sid], deps[rows, np.clip(ppos, 0, n_pos - 1)])
        ok &= (pdep < 0) | (start - pdep <= pool.ride_limit[sid])
        dep = start + pool.service[sid]
        deps[:, t] = dep
        p_start = np.where(t == b.i, start, p_start)
        d_start = np.where(t == b.j + 1, start, d_start)
        dist += distances[cur, nxt]
        cur, time = nxt, dep
    end = np.array([-1 if plans[k].end is None else plans[k].end for k in b.plan.tolist()])
    has_end = end >= 0
    end_loc = np.where(has_end, end, cur)
    end_s = time + np.minimum(durations[cur, end_loc], OPEN)
    dist += distances[cur, end_loc]
    ok &= end_s <= np.array([plans[k].end_latest for k in b.plan.tolist()], dtype=np.int64)
    dcost = np.array([plans[k].distance_cost for k in b.plan.tolist()], dtype=np.int64)
    tcost = np.array([plans[k].duration_cost for k in b.plan.tolist()], dtype=np.int64)
    base_cost = np.array([_cost(bases[k]) for k in b.plan.tolist()], dtype=np.int64)
    extra = np.array([c.extra_cost for c in candidates], dtype=np.int64)[b.cand]
    cost = dcost * dist + tcost * (end_s - origin_s) - base_cost + extra
    return ok, cost, p_start, d_start


def unreachable(durations: IntArray, a: int, b: int) -> bool:
    """Return whether the matrix has no path from ``a`` to ``b``."""
    return int(durations[a, b]) >= UNREACHABLE
