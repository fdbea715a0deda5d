"""Offer policy: wanted windows, insertion candidates, offers, alternatives, promises.

Pure functions of the service rules, the travel table, the clock and the live plans:
nothing here changes engine state.
"""

from __future__ import annotations

from collections.abc import Sequence

from dispatch.engine.types import (
    AnyRequest,
    DeliveryOrder,
    DispatchConfig,
    Offer,
    RejectReason,
    RideRequest,
    VehicleSpec,
)
from dispatch.errors import InvalidRequestError
from dispatch.network import TravelTable
from routing.insertion import (
    OPEN,
    Candidate,
    Insertion,
    PlanCache,
    PlanStop,
    VehiclePlan,
    best_insertion,
    best_insertions,
)
from routing.model import UNREACHABLE, Load, TimeWindow, max_ride_limit
from routing.solution import StopKind

#: The wanted pickup window and the latest drop-off of a booking.
Wanted = tuple[TimeWindow, int]


def request_load(config: DispatchConfig, request: AnyRequest) -> Load:
    """Return the load of ``request`` per configured dimension.

    Raises
    ------
    InvalidRequestError
        When the request needs a dimension the service does not have.
    """
    dims = config.dimensions
    want = ({"parcels": request.parcels} if isinstance(request, DeliveryOrder)
            else {"seats": request.seats, "wheelchairs": request.wheelchairs})
    for name, q in want.items():
        if q < 0:
            msg = f"request {request.id!r}.{name} must not be negative, got {q}"
            raise InvalidRequestError(msg)
        if q and name not in dims:
            msg = f"request {request.id!r} needs dimension {name!r}, have {dims}"
            raise InvalidRequestError(msg)
    return tuple(int(want.get(name, 0)) for name in dims)


def eligibility(config: DispatchConfig, fleet: Sequence[VehicleSpec],
                request: AnyRequest) -> tuple[RejectReason, str] | None:
    """Return why ``request`` cannot be served by the active ``fleet`` at all, or None."""
    members = config.members
    if (isinstance(request, RideRequest) and members is not None
            and request.rider not in members):
        return RejectReason.NOT_MEMBER, f"rider {request.rider!r} is not a registered member"
    load = request_load(config, request)
    if any(all(q <= c for q, c in zip(load, v.capacity, strict=True)) for v in fleet):
        return None
    if isinstance(request, RideRequest) and request.wheelchairs:
        return RejectReason.NO_WHEELCHAIR_VEHICLE, "no active vehicle takes a wheelchair"
    return RejectReason.NO_CAPACITY_TYPE, f"no active vehicle has capacity for {load}"


def max_ride_s(config: DispatchConfig, direct_s: int) -> int:
    """Return the maximum ride for a trip of direct time ``direct_s`` under ``config``."""
    limit = max_ride_limit(direct_s, alpha=config.ride_alpha, beta_s=config.ride_beta_s)
    if config.max_ride_cap_s is not None:
        limit = max(min(limit, config.max_ride_cap_s), direct_s)
    return limit


def wanted(config: DispatchConfig, now: int, request: AnyRequest, shift_s: int = 0) -> Wanted:
    """Return the wanted pickup window and latest drop-off (shifted for alternatives)."""
    c = config
    soonest = now + c.min_lead_s
    if isinstance(request, DeliveryOrder):
        hi = request.window.latest + shift_s
        return TimeWindow(earliest=max(request.ready_s, soonest), latest=max(hi, 0)), hi
    if request.pickup_window is not None:
        pw = request.pickup_window
        latest = OPEN if request.arrive_by is None else request.arrive_by + shift_s
        return TimeWindow(earliest=pw.earliest + shift_s, latest=pw.latest + shift_s), latest
    if request.arrive_by is not None:
        a = request.arrive_by + shift_s
        return TimeWindow(earliest=0, latest=a), a
    return TimeWindow(earliest=soonest + shift_s,
                      latest=soonest + shift_s + c.asap_wait_s), OPEN


