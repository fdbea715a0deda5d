"""Data of the live engine: statuses, requests, answers, events, config and records.

Everything here is plain frozen data (plus the two mutable per-request and per-vehicle
state records the engine keeps); no function here reads a travel table or a plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from dispatch.errors import InvalidRequestError
from routing.model import Break, Load, TimeWindow
from routing.solution import StopKind


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
    # a drone's sortie (the drone id is the event's ``cause``)
    DRONE_LAUNCHED = "drone_launched"
    DRONE_DELIVERED = "drone_delivered"
    DRONE_RETURNED = "drone_returned"
    DRONE_ABORTED = "drone_aborted"
    WIND = "wind"


class RejectReason(StrEnum):
    """Why a booking got no offer."""

    NOT_MEMBER = "not_member"
    # refusals by the rules of a service profile (dispatch.rules.RULES)
    CLASS_NOT_ALLOWED = "class_not_allowed"
    TOO_MANY_COMPANIONS = "too_many_companions"
    NOT_A_SERVICE_DAY = "not_a_service_day"
    OUTSIDE_SERVICE_HOURS = "outside_service_hours"
    TOO_FAR_AHEAD = "too_far_ahead"
    AFTER_BOOKING_CUTOFF = "after_booking_cutoff"
    TOO_SHORT_NOTICE = "too_short_notice"
    OUTSIDE_SERVICE_AREA = "outside_service_area"
    FORBIDDEN_OD = "forbidden_od"
    NOT_A_BOARDING_POINT = "not_a_boarding_point"
    SERVED_BY_FIXED_ROUTE = "served_by_fixed_route"
    NO_WHEELCHAIR_VEHICLE = "no_wheelchair_vehicle"
    NO_CAPACITY_TYPE = "no_capacity_type"
    NO_STOP_IN_WALK = "no_stop_in_walk"
    UNREACHABLE = "unreachable"
    TOO_LATE = "too_late"
    NO_FEASIBLE_INSERTION = "no_feasible_insertion"
    NO_DRONE = "no_drone"


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
    then derived from it. ``rider_class`` names the rider's class in the engine's
    service profile (fare concession and limits), ``companions`` how many of the
    seats are companions (同乗者), ``member_id`` the rider's registration, if any.
    """

    id: str
    rider: str
    origin: tuple[StopOption, ...]
    destination: tuple[StopOption, ...]
    pickup_window: TimeWindow | None = None
    arrive_by: int | None = None
    seats: int = 1
    wheelchairs: int = 0
    rider_class: str = "general"
    companions: int = 0
    member_id: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            msg = "request.id must not be empty"
            raise InvalidRequestError(msg)
        if self.companions > max(self.seats + self.wheelchairs - 1, 0):
            msg = (f"request {self.id!r}.companions ({self.companions}) must leave a place "
                   f"for the rider (seats {self.seats}, wheelchairs {self.wheelchairs})")
            raise InvalidRequestError(msg)
        _at_least(f"request {self.id!r}", {
            "seats": self.seats, "wheelchairs": self.wheelchairs,
            "companions": self.companions,
            **{f"origin[{i}].walk_s": o.walk_s for i, o in enumerate(self.origin)},
            **{f"destination[{i}].walk_s": o.walk_s for i, o in enumerate(self.destination)},
        }, 0)
        if self.seats + self.wheelchairs < 1:
            msg = f"request {self.id!r}: seats + wheelchairs must be at least 1"
            raise InvalidRequestError(msg)
        if self.arrive_by is not None and self.pickup_window is not None and (
                self.arrive_by < self.pickup_window.earliest):
            msg = (f"request {self.id!r}.arrive_by ({self.arrive_by}) is before its "
                   f"pickup window opens ({self.pickup_window.earliest})")
            raise InvalidRequestError(msg)


