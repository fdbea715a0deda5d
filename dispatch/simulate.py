"""Discrete-event replay of a service day through the dispatch engine.

Events are processed in time order (ties: cancellations, then bookings, then
re-optimizations, each by id): a booking asks :meth:`dispatch.engine.Engine.book` for an
offer (timed with :func:`time.perf_counter`), the simulated rider accepts an offer within
their tolerance, takes an alternative time with probability ``p_take_alternative`` when
rejected, or declines; vehicles move on road travel times by
:meth:`~dispatch.engine.Engine.advance`; the plan is re-optimized every
``reopt_every_s`` of simulated time; a seeded share of confirmed riders cancel before
pickup or do not show up at the stop.

The result (:class:`SimulationResult`) holds one :class:`TripRecord` per request or
delivery, the offers the riders accepted (as the engine returned them on confirmation),
the offer latencies, and one trace of executed stops per vehicle.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from enum import IntEnum
from typing import TYPE_CHECKING, Any

import numpy as np

from dispatch.demand import DeliveryDemand, DemandDay, RideDemand
from dispatch.engine import (
    DeliveryOrder,
    DispatchConfig,
    Engine,
    Offer,
    Rejection,
    RequestStatus,
    RideRequest,
    StopOption,
    VehicleSpec,
)
from dispatch.errors import DispatchError, OfferExpiredError
from dispatch.network import TravelTable
from routing.model import TimeWindow

if TYPE_CHECKING:
    from dispatch.background import BackgroundReoptimizer
    from dispatch.engine.drones import DroneFleet
    from dispatch.profile import ServiceProfile

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

#: Suffix of the id under which a rejected rider re-books an alternative time.
ALT_SUFFIX = "~alt"


class SimulationError(DispatchError, ValueError):
    """Inconsistent simulation input: the message names the field."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationConfig:
    """Fleet and rider behaviour of a simulated day.

    Parameters
    ----------
    seed
        Seed for rider behaviour (acceptance, cancellations, no-shows).
    vehicles
        Ride vehicles (8 seats and 1 wheelchair space, a Toyota HiAce as in Choisoko).
    vans
        Delivery vans (parcels only); 0 leaves deliveries to nobody.
    seats, wheelchairs, van_parcels
        Capacities.
    reopt_every_s
        Simulated seconds between re-optimizations (0 turns them off).
    reopt_time_limit_s, reopt_use_solver, reopt_max_iterations
        Passed to :class:`dispatch.reoptimize.ReoptParams`. A time-limited solver makes
        the replay depend on the machine's speed; for a reproducible replay set
        ``reopt_max_iterations`` (with a generous time limit) or turn the solver off.
    reopt_background, reopt_delay_s
        Run each re-optimization as a service does, off the booking path
        (:class:`dispatch.background.BackgroundReoptimizer`, a worker process): the
        snapshot is taken at its time, simulated time goes on (bookings, cancellations,
        vehicles moving) and the result is merged ``reopt_delay_s`` simulated seconds
        later, waiting for the worker there if needed, so the day stays reproducible.
        ``reopt_background=False`` runs it inline (the engine waits for it).
    rider_tolerance_s
        A leave-at rider wants pickup within this long after the wanted time.
    arrive_early_s
        An arrive-by rider accepts leaving at most this long before the direct departure.
    p_take_alternative
        Probability that a rejected rider re-books the first alternative time offered.
    p_cancel, p_no_show
        Probabilities that a confirmed rider cancels before pickup, or is not at the stop.
    walk_speed_mps
        Walking speed used for the walk to the boarding stop (1.0 m/s: elderly riders).
    delays, delay_s
        Traffic delays of ``delay_s`` each, at seeded times in service hours on seeded
        ride vehicles (``Engine.delay``; promises they break are recorded with the cause).
    breakdowns
        Ride vehicles that break down at a seeded time in service hours
        (``Engine.breakdown``: their riders are re-inserted elsewhere).
    end_slack_s
        How long after the service end the replay continues so plans can finish.
    dispatch
        Engine parameters; ``None`` for the defaults.
    profile, service_date
        A service profile (:mod:`dispatch.profile`) whose rules, class limits and fares
        the engine applies on ``service_date``; ``None``: no rules (today's behaviour).
    rider_classes
        Rider class per ride id (a return leg takes its outbound ride's class); rides
        not named are of the profile's default class. See :func:`assign_classes`.
    """

    seed: int = 0
    vehicles: int = 5
    vans: int = 1
    seats: int = 8
    wheelchairs: int = 1
    van_parcels: int = 30
    reopt_every_s: int = 15 * 60
    reopt_time_limit_s: float = 0.5
    reopt_use_solver: bool = True
    reopt_max_iterations: int | None = None
    reopt_background: bool = True
    reopt_delay_s: int = 120
    rider_tolerance_s: int = 30 * 60
    arrive_early_s: int = 60 * 60
    p_take_alternative: float = 0.6
    p_cancel: float = 0.03
    p_no_show: float = 0.02
    walk_speed_mps: float = 1.0
    delays: int = 0
    delay_s: int = 15 * 60
    breakdowns: int = 0
    end_slack_s: int = 3 * 3600
    dispatch: DispatchConfig | None = None
    profile: ServiceProfile | None = None
    service_date: date | None = None
    rider_classes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.vehicles < 0 or self.vans < 0 or self.vehicles + self.vans == 0:
            msg = (f"SimulationConfig.vehicles/vans: need at least one vehicle, got "
                   f"{self.vehicles} vehicles and {self.vans} vans")
            raise SimulationError(msg)
        for name in ("p_take_alternative", "p_cancel", "p_no_show"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                msg = f"SimulationConfig.{name}: must lie in [0, 1], got {value}"
                raise SimulationError(msg)
        if self.delays < 0 or self.delay_s < 0 or not 0 <= self.breakdowns <= self.vehicles:
            msg = (f"SimulationConfig.delays/delay_s/breakdowns: need delays, delay_s >= 0 and "
                   f"0 <= breakdowns <= vehicles, got {self.delays}, {self.delay_s}, "
                   f"{self.breakdowns}")
            raise SimulationError(msg)
        if self.reopt_every_s < 0 or self.rider_tolerance_s < 0 or not self.walk_speed_mps > 0:
            msg = ("SimulationConfig.reopt_every_s/rider_tolerance_s/walk_speed_mps: "
                   "must not be negative (speed positive)")
            raise SimulationError(msg)
        if self.reopt_delay_s < 0:
            msg = f"SimulationConfig.reopt_delay_s: must not be negative, got {self.reopt_delay_s}"
            raise SimulationError(msg)
        if self.profile is not None and self.service_date is None:
            msg = "SimulationConfig.service_date: a profile needs the date of the day"
            raise SimulationError(msg)


class FinalState(IntEnum):
    """How a request ended (exactly one per request)."""

    SERVED = 0
    REJECTED = 1
    DECLINED = 2
    CANCELLED = 3
    NO_SHOW = 4
    EXPIRED = 5
    UNFINISHED = 6

    @property
    def label(self) -> str:
        """Lower-case name used in JSON."""
        return self.name.lower()


_STATUS_TO_FINAL: dict[RequestStatus, FinalState] = {
    RequestStatus.DROPPED_OFF: FinalState.SERVED,
    RequestStatus.REJECTED: FinalState.REJECTED,
    RequestStatus.DECLINED: FinalState.DECLINED,
    RequestStatus.CANCELLED: FinalState.CANCELLED,
    RequestStatus.NO_SHOW: FinalState.NO_SHOW,
    RequestStatus.EXPIRED: FinalState.EXPIRED,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class TripRecord:
    """What happened to one ride request or delivery.

    ``requested_pickup_s`` is the wanted earliest pickup of a leave-at ride (``None`` for
    arrive-by rides and deliveries). Times of promises come from the offer the rider
    accepted (for a rider who took an alternative time, the alternative's offer).
    ``picked_up_s`` and ``dropped_off_s`` are service starts; the promised maximum ride
    runs from the end of pickup service (``picked_up_s + pickup_service_s``) to the start
    of drop-off service.
    """

    id: str
    kind: str
    purpose: str
    booking_s: int
    final: FinalState
    requested_pickup_s: int | None
    arrive_by_s: int | None
    vehicle: int | None
    pickup: int | None
    dropoff: int | None
    promised_pickup_earliest: int | None
    promised_pickup_latest: int | None
    promised_arrival_latest: int | None
    promised_max_ride_s: int | None
    picked_up_s: int | None
    dropped_off_s: int | None
    direct_s: int | None
    took_alternative: bool
    broken: tuple[str, ...]
    reject_reason: str
    load: int
    pickup_service_s: int = 0
    rider_class: str = ""
    companions: int = 0
    fare_jpy: int | None = None
    #: The drone that flew a delivery (``vehicle`` is then ``None``).
    drone: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["final"] = self.final.label
        out["broken"] = list(self.broken)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class StopTrace:
    """One executed stop of a vehicle: where, when (arrival, start of service, departure),
    and the load on board after it. ``request_id`` is the engine's id (a rider who took an
    alternative time has the id with :data:`ALT_SUFFIX`)."""

    location: int
    arrival_s: int
    departure_s: int
    kind: str
    request_id: str | None
    load_after: tuple[int, ...]
    start_s: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleTrace:
    """Executed stops of one vehicle and the distance and time it drove."""

    vehicle: int
    id: str
    is_van: bool
    stops: tuple[StopTrace, ...]
    km: float
    hours: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationResult:
    """A replayed day."""

    day: DemandDay
    config: SimulationConfig
    records: tuple[TripRecord, ...]
    traces: tuple[VehicleTrace, ...]
    offer_latency_ms: tuple[float, ...]
    reopt_runs: int
    reopt_adopted: int
    wall_s: float
    table: TravelTable
    notes: tuple[str, ...] = ()
    accepted: Mapping[str, Offer] = field(default_factory=dict)
    #: The engine after the day: its command log replays the day (``Engine.replay``).
    engine: Engine | None = None


def clock(t: int) -> str:
    """Return ``t`` (seconds since the service day's midnight) as ``HH:MM``, or
    ``day before HH:MM`` for negative times."""
    if t < 0:
        return f"day before {clock(t + 24 * 3600)}"
    return f"{t // 3600:02d}:{t % 3600 // 60:02d}"


# --------------------------------------------------------------------------- events
class _Kind(IntEnum):
    CANCEL = 0
    BOOK = 1
    REOPT = 2
    DELAY = 3
    BREAKDOWN = 4


@dataclass(slots=True)
class _State:
    """Mutable bookkeeping of one run."""

    engine: Engine
    rng: np.random.Generator
    cfg: SimulationConfig
    day: DemandDay
    queue: list[tuple[int, int, str]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    alternative: dict[str, str] = field(default_factory=dict)
    reject_reason: dict[str, str] = field(default_factory=dict)
    no_show: set[str] = field(default_factory=set)
    accepted: dict[str, Offer] = field(default_factory=dict)
    reopt_runs: int = 0
    reopt_adopted: int = 0

    def push(self, t: int, kind: _Kind, key: str) -> None:
        heapq.heappush(self.queue, (t, int(kind), key))


def _fleet(day: DemandDay, cfg: SimulationConfig) -> list[VehicleSpec]:
    shift = TimeWindow(earliest=day.config.service_start_s,
                       latest=day.config.service_end_s + cfg.end_slack_s // 2)
    specs = [VehicleSpec(id=f"bus{k + 1}", depot=day.depot,
                         capacity=(cfg.seats, cfg.wheelchairs, 0), shift=shift)
             for k in range(cfg.vehicles)]
    specs += [VehicleSpec(id=f"van{k + 1}", depot=day.depot,
                          capacity=(0, 0, cfg.van_parcels), shift=shift)
              for k in range(cfg.vans)]
    return specs


def _ride_request(ride: RideDemand, table: TravelTable, cfg: SimulationConfig,
                  window: TimeWindow | None = None) -> RideRequest:
    """Translate a demand ride into an engine request (stop options with walk times)."""
    origin = StopOption(location=ride.origin,
                        walk_s=round(ride.origin_walk_m / cfg.walk_speed_mps))
    dest = StopOption(location=ride.destination,
                      walk_s=round(ride.destination_walk_m / cfg.walk_speed_mps))
    if window is None and ride.requested_pickup_s is not None:
        window = TimeWindow(earliest=ride.requested_pickup_s,
                            latest=ride.requested_pickup_s + cfg.rider_tolerance_s)
    if window is None and ride.arrive_by_s is not None:
        direct = table.travel_s(ride.origin, ride.destination)
        latest = max(ride.arrive_by_s - direct, 0)
        window = TimeWindow(earliest=max(latest - cfg.arrive_early_s, 0), latest=latest)
    # A wheelchair user takes the wheelchair space; companions take seats.
    extra: dict[str, Any] = {}
    if cfg.profile is not None:
        extra = {"rider_class": _class_of(ride, cfg), "companions": ride.passengers - 1}
    return RideRequest(
        id=ride.id, rider=ride.id, origin=(origin,), destination=(dest,),
        pickup_window=window, arrive_by=ride.arrive_by_s,
        seats=ride.passengers - (1 if ride.wheelchair else 0),
        wheelchairs=1 if ride.wheelchair else 0, **extra)


def _class_of(ride: RideDemand, cfg: SimulationConfig) -> str:
    """Return the rider class of a ride (a return leg has its outbound's)."""
    default = cfg.profile.default_class if cfg.profile is not None else "general"
    return cfg.rider_classes.get(ride.return_of or ride.id, default)


#: Share of 65+ riders who have returned their driving licence (運転免許返納者), an
#: assumption for simulated days (no public per-rider statistic to draw it from).
SHARE_LICENCE_RETURNED = 0.25


def assign_classes(day: DemandDay, profile: ServiceProfile, seed: int = 0) -> dict[str, str]:
    """Return a rider class per outbound ride of a generated day (seeded).

    A wheelchair rider is ``disability`` (障害者手帳); a rider drawn from the census
    mesh's 65+ population is ``licence_returned`` with probability
    :data:`SHARE_LICENCE_RETURNED`, else ``senior``; everyone else is the profile's
    default class. A class the profile does not define falls back to the default.
    Children are not simulated (the generator draws no school trips).
    """
    rng = np.random.default_rng([seed, 13])
    have = set(profile.classes)
    out: dict[str, str] = {}
    for r in day.rides:
        if r.return_of is not None:
            continue
        u = float(rng.random())
        if r.wheelchair:
            name = "disability"
        elif r.age65plus:
            name = "licence_returned" if u < SHARE_LICENCE_RETURNED else "senior"
        else:
            name = profile.default_class
        out[r.id] = name if name in have else profile.default_class
    return out


def _usable_alternative(ride: RideDemand, alternatives: tuple[TimeWindow, ...],
                        table: TravelTable) -> TimeWindow | None:
    """Return the first alternative the rider can use: any for a leave-at ride; for an
    arrive-by ride (an appointment), the first that still lets them arrive in time at
    the direct travel time, or ``None``."""
    if ride.arrive_by_s is None:
        return alternatives[0]
    direct = table.travel_s(ride.origin, ride.destination)
    for w in alternatives:
        if w.earliest + direct <= ride.arrive_by_s:
            return w
    return None


#: Weight of one parcel when drones carry it (assumption: a bag of medicine or groceries).
PARCEL_KG = 1.0


def _delivery_order(d: DeliveryDemand, drones: bool = False) -> DeliveryOrder:
    return DeliveryOrder(id=d.id, shop=d.pickup, home=d.dropoff,
                         ready_s=max(d.booking_s, d.window_start_s - 2 * 3600),
                         window=TimeWindow(earliest=d.window_start_s, latest=d.window_end_s),
                         parcels=d.parcels, customer=d.id,
                         mode="auto" if drones else "van", weight_kg=PARCEL_KG * d.parcels)


def _accepts(ride: RideDemand | None, offer: Offer, cfg: SimulationConfig) -> bool:
    """Return whether the simulated rider takes an offer."""
    if ride is None:
        return True  # a shop takes any delivery window inside the one it asked for
    if ride.arrive_by_s is not None:
        return offer.latest_arrival <= ride.arrive_by_s
    wanted = ride.requested_pickup_s if ride.requested_pickup_s is not None else ride.booking_s
    return offer.pickup_window.earliest <= wanted + cfg.rider_tolerance_s


class _Runner:
    """Drives one day through the engine."""

    def __init__(self, day: DemandDay, table: TravelTable, cfg: SimulationConfig,
                 drones: DroneFleet | None = None) -> None:
        self.rides = {r.id: r for r in day.rides}
        self.drones = drones
        self.deliveries = {d.id: d for d in day.deliveries}
        start = min([day.config.service_start_s]
                    + [r.booking_s for r in day.rides] + [d.booking_s for d in day.deliveries])
        engine = Engine(table, _fleet(day, cfg), cfg.dispatch or DispatchConfig(), start_s=start,
                        profile=cfg.profile, service_date=cfg.service_date, drones=drones)
        self.st = _State(engine=engine, rng=np.random.default_rng(cfg.seed), cfg=cfg, day=day)
        self.table = table
        for r in day.rides:
            self.st.push(r.booking_s, _Kind.BOOK, r.id)
        for d in day.deliveries:
            self.st.push(d.booking_s, _Kind.BOOK, d.id)
        self._vehicle_events(day, cfg)
        if cfg.reopt_every_s > 0:
            t = day.config.service_start_s
            while t < day.config.service_end_s:
                self.st.push(t, _Kind.REOPT, f"reopt{t}")
                t += cfg.reopt_every_s

    def _vehicle_events(self, day: DemandDay, cfg: SimulationConfig) -> None:
        """Queue seeded delays and breakdowns (their own generator: rider draws stay put)."""
        rng = np.random.default_rng([cfg.seed, 1])
        lo, hi = day.config.service_start_s, day.config.service_end_s
        for i in range(cfg.delays):
            k = int(rng.integers(cfg.vehicles)) if cfg.vehicles else 0
            self.st.push(int(rng.integers(lo, hi)), _Kind.DELAY, f"{k}:{i}")
        broken = rng.permutation(cfg.vehicles)[: cfg.breakdowns]
        for k in sorted(int(x) for x in broken):
            self.st.push(int(rng.integers(lo, hi)), _Kind.BREAKDOWN, str(k))

    def run(self, progress: Progress | None = None) -> None:
        st = self.st
        n_done, n_total = 0, len(st.queue)
        while st.queue:
            t, kind, key = heapq.heappop(st.queue)
            self._advance(t)
            if kind == _Kind.BOOK:
                self._book(key)
            elif kind == _Kind.CANCEL:
                self._cancel(key)
            elif kind == _Kind.REOPT:
                self._reopt(key)
            else:
                self._vehicle_event(_Kind(kind), key)
            n_done += 1
            if progress is not None and n_done % 200 == 0:
                progress(f"simulated {n_done}/{n_total} events ({clock(t)})")
        self._advance(self.st.day.config.service_end_s + self.st.cfg.end_slack_s)
        self.st.engine.close_day()

    # ------------------------------------------------------------------ time
    def _advance(self, t: int) -> None:
        """Advance to ``t``, stopping just before each no-show rider's pickup."""
        st = self.st
        while True:
            due = self._next_no_show(t)
            if due is None:
                break
            at, rid = due
            if at > st.engine.now:
                st.engine.advance(at)
            st.no_show.discard(rid)
            if st.engine.status(rid) in (RequestStatus.ASSIGNED, RequestStatus.CONFIRMED):
                st.engine.no_show(rid, cause="rider not at the stop")
        if t > st.engine.now:
            st.engine.advance(t)

    def _next_no_show(self, t: int) -> tuple[int, str] | None:
        """Return the earliest planned pickup (minus one second) of a no-show rider."""
        st = self.st
        best: tuple[int, str] | None = None
        for rid in sorted(st.no_show):
            rec = st.engine.record(rid)
            if rec.vehicle is None or rec.status not in (RequestStatus.ASSIGNED,
                                                         RequestStatus.CONFIRMED):
                continue
            for stop in st.engine.plan(rec.vehicle):
                if stop.key == rid:
                    at = max(int(stop.arrival_s) - 1, st.engine.now)
                    if at <= t and (best is None or (at, rid) < best):
                        best = (at, rid)
                    break
        return best

    # ------------------------------------------------------------------ actions
    def _timed_book(self, req: RideRequest | DeliveryOrder) -> Offer | Rejection:
        t0 = time.perf_counter()
        answer = self.st.engine.book(req)
        self.st.latencies.append((time.perf_counter() - t0) * 1000.0)
        return answer

    def _book(self, key: str) -> None:
        st = self.st
        ride = self.rides.get(key)
        req: RideRequest | DeliveryOrder = (
            _ride_request(ride, self.table, st.cfg) if ride is not None
            else _delivery_order(self.deliveries[key], self.drones is not None))
        answer = self._timed_book(req)
        if isinstance(answer, Rejection):
            st.reject_reason[key] = str(answer.reason)
            if ride is None or not answer.alternatives:
                return
            if st.rng.random() >= st.cfg.p_take_alternative:
                return
            window = _usable_alternative(ride, answer.alternatives, self.table)
            if window is None:
                return
            # The engine keeps the rejected booking; the new time is a new booking.
            alt_id = f"{key}{ALT_SUFFIX}"
            request = _ride_request(ride, self.table, st.cfg, window=window)
            answer = self._timed_book(replace(request, id=alt_id))
            st.alternative[key] = alt_id
            if isinstance(answer, Rejection):
                return
            self._confirm(alt_id, ride, answer, check=False, rider=key)
            return
        self._confirm(key, ride, answer, check=True, rider=key)

    def _confirm(self, key: str, ride: RideDemand | None, offer: Offer, *, check: bool,
                 rider: str) -> None:
        st = self.st
        if check and not _accepts(ride, offer, st.cfg):
            st.engine.decline(key)
            return
        try:
            st.accepted[rider] = st.engine.confirm(key)
        except OfferExpiredError as exc:
            logger.info("confirm of %s failed: %s", key, exc)
            return
        if ride is None:
            return
        u = float(st.rng.random())
        if u < st.cfg.p_cancel:
            # Cancels some time between now and 10 minutes before the promised pickup.
            latest = max(st.engine.now, offer.pickup_window.earliest - 600)
            at = int(st.rng.integers(st.engine.now, latest + 1))
            st.push(at, _Kind.CANCEL, key)
        elif u < st.cfg.p_cancel + st.cfg.p_no_show:
            st.no_show.add(key)

    def _cancel(self, key: str) -> None:
        st = self.st
        if st.engine.status(key) in (RequestStatus.ASSIGNED, RequestStatus.CONFIRMED):
            st.engine.cancel(key, cause="rider")

    def _vehicle_event(self, kind: _Kind, key: str) -> None:
        engine = self.st.engine
        k = int(key.split(":")[0])
        if not engine.is_active(k):
            return
        if kind is _Kind.DELAY:
            engine.delay(k, self.st.cfg.delay_s, cause="traffic delay")
        else:
            engine.breakdown(k, cause="vehicle breakdown")

    #: The background re-optimizer (worker process) while re-optimizations remain.
    _bg: BackgroundReoptimizer | None = None

    def _reopt(self, key: str) -> None:
        """Re-optimize inline, or start (``reopt...``) or merge (``merge...``) a
        background run; a merge sorts before a start at the same time."""
        from dispatch.background import BackgroundReoptimizer
        from dispatch.reoptimize import ReoptParams, reoptimize

        st = self.st
        params = ReoptParams(time_limit_s=st.cfg.reopt_time_limit_s, seed=st.cfg.seed,
                             use_solver=st.cfg.reopt_use_solver,
                             max_iterations=st.cfg.reopt_max_iterations)
        if not st.cfg.reopt_background:
            result = reoptimize(st.engine, params)
        elif key.startswith("reopt"):
            if self._bg is None:
                self._bg = BackgroundReoptimizer(st.engine, params)
            if self._bg.start(lock_until=st.engine.now + st.cfg.reopt_delay_s):
                st.push(st.engine.now + st.cfg.reopt_delay_s, _Kind.REOPT, f"merge{key[5:]}")
            return
        else:
            assert self._bg is not None
            waited = self._bg.wait()
            if not any(k == _Kind.REOPT for _, k, _ in st.queue):
                self._bg.close()  # the day's last re-optimization
                self._bg = None
            if waited is None:
                return
            result = waited
        st.reopt_runs += 1
        st.reopt_adopted += int(result.adopted)

    # ------------------------------------------------------------------ results
    def records(self) -> tuple[TripRecord, ...]:
        return tuple(self._record(rid) for rid in [*self.rides, *self.deliveries])

    def _record(self, rid: str) -> TripRecord:
        st = self.st
        rec = st.engine.record(st.alternative.get(rid, rid))
        ride = self.rides.get(rid)
        final = _STATUS_TO_FINAL.get(rec.status, FinalState.UNFINISHED)
        offer = st.accepted.get(rid)
        if offer is None and final not in (FinalState.REJECTED, FinalState.DECLINED,
                                           FinalState.EXPIRED):
            offer = rec.offer
        window = None
        if offer is not None:
            window = offer.pickup_window if ride is not None else offer.delivery_window
        return TripRecord(
            id=rid, kind="ride" if ride is not None else "delivery",
            purpose=str(ride.purpose) if ride is not None else "delivery",
            booking_s=ride.booking_s if ride is not None else self.deliveries[rid].booking_s,
            final=final,
            requested_pickup_s=ride.requested_pickup_s if ride is not None else None,
            arrive_by_s=ride.arrive_by_s if ride is not None else None,
            vehicle=rec.vehicle, pickup=offer.pickup if offer else None,
            dropoff=offer.dropoff if offer else None,
            promised_pickup_earliest=window.earliest if window else None,
            promised_pickup_latest=window.latest if window else None,
            promised_arrival_latest=offer.latest_arrival if offer else None,
            promised_max_ride_s=offer.max_ride_s if offer else None,
            picked_up_s=rec.picked_up_s, dropped_off_s=rec.dropped_off_s,
            direct_s=rec.direct_s, took_alternative=rid in st.alternative,
            broken=tuple(str(c) for c in rec.broken),
            reject_reason=st.reject_reason.get(rid, "") if final is FinalState.REJECTED else "",
            load=ride.passengers if ride is not None else self.deliveries[rid].parcels,
            pickup_service_s=st.engine.request_config(rec.request).pickup_service_s,
            rider_class=(_class_of(ride, st.cfg) if ride is not None and st.cfg.profile
                         else ""),
            companions=ride.passengers - 1 if ride is not None and st.cfg.profile else 0,
            fare_jpy=offer.fare_jpy if offer is not None else None,
            drone=offer.drone if offer is not None else None)

    def traces(self) -> tuple[VehicleTrace, ...]:
        st = self.st
        out = []
        n_buses = st.cfg.vehicles
        for k in range(st.cfg.vehicles + st.cfg.vans):
            stops = tuple(StopTrace(
                location=int(s.location), arrival_s=int(s.arrival_s),
                departure_s=int(s.departure_s), kind=str(s.kind), request_id=s.key,
                load_after=tuple(int(q) for q in s.load_after), start_s=int(s.start_s))
                for s in st.engine.history(k))
            out.append(VehicleTrace(
                vehicle=k, id=f"bus{k + 1}" if k < n_buses else f"van{k - n_buses + 1}",
                is_van=k >= n_buses, stops=stops, km=float(st.engine.vehicle_km(k)),
                hours=float(st.engine.vehicle_hours(k))))
        return tuple(out)


def simulate_day(day: DemandDay, table: TravelTable, config: SimulationConfig | None = None,
                 *, progress: Progress | None = None,
                 drones: DroneFleet | None = None) -> SimulationResult:
    """Replay a generated day through a fresh engine.

    Parameters
    ----------
    day
        Demand from :func:`dispatch.demand.generate_day`.
    table
        Travel table ordered like ``day.places`` (see
        :func:`dispatch.demand.travel_table_for_day`).
    config
        Fleet and rider behaviour.
    progress
        Called with a short message every few hundred events.
    drones
        Droneports (at the day's shops) and drones: every delivery is then of mode
        ``auto`` (a drone when one fits, else a van), weighing :data:`PARCEL_KG` a parcel.

    Returns
    -------
    SimulationResult
        One record per request and delivery (each in exactly one final state), vehicle
        traces, offer latencies and the wall time.

    Raises
    ------
    SimulationError
        When the table does not match the day's places.
    """
    cfg = config or SimulationConfig()
    if table.n != len(day.places):
        msg = f"table: has {table.n} locations for {len(day.places)} places of the day"
        raise SimulationError(msg)
    t0 = time.perf_counter()
    runner = _Runner(day, table, cfg, drones)
    runner.run(progress)
    records = runner.records()
    traces = runner.traces()
    wall = time.perf_counter() - t0
    st = runner.st
    logger.info("simulated %d requests in %.1f s", len(records), wall)
    return SimulationResult(
        day=day, config=cfg, records=records, traces=traces,
        offer_latency_ms=tuple(st.latencies), reopt_runs=st.reopt_runs,
        reopt_adopted=st.reopt_adopted, wall_s=wall, table=table, notes=day.notes,
        accepted=dict(st.accepted), engine=st.engine)