def candidates(
    config: DispatchConfig, table: TravelTable, now: int, request: AnyRequest, want: Wanted
) -> tuple[list[Candidate], list[tuple[int, int, int]]]:
    """Return insertion candidates and their (pickup, dropoff, walk) per stop option."""
    if isinstance(request, DeliveryOrder):
        return _delivery_candidates(config, table, request, want)
    c = config
    pw, latest = want
    load = request_load(c, request)
    neg = tuple(-q for q in load)
    soonest = now + c.min_lead_s
    cands: list[Candidate] = []
    meta: list[tuple[int, int, int]] = []
    for o in request.origin:
        for d in request.destination:
            if max(o.walk_s, d.walk_s) > c.max_walk_s or o.location == d.location:
                continue
            direct = int(table.durations[o.location, d.location])
            if direct >= UNREACHABLE:
                continue
            ride = max_ride_s(c, direct)
            arr_latest = latest - d.walk_s if latest < OPEN else OPEN
            lo = max(pw.earliest, soonest)
            if request.pickup_window is None and request.arrive_by is not None:
                lo = max(lo, arr_latest - c.pickup_service_s - ride)
            hi = min(pw.latest, arr_latest - c.pickup_service_s - direct)
            if c.max_wait_s is not None and request.arrive_by is None:
                hi = min(hi, max(pw.earliest, soonest) + c.max_wait_s)
            if lo > hi:
                continue
            p = PlanStop(key=request.id, kind=StopKind.PICKUP, location=o.location,
                         delta=load, earliest=lo, latest=hi, service_s=c.pickup_service_s)
            dr = PlanStop(key=request.id, kind=StopKind.DROPOFF, location=d.location,
                          delta=neg, latest=arr_latest, service_s=c.dropoff_service_s,
                          ride_limit_s=ride)
            cands.append(Candidate(pickup=p, dropoff=dr,
                                   extra_cost=c.walk_cost * (o.walk_s + d.walk_s)))
            meta.append((o.location, d.location, o.walk_s + d.walk_s))
    return cands, meta


def _delivery_candidates(
    config: DispatchConfig, table: TravelTable, request: DeliveryOrder, want: Wanted
) -> tuple[list[Candidate], list[tuple[int, int, int]]]:
    c = config
    pw, latest = want
    load = request_load(c, request)
    neg = tuple(-q for q in load)
    if int(table.durations[request.shop, request.home]) >= UNREACHABLE:
        return [], []
    lo = latest - (request.window.latest - request.window.earliest)
    p = PlanStop(key=request.id, kind=StopKind.PICKUP, location=request.shop, delta=load,
                 earliest=pw.earliest, latest=latest, service_s=c.delivery_service_s)
    d = PlanStop(key=request.id, kind=StopKind.DROPOFF, location=request.home, delta=neg,
                 earliest=lo, latest=latest, service_s=c.delivery_service_s)
    return [Candidate(pickup=p, dropoff=d)], [(request.shop, request.home, 0)]


def no_candidate_reason(config: DispatchConfig, table: TravelTable,
                        request: AnyRequest) -> tuple[RejectReason, str]:
    """Return why ``request`` has no insertion candidate at all."""
    if isinstance(request, RideRequest):
        w = config.max_walk_s
        if (min(o.walk_s for o in request.origin) > w
                or min(d.walk_s for d in request.destination) > w):
            return RejectReason.NO_STOP_IN_WALK, "no stop within the maximum walk"
        if all(int(table.durations[o.location, d.location]) >= UNREACHABLE
               for o in request.origin for d in request.destination):
            return RejectReason.UNREACHABLE, "no road between origin and destination"
    elif int(table.durations[request.shop, request.home]) >= UNREACHABLE:
        return RejectReason.UNREACHABLE, "no road between shop and home"
    return RejectReason.TOO_LATE, "the wanted times cannot be met from now"


def make_offer(config: DispatchConfig, now: int, request: AnyRequest, ins: Insertion,
               cand: Candidate, walk: int) -> Offer:
    """Return the offer for an insertion: windows around the planned times."""
    c = config
    p, d = cand.pickup, cand.dropoff
    ps, ds = ins.pickup_start, ins.dropoff_start
    if isinstance(request, DeliveryOrder):
        dw = TimeWindow(earliest=max(d.earliest, ds - c.window_before_s),
                        latest=min(d.latest, ds + c.window_after_s))
        pw = TimeWindow(earliest=p.earliest, latest=min(p.latest, dw.latest))
        latest, ride = dw.latest, None
    else:
        pw = TimeWindow(earliest=max(p.earliest, ps - c.window_before_s),
                        latest=min(p.latest, ps + c.window_after_s))
        ride = d.ride_limit_s
        bound = pw.latest + p.service_s + (ride if ride is not None else OPEN)
        latest, dw = min(d.latest, bound), None
    return Offer(request_id=request.id, vehicle=ins.plan, pickup=p.location,
                 dropoff=d.location, walk_s=walk, pickup_window=pw,
                 latest_arrival=latest, max_ride_s=ride, planned_pickup_s=ps,
                 planned_dropoff_s=ds, expires_s=now + c.offer_ttl_s,
                 delivery_window=dw)


