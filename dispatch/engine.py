"""The dispatch engine: request lifecycle, instant offers, fleet state and vehicle events.

One :class:`Engine` holds a service day: the fleet's current plans (one
:class:`routing.insertion.VehiclePlan` per vehicle), every request with its status and
promise, and an event log. A booking gets an answer at once (:meth:`Engine.book`): an
:class:`Offer` (promised pickup window, latest arrival, maximum ride) found by cheapest
feasible insertion, or a :class:`Rejection` with a reason and up to three alternative
times. Confirmed promises are hard limits of every later plan: insertion and
re-optimization never break them; only vehicle events (delay, breakdown) can, and then
the broken promise is recorded with its cause.

Times are integer seconds since the service day's midnight; places are indices into the
engine's :class:`dispatch.network.TravelTable`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from dispatch.errors import (
    DuplicateRequestError,
    InvalidRequestError,
    InvalidTransitionError,
    OfferExpiredError,
    UnknownRequestError,
    UnknownVehicleError,
)
from dispatch.network import TravelTable
from routing.insertion import (
    OPEN,
    STAY,
    Candidate,
    Insertion,
    PlanCache,
    PlanStop,
    VehiclePlan,
    best_insertion,
    best_insertions,
    insert,
    remove_repaired,
    schedule,
)
from routing.model import UNREACHABLE, Break, Load, TimeWindow
from routing.solution import StopKind

logger = logging.getLogger(__name__)


class RequestStatus(StrEnum):
    """Where a request is in its lifecycle."""

    REQUESTED = "requested"
    OFFERED = "offered"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    EXPIRED = "expired"
    ASSIGNED = "assigned"
    PICKED_UP = "picked_up"
    DROPPED_OFF = "dropped_off"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    REJECTED = "rejected"


FINAL_STATUSES = frozenset({
    RequestStatus.DECLINED, RequestStatus.EXPIRED, RequestStatus.DROPPED_OFF,
    RequestStatus.CANCELLED, RequestStatus.NO_SHOW, RequestStatus.REJECTED,
})

_S = RequestStatus
#: Allowed transitions; anything else raises InvalidTransitionError.
TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    _S.REQUESTED: frozenset({_S.OFFERED, _S.REJECTED, _S.CANCELLED}),
    _S.OFFERED: frozenset({_S.CONFIRMED, _S.DECLINED, _S.EXPIRED, _S.CANCELLED}),
    _S.CONFIRMED: frozenset({_S.ASSIGNED, _S.CANCELLED}),
    _S.ASSIGNED: frozenset({_S.PICKED_UP, _S.CANCELLED, _S.NO_SHOW}),
    # a breakdown hands riders on board to a rescue vehicle: assigned again
    _S.PICKED_UP: frozenset({_S.DROPPED_OFF, _S.ASSIGNED, _S.CANCELLED}),
}


class ServiceMode(StrEnum):
    """How riders meet the vehicle."""

    STOP = "stop"
    DOOR = "door"


class EventKind(StrEnum):
    """What an :class:`Event` records."""

    STATUS = "status"
    PROMISE_BROKEN = "promise_broken"
    ARRIVED = "arrived"
    POSITION = "position"
    DELAY = "delay"
    BREAKDOWN = "breakdown"
    REASSIGNED = "reassigned"
    REOPTIMIZED = "reoptimized"
    SHIFT_OVERRUN = "shift_overrun"


class RejectReason(StrEnum):
    """Why a booking got no offer."""

    NOT_MEMBER = "not_member"
    NO_WHEELCHAIR_VEHICLE = "no_wheelchair_vehicle"
    NO_CAPACITY_TYPE = "no_capacity_type"
    NO_STOP_IN_WALK = "no_stop_in_walk"
    UNREACHABLE = "unreachable"
    TOO_LATE = "too_late"
    NO_FEASIBLE_INSERTION = "no_feasible_insertion"


@dataclass(frozen=True, slots=True, kw_only=True)
class StopOption:
    """A place where the vehicle may meet the rider, and the rider's walk to it."""

    location: int
    walk_s: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RideRequest:
    """A ride booking.

    ``origin``/``destination`` list the meeting stops the rider may use (one entry,
    walk 0, for door-to-door). ``pickup_window`` is the wanted pickup time at the stop;
    ``None`` means as soon as possible. ``arrive_by`` asks for a drop-off start no
    later than this (appointments); without ``pickup_window`` the pickup window is
    then derived from it.
    """

    id: str
    rider: str
    origin: tuple[StopOption, ...]
    destination: tuple[StopOption, ...]
    pickup_window: TimeWindow | None = None
    arrive_by: int | None = None
    seats: int = 1
    wheelchairs: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryOrder:
    """A shop-to-home delivery: picked up at ``shop`` from ``ready_s``, delivered in
    ``window`` at ``home``; carried in the ``parcels`` load dimension (vans)."""

    id: str
    shop: int
    home: int
    ready_s: int
    window: TimeWindow
    parcels: int = 1
    customer: str = ""


AnyRequest = RideRequest | DeliveryOrder

