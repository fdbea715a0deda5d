"""Vehicle incidents: position reports, delays, no-shows and breakdowns with rescue.

These are the only ways a confirmed promise can break; every broken promise is
recorded with its cause, and the plan's limits are relaxed to the new times so that
the plan stays workable.
"""

from __future__ import annotations

from dataclasses import replace

from dispatch.engine.fleet import assign, best_live_insertion, live_plan, unplan
from dispatch.engine.offers import max_ride_s
from dispatch.engine.state import EngineState, RequestState
from dispatch.engine.types import EventKind, RequestStatus
from dispatch.errors import InvalidTransitionError
from routing.insertion import Candidate, PlanStop, schedule
from routing.solution import StopKind


def position(st: EngineState, vehicle: int, location: int, at_s: int, cause: str) -> None:
    """Record that ``vehicle`` is at ``location`` at ``at_s``: its plan is re-timed."""
    v = st.vehicle(vehicle)
    st.check_location(location, f"vehicle {vehicle} position")
    st.now = max(st.now, at_s)
    p = live_plan(v.plan, st.table, st.now)
    v.driven_m += int(st.table.distances[p.origin, location])
    v.plan = replace(p, origin=location, origin_s=at_s)
    st.log(EventKind.POSITION, vehicle=vehicle, value_s=location, t=at_s)
    st.changed("position", str(vehicle))
    relax_broken(st, vehicle, cause)


def delay(st: EngineState, vehicle: int, seconds: int, cause: str) -> None:
    """Shift ``vehicle``'s remaining plan by ``seconds``; broken promises are recorded."""
    v = st.vehicle(vehicle)
    p = live_plan(v.plan, st.table, st.now)
    v.plan = replace(p, origin_s=p.origin_s + seconds)
    st.log(EventKind.DELAY, vehicle=vehicle, cause=cause, value_s=seconds)
    st.changed("delay", str(vehicle))
    relax_broken(st, vehicle, cause)


def relax_broken(st: EngineState, vehicle: int, cause: str) -> None:
    """Record every promise the vehicle's current timing breaks, then relax those
    limits to the new times so that the plan stays workable."""
    v = st.vehicles[vehicle]
    p = v.plan
    sch = schedule(p, st.table.durations, st.table.distances)
    if sch.feasible:
        return
    pick_dep: dict[str, int] = {}
    stops = []
    late_by: dict[str, int] = {}
    for k, s in enumerate(p.stops):
        start = sch.start[k]
        late = start - s.latest
        if s.kind is StopKind.PICKUP:
            pick_dep[s.key] = sch.departure[k]
        frm = pick_dep.get(s.key, s.ride_from_s)
        over = (start - frm - s.ride_limit_s
                if s.ride_limit_s is not None and frm is not None else 0)
        if late > 0 or over > 0:
            late_by[s.key] = max(late_by.get(s.key, 0), late, over)
            s = replace(s, latest=max(s.latest, start),
                        ride_limit_s=None if s.ride_limit_s is None
                        else s.ride_limit_s + max(0, over))
        stops.append(s)
    for key, late_s in late_by.items():  # one record per request and event
        if key in st.requests:
            st.broken(st.requests[key], cause, late_s)
    end_latest = p.end_latest
    if sch.end_s > end_latest:
        st.log(EventKind.SHIFT_OVERRUN, vehicle=vehicle, cause=cause,
               value_s=sch.end_s - end_latest)
        end_latest = sch.end_s
    v.plan = replace(p, stops=tuple(stops), end_latest=end_latest)


def no_show(st: EngineState, request_id: str, cause: str) -> None:
    """Record that the rider was not at the pickup: status no-show, stops removed."""
    r = st.get(request_id)
    if r.status is not RequestStatus.ASSIGNED:
        msg = f"request {request_id!r} is {r.status}: no-show needs an assigned request"
        raise InvalidTransitionError(msg)
    assert r.vehicle is not None
    v = st.vehicles[r.vehicle]
    p = v.plan
    if p.stops and p.stops[0].key == request_id and p.stops[0].kind is StopKind.PICKUP:
        loc = p.stops[0].location
        v.driven_m += int(st.table.distances[p.origin, loc])
        v.plan = replace(p, origin=loc, origin_s=max(
            st.now, p.origin_s + int(st.table.durations[p.origin, loc])))
    st.set_status(r, RequestStatus.NO_SHOW, cause)
    unplan(st, r)


def breakdown(st: EngineState, vehicle: int, cause: str) -> None:
    """Take ``vehicle`` out of service and re-insert its riders elsewhere."""
    v = st.vehicle(vehicle)
    p = live_plan(v.plan, st.table, st.now)
    st.log(EventKind.BREAKDOWN, vehicle=vehicle, cause=cause)
    stops: dict[str, list[PlanStop]] = {}
    for s in p.stops:
        if s.key in st.requests:
            stops.setdefault(s.key, []).append(s)
    v.plan = replace(p, stops=(), active=False, n_locked=0)
    st.changed("breakdown", str(vehicle))
    for key, pair in stops.items():
        r = st.requests[key]
        if r.status is RequestStatus.PICKED_UP:
            _rescue(st, r, pair[-1], p.origin, cause)
        else:
            _reassign(st, r, Candidate(pickup=pair[0], dropoff=pair[-1]), cause)


def _reassign(st: EngineState, r: RequestState, cand: Candidate, cause: str) -> None:
    ins = best_live_insertion(st, [cand])
    if ins is None:
        st.broken(r, cause, 0)
        cand = _relaxed(st, cand)
        ins = best_live_insertion(st, [cand])
    if ins is None:
        st.set_status(r, RequestStatus.CANCELLED, f"{cause}: no vehicle can take it")
        return
    assign(st, r, ins, cand)
    st.log(EventKind.REASSIGNED, request_id=r.request.id, vehicle=ins.plan, cause=cause)


def _relaxed(st: EngineState, cand: Candidate) -> Candidate:
    x = st.config.relax_s
    p, d = cand.pickup, cand.dropoff
    return replace(cand, pickup=replace(p, latest=p.latest + x),
                   dropoff=replace(d, latest=d.latest + x))


def _rescue(st: EngineState, r: RequestState, drop: PlanStop, where: int, cause: str) -> None:
    c = st.config
    direct = int(st.table.durations[where, drop.location])
    d = replace(drop, ride_from_s=None, ride_limit_s=max_ride_s(c, direct))
    p = PlanStop(key=r.request.id, kind=StopKind.PICKUP, location=where,
                 delta=tuple(-q for q in d.delta), earliest=st.now,
                 latest=st.now + c.asap_wait_s, service_s=c.pickup_service_s)
    cand = Candidate(pickup=p, dropoff=d)
    st.set_status(r, RequestStatus.ASSIGNED, f"{cause}: rescue")
    ins = best_live_insertion(st, [cand])
    if ins is None:
        st.broken(r, cause, 0)
        cand = _relaxed(st, replace(cand, dropoff=replace(d, ride_limit_s=None)))
        ins = best_live_insertion(st, [cand])
    if ins is None:
        st.set_status(r, RequestStatus.CANCELLED, f"{cause}: stranded, no rescue vehicle")
        return
    assign(st, r, ins, cand)
    st.log(EventKind.REASSIGNED, request_id=r.request.id, vehicle=ins.plan, cause=cause)