def offer_for(
    config: DispatchConfig, table: TravelTable, now: int, plans: Sequence[VehiclePlan],
    request: AnyRequest, *, cache: PlanCache | None = None,
) -> tuple[Offer, int] | tuple[RejectReason, str]:
    """Return the offer and the direct time for ``request``, or why there is none."""
    want = wanted(config, now, request)
    cands, meta = candidates(config, table, now, request, want)
    if not cands:
        return no_candidate_reason(config, table, request)
    ins = best_insertion(plans, cands, table.durations, table.distances, cache=cache)
    if ins is None:
        if not any(_reachable(table, p, c) for p in plans if p.active for c in cands):
            return RejectReason.UNREACHABLE, "no active vehicle has a road to its stops"
        return RejectReason.NO_FEASIBLE_INSERTION, "no vehicle can fit it in its plan"
    cand = cands[ins.candidate]
    pick, drop, walk = meta[ins.candidate]
    offer = make_offer(config, now, request, ins, cand, walk)
    return offer, int(table.durations[pick, drop])


def _reachable(table: TravelTable, plan: VehiclePlan, cand: Candidate) -> bool:
    """Return whether the vehicle of ``plan`` has roads to the pickup and on to its end."""
    d = table.durations
    pick, drop = cand.pickup.location, cand.dropoff.location
    end = plan.end if plan.end is not None else drop
    return bool(d[plan.origin, pick] < UNREACHABLE and d[pick, drop] < UNREACHABLE
                and d[drop, end] < UNREACHABLE)


def alternatives(
    config: DispatchConfig, table: TravelTable, now: int, plans: Sequence[VehiclePlan],
    request: AnyRequest, *, cache: PlanCache | None = None,
) -> tuple[TimeWindow, ...]:
    """Return up to ``config.alternatives`` shifted wanted windows that fit now."""
    c = config
    steps = c.alternative_range_s // max(1, c.alternative_step_s)
    shifts = [sign * k * c.alternative_step_s
              for k in range(1, steps + 1) for sign in (1, -1)]
    cands: list[Candidate] = []
    owner: list[int] = []
    windows: list[TimeWindow] = []
    for n, shift in enumerate(shifts):
        try:
            want = wanted(config, now, request, shift)
        except ValueError:  # shifted before midnight
            want = (TimeWindow(earliest=0, latest=0), -1)
        more, _ = candidates(config, table, now, request, want) if want[1] >= 0 else ([], [])
        cands.extend(more)
        owner.extend([n] * len(more))
        pw = want[0]
        if isinstance(request, DeliveryOrder):
            w = request.window
            pw = TimeWindow(earliest=w.earliest + shift, latest=w.latest + shift)
        windows.append(pw)
    # every shifted time is judged in one vectorized pass
    found = best_insertions(plans, cands, table.durations, table.distances, cache=cache)
    fits = sorted({owner[i] for i, x in enumerate(found) if x is not None})
    return tuple(windows[n] for n in fits[: c.alternatives])


def promise_candidate(config: DispatchConfig, request: AnyRequest, offer: Offer) -> Candidate:
    """Return the candidate whose limits are exactly the offer's promise."""
    o = offer
    load = request_load(config, request)
    neg = tuple(-q for q in load)
    c = config
    if isinstance(request, DeliveryOrder):
        dw = o.delivery_window
        assert dw is not None
        p = PlanStop(key=o.request_id, kind=StopKind.PICKUP, location=o.pickup, delta=load,
                     earliest=o.pickup_window.earliest, latest=o.pickup_window.latest,
                     service_s=c.delivery_service_s)
        d = PlanStop(key=o.request_id, kind=StopKind.DROPOFF, location=o.dropoff,
                     delta=neg, earliest=dw.earliest, latest=dw.latest,
                     service_s=c.delivery_service_s)
        return Candidate(pickup=p, dropoff=d)
    p = PlanStop(key=o.request_id, kind=StopKind.PICKUP, location=o.pickup, delta=load,
                 earliest=o.pickup_window.earliest, latest=o.pickup_window.latest,
                 service_s=c.pickup_service_s)
    d = PlanStop(key=o.request_id, kind=StopKind.DROPOFF, location=o.dropoff, delta=neg,
                 latest=o.latest_arrival, service_s=c.dropoff_service_s,
                 ride_limit_s=o.max_ride_s)
    return Candidate(pickup=p, dropoff=d)
