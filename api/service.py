"""One tenant's live service: its boarding points, fleet, engine and clock.

A tenant's engine lives in exactly one process (this one) and every command runs under
the tenant's lock, so concurrent requests are applied one at a time in one order — the
order of the durable log. Places are the tenant's boarding points (乗降場): the depot,
the busiest transit stops of the region and its hospitals, one travel table between
them built once at start-up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from time import monotonic
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from dispatch.background import BackgroundReoptimizer
from dispatch.engine import DispatchConfig, Engine, StopOption, VehicleSpec
from dispatch.errors import InvalidRequestError
from dispatch.network import TravelTable, table_from_points
from dispatch.reoptimize import ReoptParams, ReoptResult
from dispatch.store import LogWriter, Store, StoreConflictError, StoreError, lease_holder

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: Walking speed for the walk to a boarding point (straight line x 1.3, as the demand).
WALK_MPS = 1.2
WALK_DETOUR = 1.3
#: Seconds a tenant's lease lasts without renewal (renewed every third of it).
LEASE_S = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    """A boarding point (or the depot) with its travel-table index."""

    index: int
    id: str
    name: str
    kind: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceSetup:
    """What a tenant's engine is built on (the same on every restart)."""

    places: tuple[Place, ...]
    table: TravelTable
    fleet: tuple[VehicleSpec, ...]
    config: DispatchConfig
    service_date: date
    timezone: str
    start_s: int
    #: Droneports and drones (:class:`dispatch.engine.drones.DroneFleet`), if any.
    drones: Any = None


def setup_from_region(region: Any, *, vehicles: int, max_stops: int, service_date: date,  # noqa: PLR0913
                      timezone: str, config: DispatchConfig | None = None, vans: int = 0,
                      drones: int = 0, did_policy: str = "avoid") -> ServiceSetup:
    """Return the setup of a service on ``region``: depot, busiest stops, hospitals.

    The depot is the demand model's (the in-area stop nearest the population-weighted
    centre: the data holds no garage). Vehicles are 8-seat minibuses with one
    wheelchair place (SCENARIOS.md); ``vans`` delivery vans (30 parcels) join them at the
    depot. ``drones`` drones sit at droneports at the hospitals (the shops deliveries
    ship from) that lie outside the avoided airspace (``did_policy``), two a port.
    """
    from dispatch.demand import sources_from_region

    src = sources_from_region(region)
    rows: list[tuple[str, str, str, float, float]] = [
        ("depot", "depot", "depot", *src.depot_lonlat)]
    order = np.argsort(-np.asarray(src.stop_departures), kind="stable")[:max_stops]
    for rank, i in enumerate(order):  # stop-0 is the busiest stop
        lon, lat = src.stop_lonlat[i]
        rows.append((f"stop-{rank}", src.stop_names[i], "stop", float(lon), float(lat)))
    for i, name in enumerate(src.hospital_names):
        lon, lat = src.hospital_lonlat[i]
        rows.append((f"hospital-{i}", name, "hospital", float(lon), float(lat)))
    pts = np.array([[r[3], r[4]] for r in rows], dtype=np.float64)
    table = table_from_points(region.road, pts, names=[r[0] for r in rows])
    places = tuple(Place(index=k, id=r[0], name=r[1], kind=r[2], lon=r[3], lat=r[4])
                   for k, r in enumerate(rows))
    fleet = tuple(VehicleSpec(id=f"bus-{k + 1}", depot=0, capacity=(8, 1, 0))
                  for k in range(vehicles)) + tuple(
        VehicleSpec(id=f"van-{k + 1}", depot=0, capacity=(0, 0, 30)) for k in range(vans))
    cfg = config or DispatchConfig()
    fleet_of_drones = _drone_fleet(region, places, table, drones, did_policy) if drones else None
    return ServiceSetup(places=places, table=table, fleet=fleet, config=cfg,
                        service_date=service_date, timezone=timezone, start_s=0,
                        drones=fleet_of_drones)


