"""The engine's mutable state and the status machine that records every change.

:class:`EngineState` is all a service day is: the clock, every request with its status
and promise, every vehicle's plan and history, the event log and the change counter
that re-optimization merges against. Only the functions here change a request's
status (checked against :data:`TRANSITIONS`) and append events; the other engine
modules call them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dispatch.engine.types import (
    TRANSITIONS,
    AnyRequest,
    DispatchConfig,
    Event,
    EventKind,
    ExecutedStop,
    Offer,
    RequestRecord,
    RequestStatus,
    VehicleSpec,
)
from dispatch.errors import (
    InvalidRequestError,
    InvalidTransitionError,
    UnknownRequestError,
    UnknownVehicleError,
)
from dispatch.network import TravelTable
from routing.insertion import PlanCache, PlanStop, VehiclePlan


def check_transition(r: RequestState, new: RequestStatus) -> None:
    """Raise :class:`InvalidTransitionError` unless ``r`` may go to ``new``."""
    if new not in TRANSITIONS.get(r.status, frozenset()):
        msg = f"request {r.request.id!r}: cannot go from {r.status} to {new}"
        raise InvalidTransitionError(msg)


@dataclass(slots=True)
class RequestState:
    """One request as the engine tracks it (mutable)."""

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

    def record(self) -> RequestRecord:
        """Return an immutable snapshot of this request."""
        return RequestRecord(request=self.request, status=self.status, booked_s=self.booked_s,
                             offer=self.offer, vehicle=self.vehicle, direct_s=self.direct_s,
                             picked_up_s=self.picked_up_s, dropped_off_s=self.dropped_off_s,
                             broken=tuple(self.broken))


@dataclass(slots=True)
class VehicleState:
    """One vehicle as the engine tracks it (mutable)."""

    spec: VehicleSpec
    plan: VehiclePlan
    history: list[ExecutedStop] = field(default_factory=list)
    driven_m: int = 0
    first_departure_s: int | None = None
    closed: bool = False


@dataclass(slots=True)
class EngineState:
    """Everything a service day holds; changed only through the engine's commands."""

    table: TravelTable
    config: DispatchConfig
    now: int
    vehicles: list[VehicleState]
    requests: dict[str, RequestState] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    #: Bumped by every change to plans; re-optimization merges against it.
    version: int = 0
    changes: list[tuple[int, str, str]] = field(default_factory=list)
    #: Open offers, in offer order.
    offered: dict[str, None] = field(default_factory=dict)
    cache: PlanCache = field(default_factory=PlanCache)
    #: The drones' sorties and wind (:class:`dispatch.engine.drones.DroneDay`), if any.
    drones: Any = None

    # ------------------------------------------------------------ lookups
    def get(self, request_id: str) -> RequestState:
        """Return the state of a request.

        Raises
        ------
        UnknownRequestError
            When the id was never booked.
        """
        try:
            return self.requests[request_id]
        except KeyError:
            msg = f"request {request_id!r} is unknown"
            raise UnknownRequestError(msg) from None

    def vehicle(self, vehicle: int) -> VehicleState:
        """Return the state of a vehicle.

        Raises
        ------
        UnknownVehicleError
            When the index is outside the fleet.
        """
        if not 0 <= vehicle < len(self.vehicles):
            msg = f"vehicle {vehicle} is unknown (fleet of {len(self.vehicles)})"
            raise UnknownVehicleError(msg)
        return self.vehicles[vehicle]

    def check_location(self, loc: int, owner: str) -> None:
        """Raise :class:`InvalidRequestError` when ``loc`` is not a table index."""
        if not 0 <= loc < self.table.n:
            msg = f"{owner}: location index {loc} outside the travel table (n={self.table.n})"
            raise InvalidRequestError(msg)

    # ------------------------------------------------------------ recording
    def set_status(self, r: RequestState, new: RequestStatus, cause: str,
                   t: int | None = None) -> None:
        """Move ``r`` to ``new`` (an allowed transition) and log it."""
        old = r.status
        check_transition(r, new)
        r.status = new
        if new is RequestStatus.OFFERED:
            self.offered[r.request.id] = None
        elif old is RequestStatus.OFFERED:
            self.offered.pop(r.request.id, None)
        self.events.append(Event(time_s=self.now if t is None else t, kind=EventKind.STATUS,
                                 request_id=r.request.id, vehicle=r.vehicle, status=new,
                                 previous=old, cause=cause))

    def broken(self, r: RequestState, cause: str, late_s: int, t: int | None = None) -> None:
        """Record that a promise of ``r`` broke, with its cause and lateness."""
        r.broken.append(cause)
        self.events.append(Event(time_s=self.now if t is None else t,
                                 kind=EventKind.PROMISE_BROKEN, request_id=r.request.id,
                                 vehicle=r.vehicle, cause=cause, value_s=late_s))

    def log(self, kind: EventKind, *, vehicle: int | None = None,
            request_id: str | None = None, cause: str = "", value_s: int = 0,
            t: int | None = None) -> None:
        """Append an event of ``kind`` at ``t`` (default: now)."""
        self.events.append(Event(time_s=self.now if t is None else t, kind=kind,
                                 vehicle=vehicle, request_id=request_id, cause=cause,
                                 value_s=value_s))

    def changed(self, kind: str, key: str) -> None:
        """Count a change to the plans (re-optimization merges against the counter)."""
        self.version += 1
        self.changes.append((self.version, kind, key))
