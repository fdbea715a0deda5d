"""Frozen, index-based problem data for rides, deliveries and mixed fleets.

Every entity points at a location by its integer index into ``Problem.locations``; the
travel matrices are ordered like the locations, one pair (durations, distances) per
road profile. Times are integer seconds since the service day's midnight, distances
integer metres (or the instance's own unit for literature problems), loads integer
tuples ordered like ``Problem.dimensions``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from routing.errors import ProblemError

#: Latest time any window may reach: seven days in seconds.
HORIZON_MAX = 7 * 24 * 3600

#: Matrix entries at or above this value mean "no path".
UNREACHABLE = np.iinfo(np.int64).max // 4

Load = tuple[int, ...]
IntMatrix = npt.NDArray[np.int64]


class Profile(StrEnum):
    """Travel profile: which matrix pair a vehicle uses."""

    CAR = "car"
    VAN = "van"
    DRONE = "drone"
    WALK = "walk"


class RequestKind(StrEnum):
    """What a pickup-and-delivery request carries."""

    RIDE = "ride"
    DELIVERY = "delivery"


class JobKind(StrEnum):
    """How a single-stop job moves its load."""

    #: Load leaves the vehicle's start depot and is dropped at the job.
    DELIVERY = "delivery"
    #: Load is collected at the job and carried to the vehicle's end depot.
    PICKUP = "pickup"


class StopKind(StrEnum):
    """What happens at a stop of a route or a live plan."""

    PICKUP = "pickup"
    DROPOFF = "dropoff"
    JOB = "job"
    BREAK = "break"


class ItemKind(StrEnum):
    """Which list of the problem an item comes from (requests or jobs)."""

    REQUEST = "request"
    JOB = "job"


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeWindow:
    """An inclusive ``[earliest, latest]`` window in seconds."""

    earliest: int = 0
    latest: int = HORIZON_MAX

    def __post_init__(self) -> None:
        if self.latest < self.earliest:
            msg = f"latest ({self.latest}) is before earliest ({self.earliest})"
            raise ProblemError("time_window", msg)

    def contains(self, t: int) -> bool:
        """Return whether ``t`` lies inside the window."""
        return self.earliest <= t <= self.latest

    def intersect(self, other: TimeWindow) -> TimeWindow | None:
        """Return the overlap of two windows, or ``None`` when they are disjoint."""
        lo, hi = max(self.earliest, other.earliest), min(self.latest, other.latest)
        return TimeWindow(earliest=lo, latest=hi) if lo <= hi else None


ANYTIME = TimeWindow()


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    """A point: WGS84 ``lon``/``lat``, or planar x/y for literature instances."""

    lon: float
    lat: float
    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """A pickup-and-delivery pair: a ride (dial-a-ride) or a shop-to-home delivery.

    Parameters
    ----------
    id
        External identifier, unique among requests and jobs.
    pickup, dropoff
        Location indices.
    load
        Amount per dimension (``Problem.dimensions``), e.g. ``(1, 0)`` for one seated
        rider and no wheelchair.
    pickup_window, dropoff_window
        When service may start at each end. An arrive-by trip (clinic appointment)
        sets ``dropoff_window``; a leave-at trip sets ``pickup_window``.
    max_ride_s
        Absolute limit on the ride: from the end of pickup service to the start of
        drop-off service (Cordeau's convention). ``None`` for no absolute limit.
    max_detour
        Limit as a factor over the direct travel time (``max_detour * direct``), with
        ``detour_slack_s`` added (MATSim's alpha and beta). The tighter of the two
        limits applies; see :meth:`Problem.ride_limit` and :func:`max_ride_limit`.
    max_wait_s
        Latest pickup is at most this long after the earliest pickup.
    priority
        Higher is served first when not everything fits (medical before groceries).
    optional, penalty
        An optional request may be left unassigned at ``penalty`` cost units; a
        mandatory one is only left out when no plan can serve it.
    skills
        Every skill the serving vehicle type must have (``cold_chain``, ...).
    allowed_vehicles
        Indices of the vehicles that may serve it; ``None`` for any.
    return_of
        For the return leg of a paired trip, the ``id`` of the outbound request.
    """

    id: str
    pickup: int
    dropoff: int
    load: Load
    kind: RequestKind = RequestKind.RIDE
    pickup_window: TimeWindow = ANYTIME
    dropoff_window: TimeWindow = ANYTIME
    pickup_service_s: int = 0
    dropoff_service_s: int = 0
    max_ride_s: int | None = None
    max_detour: float | None = None
    detour_slack_s: int = 0
    max_wait_s: int | None = None
    priority: int = 0
    optional: bool = False
    penalty: int = 0
    skills: frozenset[str] = frozenset()
    allowed_vehicles: tuple[int, ...] | None = None
    return_of: str | None = None

    def __post_init__(self) -> None:
        _check_non_negative(f"request {self.id}", self.load, "load")
        for name in ("pickup_service_s", "dropoff_service_s", "detour_slack_s", "penalty"):
            if getattr(self, name) < 0:
                raise ProblemError(f"request {self.id}.{name}", "must not be negative")
        if self.max_ride_s is not None and self.max_ride_s < 0:
            raise ProblemError(f"request {self.id}.max_ride_s", "must not be negative")
        if self.max_detour is not None and not self.max_detour >= 1.0:
            raise ProblemError(f"request {self.id}.max_detour", "must be at least 1.0")
        if self.max_wait_s is not None and self.max_wait_s < 0:
            raise ProblemError(f"request {self.id}.max_wait_s", "must not be negative")

    @property
    def effective_pickup_window(self) -> TimeWindow:
        """Pickup window tightened by ``max_wait_s``."""
        w = self.pickup_window
        if self.max_wait_s is None:
            return w
        latest = min(w.latest, w.earliest + self.max_wait_s)
        return TimeWindow(earliest=w.earliest, latest=latest)


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """A single-stop delivery (from the depot) or pickup (to the depot)."""

    id: str
    location: int
    load: Load
    kind: JobKind = JobKind.DELIVERY
    window: TimeWindow = ANYTIME
    service_s: int = 0
    priority: int = 0
    optional: bool = False
    penalty: int = 0
    skills: frozenset[str] = frozenset()
    allowed_vehicles: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        _check_non_negative(f"job {self.id}", self.load, "load")
        if self.service_s < 0:
            raise ProblemError(f"job {self.id}.service_s", "must not be negative")
        if self.penalty < 0:
            raise ProblemError(f"job {self.id}.penalty", "must not be negative")


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleType:
    """Capacity, skills, costs and road profile shared by several vehicles.

    Costs are integer weights in the objective: ``fixed_cost`` per used vehicle,
    ``distance_cost`` per metre and ``duration_cost`` per second of route duration.
    Expressed in milli-yen, ``distance_cost`` is yen per km.
    ``speed_factor`` divides the matrix travel times (0.8 means 25 % slower).
    """

    name: str
    capacity: Load
    profile: str = Profile.CAR
    skills: frozenset[str] = frozenset()
    fixed_cost: int = 0
    distance_cost: int = 1
    duration_cost: int = 0
    speed_factor: float = 1.0

    def __post_init__(self) -> None:
        _check_non_negative(f"vehicle type {self.name}", self.capacity, "capacity")
        for name in ("fixed_cost", "distance_cost", "duration_cost"):
            if getattr(self, name) < 0:
                raise ProblemError(f"vehicle type {self.name}.{name}", "must not be negative")
        if not self.speed_factor > 0:
            raise ProblemError(f"vehicle type {self.name}.speed_factor", "must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class Break:
    """A driver break of ``duration_s`` that must start inside ``window``."""

    window: TimeWindow
    duration_s: int

    def __post_init__(self) -> None:
        if self.duration_s < 0:
            raise ProblemError("break.duration_s", "must not be negative")


@dataclass(frozen=True, slots=True, kw_only=True)
class Vehicle:
    """One vehicle and its shift.

    ``end`` is ``None`` for an open route that ends at its last stop. Riders already
    on board (live dispatch) appear as delivery jobs restricted to this vehicle by
    ``allowed_vehicles``: their load is on board from ``start``.
    """

    id: str
    type: int
    start: int
    end: int | None
    shift: TimeWindow = ANYTIME
    max_duration_s: int | None = None
    breaks: tuple[Break, ...] = ()

    def __post_init__(self) -> None:
        if self.max_duration_s is not None and self.max_duration_s < 0:
            raise ProblemError(f"vehicle {self.id}.max_duration_s", "must not be negative")


def max_ride_limit(direct_s: int, *, alpha: float, beta_s: int, cap_s: int | None = None
                   ) -> int:
    """Return the longest ride allowed for a trip whose direct travel time is ``direct_s``.

    The one ride-limit rule of the product, for solver problems
    (:meth:`Problem.ride_limit`) and live offers alike: ``ceil(alpha * direct_s) +
    beta_s`` (MATSim DRT's alpha and beta), and at most ``cap_s`` when an absolute limit
    is given.

    Parameters
    ----------
    direct_s
        Direct travel time from pickup to drop-off, seconds.
    alpha
        Detour factor over the direct time (at least 1).
    beta_s
        Seconds added to the scaled direct time.
    cap_s
        Absolute limit in seconds, ``None`` for none.

    Notes
    -----
    The ride runs from the end of pickup service to the start of drop-off service
    (Cordeau's convention), as :mod:`routing.check` measures it.
    """
    limit = math.ceil(alpha * direct_s) + beta_s
    return limit if cap_s is None else min(limit, cap_s)


def _check_non_negative(owner: str, load: Load, name: str) -> None:
    if any(int(q) < 0 for q in load):
        raise ProblemError(f"{owner}.{name}", f"must not be negative, got {load}")


def _read_only(matrix: npt.ArrayLike, name: str, n: int) -> IntMatrix:
    arr = np.array(matrix, dtype=np.int64, copy=True)
    if arr.shape != (n, n):
        raise ProblemError(name, f"must be {n}x{n} like the locations, got {arr.shape}")
    if (arr < 0).any():
        raise ProblemError(name, "must not hold negative values")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """A complete routing problem.

    Parameters
    ----------
    locations
        Every place referenced by index.
    dimensions
        Names of the load dimensions, e.g. ``("seats", "wheelchairs")``.
    durations, distances
        One integer matrix per profile name, ``len(locations)`` square. Entries at or
        above :data:`UNREACHABLE` mean no path.
    requests, jobs, vehicle_types, vehicles
        The work and the fleet.

    Raises
    ------
    ProblemError
        When a reference, window, capacity or matrix is inconsistent, or a request
        fits no vehicle type; the message names the field.
    """

    locations: tuple[Location, ...]
    dimensions: tuple[str, ...]
    durations: Mapping[str, IntMatrix]
    distances: Mapping[str, IntMatrix]
    vehicle_types: tuple[VehicleType, ...]
    vehicles: tuple[Vehicle, ...]
    requests: tuple[Request, ...] = ()
    jobs: tuple[Job, ...] = ()
    name: str = ""

    def __post_init__(self) -> None:
        n = len(self.locations)
        if set(self.durations) != set(self.distances):
            raise ProblemError("durations", "needs the same profiles as distances")
        durs = {str(p): _read_only(m, f"durations[{p}]", n) for p, m in self.durations.items()}
        dists = {str(p): _read_only(m, f"distances[{p}]", n) for p, m in self.distances.items()}
        object.__setattr__(self, "durations", MappingProxyType(durs))
        object.__setattr__(self, "distances", MappingProxyType(dists))
        self._validate_fleet(n)
        self._validate_work(n)

    # ----------------------------------------------------------------- validation
    def _validate_fleet(self, n: int) -> None:
        d = len(self.dimensions)
        if not self.vehicles:
            raise ProblemError("vehicles", "at least one vehicle is needed")
        for t in self.vehicle_types:
            if len(t.capacity) != d:
                msg = f"has {len(t.capacity)} values for {d} dimensions {self.dimensions}"
                raise ProblemError(f"vehicle type {t.name}.capacity", msg)
            if str(t.profile) not in self.durations:
                msg = f"profile {t.profile!r} has no matrix (have {sorted(self.durations)})"
                raise ProblemError(f"vehicle type {t.name}.profile", msg)
        for v in self.vehicles:
            if not 0 <= v.type < len(self.vehicle_types):
                raise ProblemError(f"vehicle {v.id}.type", f"unknown vehicle type {v.type}")
            _check_index(f"vehicle {v.id}.start", v.start, n)
            if v.end is not None:
                _check_index(f"vehicle {v.id}.end", v.end, n)
        _check_unique_ids("vehicles", [v.id for v in self.vehicles])

    def _validate_work(self, n: int) -> None:
        d = len(self.dimensions)
        nv = len(self.vehicles)
        for r in self.requests:
            _check_index(f"request {r.id}.pickup", r.pickup, n)
            _check_index(f"request {r.id}.dropoff", r.dropoff, n)
            _check_load_len(f"request {r.id}.load", r.load, d)
            _check_allowed(f"request {r.id}", r.allowed_vehicles, nv)
        for j in self.jobs:
            _check_index(f"job {j.id}.location", j.location, n)
            _check_load_len(f"job {j.id}.load", j.load, d)
            _check_allowed(f"job {j.id}", j.allowed_vehicles, nv)
        _check_unique_ids("requests and jobs", [r.id for r in self.requests] + [
            j.id for j in self.jobs])
        for r in self.requests:
            if not self._some_vehicle_carries(r.load, r.skills, r.allowed_vehicles):
                msg = f"load {r.load} with skills {sorted(r.skills)} fits no vehicle type"
                raise ProblemError(f"request {r.id}", msg)
        for j in self.jobs:
            if not self._some_vehicle_carries(j.load, j.skills, j.allowed_vehicles):
                msg = f"load {j.load} with skills {sorted(j.skills)} fits no vehicle type"
                raise ProblemError(f"job {j.id}", msg)

    def _some_vehicle_carries(
        self, load: Load, skills: frozenset[str], allowed: tuple[int, ...] | None
    ) -> bool:
        candidates = range(len(self.vehicles)) if allowed is None else allowed
        return any(
            self.can_carry(self.vehicles[k].type, load, skills) for k in candidates
        )

    # ----------------------------------------------------------------- queries
    def can_carry(self, type_index: int, load: Load, skills: frozenset[str]) -> bool:
        """Return whether a vehicle type has the capacity and skills for a load."""
        t = self.vehicle_types[type_index]
        return skills <= t.skills and all(q <= c for q, c in zip(load, t.capacity, strict=True))

    def vehicle_type(self, vehicle: int) -> VehicleType:
        """Return the type of vehicle ``vehicle``."""
        return self.vehicle_types[self.vehicles[vehicle].type]

    def travel_s(self, vehicle: int, a: int, b: int) -> int:
        """Return the travel time of ``vehicle`` from location ``a`` to ``b``."""
        t = self.vehicle_type(vehicle)
        raw = int(self.durations[str(t.profile)][a, b])
        if raw >= UNREACHABLE or t.speed_factor == 1.0:
            return raw
        return math.ceil(raw / t.speed_factor)

    def travel_matrix(self, vehicle: int) -> IntMatrix:
        """Return the travel-time matrix of ``vehicle``, speed factor applied."""
        t = self.vehicle_type(vehicle)
        base = self.durations[str(t.profile)]
        if t.speed_factor == 1.0:
            return base
        scaled = np.where(base >= UNREACHABLE, base, np.ceil(base / t.speed_factor))
        out = scaled.astype(np.int64)
        out.setflags(write=False)
        return out

    def distance_m(self, vehicle: int, a: int, b: int) -> int:
        """Return the distance driven by ``vehicle`` from location ``a`` to ``b``."""
        return int(self.distances[str(self.vehicle_type(vehicle).profile)][a, b])

    def direct_s(self, request: int) -> int:
        """Return the direct travel time of a request on the first vehicle type's profile."""
        r = self.requests[request]
        profile = str(self.vehicle_types[0].profile) if self.vehicle_types else Profile.CAR
        return int(self.durations[profile][r.pickup, r.dropoff])

    def ride_limit(self, request: int) -> int | None:
        """Return the tighter of the absolute and the detour ride-time limits.

        The detour limit is :func:`max_ride_limit` of the direct time with
        ``alpha=max_detour`` and ``beta_s=detour_slack_s``; ``None`` when the request has
        neither limit.
        """
        r = self.requests[request]
        if r.max_detour is None:
            return r.max_ride_s
        return max_ride_limit(self.direct_s(request), alpha=r.max_detour,
                              beta_s=r.detour_slack_s, cap_s=r.max_ride_s)

    @property
    def n_locations(self) -> int:
        """Number of locations."""
        return len(self.locations)


def _check_index(field_name: str, index: int, n: int) -> None:
    if not 0 <= index < n:
        raise ProblemError(field_name, f"unknown location index {index} (have {n} locations)")


def _check_load_len(field_name: str, load: Load, d: int) -> None:
    if len(load) != d:
        raise ProblemError(field_name, f"has {len(load)} values for {d} dimensions")


def _check_allowed(owner: str, allowed: tuple[int, ...] | None, nv: int) -> None:
    if allowed is None:
        return
    if not allowed:
        raise ProblemError(f"{owner}.allowed_vehicles", "is empty")
    bad = [k for k in allowed if not 0 <= k < nv]
    if bad:
        raise ProblemError(f"{owner}.allowed_vehicles", f"unknown vehicle indices {bad}")


def _check_unique_ids(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ProblemError(what, f"duplicate id {i!r}")
        seen.add(i)