def _drone_fleet(region: Any, places: tuple[Place, ...], table: TravelTable, drones: int,
                 did_policy: str) -> Any:
    """Droneports at the hospitals outside the avoided airspace, two drones a port."""
    import shapely

    from dispatch.engine.drones import DroneFleet, LiveDroneport
    from maps.airspace import airspace_for_region
    from routing.drone import DroneSpec

    airspace = airspace_for_region(region, did_policy=did_policy)  # type: ignore[arg-type]
    blocked = airspace.avoided(DroneSpec().cruise_alt_m)
    free = [p for p in places if p.kind == "hospital"
            and not shapely.contains_xy(blocked, p.lon, p.lat)]
    ports = []
    left = drones
    for p in free:
        if left <= 0:
            break
        n = min(2, left)
        ports.append(LiveDroneport(id=f"port-{p.id}", location=p.index, drones=n))
        left -= n
    if not ports:
        msg = (f"drones: no hospital outside the avoided airspace (DIDs {did_policy}) for a "
               "droneport")
        raise ValueError(msg)
    return DroneFleet.build(table, tuple(ports), airspace)


class DurableLock:
    """The tenant's lock; leaving it waits until the log holds every command made so far.

    Re-entrant like :class:`threading.RLock`. On the outermost exit the lock is
    released *first* and the thread then waits for the group commit of everything
    queued until then (:class:`dispatch.store.LogWriter`): the next command runs while
    this one's transaction is on disk, and a route answers only after the commit that
    holds its command (and a read shows only what is durable). A failed commit raises
    :class:`dispatch.store.StoreError` (answered 503); the next holder of the lock then
    rebuilds the engine from the store.
    """

    def __init__(self, service: TenantService) -> None:
        self._lock = threading.RLock()
        self._service = service
        self._depth = threading.local()

    def __enter__(self) -> DurableLock:
        """Take the lock (rebuilding the engine first if a commit failed)."""
        self._lock.acquire()
        depth = getattr(self._depth, "n", 0)
        self._depth.n = depth + 1
        if depth == 0:
            try:
                self._service.heal()
            except BaseException:
                self._depth.n = 0
                self._lock.release()
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        """Release the lock; on the outermost exit wait for the commit."""
        self._depth.n -= 1
        if self._depth.n:
            self._lock.release()
            return
        writer = self._service.writer
        ticket = writer.ticket()
        self._lock.release()
        writer.wait(ticket)


