"""Plan execution and the clock: live plans, inserting work, serving stops, closing.

A vehicle's stored plan is as of the last command that touched it; :func:`live_plan`
views it as of now (the leg in progress locked, an idle vehicle leaving no earlier than
now) without changing it. Commands that change a plan store the live view they worked
on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from dispatch.engine import drones as drone_ops
from dispatch.engine.state import EngineState, RequestState
from dispatch.engine.types import EventKind, ExecutedStop, PlannedStop, RequestStatus
from dispatch.network import TravelTable
from routing.insertion import (
    STAY,
    Candidate,
    Insertion,
    PlanStop,
    Schedule,
    VehiclePlan,
    best_insertion,
    insert,
    remove,
    schedule,
)
from routing.solution import StopKind

logger = logging.getLogger(__name__)


def live_plan(plan: VehiclePlan, table: TravelTable, now: int) -> VehiclePlan:
    """Return ``plan`` as of ``now``: the leg in progress locked, idle time skipped.

    The vehicle waits where it is and leaves for its next stop at the planned
    departure (:func:`routing.insertion.schedule`); once that time has come the leg is
    locked and the plan starts from that departure (an earlier one is no longer
    possible). Pure: the stored plan is not changed.
    """
    p = plan
    if not p.active:
        return p
    if p.stops and p.n_locked == 0:
        leave = planned_departure(p, table)
        if now >= leave:
            p = replace(p, n_locked=1, origin_s=leave)
    if p.n_locked == 0 and p.origin_s < now:
        p = replace(p, origin_s=now)
    return p


def planned_departure(plan: VehiclePlan, table: TravelTable) -> int:
    """Return when the vehicle of ``plan`` leaves for its first stop, as planned."""
    first = plan.stops[0]
    loc = plan.origin if first.location == STAY else first.location
    return timed(plan, table).arrival[0] - int(table.durations[plan.origin, loc])


_TIMED: dict[tuple[int, int], tuple[VehiclePlan, TravelTable, Schedule]] = {}


def timed(plan: VehiclePlan, table: TravelTable) -> Schedule:
    """Return :func:`routing.insertion.schedule` of ``plan`` (memoised per plan object).

    Plans are immutable and the engine asks for the times of the same plan at every
    step of the clock; the memo holds the last few thousand (and the objects, so that
    their ids stay theirs).
    """
    key = (id(plan), id(table))
    hit = _TIMED.get(key)
    if hit is not None and hit[0] is plan and hit[1] is table:
        return hit[2]
    sch = schedule(plan, table.durations, table.distances)
    if len(_TIMED) > 4096:
        _TIMED.clear()
    _TIMED[key] = (plan, table, sch)
    return sch


def live_plans(st: EngineState) -> list[VehiclePlan]:
    """Return every vehicle's live plan (pure)."""
    return [live_plan(v.plan, st.table, st.now) for v in st.vehicles]


def best_live_insertion(st: EngineState, cands: Sequence[Candidate]) -> Insertion | None:
    """Return the cheapest feasible insertion of any of ``cands`` into the live plans."""
    return best_insertion(live_plans(st), cands, st.table.durations, st.table.distances,
                          cache=st.cache)


def assign(st: EngineState, r: RequestState, ins: Insertion, cand: Candidate) -> None:
    """Insert ``cand`` into its vehicle's live plan as ``ins`` says and store it."""
    v = st.vehicles[ins.plan]
    v.plan = insert(live_plan(v.plan, st.table, st.now), ins, cand)
    r.vehicle, r.pickup, r.dropoff = ins.plan, cand.pickup, cand.dropoff


def unplan(st: EngineState, r: RequestState) -> None:
    """Remove the stops of ``r`` from its vehicle's plan (the others are re-timed).

    Nothing is pinned: a rider who would now wait on board is picked up later by the
    timing rule itself.
    """
    if r.vehicle is not None and r.pickup is not None:
        v = st.vehicles[r.vehicle]
        v.plan = remove(live_plan(v.plan, st.table, st.now), r.request.id)
        st.changed("remove", r.request.id)


def planned_stops(plan: VehiclePlan, table: TravelTable) -> tuple[PlannedStop, ...]:
    """Return the stops of ``plan`` with their planned times."""
    sch = timed(plan, table)
    out = []
    cur = plan.origin
    for k, s in enumerate(plan.stops):
        cur = cur if s.location == STAY else s.location
        out.append(PlannedStop(key=s.key, kind=s.kind, location=cur,
                               arrival_s=sch.arrival[k], start_s=sch.start[k],
                               departure_s=sch.departure[k]))
    return tuple(out)


# ---------------------------------------------------------------------- the clock
def advance(st: EngineState, t: int) -> None:
    """Execute every plan up to ``t`` in time order across the fleet, with the drones'
    sortie events (:mod:`dispatch.engine.drones`; a drone event first on a tie); expire
    offers."""
    day = st.drones
    while True:
        nv = next_stop(st, t)
        nd = drone_ops.next_event(day, t) if day is not None else None
        if nv is None and nd is None:
            break
        if nd is not None and (nv is None or nd[0] <= nv[0]):
            st.now = max(st.now, nd[0])
            expire(st, st.now)
            drone_ops.execute(st, day, nd[1])
        else:
            assert nv is not None
            st.now = max(st.now, nv[0])
            expire(st, st.now)
            execute_first(st, nv[1])
    st.now = t
    expire(st, t)