#: How a delivery may travel (:attr:`DeliveryOrder.mode`).
DELIVERY_MODES = ("van", "drone", "auto")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryOrder:
    """A shop-to-home delivery: picked up at ``shop`` from ``ready_s``, delivered in
    ``window`` at ``home``; carried in the ``parcels`` load dimension (vans).

    ``mode``: ``van`` (the default), ``drone`` (only by a drone of the engine's drone
    fleet, flying from a droneport at the shop) or ``auto`` (a drone when one fits,
    else a van); ``weight_kg`` is the payload a drone carries.
    """

    id: str
    shop: int
    home: int
    ready_s: int
    window: TimeWindow
    parcels: int = 1
    customer: str = ""
    mode: str = "van"
    weight_kg: float = 1.0

    def __post_init__(self) -> None:
        if not self.id:
            msg = "delivery.id must not be empty"
            raise InvalidRequestError(msg)
        _at_least(f"delivery {self.id!r}", {"parcels": self.parcels}, 1)
        if self.mode not in DELIVERY_MODES:
            msg = (f"delivery {self.id!r}.mode must be one of {', '.join(DELIVERY_MODES)}, "
                   f"got {self.mode!r}")
            raise InvalidRequestError(msg)
        if not (math.isfinite(self.weight_kg) and self.weight_kg > 0):
            msg = f"delivery {self.id!r}.weight_kg must be a positive number, got {self.weight_kg}"
            raise InvalidRequestError(msg)
        if self.window.latest < self.ready_s:
            msg = (f"delivery {self.id!r}.window closes ({self.window.latest}) before the "
                   f"order is ready ({self.ready_s})")
            raise InvalidRequestError(msg)


AnyRequest = RideRequest | DeliveryOrder

def _at_least(owner: str, values: dict[str, float], low: float) -> None:
    """Raise :class:`InvalidRequestError` naming the first value below ``low``."""
    for name, v in values.items():
        if not v >= low:  # also refuses NaN
            msg = f"{owner}.{name} must be at least {low:g}, got {v}"
            raise InvalidRequestError(msg)


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

    def __post_init__(self) -> None:
        if not self.id:
            msg = "vehicle.id must not be empty"
            raise InvalidRequestError(msg)
        _at_least(f"vehicle {self.id}", {"distance_cost": self.distance_cost,
                                          "duration_cost": self.duration_cost,
                                          **{f"capacity[{i}]": q
                                             for i, q in enumerate(self.capacity)}}, 0)
        if not any(self.capacity):
            msg = f"vehicle {self.id}.capacity is all zero: it could carry nothing"
            raise InvalidRequestError(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchConfig:
    """Service rules of an operator (see SCENARIOS.md for where the defaults come from).

    The promised pickup window is ``[planned - window_before_s, planned +
    window_after_s]`` clipped to the wanted window; the maximum ride is
    ``ceil(ride_alpha * direct) + ride_beta_s`` (MATSim DRT's alpha and beta;
    :func:`routing.model.max_ride_limit`, the one ride-limit rule).
    """

    dimensions: tuple[str, ...] = ("seats", "wheelchairs", "parcels")
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
    max_wait_s: int | None = None
    max_ride_cap_s: int | None = None

    def __post_init__(self) -> None:
        if not self.dimensions or len(set(self.dimensions)) != len(self.dimensions):
            msg = f"config.dimensions must be distinct names, got {self.dimensions}"
            raise InvalidRequestError(msg)
        _at_least("config", {
            "max_walk_s": self.max_walk_s, "asap_wait_s": self.asap_wait_s,
            "min_lead_s": self.min_lead_s, "window_before_s": self.window_before_s,
            "window_after_s": self.window_after_s, "ride_beta_s": self.ride_beta_s,
            "pickup_service_s": self.pickup_service_s,
            "dropoff_service_s": self.dropoff_service_s,
            "delivery_service_s": self.delivery_service_s, "alternatives": self.alternatives,
            "alternative_range_s": self.alternative_range_s, "walk_cost": self.walk_cost,
            "relax_s": self.relax_s,
            **({} if self.max_wait_s is None else {"max_wait_s": self.max_wait_s}),
            **({} if self.max_ride_cap_s is None else {"max_ride_cap_s": self.max_ride_cap_s}),
        }, 0)
        _at_least("config", {"ride_alpha": self.ride_alpha}, 1)
        _at_least("config", {"offer_ttl_s": self.offer_ttl_s,
                             "alternative_step_s": self.alternative_step_s}, 1)


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
    fare_jpy: int | None = None
    #: The drone that flies a drone delivery (``vehicle`` is then -1: no vehicle).
    drone: str | None = None


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