class TenantService:
    """A tenant's engine behind a lock, attached to the store by a group-commit writer.

    Every ``snapshot_every`` commands (checked by :meth:`maintain`, at most once per
    ``snapshot_min_s`` seconds) a snapshot bounds the replay of a restart.
    """

    def __init__(self, tenant: str, setup: ServiceSetup, store: Store, *,
                 clock: str = "wall", snapshot_every: int = 500,
                 snapshot_min_s: float = 5.0) -> None:
        self.tenant = tenant
        self.clock = clock
        self.setup = setup
        self.store = store
        self.lock = DurableLock(self)
        self.tz = ZoneInfo(setup.timezone)
        self.midnight = datetime.combine(setup.service_date, time(0), tzinfo=self.tz)
        self._xy = self._metres(np.array([[p.lon, p.lat] for p in setup.places]))
        if tenant not in store.tenants():
            store.create_tenant(tenant)
        # One process serves a tenant at a time: its lease, renewed by maintain().
        self.holder = lease_holder()
        taken, other, until = store.acquire_lease(tenant, self.holder, LEASE_S)
        if not taken:
            msg = (f"tenant {tenant!r} is served by another process ({other}, lease until "
                   f"{until.isoformat(timespec='seconds')}); stop it or wait for the lease "
                   "to expire")
            raise StoreConflictError(msg)
        self._lease_at = monotonic()
        self.writer = LogWriter(store, tenant)
        self.engine: Engine = store.recover(tenant, setup.table, setup.fleet, setup.config,
                                            start_s=setup.start_s, writer=self.writer,
                                            drones=setup.drones)
        self.snapshot_every, self.snapshot_min_s = snapshot_every, snapshot_min_s
        self._snap_seq, self._snap_at = self.engine.seq, monotonic()
        self.snapshots = 0
        self.by_id = {p.id: p for p in setup.places}
        self.reopt: BackgroundReoptimizer | None = None
        self.reopt_every_s = 0.0
        self._reopt_started = monotonic()
        self.reopt_last: ReoptResult | None = None

    # ------------------------------------------------------------ re-optimization
    def start_reoptimizer(self, every_s: float, time_limit_s: float) -> None:
        """Re-optimize every ``every_s`` seconds in a worker process, off the request path.

        The worker is a fresh interpreter (``spawn``: this process runs threads); each
        run snapshots under the lock (milliseconds), solves in the worker, and is
        merged under the lock by :meth:`tick`.
        """
        self.reopt = BackgroundReoptimizer(
            self.engine, ReoptParams(time_limit_s=time_limit_s), start_method="spawn")
        self.reopt_every_s = every_s
        self._reopt_started = monotonic()

    def tick(self) -> ReoptResult | None:
        """Merge a finished run and start the next when it is due; return the merged one."""
        if self.reopt is None:
            return None
        with self.lock:
            res = self.reopt.poll()
            if res is not None:
                self.reopt_last = res
            due = monotonic() - self._reopt_started >= self.reopt_every_s
            if due and not self.reopt.running and any(
                    len(p.stops) > p.n_locked for p in self.engine.live_plans()):
                self._reopt_started = monotonic()
                self.reopt.start()
        return res

    def close(self) -> None:
        """Stop the re-optimization worker (a run in flight is dropped), then commit
        what is queued and stop the log writer."""
        if self.reopt is not None:
            with self.lock:
                self.reopt.close()
        self.writer.close()
        self.store.release_lease(self.tenant, self.holder)

    # ------------------------------------------------------------ durability
    def heal(self) -> None:
        """After a failed commit, rebuild the engine from the store (under the lock).

        Raises
        ------
        StoreError
            When the store cannot be read.
        """
        if self.writer.failed is None:
            return
        logger.warning("tenant %s: rebuilding the engine after a failed commit", self.tenant)
        self.writer.close()
        writer = LogWriter(self.store, self.tenant)
        try:
            engine = self.store.recover(self.tenant, self.setup.table, self.setup.fleet,
                                        self.setup.config, start_s=self.setup.start_s,
                                        writer=writer, drones=self.setup.drones)
        except Exception as exc:
            writer.close()
            msg = f"tenant {self.tenant!r}: the engine could not be rebuilt: {exc}"
            raise StoreError(msg) from exc
        self.writer, self.engine = writer, engine
        if self.reopt is not None:
            self.reopt.close()
            self.start_reoptimizer(self.reopt_every_s, self.reopt.params.time_limit_s)

    def maintain(self) -> None:
        """Renew the tenant's lease when a third of it has passed; take a snapshot when
        one is due (off the request path, a few ms under the lock; written by the log
        writer after the commands it includes)."""
        if monotonic() - self._lease_at >= LEASE_S / 3:
            taken, other, _ = self.store.acquire_lease(self.tenant, self.holder, LEASE_S)
            if not taken:
                logger.error("tenant %s: lease lost to %s", self.tenant, other)
            self._lease_at = monotonic()
        if (self.engine.seq - self._snap_seq < self.snapshot_every
                or monotonic() - self._snap_at < self.snapshot_min_s):
            return
        with self.lock:
            snap = self.engine.snapshot()
            self.writer.add_snapshot(snap)
            self._snap_seq, self._snap_at = int(snap["seq"]), monotonic()
            self.snapshots += 1

    def set_owner(self, request_id: str, key_id: str) -> None:
        """Record (with the next group commit) which key created ``request_id``."""
        self.writer.add_owner(request_id, key_id)

    def owner(self, request_id: str) -> str | None:
        """Return the key id that created ``request_id`` (queued or stored)."""
        queued = self.writer.pending_owners.get(request_id)
        return queued if queued is not None else self.store.owner(self.tenant, request_id)

    def owned_by(self, key_id: str) -> set[str]:
        """Return the ids of the requests ``key_id`` created (queued or stored)."""
        mine = self.store.owned_by(self.tenant, key_id)
        mine.update(r for r, k in list(self.writer.pending_owners.items()) if k == key_id)
        return mine

    def remember(self, key: str, fingerprint: str, status: int, body: dict[str, Any]) -> None:
        """Keep (with the next group commit) the answer given for an idempotency key."""
        self.writer.add_answer(key, fingerprint, status, body)

    def remembered(self, key: str) -> tuple[str, int, dict[str, Any]] | None:
        """Return (fingerprint, status, body) kept for an idempotency key, if any."""
        queued = self.writer.pending_answers.get(key)
        return queued if queued is not None else self.store.remembered(self.tenant, key)

    def rejection(self, request_id: str) -> tuple[str, str] | None:
        """(reason, detail) of a rejected request, from the engine's event log."""
        from dispatch.engine import RequestStatus

        ev = next((e for e in reversed(self.engine.events) if e.request_id == request_id
                   and e.status is RequestStatus.REJECTED), None)
        if ev is None:
            return None
        reason, _, detail = ev.cause.partition(": ")
        return reason, detail

    # ------------------------------------------------------------ commands
    def run(self, call: Callable[[Engine], T]) -> T:
        """Run ``call`` on the engine under the tenant's lock (one command at a time)."""
        with self.lock:
            return call(self.engine)

    def advance_to_wall_clock(self) -> None:
        """Advance the engine to now (wall clock) when now is later than its clock."""
        t = self.to_seconds(datetime.now(self.tz))
        with self.lock:
            if t > self.engine.now:
                self.engine.advance(t)

    # ------------------------------------------------------------ time
    def to_seconds(self, t: datetime) -> int:
        """Return ``t`` (time-zone aware) as seconds since the service day's midnight.

        Raises
        ------
        InvalidRequestError
            When ``t`` has no time zone.
        """
        if t.tzinfo is None:
            msg = f"time {t.isoformat()} has no time zone (ISO 8601 with offset, e.g. +09:00)"
            raise InvalidRequestError(msg)
        return int((t - self.midnight).total_seconds())

    def to_time(self, s: int) -> datetime:
        """Return seconds since the service day's midnight as an aware datetime."""
        return self.midnight + timedelta(seconds=int(s))

    # ------------------------------------------------------------ places
    def _metres(self, lonlat: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        lat0 = np.deg2rad(np.mean([p.lat for p in self.setup.places]))
        x = np.deg2rad(lonlat[:, 0]) * 6_371_000 * np.cos(lat0)
        y = np.deg2rad(lonlat[:, 1]) * 6_371_000
        return np.column_stack([x, y])

    def stop_options(self, *, stop_id: str | None, lon: float | None, lat: float | None,
                     field: str, limit: int = 3) -> tuple[StopOption, ...]:
        """Return the meeting points for a stop id, or for a point the nearest boarding
        points within the walk limit (walk = straight line x 1.3 at 1.2 m/s).

        Raises
        ------
        InvalidRequestError
            When the stop id is unknown or no boarding point is within the walk limit
            (the message names ``field``).
        """
        if stop_id is not None:
            p = self.by_id.get(stop_id)
            if p is None or p.kind == "depot":
                msg = f"{field}.stop_id: unknown boarding point {stop_id!r}"
                raise InvalidRequestError(msg)
            return (StopOption(location=p.index),)
        assert lon is not None and lat is not None
        here = self._metres(np.array([[lon, lat]], dtype=np.float64))[0]
        walk_s = np.hypot(*(self._xy - here).T) * WALK_DETOUR / WALK_MPS
        walk_s[0] = np.inf  # not at the depot
        near = [int(i) for i in np.argsort(walk_s)[:limit]
                if walk_s[i] <= self.setup.config.max_walk_s]
        if not near:
            msg = (f"{field}: no boarding point within a {self.setup.config.max_walk_s} s "
                   f"walk of ({lon}, {lat})")
            raise InvalidRequestError(msg)
        return tuple(StopOption(location=i, walk_s=int(np.ceil(walk_s[i]))) for i in near)
