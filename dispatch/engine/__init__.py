"""The dispatch engine: request lifecycle, instant offers, fleet state and vehicle events.

One :class:`Engine` holds a service day: the fleet's current plans (one
:class:`routing.insertion.VehiclePlan` per vehicle), every request with its status and
promise, an event log and a command log. A booking gets an answer at once
(:meth:`Engine.book`): an :class:`Offer` (promised pickup window, latest arrival,
maximum ride) found by cheapest feasible insertion, or a :class:`Rejection` with a
reason and up to three alternative times. Confirmed promises are hard limits of every
later plan: insertion never breaks them and :meth:`Engine.adopt_plans` refuses plans
that would; only vehicle events (delay, breakdown) can, and then the broken promise is
recorded with its cause.

The engine is a facade over modules with one job each: :mod:`.types` (data and
config), :mod:`.state` (state and the status machine), :mod:`.offers` (offer policy,
pure), :mod:`.fleet` (plan execution and the clock), :mod:`.incidents` (delays,
no-shows, breakdowns), :mod:`.promises` (the referee of adopted plans) and :mod:`.log`
(commands and replay).

Times are integer seconds since the service day's midnight; places are indices into the
engine's :class:`dispatch.network.TravelTable`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from dispatch.engine import drones as drone_ops
from dispatch.engine import fleet, incidents, offers
from dispatch.engine.log import Command, decode_args, decode_state, encode_args, encode_state
from dispatch.engine.promises import plan_problems, rebased
from dispatch.engine.state import EngineState, RequestState, VehicleState, check_transition
from dispatch.engine.types import (
    DEFAULT_SHIFT,
    FINAL_STATUSES,
    TRANSITIONS,
    AnyRequest,
    DeliveryOrder,
    DispatchConfig,
    Event,
    EventKind,
    ExecutedStop,
    Offer,
    PlannedStop,
    Rejection,
    RejectReason,
    RequestRecord,
    RequestStatus,
    RideRequest,
    StopOption,
    VehicleSpec,
)
from dispatch.errors import (
    DispatchError,
    DuplicateRequestError,
    InvalidRequestError,
    InvalidTransitionError,
    OfferExpiredError,
    PlanRejectedError,
)
from dispatch.network import TravelTable
from routing import kernels
from routing.insertion import STAY, Candidate, PlanStop, VehiclePlan
from routing.solution import StopKind

if TYPE_CHECKING:
    from dispatch.engine.drones import DroneFleet
    from dispatch.profile import ServiceProfile

__all__ = [
    "DEFAULT_SHIFT",
    "FINAL_STATUSES",
    "TRANSITIONS",
    "AnyRequest",
    "Command",
    "DeliveryOrder",
    "DispatchConfig",
    "Engine",
    "Event",
    "EventKind",
    "ExecutedStop",
    "Offer",
    "PlannedStop",
    "RejectReason",
    "Rejection",
    "RequestRecord",
    "RequestStatus",
    "RideRequest",
    "StopOption",
    "VehicleSpec",
]

T = TypeVar("T")

#: Errors a call may raise after it changed state; such calls are logged with the error.
_LOGGED_ERRORS: tuple[type[DispatchError], ...] = (OfferExpiredError,)


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
    on_command
        Called with every :class:`~dispatch.engine.log.Command` right after it ran
        and before the call returns (a durable store commits it there).
    profile
        The service's rules (:mod:`dispatch.profile`): every ride booking is checked by
        :func:`dispatch.rules.check_booking` before insertion (a refusal names the
        rule), the rider class's limits apply to the offer and the offer names the
        fare. ``None`` (the default): no rules, no fares.
    service_date
        The date of the service day (required with ``profile``): the engine's clock
        counts seconds from its midnight.
    drones
        Droneports and drones (:class:`dispatch.engine.drones.DroneFleet`): deliveries
        of mode ``drone`` or ``auto`` get a drone offer when a sortie fits. ``None``:
        no drones (a ``drone`` delivery is rejected with ``no_drone``).

    Notes
    -----
    The engine is single-threaded and deterministic: the same calls in the same order
    give the same plans, offers and events, and :meth:`replay` of :attr:`commands`
    rebuilds the same state. Reading (every method that is not a command) never
    changes state.
    """

    def __init__(
        self,
        table: TravelTable,
        vehicles: Sequence[VehicleSpec],
        config: DispatchConfig | None = None,
        *,
        start_s: int = 0,
        on_command: Callable[[Command], None] | None = None,
        profile: ServiceProfile | None = None,
        service_date: date | None = None,
        drones: DroneFleet | None = None,
    ) -> None:
        if profile is not None and service_date is None:
            msg = "Engine: a service profile needs the service_date of the day"
            raise InvalidRequestError(msg)
        self.profile = profile
        self.service_date = service_date
        cfg = config or DispatchConfig()
        self._st = EngineState(table=table, config=cfg, now=start_s, vehicles=[])
        self._st.vehicles = [self._new_vehicle(k, v) for k, v in enumerate(vehicles)]
        self.drone_fleet = drones
        if drones is not None:
            self._st.drones = drone_ops.DroneDay(fleet=drones)
        self.start_s = start_s
        #: Commands run by this engine object (after its snapshot, when restored).
        self.commands: list[Command] = []
        #: Sequence number of the last command in the state (snapshot included).
        self.seq = 0
        self.on_command = on_command
        kernels.warm_up_live()  # compiled insertion: once per process, before a booking

    def _new_vehicle(self, k: int, v: VehicleSpec) -> VehicleState:
        st = self._st
        d = len(st.config.dimensions)
        if len(v.capacity) != d:
            msg = f"vehicle {v.id}.capacity has {len(v.capacity)} values for {d} dimensions"
            raise InvalidRequestError(msg)
        for loc in (v.depot, v.end if v.end is not None else v.depot):
            st.check_location(loc, f"vehicle {v.id}")
        zero = (0,) * d
        origin_s = max(v.shift.earliest, st.now)
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
        return VehicleState(spec=v, plan=plan)

    # ------------------------------------------------------------------ state views
    @property
    def table(self) -> TravelTable:
        """The travel table."""
        return self._st.table

    @property
    def config(self) -> DispatchConfig:
        """The service rules."""
        return self._st.config

    @property
    def now(self) -> int:
        """The engine's clock (seconds since midnight)."""
        return self._st.now

    @property
    def events(self) -> list[Event]:
        """Every event so far, in order (read it, do not change it)."""
        return self._st.events

    @property
    def version(self) -> int:
        """The change counter: bumped by every change to plans."""
        return self._st.version

    @property
    def changes(self) -> list[tuple[int, str, str]]:
        """Every change to plans as (version, kind, key)."""
        return self._st.changes

    @property
    def n_vehicles(self) -> int:
        """Number of vehicles."""
        return len(self._st.vehicles)

    def vehicle_spec(self, vehicle: int) -> VehicleSpec:
        """Return the spec of ``vehicle``."""
        return self._st.vehicle(vehicle).spec

    def status(self, request_id: str) -> RequestStatus:
        """Return the status of a request."""
        return self._st.get(request_id).status

    def record(self, request_id: str) -> RequestRecord:
        """Return a snapshot of a request."""
        return self._st.get(request_id).record()

    def records(self) -> tuple[RequestRecord, ...]:
        """Return a snapshot of every request, in booking order."""
        return tuple(r.record() for r in self._st.requests.values())

    def plan(self, vehicle: int) -> tuple[PlannedStop, ...]:
        """Return the future stops of ``vehicle`` with planned times."""
        return fleet.planned_stops(self._st.vehicle(vehicle).plan, self._st.table)

    def vehicle_plan(self, vehicle: int) -> VehiclePlan:
        """Return the raw insertion plan of ``vehicle`` (limits included)."""
        return self._st.vehicle(vehicle).plan

    def history(self, vehicle: int) -> tuple[ExecutedStop, ...]:
        """Return the stops ``vehicle`` has served, in order."""
        return tuple(self._st.vehicle(vehicle).history)

    def vehicle_km(self, vehicle: int) -> float:
        """Return the kilometres ``vehicle`` has driven so far."""
        return self._st.vehicle(vehicle).driven_m / 1000.0

    def vehicle_hours(self, vehicle: int) -> float:
        """Return hours from the first departure to the last recorded stop (0 if unused)."""
        v = self._st.vehicle(vehicle)
        if v.first_departure_s is None or not v.history:
            return 0.0
        return (v.history[-1].arrival_s - v.first_departure_s) / 3600.0

    def is_active(self, vehicle: int) -> bool:
        """Return whether ``vehicle`` takes work (not broken down)."""
        return self._st.vehicle(vehicle).plan.active

    def max_ride_s(self, direct_s: int) -> int:
        """Return the maximum ride for a trip of direct time ``direct_s``."""
        return offers.max_ride_s(self._st.config, direct_s)

    def live_plans(self) -> list[VehiclePlan]:
        """Return every vehicle's plan as of :attr:`now` (leg in progress locked).

        Reading only: the stored plans are not changed.
        """
        return fleet.live_plans(self._st)

    def promise_candidate(self, request_id: str) -> Candidate:
        """Return the stops of a confirmed request with exactly its promised limits."""
        r = self._st.get(request_id)
        if r.pickup is None or r.dropoff is None:
            msg = f"request {request_id!r} has no planned stops"
            raise InvalidTransitionError(msg)
        return Candidate(pickup=r.pickup, dropoff=r.dropoff)

    def plan_problems(self, plans: Sequence[VehiclePlan]) -> list[str]:
        """Return why ``plans`` may not be adopted now (empty when they may)."""
        return plan_problems(self._st, plans)

    # ------------------------------------------------------------------ the log
    def _run(self, op: str, args: dict[str, Any], call: Callable[[], T]) -> T:
        """Run one command and log it (also when it failed after changing state)."""
        try:
            out = call()
        except _LOGGED_ERRORS as exc:
            self._log(op, args, type(exc).__name__)
            raise
        self._log(op, args, None)
        return out

    def _log(self, op: str, args: dict[str, Any], error: str | None) -> None:
        self.seq += 1
        cmd = Command(seq=self.seq, op=op, args=encode_args(op, args), error=error)
        self.commands.append(cmd)
        if self.on_command is not None:
            self.on_command(cmd)

    @classmethod
    def replay(  # noqa: PLR0913
        cls,
        table: TravelTable,
        vehicles: Sequence[VehicleSpec],
        config: DispatchConfig | None,
        commands: Iterable[Command | dict[str, Any]],
        *,
        start_s: int = 0,
        snapshot: dict[str, Any] | None = None,
        profile: ServiceProfile | None = None,
        service_date: date | None = None,
        drones: DroneFleet | None = None,
    ) -> Engine:
        """Rebuild an engine by running ``commands`` in order on a new one.

        With ``snapshot`` (from :meth:`snapshot`), start from it and run only the
        commands after it; ``commands`` may then hold the whole log. A day run with a
        service profile replays with the same ``profile`` and ``service_date``, a day
        with drones with the same ``drones``.

        Raises
        ------
        InvalidRequestError
            When the log is not a gapless sequence, or a command does not end as it
            ended when it was logged.
        """
        if snapshot is None:
            engine = cls(table, vehicles, config, start_s=start_s, profile=profile,
                         service_date=service_date, drones=drones)
        else:
            engine = cls.restore(table, vehicles, config, snapshot, profile=profile,
                                 service_date=service_date, drones=drones)
        for raw in commands:
            cmd = raw if isinstance(raw, Command) else Command.from_dict(raw)
            if cmd.seq > engine.seq:
                engine.apply(cmd)
        return engine

    def snapshot(self) -> dict[str, Any]:
        """Return the whole state as JSON data; :meth:`restore` rebuilds it.

        The snapshot names the last command it includes (``seq``): replaying the
        commands after it gives the engine of the full log.
        """
        return {"format": 1, "seq": self.seq, "start_s": self.start_s,
                "state": encode_state(self._st), "drones": drone_ops.encode(self._st.drones)}

    @classmethod
    def restore(
        cls,
        table: TravelTable,
        vehicles: Sequence[VehicleSpec],
        config: DispatchConfig | None,
        snapshot: dict[str, Any],
        *,
        profile: ServiceProfile | None = None,
        service_date: date | None = None,
        drones: DroneFleet | None = None,
    ) -> Engine:
        """Return the engine of a :meth:`snapshot` (same table, fleet, config, drones).

        Raises
        ------
        InvalidRequestError
            When the snapshot's format or fleet does not fit.
        """
        if snapshot.get("format") != 1:
            msg = f"snapshot format {snapshot.get('format')!r} is not 1"
            raise InvalidRequestError(msg)
        engine = cls(table, vehicles, config, start_s=int(snapshot["start_s"]),
                     profile=profile, service_date=service_date, drones=drones)
        decode_state(engine._st, snapshot["state"])
        drone_ops.decode(engine._st.drones, snapshot.get("drones"))
        engine.seq = int(snapshot["seq"])
        return engine

    def apply(self, command: Command) -> None:
        """Run one logged command (the next in sequence) on this engine.

        Raises
        ------
        InvalidRequestError
            When ``command`` is not the next sequence number or ends differently.
        """
        if command.seq != self.seq + 1:
            msg = f"command {command.seq}: expected sequence number {self.seq + 1}"
            raise InvalidRequestError(msg)
        method = getattr(self, command.op)
        try:
            method(**decode_args(command.op, command.args))
        except DispatchError as exc:
            if type(exc).__name__ != command.error:
                msg = f"command {command.seq} ({command.op}) raised {exc!r} on replay"
                raise InvalidRequestError(msg) from exc
            return
        if command.error is not None:
            msg = f"command {command.seq} ({command.op}) did not raise {command.error}"
            raise InvalidRequestError(msg)

    # ------------------------------------------------------------------ booking
    def book(self, request: AnyRequest) -> Offer | Rejection:
        """Answer a booking at :attr:`now` with an offer or a rejection.

        Raises
        ------
        DuplicateRequestError
            When the id is already booked.
        InvalidRequestError
            When a location index is outside the table, no option is given or a load
            does not fit the service's dimensions.
        """
        st = self._st
        if request.id in st.requests:
            msg = f"request {request.id!r} is already booked"
            raise DuplicateRequestError(msg)
        self._validate(request)
        return self._run("book", {"request": request}, lambda: self._book(request))

    def _book(self, request: AnyRequest) -> Offer | Rejection:
        st = self._st
        r = RequestState(request=request, status=RequestStatus.REQUESTED, booked_s=st.now)
        st.requests[request.id] = r
        st.events.append(Event(time_s=st.now, kind=EventKind.STATUS, request_id=request.id,
                               status=RequestStatus.REQUESTED, cause="booking"))
        active = [v.spec for v in st.vehicles if v.plan.active]
        ruled = self._profile_refusal(request)
        if ruled is not None:
            return self._reject(r, ruled[0], ruled[1], ())
        if isinstance(request, DeliveryOrder) and request.mode != "van":
            by_drone = self._drone_offer(r, request)
            if by_drone is not None:
                return by_drone
        refusal = offers.eligibility(st.config, active, request)
        if refusal is not None:
            return self._reject(r, refusal[0], refusal[1], ())
        plans = fleet.live_plans(st)
        cfg = self.request_config(request)
        answer = offers.offer_for(cfg, st.table, st.now, plans, request, cache=st.cache)
        if isinstance(answer[0], Offer):
            offer, direct = answer
            assert isinstance(direct, int)
            offer = self._with_fare(request, offer)
            r.offer, r.vehicle, r.direct_s = offer, offer.vehicle, direct
            st.set_status(r, RequestStatus.OFFERED, "insertion")
            return offer
        reason, detail = answer
        assert isinstance(reason, RejectReason) and isinstance(detail, str)
        alts = (offers.alternatives(cfg, st.table, st.now, plans, request,
                                    cache=st.cache)
                if reason is RejectReason.NO_FEASIBLE_INSERTION else ())
        return self._reject(r, reason, detail, alts)

    def _drone_offer(self, r: RequestState, request: DeliveryOrder) -> Offer | Rejection | None:
        """A drone offer, a ``no_drone`` rejection (mode ``drone``), or ``None``: try vans."""
        st = self._st
        if st.drones is None:
            why = "the service has no drones"
        else:
            got = drone_ops.drone_offer(st.drones, request, st.now, st.config.offer_ttl_s,
                                        st.config.window_after_s)
            if isinstance(got, Offer):
                r.offer, r.vehicle = got, None
                st.set_status(r, RequestStatus.OFFERED, "drone")
                return got
            why = got
        if request.mode == "drone":
            return self._reject(r, RejectReason.NO_DRONE, why, ())
        return None

    def request_config(self, request: AnyRequest) -> DispatchConfig:
        """Return the service rules for ``request``: the engine's config with the limits
        of the rider's class (max wait, max ride, boarding time) under a profile."""
        if self.profile is None or not isinstance(request, RideRequest):
            return self._st.config
        from dispatch.rules import class_limits

        return class_limits(self.profile, self._st.config, request)

    def booking_time(self) -> datetime:
        """Return :attr:`now` as a date and time (needs :attr:`service_date`)."""
        if self.service_date is None:
            msg = "Engine.booking_time: the engine has no service_date"
            raise InvalidRequestError(msg)
        return datetime.combine(self.service_date, datetime.min.time()) + timedelta(
            seconds=self._st.now)

    def _profile_refusal(self, request: AnyRequest) -> tuple[RejectReason, str] | None:
        """Return the profile rule that refuses a ride booking, or ``None``."""
        if self.profile is None or not isinstance(request, RideRequest):
            return None
        from dispatch.rules import check_booking, trip_from_request

        assert self.service_date is not None
        trip = trip_from_request(request, self._st.table, self.service_date, self._st.now,
                                 asap_lead_s=self.profile.booking.min_notice_s)
        refusal = check_booking(self.profile, trip, self.booking_time())
        if refusal is None:
            return None
        return RejectReason(refusal.rule), refusal.detail

    def _with_fare(self, request: AnyRequest, offer: Offer) -> Offer:
        """Return ``offer`` naming the fare of the booking under the profile."""
        if self.profile is None or not isinstance(request, RideRequest):
            return offer
        from dispatch.fares import trip_quote
        from dispatch.rules import trip_from_request

        assert self.service_date is not None
        trip = trip_from_request(request, self._st.table, self.service_date, self._st.now)
        loc = self._st.table.locations
        trip = replace(trip, origin=(float(loc[offer.pickup, 0]), float(loc[offer.pickup, 1])),
                       destination=(float(loc[offer.dropoff, 0]),
                                    float(loc[offer.dropoff, 1])))
        fare = trip_quote(self.profile, trip,
                          self._st.table.distance_m(offer.pickup, offer.dropoff))
        return replace(offer, fare_jpy=fare.total_jpy)

    def _reject(self, r: RequestState, reason: RejectReason, detail: str,
                alts: tuple[Any, ...]) -> Rejection:
        self._st.set_status(r, RequestStatus.REJECTED, f"{reason}: {detail}")
        return Rejection(request_id=r.request.id, reason=reason, detail=detail,
                         alternatives=alts)

    def _validate(self, request: AnyRequest) -> None:
        st = self._st
        if isinstance(request, DeliveryOrder):
            locs = [request.shop, request.home]
        else:
            if not request.origin or not request.destination:
                msg = f"request {request.id!r}: origin and destination need a stop option"
                raise InvalidRequestError(msg)
            locs = [o.location for o in (*request.origin, *request.destination)]
        for loc in locs:
            st.check_location(loc, f"request {request.id!r}")
        offers.request_load(st.config, request)

    def confirm(self, request_id: str) -> Offer:
        """Confirm an offer: the rider gets the promise and a place in a vehicle plan.

        Raises
        ------
        InvalidTransitionError
            When the request is not in status offered.
        OfferExpiredError
            When the offer has expired or no longer fits (status becomes expired).
        """
        r = self._st.get(request_id)
        if r.status is not RequestStatus.OFFERED or r.offer is None:
            msg = f"request {request_id!r} is {r.status}, only an offered request can confirm"
            raise InvalidTransitionError(msg)
        return self._run("confirm", {"request_id": request_id}, lambda: self._confirm(r))

    def _confirm(self, r: RequestState) -> Offer:
        st = self._st
        offer = r.offer
        assert offer is not None
        rid = r.request.id
        if st.now > offer.expires_s:
            st.set_status(r, RequestStatus.EXPIRED, "offer expired")
            msg = f"offer for {rid!r} expired at {offer.expires_s}"
            raise OfferExpiredError(msg)
        if offer.drone is not None:
            if st.drones is None or drone_ops.confirm(st.drones, r, st.now) is None:
                st.set_status(r, RequestStatus.EXPIRED, "no longer fits")
                msg = f"offer for {rid!r} no longer fits the drone's sorties"
                raise OfferExpiredError(msg)
            st.set_status(r, RequestStatus.CONFIRMED, "customer")
            st.set_status(r, RequestStatus.ASSIGNED, "drone")
            st.changed("confirm", rid)
            return offer
        cand = offers.promise_candidate(self.request_config(r.request), r.request, offer)
        ins = fleet.best_live_insertion(st, [cand])
        if ins is None:
            st.set_status(r, RequestStatus.EXPIRED, "no longer fits")
            msg = f"offer for {rid!r} no longer fits the plans"
            raise OfferExpiredError(msg)
        fleet.assign(st, r, ins, cand)
        st.set_status(r, RequestStatus.CONFIRMED, "rider")
        st.set_status(r, RequestStatus.ASSIGNED, "insertion")
        st.changed("confirm", rid)
        return offer

    def decline(self, request_id: str) -> None:
        """Record that the rider declined the offer."""
        r = self._st.get(request_id)
        check_transition(r, RequestStatus.DECLINED)
        self._run("decline", {"request_id": request_id},
                  lambda: self._st.set_status(r, RequestStatus.DECLINED, "rider"))

    def cancel(self, request_id: str, cause: str = "rider") -> None:
        """Cancel a request before pickup; its seats are freed at once.

        Raises
        ------
        InvalidTransitionError
            After pickup, or when the request is already final.
        """
        r = self._st.get(request_id)
        if r.status is RequestStatus.PICKED_UP:
            msg = f"request {request_id!r} is already on board: cannot cancel after pickup"
            raise InvalidTransitionError(msg)
        check_transition(r, RequestStatus.CANCELLED)

        def run() -> None:
            self._st.set_status(r, RequestStatus.CANCELLED, cause)
            fleet.unplan(self._st, r)
            if self._st.drones is not None:
                drone_ops.cancel(self._st.drones, request_id)

        self._run("cancel", {"request_id": request_id, "cause": cause}, run)

    # ------------------------------------------------------------------ time
    def advance(self, t: int) -> list[Event]:
        """Let every vehicle execute its plan (and every drone its sorties) up to time
        ``t`` and expire stale offers.

        Stops and drone events are executed in time order across the fleet, exactly as
        planned.

        Returns
        -------
        list of Event
            The events logged by this call.
        """
        if t < self._st.now:
            msg = f"cannot advance to {t}: now is {self._st.now}"
            raise InvalidTransitionError(msg)
        first = len(self._st.events)
        self._run("advance", {"t": t}, lambda: fleet.advance(self._st, t))
        return self._st.events[first:]

    def set_wind(self, speed_mps: float, from_deg: float = 0.0) -> None:
        """Record the wind now: sorties not yet launched that can no longer fly (or keep
        their promise) are aborted and their deliveries cancelled (cause ``wind``).

        Raises
        ------
        InvalidRequestError
            Without drones, or for a negative or non-finite wind.
        """
        if self._st.drones is None:
            msg = "set_wind: the engine has no drones"
            raise InvalidRequestError(msg)
        if not (math.isfinite(speed_mps) and speed_mps >= 0 and math.isfinite(from_deg)):
            msg = f"set_wind: speed_mps must be a number >= 0, got {speed_mps}"
            raise InvalidRequestError(msg)
        day = self._st.drones
        self._run("set_wind", {"speed_mps": speed_mps, "from_deg": from_deg},
                  lambda: drone_ops.set_wind(self._st, day, speed_mps, from_deg))

    def drone_sorties(self) -> list[drone_ops.LiveSortie]:
        """Every drone sortie of the day (planned, flown or aborted), a copy."""
        day = self._st.drones
        return [] if day is None else [replace(s) for s in day.sorties]

    def arrived(self, vehicle: int, at_s: int) -> ExecutedStop:
        """Record that ``vehicle`` reached its next stop at ``at_s`` and served it."""
        v = self._st.vehicle(vehicle)
        if not v.plan.stops:
            msg = f"vehicle {vehicle} has no stop to arrive at"
            raise InvalidTransitionError(msg)
        return self._run("arrived", {"vehicle": vehicle, "at_s": at_s},
                         lambda: self._arrive(vehicle, at_s))

    def _arrive(self, vehicle: int, at_s: int) -> ExecutedStop:
        self._st.now = max(self._st.now, at_s)
        return fleet.execute_first(self._st, vehicle, at_s)

    def picked_up(self, request_id: str, at_s: int) -> ExecutedStop:
        """Record the pickup of ``request_id`` at ``at_s`` (its vehicle's next stop).

        Raises
        ------
        InvalidTransitionError
            When the pickup is not the next stop of the request's vehicle.
        """
        k = self._next_of(request_id, StopKind.PICKUP)
        return self._run("picked_up", {"request_id": request_id, "at_s": at_s},
                         lambda: self._arrive(k, at_s))

    def dropped_off(self, request_id: str, at_s: int) -> ExecutedStop:
        """Record the drop-off of ``request_id`` at ``at_s`` (its vehicle's next stop)."""
        k = self._next_of(request_id, StopKind.DROPOFF)
        return self._run("dropped_off", {"request_id": request_id, "at_s": at_s},
                         lambda: self._arrive(k, at_s))

    def _next_of(self, request_id: str, kind: StopKind) -> int:
        r = self._st.get(request_id)
        stops = self._st.vehicles[r.vehicle].plan.stops if r.vehicle is not None else ()
        if not stops or stops[0].key != request_id or stops[0].kind is not kind:
            msg = (f"request {request_id!r} ({r.status}): its {kind} is not the next stop "
                   f"of vehicle {r.vehicle}")
            raise InvalidTransitionError(msg)
        assert r.vehicle is not None
        return r.vehicle

    # ------------------------------------------------------------------ vehicle events
    def position(self, vehicle: int, location: int, at_s: int, cause: str = "position") -> None:
        """Record that ``vehicle`` is at ``location`` at ``at_s``: its plan is re-timed.

        Any promise the new timing breaks is recorded with ``cause``.
        """
        self._st.vehicle(vehicle)
        self._st.check_location(location, f"vehicle {vehicle} position")
        self._run("position", {"vehicle": vehicle, "location": location, "at_s": at_s,
                               "cause": cause},
                  lambda: incidents.position(self._st, vehicle, location, at_s, cause))

    def delay(self, vehicle: int, seconds: int, cause: str = "traffic") -> None:
        """Shift ``vehicle``'s remaining plan by ``seconds``; broken promises are recorded."""
        self._st.vehicle(vehicle)
        self._run("delay", {"vehicle": vehicle, "seconds": seconds, "cause": cause},
                  lambda: incidents.delay(self._st, vehicle, seconds, cause))

    def no_show(self, request_id: str, cause: str = "rider absent") -> None:
        """Record that the rider was not at the pickup: status no-show, stops removed.

        When the pickup was the vehicle's next stop, the vehicle is taken to be at
        that stop now (it drove there).
        """
        r = self._st.get(request_id)
        if r.status is not RequestStatus.ASSIGNED:
            msg = f"request {request_id!r} is {r.status}: no-show needs an assigned request"
            raise InvalidTransitionError(msg)
        self._run("no_show", {"request_id": request_id, "cause": cause},
                  lambda: incidents.no_show(self._st, request_id, cause))

    def breakdown(self, vehicle: int, cause: str = "breakdown") -> None:
        """Take ``vehicle`` out of service and re-insert its riders elsewhere.

        Riders waiting for it keep their promise when another vehicle can take it;
        otherwise they get a relaxed window (broken promise recorded with ``cause``) or
        are cancelled. Riders on board are rescued from the vehicle's position.
        """
        self._st.vehicle(vehicle)
        self._run("breakdown", {"vehicle": vehicle, "cause": cause},
                  lambda: incidents.breakdown(self._st, vehicle, cause))

    # ------------------------------------------------------------------ end of day
    def close_day(self) -> None:
        """Finish the day: drive every vehicle home after its last stop, expire offers.

        Stops still planned are executed first (vehicles finish their work).
        """
        self._run("close_day", {}, lambda: fleet.close_day(self._st))

    # ------------------------------------------------------------------ re-optimization
    def adopt_plans(self, plans: Sequence[VehiclePlan], cause: str = "reoptimize") -> None:
        """Replace every vehicle plan, after checking every confirmed promise.

        Raises
        ------
        PlanRejectedError
            When a plan breaks a confirmed promise (pickup window, latest arrival,
            maximum ride), moves a rider who is on board, drops or adds a stop or
            changes a vehicle's locked leg; the message names the request and the
            limit, and nothing is changed.
        """
        problems = plan_problems(self._st, plans)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            msg = f"plan refused: {problems[0]}{more}"
            raise PlanRejectedError(msg, problems)
        plans = rebased(fleet.live_plans(self._st), plans)
        self._run("adopt_plans", {"plans": list(plans), "cause": cause},
                  lambda: self._adopt(plans, cause))

    def _adopt(self, plans: Sequence[VehiclePlan], cause: str) -> None:
        st = self._st
        for k, p in enumerate(plans):
            st.vehicles[k].plan = p
            for s in p.stops:
                r = st.requests.get(s.key)
                if r is not None and s.kind is StopKind.DROPOFF:
                    r.vehicle = k
        st.log(EventKind.REOPTIMIZED, cause=cause)
        st.changed("adopt", cause)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Return the engine state as JSON-able plain data."""
        st = self._st
        return {
            "now": st.now,
            "version": st.version,
            "requests": [_plain(asdict(rec)) for rec in self.records()],
            "plans": [_plain(asdict(v.plan)) for v in st.vehicles],
            "history": [[_plain(asdict(h)) for h in v.history] for v in st.vehicles],
            "events": [_plain(asdict(e)) for e in st.events],
        }


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, frozenset | set):
        return sorted(_plain(v) for v in x)
    return x