def next_stop(st: EngineState, t: int) -> tuple[int, int] | None:
    """Return (start, vehicle) of the earliest next stop starting by ``t`` as planned."""
    best: tuple[int, int] | None = None
    for k, v in enumerate(st.vehicles):
        p = v.plan
        if not p.active or not p.stops:
            continue
        start = timed(p, st.table).start[0]
        if start <= t and (best is None or start < best[0]):
            best = (start, k)
    return best


def expire(st: EngineState, t: int) -> None:
    """Expire every open offer whose time ran out before ``t``."""
    for rid in list(st.offered):
        r = st.requests[rid]
        if r.offer and r.offer.expires_s < t:
            st.set_status(r, RequestStatus.EXPIRED, "offer expired", t=r.offer.expires_s)


def execute_first(st: EngineState, k: int, arrival_s: int | None = None) -> ExecutedStop:
    """Serve vehicle ``k``'s next stop (arriving at ``arrival_s`` or as planned).

    As planned: the vehicle leaves at the planned departure and serves the stop at its
    planned start (:func:`routing.insertion.schedule`), so a pickup delayed to shorten
    a ride is served then. A reported arrival is served at once (or when the window
    opens).
    """
    v = st.vehicles[k]
    p = v.plan
    s = p.stops[0]
    loc = p.origin if s.location == STAY else s.location
    travel = int(st.table.durations[p.origin, loc])
    if arrival_s is None:
        sch = timed(p, st.table)
        arr, start = sch.arrival[0], sch.start[0]
    else:
        arr = arrival_s
        start = max(arr, s.earliest)
    dep = start + s.service_s
    dist = int(st.table.distances[p.origin, loc])
    onboard = tuple(a + b for a, b in zip(p.onboard, s.delta, strict=True))
    if v.first_departure_s is None and travel > 0:
        v.first_departure_s = max(p.origin_s, arr - travel)
    v.driven_m += dist
    done = ExecutedStop(key=s.key, kind=s.kind, location=loc, arrival_s=arr,
                        start_s=start, departure_s=dep, load_after=onboard,
                        distance_m=dist)
    v.history.append(done)
    v.plan = after_stop(p, loc, dep, onboard)
    st.log(EventKind.ARRIVED, request_id=s.key, vehicle=k, t=arr)
    _served(st, s, start)
    st.changed("execute", s.key)
    return done


def after_stop(p: VehiclePlan, loc: int, dep: int, onboard: tuple[int, ...]) -> VehiclePlan:
    """Return ``p`` once its first stop is served: the vehicle leaves ``loc`` at ``dep``.

    The one rule of what serving a stop does to a plan; re-optimization uses it to
    look past the locked head.
    """
    s = p.stops[0]
    rest = p.stops[1:]
    if s.kind is StopKind.PICKUP:
        rest = tuple(replace(x, ride_from_s=dep) if x.key == s.key else x for x in rest)
    return replace(p, origin=loc, origin_s=dep, stops=rest, onboard=onboard,
                   n_locked=max(0, p.n_locked - 1))


def _served(st: EngineState, s: PlanStop, start: int) -> None:
    r = st.requests.get(s.key)
    if r is None:
        return
    if s.kind is StopKind.PICKUP:
        if start > s.latest:
            _late(st, r, "pickup", start - s.latest, start)
        if r.picked_up_s is None:  # a rescue pickup keeps the first pickup time
            r.picked_up_s = start
        st.set_status(r, RequestStatus.PICKED_UP, "vehicle", t=start)
    elif s.kind is StopKind.DROPOFF:
        if start > s.latest:
            _late(st, r, "arrival", start - s.latest, start)
        r.dropped_off_s = start
        st.set_status(r, RequestStatus.DROPPED_OFF, "vehicle", t=start)


def _late(st: EngineState, r: RequestState, what: str, late: int, t: int) -> None:
    if not r.broken:  # a cause was not recorded when it broke: record it now
        st.broken(r, f"late {what}", late, t)


# ---------------------------------------------------------------------- end of day
def close_day(st: EngineState) -> None:
    """Execute what is left, then drive every used vehicle home."""
    advance(st, max(st.now, *(end_time(st, k) for k in range(len(st.vehicles)))))
    for k, v in enumerate(st.vehicles):
        if v.closed:
            continue
        p = v.plan
        if p.end is not None and p.end != p.origin and v.first_departure_s is not None:
            travel = int(st.table.durations[p.origin, p.end])
            dist = int(st.table.distances[p.origin, p.end])
            v.driven_m += dist
            v.history.append(ExecutedStop(key=f"end:{v.spec.id}", kind="end",
                                          location=p.end, arrival_s=p.origin_s + travel,
                                          start_s=p.origin_s + travel,
                                          departure_s=p.origin_s + travel,
                                          load_after=p.onboard, distance_m=dist))
        v.closed = True
        logger.debug("vehicle %d closed", k)


def end_time(st: EngineState, k: int) -> int:
    """Return when vehicle ``k`` leaves its last planned stop (now if none)."""
    p = st.vehicles[k].plan
    if not p.active or not p.stops:
        return st.now
    return timed(p, st.table).departure[-1]