#: Service hours assumed in SCENARIOS.md (8:00-17:00).
DEFAULT_SHIFT = TimeWindow(earliest=8 * 3600, latest=17 * 3600)


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleSpec:
    """One vehicle: depot, capacity per dimension, shift, breaks and cost weights."""

    id: str
    depot: int
    capacity: Load = (8, 1, 0)
    end: int | None = None
    shift: TimeWindow = DEFAULT_SHIFT
    breaks: tuple[Break, ...] = ()
    distance_cost: int = 1
    duration_cost: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchConfig:
    """Service rules of an operator (see SCENARIOS.md for where the defaults come from).

    The promised pickup window is ``[planned - window_before_s, planned +
    window_after_s]`` clipped to the wanted window; the maximum ride is
    ``ceil(ride_alpha * direct) + ride_beta_s`` (MATSim DRT's alpha and beta).
    """

    dimensions: tuple[str, ...] = ("seats", "wheelchairs", "parcels")
    mode: ServiceMode = ServiceMode.STOP
    members: frozenset[str] | None = None
    max_walk_s: int = 600
    asap_wait_s: int = 1800
    min_lead_s: int = 0
    window_before_s: int = 600
    window_after_s: int = 900
    ride_alpha: float = 1.5
    ride_beta_s: int = 600
    pickup_service_s: int = 60
    dropoff_service_s: int = 60
    delivery_service_s: int = 120
    offer_ttl_s: int = 300
    alternatives: int = 3
    alternative_step_s: int = 900
    alternative_range_s: int = 3 * 3600
    walk_cost: int = 1
    relax_s: int = 3600


@dataclass(frozen=True, slots=True, kw_only=True)
class Offer:
    """The answer to a booking that fits: what is promised once confirmed."""

    request_id: str
    vehicle: int
    pickup: int
    dropoff: int
    walk_s: int
    pickup_window: TimeWindow
    latest_arrival: int
    max_ride_s: int | None
    planned_pickup_s: int
    planned_dropoff_s: int
    expires_s: int
    delivery_window: TimeWindow | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    """The answer to a booking that does not fit, with alternative wanted windows."""

    request_id: str
    reason: RejectReason
    detail: str
    alternatives: tuple[TimeWindow, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One entry of the engine's log."""

    time_s: int
    kind: EventKind
    request_id: str | None = None
    vehicle: int | None = None
    status: RequestStatus | None = None
    previous: RequestStatus | None = None
    cause: str = ""
    value_s: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedStop:
    """A future stop of a vehicle with its planned times."""

    key: str
    kind: StopKind
    location: int
    arrival_s: int
    start_s: int
    departure_s: int

    @property
    def request_id(self) -> str | None:
        """The request served here, ``None`` for a break or a depot return."""
        return self.key if self.kind in (StopKind.PICKUP, StopKind.DROPOFF) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutedStop:
    """A stop a vehicle has served (or a depot return), with actual times."""

    key: str
    kind: StopKind | str
    location: int
    arrival_s: int
    start_s: int
    departure_s: int
    load_after: Load
    distance_m: int

    @property
    def request_id(self) -> str | None:
        """The request served here, ``None`` for a break or a depot return."""
        return self.key if self.kind in (StopKind.PICKUP, StopKind.DROPOFF) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRecord:
    """A snapshot of one request: what was asked, promised and done."""

    request: AnyRequest
    status: RequestStatus
    booked_s: int
    offer: Offer | None
    vehicle: int | None
    direct_s: int | None
    picked_up_s: int | None
    dropped_off_s: int | None
    broken: tuple[str, ...]

    @property
    def promise_kept(self) -> bool | None:
        """``None`` when nothing was promised, else whether no promise broke."""
        if self.offer is None or self.status in (RequestStatus.OFFERED,
                                                 RequestStatus.DECLINED,
                                                 RequestStatus.EXPIRED):
            return None
        return not self.broken


@dataclass(slots=True)
class _Req:
    request: AnyRequest
    status: RequestStatus
    booked_s: int
    offer: Offer | None = None
    pickup: PlanStop | None = None
    dropoff: PlanStop | None = None
    vehicle: int | None = None
    direct_s: int | None = None
    picked_up_s: int | None = None
    dropped_off_s: int | None = None
    broken: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Veh:
    spec: VehicleSpec
    plan: VehiclePlan
    history: list[ExecutedStop] = field(default_factory=list)
    driven_m: int = 0
    first_departure_s: int | None = None
    closed: bool = False


class Engine:
    """A live service day.

    Parameters
    ----------
    table
        Travel table; every location index refers to it.
    vehicles
        The fleet; vehicle ``k`` is ``vehicles[k]``.
    config
        Service rules.
    start_s
        Current time when the engine starts.

    Notes
    -----
    The engine is single-threaded and deterministic: the same calls in the same order
    give the same plans, offers and events.
    """

    def __init__(
        self,
        table: TravelTable,
        vehicles: Sequence[VehicleSpec],
        config: DispatchConfig | None = None,
        *,
        start_s: int = 0,
    ) -> None:
        self.table = table
        self.config = config or DispatchConfig()
        self.now = start_s
        self.events: list[Event] = []
        self._reqs: dict[str, _Req] = {}
        self._veh = [self._new_vehicle(k, v) for k, v in enumerate(vehicles)]
        #: Bumped by every change to plans; re-optimization merges against it.
        self.version = 0
        self.changes: list[tuple[int, str, str]] = []
        self._cache = PlanCache()
        self._offered: dict[str, None] = {}  # open offers, in offer order

    # ------------------------------------------------------------------ setup
    def _new_vehicle(self, k: int, v: VehicleSpec) -> _Veh:
        d = len(self.config.dimensions)
        if len(v.capacity) != d:
            msg = f"vehicle {v.id}.capacity has {len(v.capacity)} values for {d} dimensions"
            raise InvalidRequestError(msg)
        for loc in (v.depot, v.end if v.end is not None else v.depot):
            self._check_location(loc, f"vehicle {v.id}")
        zero = (0,) * d
        origin_s = max(v.shift.earliest, self.now)
        stops = tuple(
            PlanStop(key=f"break:{v.id}:{b}", kind=StopKind.BREAK, location=STAY,
                     delta=zero, earliest=br.window.earliest, latest=br.window.latest,
                     service_s=br.duration_s)
            for b, br in sorted(enumerate(v.breaks), key=lambda x: x[1].window.earliest)
            if br.window.latest >= origin_s  # a break whose window has passed is skipped
        )
        plan = VehiclePlan(
            vehicle=k, origin=v.depot, origin_s=origin_s, stops=stops,
            capacity=v.capacity, onboard=zero,
            end=v.depot if v.end is None else v.end, end_latest=v.shift.latest,
            distance_cost=v.distance_cost, duration_cost=v.duration_cost,
        )
        return _Veh(spec=v, plan=plan)

    def _check_location(self, loc: int, owner: str) -> None:
        if not 0 <= loc < self.table.n:
            msg = f"{owner}: location index {loc} outside the travel table (n={self.table.n})"
            raise InvalidRequestError(msg)

    # ------------------------------------------------------------------ queries
    @property
    def n_vehicles(self) -> int:
        """Number of vehicles."""
        return len(self._veh)

    def vehicle_spec(self, vehicle: int) -> VehicleSpec:
        """Return the spec of ``vehicle``."""
        return self._vehicle(vehicle).spec

    def status(self, request_id: str) -> RequestStatus:
        """Return the status of a request."""
        return self._get(request_id).status

    def record(self, request_id: str) -> RequestRecord:
        """Return a snapshot of a request."""
        r = self._get(request_id)
        return RequestRecord(request=r.request, status=r.status, booked_s=r.booked_s,
                             offer=r.offer, vehicle=r.vehicle, direct_s=r.direct_s,
                             picked_up_s=r.picked_up_s, dropped_off_s=r.dropped_off_s,
                             broken=tuple(r.broken))

    def records(self) -> tuple[RequestRecord, ...]:
        """Return a snapshot of every request, in booking order."""
        return tuple(self.record(i) for i in self._reqs)

    def plan(self, vehicle: int) -> tuple[PlannedStop, ...]:
        """Return the future stops of ``vehicle`` with planned times."""
        p = self._vehicle(vehicle).plan
        sch = schedule(p, self.table.durations, self.table.distances)
        out = []
        cur = p.origin
        for k, s in enumerate(p.stops):
            cur = cur if s.location == STAY else s.location
            out.append(PlannedStop(key=s.key, kind=s.kind, location=cur,
                                   arrival_s=sch.arrival[k], start_s=sch.start[k],
                                   departure_s=sch.departure[k]))
        return tuple(out)

    def vehicle_plan(self, vehicle: int) -> VehiclePlan:
        """Return the raw insertion plan of ``vehicle`` (limits included)."""
        return self._vehicle(vehicle).plan

    def history(self, vehicle: int) -> tuple[ExecutedStop, ...]:
        """Return the stops ``vehicle`` has served, in order."""
        return tuple(self._vehicle(vehicle).history)

    def vehicle_km(self, vehicle: int) -> float:
        """Return the kilometres ``vehicle`` has driven so far."""
        return self._vehicle(vehicle).driven_m / 1000.0

    def vehicle_hours(self, vehicle: int) -> float:
        """Return hours from the first departure to the last recorded stop (0 if unused)."""
        v = self._vehicle(vehicle)
        if v.first_departure_s is None or not v.history:
            return 0.0
        return (v.history[-1].arrival_s - v.first_departure_s) / 3600.0

    def is_active(self, vehicle: int) -> bool:
        """Return whether ``vehicle`` takes work (not broken down)."""
        return self._vehicle(vehicle).plan.active

    def _get(self, request_id: str) -> _Req:
        try:
            return self._reqs[request_id]
        except KeyError:
            msg = f"request {request_id!r} is unknown"
            raise UnknownRequestError(msg) from None

    def _vehicle(self, vehicle: int) -> _Veh:
        if not 0 <= vehicle < len(self._veh):
            msg = f"vehicle {vehicle} is unknown (fleet of {len(self._veh)})"
            raise UnknownVehicleError(msg)
        return self._veh[vehicle]

    # ------------------------------------------------------------------ log
    def _set(self, r: _Req, new: RequestStatus, cause: str, t: int | None = None) -> None:
        old = r.status
        if new not in TRANSITIONS.get(old, frozenset()):
            msg = f"request {r.request.id!r}: cannot go from {old} to {new}"
            raise InvalidTransitionError(msg)
        r.status = new
        if new is RequestStatus.OFFERED:
            self._offered[r.request.id] = None
        elif old is RequestStatus.OFFERED:
            self._offered.pop(r.request.id, None)
        self.events.append(Event(time_s=self.now if t is None else t, kind=EventKind.STATUS,
                                 request_id=r.request.id, vehicle=r.vehicle, status=new,
                                 previous=old, cause=cause))

    def _broken(self, r: _Req, cause: str, late_s: int, t: int | None = None) -> None:
        r.broken.append(cause)
        self.events.append(Event(time_s=self.now if t is None else t,
                                 kind=EventKind.PROMISE_BROKEN, request_id=r.request.id,
                                 vehicle=r.vehicle, cause=cause, value_s=late_s))

    def _changed(self, kind: str, key: str) -> None:
        self.version += 1
        self.changes.append((self.version, kind, key))

    # ------------------------------------------------------------------ plans
    def _live_plan(self, k: int) -> VehiclePlan:
        """Return vehicle ``k``'s plan as of ``now``: lock the leg in progress."""
        v = self._veh[k]
        p = v.plan
        if not p.active:
            return p
        if p.stops and p.n_locked == 0:
            first = p.stops[0]
            loc = p.origin if first.location == STAY else first.location
            sch_start = max(p.origin_s + int(self.table.durations[p.origin, loc]),
                            first.earliest)
            leave = max(p.origin_s, sch_start - int(self.table.durations[p.origin, loc]))
            if self.now >= leave:
                p = replace(p, n_locked=1)
        if p.n_locked == 0 and p.origin_s < self.now:
            p = replace(p, origin_s=self.now)
        v.plan = p
        return p

    def _live_plans(self) -> list[VehiclePlan]:
        return [self._live_plan(k) for k in range(len(self._veh))]

    def _insert(self, cands: Sequence[Candidate]) -> Insertion | None:
        return best_insertion(self._live_plans(), cands, self.table.durations,
                              self.table.distances, cache=self._cache)

    # ------------------------------------------------------------------ booking
    def book(self, request: AnyRequest) -> Offer | Rejection:
        """Answer a booking at :attr:`now` with an offer or a rejection.

        Raises
        ------
        DuplicateRequestError
            When the id is already booked.
        InvalidRequestError
            When a location index is outside the table or no option is given.
        """
        if request.id in self._reqs:
            msg = f"request {request.id!r} is already booked"
            raise DuplicateRequestError(msg)
        self._validate(request)
        r = _Req(request=request, status=RequestStatus.REQUESTED, booked_s=self.now)
        self._reqs[request.id] = r
        self.events.append(Event(time_s=self.now, kind=EventKind.STATUS,
                                 request_id=request.id, status=RequestStatus.REQUESTED,
                                 cause="booking"))
        refusal = self._eligibility(request)
        if refusal is not None:
            return self._reject(r, refusal[0], refusal[1], ())
        answer = self._offer_for(r, self._wanted(request))
        if isinstance(answer, Offer):
            r.offer = answer
            r.vehicle = answer.vehicle
            self._set(r, RequestStatus.OFFERED, "insertion")
            return answer
        alts = self._alternatives(r) if answer[0] is RejectReason.NO_FEASIBLE_INSERTION else ()
        return self._reject(r, answer[0], answer[1], alts)

    def _reject(self, r: _Req, reason: RejectReason, detail: str,
                alts: tuple[TimeWindow, ...]) -> Rejection:
        self._set(r, RequestStatus.REJECTED, f"{reason}: {detail}")
        return Rejection(request_id=r.request.id, reason=reason, detail=detail,
                         alternatives=alts)

    def _validate(self, request: AnyRequest) -> None:
        if isinstance(request, DeliveryOrder):
            locs = [request.shop, request.home]
        else:
            if not request.origin or not request.destination:
                msg = f"request {request.id!r}: origin and destination need a stop option"
                raise InvalidRequestError(msg)
            locs = [o.location for o in (*request.origin, *request.destination)]
        for loc in locs:
            self._check_location(loc, f"request {request.id!r}")

    def _load(self, request: AnyRequest) -> Load:
        dims = self.config.dimensions
        want = ({"parcels": request.parcels} if isinstance(request, DeliveryOrder)
                else {"seats": request.seats, "wheelchairs": request.wheelchairs})
        for name, q in want.items():
            if q and name not in dims:
                msg = f"request {request.id!r} needs dimension {name!r}, have {dims}"
                raise InvalidRequestError(msg)
        return tuple(int(want.get(name, 0)) for name in dims)

    def _eligibility(self, request: AnyRequest) -> tuple[RejectReason, str] | None:
        members = self.config.members
        if (isinstance(request, RideRequest) and members is not None
                and request.rider not in members):
            return RejectReason.NOT_MEMBER, f"rider {request.rider!r} is not a registered member"
        load = self._load(request)
        fleet = [v for v in self._veh if v.plan.active]
        if any(all(q <= c for q, c in zip(load, v.spec.capacity, strict=True)) for v in fleet):
            return None
        if isinstance(request, RideRequest) and request.wheelchairs:
            return RejectReason.NO_WHEELCHAIR_VEHICLE, "no active vehicle takes a wheelchair"
        return RejectReason.NO_CAPACITY_TYPE, f"no active vehicle has capacity for {load}"

    # ------------------------------------------------------------------ windows
    def _wanted(self, request: AnyRequest, shift_s: int = 0) -> tuple[TimeWindow, int]:
        """Return the wanted pickup window and latest drop-off (shifted for alternatives)."""
        c = self.config
        soonest = self.now + c.min_lead_s
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

    def max_ride_s(self, direct_s: int) -> int:
        """Return the maximum ride for a trip of direct time ``direct_s``."""
        c = self.config
        return math.ceil(c.ride_alpha * direct_s) + c.ride_beta_s

    def _candidates(
        self, request: AnyRequest, wanted: tuple[TimeWindow, int]
    ) -> tuple[list[Candidate], list[tuple[int, int, int]]]:
        """Return insertion candidates and their (pickup, dropoff, walk) per option."""
        if isinstance(request, DeliveryOrder):
            return self._delivery_candidates(request, wanted)
        c = self.config
        pw, latest = wanted
        load = self._load(request)
        neg = tuple(-q for q in load)
        soonest = self.now + c.min_lead_s
        cands: list[Candidate] = []
        meta: list[tuple[int, int, int]] = []
        for o in request.origin:
            for d in request.destination:
                if max(o.walk_s, d.walk_s) > c.max_walk_s or o.location == d.location:
                    continue
                direct = int(self.table.durations[o.location, d.location])
                if direct >= UNREACHABLE:
                    continue
                ride = self.max_ride_s(direct)
                arr_latest = latest - d.walk_s if latest < OPEN else OPEN
                lo = max(pw.earliest, soonest)
                if request.pickup_window is None and request.arrive_by is not None:
                    lo = max(lo, arr_latest - c.pickup_service_s - ride)
                hi = min(pw.latest, arr_latest - c.pickup_service_s - direct)
                if lo > hi:
                    continue
                cands.append(self._ride_candidate(request.id, (o.location, d.location),
                                                  (lo, hi, arr_latest), ride, load, neg,
                                                  c.walk_cost * (o.walk_s + d.walk_s)))
                meta.append((o.location, d.location, o.walk_s + d.walk_s))
        return cands, meta

    def _ride_candidate(self, key: str, od: tuple[int, int], win: tuple[int, int, int],
                        ride: int, load: Load, neg: Load, extra: int) -> Candidate:
        c = self.config
        p = PlanStop(key=key, kind=StopKind.PICKUP, location=od[0], delta=load,
                     earliest=win[0], latest=win[1], service_s=c.pickup_service_s)
        d = PlanStop(key=key, kind=StopKind.DROPOFF, location=od[1], delta=neg,
                     latest=win[2], service_s=c.dropoff_service_s, ride_limit_s=ride)
        return Candidate(pickup=p, dropoff=d, extra_cost=extra)

    def _delivery_candidates(
        self, request: DeliveryOrder, wanted: tuple[TimeWindow, int]
    ) -> tuple[list[Candidate], list[tuple[int, int, int]]]:
        c = self.config
        pw, latest = wanted
        load = self._load(request)
        neg = tuple(-q for q in load)
        if int(self.table.durations[request.shop, request.home]) >= UNREACHABLE:
            return [], []
        lo = latest - (request.window.latest - request.window.earliest)
        p = PlanStop(key=request.id, kind=StopKind.PICKUP, location=request.shop, delta=load,
                     earliest=pw.earliest, latest=latest, service_s=c.delivery_service_s)
        d = PlanStop(key=request.id, kind=StopKind.DROPOFF, location=request.home, delta=neg,
                     earliest=lo, latest=latest, service_s=c.delivery_service_s)
        return [Candidate(pickup=p, dropoff=d)], [(request.shop, request.home, 0)]

    def _offer_for(
        self, r: _Req, wanted: tuple[TimeWindow, int]
    ) -> Offer | tuple[RejectReason, str]:
        cands, meta = self._candidates(r.request, wanted)
        if not cands:
            return self._no_candidate_reason(r.request, wanted)
        ins = self._insert(cands)
        if ins is None:
            return RejectReason.NO_FEASIBLE_INSERTION, "no vehicle can fit it in its plan"
        cand = cands[ins.candidate]
        pick, drop, walk = meta[ins.candidate]
        r.direct_s = int(self.table.durations[pick, drop])
        return self._make_offer(r.request, ins, cand, walk)

    def _no_candidate_reason(
        self, request: AnyRequest, wanted: tuple[TimeWindow, int]
    ) -> tuple[RejectReason, str]:
        if isinstance(request, RideRequest):
            w = self.config.max_walk_s
            if (min(o.walk_s for o in request.origin) > w
                    or min(d.walk_s for d in request.destination) > w):
                return RejectReason.NO_STOP_IN_WALK, "no stop within the maximum walk"
            if all(int(self.table.durations[o.location, d.location]) >= UNREACHABLE
                   for o in request.origin for d in request.destination):
                return RejectReason.UNREACHABLE, "no road between origin and destination"
        else:
            if int(self.table.durations[request.shop, request.home]) >= UNREACHABLE:
                return RejectReason.UNREACHABLE, "no road between shop and home"
        return RejectReason.TOO_LATE, "the wanted times cannot be met from now"

    def _make_offer(self, request: AnyRequest, ins: Insertion, cand: Candidate,
                    walk: int) -> Offer:
        c = self.config
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
                     planned_dropoff_s=ds, expires_s=self.now + c.offer_ttl_s,
                     delivery_window=dw)

    def _alternatives(self, r: _Req) -> tuple[TimeWindow, ...]:
        """Return up to ``config.alternatives`` shifted wanted windows that fit now."""
        c = self.config
        steps = c.alternative_range_s // max(1, c.alternative_step_s)
        shifts = [sign * k * c.alternative_step_s
                  for k in range(1, steps + 1) for sign in (1, -1)]
        cands: list[Candidate] = []
        owner: list[int] = []
        windows: list[TimeWindow] = []
        for n, shift in enumerate(shifts):
            try:
                wanted = self._wanted(r.request, shift)
            except ValueError:  # shifted before midnight
                wanted = (TimeWindow(earliest=0, latest=0), -1)
            more, _ = self._candidates(r.request, wanted) if wanted[1] >= 0 else ([], [])
            cands.extend(more)
            owner.extend([n] * len(more))
            pw = wanted[0]
            if isinstance(r.request, DeliveryOrder):
                w = r.request.window
                pw = TimeWindow(earliest=w.earliest + shift, latest=w.latest + shift)
            windows.append(pw)
        # every shifted time is judged in one vectorized pass
        found = best_insertions(self._live_plans(), cands, self.table.durations,
                                self.table.distances, cache=self._cache)
        fits = sorted({owner[i] for i, x in enumerate(found) if x is not None})
        return tuple(windows[n] for n in fits[: c.alternatives])

    # ------------------------------------------------------------------ confirm etc.
    def _promise_candidate(self, r: _Req) -> Candidate:
        """Return the candidate whose limits are exactly the request's promise."""
        o = r.offer
        assert o is not None
        load = self._load(r.request)
        neg = tuple(-q for q in load)
        c = self.config
        if isinstance(r.request, DeliveryOrder):
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

    def confirm(self, request_id: str) -> Offer:
        """Confirm an offer: the rider gets the promise and a place in a vehicle plan.

        Raises
        ------
        InvalidTransitionError
            When the request is not in status offered.
        OfferExpiredError
            When the offer has expired or no longer fits (status becomes expired).
        """
        r = self._get(request_id)
        if r.status is not RequestStatus.OFFERED or r.offer is None:
            msg = f"request {request_id!r} is {r.status}, only an offered request can confirm"
            raise InvalidTransitionError(msg)
        if self.now > r.offer.expires_s:
            self._set(r, RequestStatus.EXPIRED, "offer expired")
            msg = f"offer for {request_id!r} expired at {r.offer.expires_s}"
            raise OfferExpiredError(msg)
        cand = self._promise_candidate(r)
        ins = self._insert([cand])
        if ins is None:
            self._set(r, RequestStatus.EXPIRED, "no longer fits")
            msg = f"offer for {request_id!r} no longer fits the plans"
            raise OfferExpiredError(msg)
        self._assign(r, ins, cand)
        self._set(r, RequestStatus.CONFIRMED, "rider")
        self._set(r, RequestStatus.ASSIGNED, "insertion")
        self._changed("confirm", request_id)
        return r.offer

    def _assign(self, r: _Req, ins: Insertion, cand: Candidate) -> None:
        v = self._veh[ins.plan]
        v.plan = insert(v.plan, ins, cand)
        r.vehicle, r.pickup, r.dropoff = ins.plan, cand.pickup, cand.dropoff

    def decline(self, request_id: str) -> None:
        """Record that the rider declined the offer."""
        self._set(self._get(request_id), RequestStatus.DECLINED, "rider")

    def cancel(self, request_id: str, cause: str = "rider") -> None:
        """Cancel a request before pickup; its seats are freed at once.

        Raises
        ------
        InvalidTransitionError
            After pickup, or when the request is already final.
        """
        r = self._get(request_id)
        if r.status is RequestStatus.PICKED_UP:
            msg = f"request {request_id!r} is already on board: cannot cancel after pickup"
            raise InvalidTransitionError(msg)
        self._set(r, RequestStatus.CANCELLED, cause)
        self._unplan(r)

    def _unplan(self, r: _Req) -> None:
        if r.vehicle is not None and r.pickup is not None:
            v = self._veh[r.vehicle]
            v.plan = remove_repaired(v.plan, r.request.id, self.table.durations,
                                     self.table.distances)
            self._changed("remove", r.request.id)

    # ------------------------------------------------------------------ time
    def advance(self, t: int) -> list[Event]:
        """Let every vehicle execute its plan up to time ``t`` and expire stale offers.

        Stops are executed in time order across the fleet, exactly as planned.

        Returns
        -------
        list of Event
            The events logged by this call.
        """
        if t < self.now:
            msg = f"cannot advance to {t}: now is {self.now}"
            raise InvalidTransitionError(msg)
        first = len(self.events)
        while True:
            nxt = self._next_stop(t)
            if nxt is None:
                break
            start, k = nxt
            self.now = max(self.now, start)
            self._expire(self.now)
            self._execute_first(k)
        self.now = t
        self._expire(t)
        return self.events[first:]

    def _next_stop(self, t: int) -> tuple[int, int] | None:
        best: tuple[int, int] | None = None
        for k, v in enumerate(self._veh):
            p = v.plan
            if not p.active or not p.stops:
                continue
            sch = schedule(replace(p, stops=p.stops[:1]), self.table.durations,
                           self.table.distances)
            if sch.start[0] <= t and (best is None or sch.start[0] < best[0]):
                best = (sch.start[0], k)
        return best

    def _expire(self, t: int) -> None:
        for rid in list(self._offered):
            r = self._reqs[rid]
            if r.offer and r.offer.expires_s < t:
                self._set(r, RequestStatus.EXPIRED, "offer expired", t=r.offer.expires_s)

    def _execute_first(self, k: int, arrival_s: int | None = None) -> ExecutedStop:
        v = self._veh[k]
        p = v.plan
        s = p.stops[0]
        loc = p.origin if s.location == STAY else s.location
        travel = int(self.table.durations[p.origin, loc])
        arr = p.origin_s + travel if arrival_s is None else arrival_s
        start = max(arr, s.earliest)
        dep = start + s.service_s
        dist = int(self.table.distances[p.origin, loc])
        onboard = tuple(a + b for a, b in zip(p.onboard, s.delta, strict=True))
        if v.first_departure_s is None and travel > 0:
            v.first_departure_s = max(p.origin_s, start - travel)
        v.driven_m += dist
        done = ExecutedStop(key=s.key, kind=s.kind, location=loc, arrival_s=arr,
                            start_s=start, departure_s=dep, load_after=onboard,
                            distance_m=dist)
        v.history.append(done)
        rest = p.stops[1:]
        if s.kind is StopKind.PICKUP:
            rest = tuple(replace(x, ride_from_s=dep) if x.key == s.key else x for x in rest)
        v.plan = replace(p, origin=loc, origin_s=dep, stops=rest, onboard=onboard,
                         n_locked=max(0, p.n_locked - 1))
        self.events.append(Event(time_s=arr, kind=EventKind.ARRIVED, request_id=s.key,
                                 vehicle=k))
        self._served(s, start, dep, k)
        self._changed("execute", s.key)
        return done

    def _served(self, s: PlanStop, start: int, dep: int, k: int) -> None:
        r = self._reqs.get(s.key)
        if r is None:
            return
        if s.kind is StopKind.PICKUP:
            if start > s.latest:
                self._late(r, "pickup", start - s.latest, start)
            if r.picked_up_s is None:  # a rescue pickup keeps the first pickup time
                r.picked_up_s = start
            self._set(r, RequestStatus.PICKED_UP, "vehicle", t=start)
        elif s.kind is StopKind.DROPOFF:
            if start > s.latest:
                self._late(r, "arrival", start - s.latest, start)
            r.dropped_off_s = start
            self._set(r, RequestStatus.DROPPED_OFF, "vehicle", t=start)

    def _late(self, r: _Req, what: str, late: int, t: int) -> None:
        if not r.broken:  # a cause was not recorded when it broke: record it now
            self._broken(r, f"late {what}", late, t)

    # ------------------------------------------------------------------ vehicle events
    def arrived(self, vehicle: int, at_s: int) -> ExecutedStop:
        """Record that ``vehicle`` reached its next stop at ``at_s`` and served it."""
        v = self._vehicle(vehicle)
        if not v.plan.stops:
            msg = f"vehicle {vehicle} has no stop to arrive at"
            raise InvalidTransitionError(msg)
        self.now = max(self.now, at_s)
        return self._execute_first(vehicle, at_s)

    def picked_up(self, request_id: str, at_s: int) -> ExecutedStop:
        """Record the pickup of ``request_id`` at ``at_s`` (its vehicle's next stop).

        Raises
        ------
        InvalidTransitionError
            When the pickup is not the next stop of the request's vehicle.
        """
        return self._serve_next(request_id, StopKind.PICKUP, at_s)

    def dropped_off(self, request_id: str, at_s: int) -> ExecutedStop:
        """Record the drop-off of ``request_id`` at ``at_s`` (its vehicle's next stop)."""
        return self._serve_next(request_id, StopKind.DROPOFF, at_s)

    def _serve_next(self, request_id: str, kind: StopKind, at_s: int) -> ExecutedStop:
        r = self._get(request_id)
        stops = self._veh[r.vehicle].plan.stops if r.vehicle is not None else ()
        if not stops or stops[0].key != request_id or stops[0].kind is not kind:
            msg = (f"request {request_id!r} ({r.status}): its {kind} is not the next stop "
                   f"of vehicle {r.vehicle}")
            raise InvalidTransitionError(msg)
        assert r.vehicle is not None
        return self.arrived(r.vehicle, at_s)

    def position(self, vehicle: int, location: int, at_s: int, cause: str = "position") -> None:
        """Record that ``vehicle`` is at ``location`` at ``at_s``: its plan is re-timed.

        Any promise the new timing breaks is recorded with ``cause``.
        """
        v = self._vehicle(vehicle)
        self._check_location(location, f"vehicle {vehicle} position")
        self.now = max(self.now, at_s)
        p = self._live_plan(vehicle)
        v.driven_m += int(self.table.distances[p.origin, location])
        v.plan = replace(p, origin=location, origin_s=at_s)
        self.events.append(Event(time_s=at_s, kind=EventKind.POSITION, vehicle=vehicle,
                                 value_s=location))
        self._changed("position", str(vehicle))
        self._relax_broken(vehicle, cause)

    def delay(self, vehicle: int, seconds: int, cause: str = "traffic") -> None:
        """Shift ``vehicle``'s remaining plan by ``seconds``; broken promises are recorded."""
        v = self._vehicle(vehicle)
        p = self._live_plan(vehicle)
        v.plan = replace(p, origin_s=p.origin_s + seconds)
        self.events.append(Event(time_s=self.now, kind=EventKind.DELAY, vehicle=vehicle,
                                 cause=cause, value_s=seconds))
        self._changed("delay", str(vehicle))
        self._relax_broken(vehicle, cause)

    def _relax_broken(self, vehicle: int, cause: str) -> None:
        """Record every promise the vehicle's current timing breaks, then relax those
        limits to the new times so that the plan stays workable."""
        v = self._veh[vehicle]
        p = v.plan
        sch = schedule(p, self.table.durations, self.table.distances)
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
            if key in self._reqs:
                self._broken(self._reqs[key], cause, late_s)
        end_latest = p.end_latest
        if sch.end_s > end_latest:
            self.events.append(Event(time_s=self.now, kind=EventKind.SHIFT_OVERRUN,
                                     vehicle=vehicle, cause=cause,
                                     value_s=sch.end_s - end_latest))
            end_latest = sch.end_s
        v.plan = replace(p, stops=tuple(stops), end_latest=end_latest)

    def no_show(self, request_id: str, cause: str = "rider absent") -> None:
        """Record that the rider was not at the pickup: status no-show, stops removed.

        When the pickup was the vehicle's next stop, the vehicle is taken to be at
        that stop now (it drove there).
        """
        r = self._get(request_id)
        if r.status is not RequestStatus.ASSIGNED:
            msg = f"request {request_id!r} is {r.status}: no-show needs an assigned request"
            raise InvalidTransitionError(msg)
        assert r.vehicle is not None
        v = self._veh[r.vehicle]
        p = v.plan
        if p.stops and p.stops[0].key == request_id and p.stops[0].kind is StopKind.PICKUP:
            loc = p.stops[0].location
            v.driven_m += int(self.table.distances[p.origin, loc])
            v.plan = replace(p, origin=loc, origin_s=max(
                self.now, p.origin_s + int(self.table.durations[p.origin, loc])))
        self._set(r, RequestStatus.NO_SHOW, cause)
        self._unplan(r)

    def breakdown(self, vehicle: int, cause: str = "breakdown") -> None:
        """Take ``vehicle`` out of service and re-insert its riders elsewhere.

        Riders waiting for it keep their promise when another vehicle can take it;
        otherwise they get a relaxed window (broken promise recorded with ``cause``) or
        are cancelled. Riders on board are rescued from the vehicle's position.
        """
        v = self._vehicle(vehicle)
        p = self._live_plan(vehicle)
        self.events.append(Event(time_s=self.now, kind=EventKind.BREAKDOWN, vehicle=vehicle,
                                 cause=cause))
        stops: dict[str, list[PlanStop]] = {}
        for s in p.stops:
            if s.key in self._reqs:
                stops.setdefault(s.key, []).append(s)
        v.plan = replace(p, stops=(), active=False, n_locked=0)
        self._changed("breakdown", str(vehicle))
        for key, pair in stops.items():
            r = self._reqs[key]
            if r.status is RequestStatus.PICKED_UP:
                self._rescue(r, pair[-1], p.origin, cause)
            else:
                self._reassign(r, Candidate(pickup=pair[0], dropoff=pair[-1]), cause)

    def _reassign(self, r: _Req, cand: Candidate, cause: str) -> None:
        ins = self._insert([cand])
        if ins is None:
            self._broken(r, cause, 0)
            cand = self._relaxed(cand)
            ins = self._insert([cand])
        if ins is None:
            self._set(r, RequestStatus.CANCELLED, f"{cause}: no vehicle can take it")
            return
        self._assign(r, ins, cand)
        self.events.append(Event(time_s=self.now, kind=EventKind.REASSIGNED,
                                 request_id=r.request.id, vehicle=ins.plan, cause=cause))

    def _relaxed(self, cand: Candidate) -> Candidate:
        x = self.config.relax_s
        p, d = cand.pickup, cand.dropoff
        return replace(cand, pickup=replace(p, latest=p.latest + x),
                       dropoff=replace(d, latest=d.latest + x))

    def _rescue(self, r: _Req, drop: PlanStop, where: int, cause: str) -> None:
        c = self.config
        direct = int(self.table.durations[where, drop.location])
        d = replace(drop, ride_from_s=None, ride_limit_s=self.max_ride_s(direct))
        p = PlanStop(key=r.request.id, kind=StopKind.PICKUP, location=where,
                     delta=tuple(-q for q in d.delta), earliest=self.now,
                     latest=self.now + c.asap_wait_s, service_s=c.pickup_service_s)
        cand = Candidate(pickup=p, dropoff=d)
        self._set(r, RequestStatus.ASSIGNED, f"{cause}: rescue")
        ins = self._insert([cand])
        if ins is None:
            self._broken(r, cause, 0)
            cand = self._relaxed(replace(cand, dropoff=replace(d, ride_limit_s=None)))
            ins = self._insert([cand])
        if ins is None:
            self._set(r, RequestStatus.CANCELLED, f"{cause}: stranded, no rescue vehicle")
            return
        self._assign(r, ins, cand)
        self.events.append(Event(time_s=self.now, kind=EventKind.REASSIGNED,
                                 request_id=r.request.id, vehicle=ins.plan, cause=cause))

    # ------------------------------------------------------------------ end of day
    def close_day(self) -> None:
        """Finish the day: drive every vehicle home after its last stop, expire offers.

        Stops still planned are executed first (vehicles finish their work).
        """
        self.advance(max(self.now, *(self._end_time(k) for k in range(len(self._veh)))))
        for k, v in enumerate(self._veh):
            if v.closed:
                continue
            p = v.plan
            if p.end is not None and p.end != p.origin and v.first_departure_s is not None:
                travel = int(self.table.durations[p.origin, p.end])
                dist = int(self.table.distances[p.origin, p.end])
                v.driven_m += dist
                v.history.append(ExecutedStop(key=f"end:{v.spec.id}", kind="end",
                                              location=p.end, arrival_s=p.origin_s + travel,
                                              start_s=p.origin_s + travel,
                                              departure_s=p.origin_s + travel,
                                              load_after=p.onboard, distance_m=dist))
            v.closed = True
            logger.debug("vehicle %d closed", k)

    def _end_time(self, k: int) -> int:
        p = self._veh[k].plan
        if not p.active or not p.stops:
            return self.now
        return schedule(p, self.table.durations, self.table.distances).departure[-1]

    # ------------------------------------------------------------------ re-optimization
    def adopt_plans(self, plans: Sequence[VehiclePlan], cause: str = "reoptimize") -> None:
        """Replace every vehicle plan (used by :mod:`dispatch.reoptimize` after checks)."""
        if len(plans) != len(self._veh):
            msg = f"need {len(self._veh)} plans, got {len(plans)}"
            raise InvalidRequestError(msg)
        for k, p in enumerate(plans):
            self._veh[k].plan = p
            for s in p.stops:
                r = self._reqs.get(s.key)
                if r is not None and s.kind is StopKind.DROPOFF:
                    r.vehicle = k
        self.events.append(Event(time_s=self.now, kind=EventKind.REOPTIMIZED, cause=cause))
        self._changed("adopt", cause)

    def live_plans(self) -> list[VehiclePlan]:
        """Return every vehicle's plan as of :attr:`now` (leg in progress locked)."""
        return self._live_plans()

    def promise_candidate(self, request_id: str) -> Candidate:
        """Return the stops of a confirmed request with exactly its promised limits."""
        r = self._get(request_id)
        if r.pickup is None or r.dropoff is None:
            msg = f"request {request_id!r} has no planned stops"
            raise InvalidTransitionError(msg)
        return Candidate(pickup=r.pickup, dropoff=r.dropoff)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Return the engine state as JSON-able plain data."""
        return {
            "now": self.now,
            "version": self.version,
            "requests": [_plain(asdict(rec)) for rec in self.records()],
            "plans": [_plain(asdict(self._veh[k].plan)) for k in range(len(self._veh))],
            "history": [[_plain(asdict(h)) for h in v.history] for v in self._veh],
            "events": [_plain(asdict(e)) for e in self.events],
        }


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, frozenset | set):
        return sorted(_plain(v) for v in x)
    return x
