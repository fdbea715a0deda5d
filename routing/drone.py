"""Multirotor delivery drones: specification, wind, a published energy model and sorties.

Energy model
------------
Power in level forward flight follows the momentum-theory model of Stolaroff et al.
(2018), *Energy use and life cycle greenhouse gas emissions of drones for commercial
package delivery*, Nature Communications 9:409 (Supplementary Note 1; the same model is
the "Stolaroff" model compared by Zhang, Campbell, Sweeney & Hupman (2021), *Energy
consumption models for delivery drones: A comparison and assessment*, Transportation
Research Part D 90:102668):

* weight ``W = (m_frame + m_battery + m_payload) g``;
* parasitic drag ``D = 1/2 rho V_a^2 (CdA_frame + CdA_battery + CdA_payload)`` (the
  payload term only while a parcel is on board);
* the rotor disc tilts by ``alpha = atan(D / W)`` and the thrust is ``T = sqrt(W^2 + D^2)``;
* the induced velocity ``v_i`` solves
  ``v_i = 2 T / (pi n d^2 rho sqrt((V_a cos alpha)^2 + (V_a sin alpha + v_i)^2))``
  (``n`` rotors of diameter ``d``; solved here by Newton's method);
* electrical power ``P = T (V_a sin alpha + v_i) / eta + P_avionics``.

With ``V_a = 0`` this is the hover power ``T^1.5 / (eta sqrt(2 rho A))`` (``A`` the total
disc area); a vertical climb at ``v_c`` is the same equation with the disc facing the
flow (``alpha = 90°``, ``V_a = v_c``). Energy therefore grows with total mass (frame +
battery + payload) and with time in the air.

Assumptions (all configurable in :class:`DroneSpec`)
----------------------------------------------------
* The drone holds its cruise **airspeed**; its **ground speed** on each straight piece
  of its path follows from the wind triangle (``ground = w_along + sqrt(V_a^2 -
  w_cross^2)``), so a headwind lengthens the time, and so the energy, of a leg; a
  crosswind at or above the airspeed (or a ground speed below 0.5 m/s) makes the leg
  impossible. Power depends on airspeed, not ground speed.
* Hovering, climbing and descending in wind: the drone holds position against the wind,
  so it flies at an airspeed equal to the wind speed; hover power is the level-flight
  power at that airspeed, and climbs add their still-air extra power to it.
* Descent is charged at hover power (momentum theory does not hold in the vortex-ring
  state; hover power is the usual conservative choice).
* A sortie: ``ground_s`` of spin-up and checks on the pad (hover power), a vertical
  climb to ``cruise_alt_m``, cruise along the path to each customer, a descent to
  ``drop_alt_m``, ``hover_s`` lowering the parcel on a winch, a climb back, and finally
  a descent and ``ground_s`` of landing at the droneport. Delivery time is the start of
  the hover at the customer. There is no waiting in the air: a sortie's take-off time is
  chosen so that every drop falls inside its window.
* A battery reserve (default 20 % of ``battery_wh``) must be left at landing; the wind
  speed may not exceed ``max_wind_mps``.
* Default numbers follow the typical small delivery drone of the scenarios (payload
  5 kg, cruise 12 m/s, 20-30 min endurance with a 20 % reserve, take-off and landing about
  a minute each, maximum wind 10 m/s); the drag areas are Stolaroff et al.'s
  octocopter values, the rotor set and battery are our assumption of a 5 kg-class
  hexacopter.
* Distances use a local tangent plane (equirectangular around each segment's mean
  latitude): well under 0.1 % error over the tens of kilometres a sortie spans.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from routing.errors import ProblemError
from routing.model import ANYTIME, TimeWindow

#: Standard gravity, m/s².
G = 9.80665
#: Air density at sea level, 15 °C, kg/m³.
RHO = 1.225
#: Mean Earth radius, m.
EARTH_R = 6_371_008.8
#: Below this ground speed (m/s) a leg counts as impossible in the wind.
MIN_GROUND_MPS = 0.5

LonLat = tuple[float, float]
#: Default operating hours of drones and vans: 08:00-18:00.
DAY_HOURS = TimeWindow(earliest=8 * 3600, latest=18 * 3600)
Path = Sequence[LonLat]


class Refusal(StrEnum):
    """Why a sortie (or a delivery) cannot be flown."""

    PAYLOAD = "payload"
    ENERGY_RESERVE = "energy_reserve"
    WIND = "wind"
    UNREACHABLE = "unreachable"
    WINDOW = "window"


@dataclass(frozen=True, slots=True, kw_only=True)
class DroneSpec:
    """One drone model: limits, masses, aerodynamics and the sortie profile.

    Masses in kg, energy in Wh, speeds in m/s, heights in m above ground, times in s.
    ``cda_*`` are drag coefficient times frontal area (m²).
    """

    name: str = "typical-5kg"
    payload_kg: float = 5.0
    battery_wh: float = 1000.0
    reserve: float = 0.20
    cruise_mps: float = 12.0
    max_wind_mps: float = 10.0
    frame_kg: float = 8.0
    battery_kg: float = 5.5
    rotors: int = 6
    rotor_diameter_m: float = 0.56
    efficiency: float = 0.70
    avionics_w: float = 20.0
    cda_frame_m2: float = 1.49 * 0.224
    cda_battery_m2: float = 1.0 * 0.015
    cda_payload_m2: float = 2.2 * 0.0929
    cruise_alt_m: float = 60.0
    drop_alt_m: float = 10.0
    climb_mps: float = 2.5
    descent_mps: float = 2.0
    ground_s: float = 25.0
    hover_s: float = 60.0
    swap_s: int = 300

    def __post_init__(self) -> None:
        positive = ("payload_kg", "battery_wh", "cruise_mps", "frame_kg", "battery_kg",
                    "rotor_diameter_m", "efficiency", "climb_mps", "descent_mps",
                    "cruise_alt_m")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ProblemError(f"drone {self.name}.{name}", "must be positive")
        non_negative = ("max_wind_mps", "avionics_w", "cda_frame_m2", "cda_battery_m2",
                        "cda_payload_m2", "drop_alt_m", "ground_s", "hover_s", "swap_s")
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ProblemError(f"drone {self.name}.{name}", "must not be negative")
        if not 0 <= self.reserve < 1:
            raise ProblemError(f"drone {self.name}.reserve", "must be in [0, 1)")
        if self.efficiency > 1:
            raise ProblemError(f"drone {self.name}.efficiency", "must be at most 1")
        if self.rotors < 1:
            raise ProblemError(f"drone {self.name}.rotors", "must be at least 1")
        if self.drop_alt_m > self.cruise_alt_m:
            raise ProblemError(f"drone {self.name}.drop_alt_m", "must not exceed cruise_alt_m")

    @property
    def usable_wh(self) -> float:
        """Energy that may be used on one sortie: the battery less the reserve."""
        return self.battery_wh * (1.0 - self.reserve)

    @property
    def empty_kg(self) -> float:
        """Mass without payload (frame and battery)."""
        return self.frame_kg + self.battery_kg


@dataclass(frozen=True, slots=True, kw_only=True)
class Wind:
    """A uniform wind: ``speed_mps`` blowing **from** ``from_deg`` (0 = north, 90 = east)."""

    speed_mps: float = 0.0
    from_deg: float = 0.0

    def __post_init__(self) -> None:
        if not self.speed_mps >= 0 or not math.isfinite(self.speed_mps):
            raise ProblemError("wind.speed_mps", "must be a finite number >= 0")
        if not math.isfinite(self.from_deg):
            raise ProblemError("wind.from_deg", "must be finite")

    @property
    def vector(self) -> tuple[float, float]:
        """The air's motion (east, north) in m/s: towards where the wind blows."""
        th = math.radians(self.from_deg)
        return (-self.speed_mps * math.sin(th), -self.speed_mps * math.cos(th))


CALM = Wind()


# ------------------------------------------------------------------------- power model
def _induced_velocity(thrust: float, airspeed: float, alpha: float, disc_m2: float) -> float:
    """Solve Stolaroff's induced-velocity equation by Newton's method."""
    k = thrust / (2.0 * RHO * disc_m2)  # = 2T / (pi n d^2 rho)
    vc, vs = airspeed * math.cos(alpha), airspeed * math.sin(alpha)
    v = math.sqrt(k)
    for _ in range(50):
        root = math.sqrt(vc * vc + (vs + v) ** 2)
        f = v * root - k
        df = root + v * (vs + v) / root
        step = f / df
        v = max(v - step, 1e-9)
        if abs(step) < 1e-9:
            break
    return v


@lru_cache(maxsize=65536)
def _power(spec: DroneSpec, mass_kg: float, airspeed: float, loaded: bool) -> float:
    weight = mass_kg * G
    cda = spec.cda_frame_m2 + spec.cda_battery_m2 + (spec.cda_payload_m2 if loaded else 0.0)
    drag = 0.5 * RHO * airspeed * airspeed * cda
    alpha = math.atan2(drag, weight)
    thrust = math.hypot(weight, drag)
    disc = spec.rotors * math.pi * spec.rotor_diameter_m ** 2 / 4.0
    vi = _induced_velocity(thrust, airspeed, alpha, disc)
    return thrust * (airspeed * math.sin(alpha) + vi) / spec.efficiency + spec.avionics_w


def level_power_w(spec: DroneSpec, payload_kg: float, airspeed_mps: float) -> float:
    """Return the electrical power (W) in level flight at ``airspeed_mps`` with a payload."""
    mass = round(spec.empty_kg + payload_kg, 4)
    return _power(spec, mass, round(float(airspeed_mps), 4), payload_kg > 0)


def climb_power_w(spec: DroneSpec, payload_kg: float, climb_mps: float) -> float:
    """Return the electrical power (W) of a vertical climb at ``climb_mps`` in still air."""
    mass = spec.empty_kg + payload_kg
    thrust = mass * G
    disc = spec.rotors * math.pi * spec.rotor_diameter_m ** 2 / 4.0
    vi = _induced_velocity(thrust, climb_mps, math.pi / 2, disc)
    return thrust * (climb_mps + vi) / spec.efficiency + spec.avionics_w


# ------------------------------------------------------------------------- geometry
def segments_m(path: Path | npt.ArrayLike
               ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return the (east, north) metres of each straight piece of a lon/lat polyline."""
    pts = np.asarray(path, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 2:
        return np.zeros(0), np.zeros(0)
    lat_mid = np.radians((pts[1:, 1] + pts[:-1, 1]) / 2)
    east = np.radians(np.diff(pts[:, 0])) * np.cos(lat_mid) * EARTH_R
    north = np.radians(np.diff(pts[:, 1])) * EARTH_R
    return east, north


def path_length_m(path: Path) -> float:
    """Return the length of a lon/lat polyline in metres."""
    east, north = segments_m(path)
    return float(np.hypot(east, north).sum())


def flight_time_s(spec: DroneSpec, wind: Wind, path: Path) -> float | None:
    """Return the cruise time along ``path`` at the spec's airspeed in ``wind``.

    ``None`` when some piece cannot be flown (crosswind at or above the airspeed, or a
    ground speed under :data:`MIN_GROUND_MPS`).
    """
    east, north = segments_m(path)
    length = np.hypot(east, north)
    keep = length > 1e-6
    if not keep.any():
        return 0.0
    ux, uy = east[keep] / length[keep], north[keep] / length[keep]
    wx, wy = wind.vector
    along = wx * ux + wy * uy
    cross = np.abs(wx * uy - wy * ux)
    va = spec.cruise_mps
    if (cross >= va).any():
        return None
    ground = along + np.sqrt(va * va - cross * cross)
    if (ground < MIN_GROUND_MPS).any():
        return None
    return float((length[keep] / ground).sum())


def straight_path(a: LonLat, b: LonLat) -> tuple[LonLat, LonLat]:
    """Return the straight path from ``a`` to ``b``."""
    return (a, b)


# ------------------------------------------------------------------------- sorties
@dataclass(frozen=True, slots=True, kw_only=True)
class SortieProfile:
    """Timing and energy of one sortie, from take-off (offsets in seconds).

    ``ok`` is False with ``reason`` (a :class:`Refusal`) and ``detail`` when the sortie
    cannot be flown; the other fields are then as far as computed.
    """

    ok: bool
    reason: Refusal | None = None
    detail: str = ""
    energy_wh: float = 0.0
    drop_offsets_s: tuple[float, ...] = ()
    duration_s: float = 0.0
    distance_m: float = 0.0
    reserve_left_wh: float = 0.0


@dataclass(slots=True)
class _Acc:
    t: float = 0.0
    wh: float = 0.0
    drops: list[float] = field(default_factory=list)


def _hover_w(spec: DroneSpec, wind: Wind, payload: float) -> float:
    return level_power_w(spec, payload, wind.speed_mps)


def _vertical(spec: DroneSpec, wind: Wind, payload: float, height: float, acc: _Acc,
              *, up: bool) -> None:
    if height <= 0:
        return
    hover = _hover_w(spec, wind, payload)
    if up:
        extra = climb_power_w(spec, payload, spec.climb_mps) - level_power_w(spec, payload, 0.0)
        dt = height / spec.climb_mps
        acc.wh += (hover + max(0.0, extra)) * dt / 3600
    else:
        dt = height / spec.descent_mps
        acc.wh += hover * dt / 3600
    acc.t += dt


def sortie_profile(
    spec: DroneSpec,
    wind: Wind,
    port: LonLat,
    stops: Sequence[LonLat],
    weights_kg: Sequence[float],
    paths: Sequence[Path] | None = None,
) -> SortieProfile:
    """Time and energy of a sortie from ``port`` over ``stops`` and back.

    Parameters
    ----------
    spec, wind
        The drone and the day's wind.
    port
        Take-off and landing point (lon, lat).
    stops
        Customers in visiting order; one parcel of ``weights_kg[k]`` dropped at each.
    paths
        ``len(stops) + 1`` polylines (port → first stop, ..., last stop → port), e.g.
        around avoided airspace; straight lines when ``None``.

    Returns
    -------
    SortieProfile
        Refused with ``payload``, ``wind``, ``unreachable`` (a leg cannot be flown in
        this wind) or ``energy_reserve``; windows are for :func:`check_sortie`.
    """
    if len(weights_kg) != len(stops):
        raise ProblemError("weights_kg", f"{len(weights_kg)} weights for {len(stops)} stops")
    seq = [port, *stops, port]
    legs = list(paths) if paths is not None else [
        straight_path(a, b) for a, b in pairwise(seq)]
    if len(legs) != len(stops) + 1:
        raise ProblemError("paths", f"{len(legs)} paths for {len(stops) + 1} legs")
    load = float(sum(weights_kg))
    if load > spec.payload_kg + 1e-9:
        return SortieProfile(ok=False, reason=Refusal.PAYLOAD,
                             detail=f"{load:.2f} kg over the {spec.payload_kg:g} kg limit")
    if wind.speed_mps > spec.max_wind_mps:
        return SortieProfile(ok=False, reason=Refusal.WIND, detail=(
            f"wind {wind.speed_mps:g} m/s over the {spec.max_wind_mps:g} m/s maximum"))
    acc = _Acc()
    payload = load
    acc.wh += _hover_w(spec, wind, payload) * spec.ground_s / 3600
    acc.t += spec.ground_s
    _vertical(spec, wind, payload, spec.cruise_alt_m, acc, up=True)
    dist = 0.0
    for k, leg in enumerate(legs):
        dt = flight_time_s(spec, wind, leg)
        if dt is None:
            return SortieProfile(ok=False, reason=Refusal.UNREACHABLE, detail=(
                f"leg {k + 1} cannot be flown in a {wind.speed_mps:g} m/s wind"))
        acc.wh += level_power_w(spec, payload, spec.cruise_mps) * dt / 3600
        acc.t += dt
        dist += path_length_m(leg)
        if k == len(stops):
            break
        drop_h = spec.cruise_alt_m - spec.drop_alt_m
        _vertical(spec, wind, payload, drop_h, acc, up=False)
        acc.drops.append(acc.t)
        acc.wh += _hover_w(spec, wind, payload) * spec.hover_s / 3600
        acc.t += spec.hover_s
        payload = max(0.0, payload - float(weights_kg[k]))
        _vertical(spec, wind, payload, drop_h, acc, up=True)
    _vertical(spec, wind, payload, spec.cruise_alt_m, acc, up=False)
    acc.wh += _hover_w(spec, wind, payload) * spec.ground_s / 3600
    acc.t += spec.ground_s
    left = spec.battery_wh - acc.wh
    base = SortieProfile(ok=True, energy_wh=acc.wh, drop_offsets_s=tuple(acc.drops),
                         duration_s=acc.t, distance_m=dist, reserve_left_wh=left)
    if acc.wh > spec.usable_wh + 1e-9:
        return SortieProfile(
            ok=False, reason=Refusal.ENERGY_RESERVE, energy_wh=acc.wh,
            drop_offsets_s=base.drop_offsets_s, duration_s=acc.t, distance_m=dist,
            reserve_left_wh=left,
            detail=(f"needs {acc.wh:.0f} Wh, leaving {left:.0f} Wh: less than the "
                    f"{spec.reserve:.0%} reserve of {spec.battery_wh:g} Wh"))
    return base


def sortie_energy(
    spec: DroneSpec, wind: Wind, port: LonLat, stops: Sequence[LonLat],
    weights_kg: Sequence[float], paths: Sequence[Path] | None = None,
) -> float:
    """Return the energy (Wh) of a sortie (see :func:`sortie_profile`), feasible or not.

    Raises
    ------
    ProblemError
        When the payload or wind limit is broken or a leg cannot be flown (there is no
        energy to report then).
    """
    prof = sortie_profile(spec, wind, port, stops, weights_kg, paths)
    if not prof.ok and prof.reason is not Refusal.ENERGY_RESERVE:
        raise ProblemError(f"sortie {prof.reason}", prof.detail)
    return prof.energy_wh


def check_sortie(
    spec: DroneSpec, wind: Wind, port: LonLat, stops: Sequence[LonLat],
    weights_kg: Sequence[float], *, paths: Sequence[Path | None] | None = None,
    windows: Sequence[TimeWindow] | None = None, takeoff_s: float | None = None,
) -> SortieProfile:
    """Return the sortie's profile, refused with the first reason that applies.

    A ``None`` entry in ``paths`` (no path outside avoided airspace, e.g. a take-off
    point inside an avoided area) refuses with ``unreachable``. With ``windows`` and
    ``takeoff_s``, every drop must fall inside its window (``window``); with
    ``windows`` alone, some take-off time must exist that fits them all.
    """
    if paths is not None and any(p is None for p in paths):
        return SortieProfile(ok=False, reason=Refusal.UNREACHABLE,
                             detail="no path outside avoided airspace")
    flown = None if paths is None else [p for p in paths if p is not None]
    prof = sortie_profile(spec, wind, port, stops, weights_kg, flown)
    if not prof.ok or windows is None:
        return prof
    lo, hi = takeoff_range(prof.drop_offsets_s, windows)
    if takeoff_s is not None:
        lo = hi = float(takeoff_s)
    for k, (off, w) in enumerate(zip(prof.drop_offsets_s, windows, strict=True)):
        if not (w.earliest <= math.ceil(lo + off) <= w.latest and lo <= hi):
            return SortieProfile(
                ok=False, reason=Refusal.WINDOW, energy_wh=prof.energy_wh,
                drop_offsets_s=prof.drop_offsets_s, duration_s=prof.duration_s,
                distance_m=prof.distance_m, reserve_left_wh=prof.reserve_left_wh,
                detail=f"stop {k + 1} cannot be reached inside [{w.earliest}, {w.latest}]")
    return prof


def takeoff_range(offsets: Sequence[float], windows: Sequence[TimeWindow]
                  ) -> tuple[float, float]:
    """Return the ``[earliest, latest]`` take-off times that put every drop in its window.

    Drops happen at ``ceil(takeoff + offset)``; the range is empty when ``lo > hi``.
    """
    lo = max((w.earliest - off for off, w in zip(offsets, windows, strict=True)),
             default=-math.inf)
    hi = min((w.latest - math.ceil(off) for off, w in zip(offsets, windows, strict=True)),
             default=math.inf)
    return float(math.ceil(lo)) if math.isfinite(lo) else lo, float(hi)


def flight_track(spec: DroneSpec, paths: Sequence[Path]) -> list[tuple[float, float, float]]:
    """Return the 3D track (lon, lat, metres above ground) of a sortie over ``paths``.

    On the pad at 0 m, vertical climb to the cruise altitude, cruise along each path,
    down to the drop height and back up at every customer, down to 0 m at the end.
    """
    track: list[tuple[float, float, float]] = []
    alt, drop = spec.cruise_alt_m, spec.drop_alt_m
    for k, leg in enumerate(paths):
        pts = [(float(x), float(y)) for x, y in leg]
        if k == 0:
            track.append((*pts[0], 0.0))
            track.append((*pts[0], alt))
        track.extend((x, y, alt) for x, y in pts[1:])
        end = pts[-1]
        if k < len(paths) - 1:
            track.append((*end, drop))
            track.append((*end, alt))
        else:
            track.append((*end, 0.0))
    return track


def endurance_s(spec: DroneSpec, payload_kg: float = 0.0, wind: Wind = CALM) -> float:
    """Return how long the usable energy lasts in level cruise with a payload (seconds)."""
    return spec.usable_wh * 3600 / level_power_w(spec, payload_kg, spec.cruise_mps) if (
        wind.speed_mps <= spec.max_wind_mps) else 0.0


# ------------------------------------------------------------------------- plan data
@dataclass(frozen=True, slots=True, kw_only=True)
class DroneJob:
    """A parcel to deliver by drone: where, how heavy, when and how urgent.

    ``priority``: higher first when not everything fits (medicine above groceries).
    """

    id: str
    lon: float
    lat: float
    weight_kg: float
    window: TimeWindow = ANYTIME
    priority: int = 0

    def __post_init__(self) -> None:
        if not self.weight_kg >= 0 or not math.isfinite(self.weight_kg):
            raise ProblemError(f"job {self.id}.weight_kg", "must be a finite number >= 0")
        if not (-180 <= self.lon <= 180 and -90 <= self.lat <= 90):
            raise ProblemError(f"job {self.id}.lon/lat", "outside WGS84 range")


@dataclass(frozen=True, slots=True, kw_only=True)
class Droneport:
    """A take-off and landing site (depot, shop, clinic) with ``drones`` drones."""

    id: str
    lon: float
    lat: float
    drones: int = 1

    def __post_init__(self) -> None:
        if self.drones < 0:
            raise ProblemError(f"droneport {self.id}.drones", "must not be negative")
        if not (-180 <= self.lon <= 180 and -90 <= self.lat <= 90):
            raise ProblemError(f"droneport {self.id}.lon/lat", "outside WGS84 range")

    @property
    def lonlat(self) -> LonLat:
        """The site as ``(lon, lat)``."""
        return (self.lon, self.lat)

    def drone_ids(self) -> list[str]:
        """Return the ids of this site's drones (``<port>-d1``, ...)."""
        return [f"{self.id}-d{k + 1}" for k in range(self.drones)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Sortie:
    """One flight: take off from ``port``, drop ``jobs`` in order, land back at ``port``.

    Times are seconds since midnight (``drop_s``: start of the hover at each customer);
    ``paths`` are the ``len(jobs) + 1`` lon/lat polylines flown; ``permits`` the names
    of the permit areas the paths cross (to list in the flight plan).
    """

    drone: str
    port: int
    jobs: tuple[int, ...]
    takeoff_s: int
    drop_s: tuple[int, ...]
    landing_s: int
    energy_wh: float
    paths: tuple[tuple[LonLat, ...], ...]
    permits: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused:
    """A job not served by drone, with the :class:`Refusal` reason and details."""

    job: int
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DroneProblem:
    """Jobs, droneports, the drone model, the wind and the operating hours."""

    jobs: tuple[DroneJob, ...]
    ports: tuple[Droneport, ...]
    spec: DroneSpec = DroneSpec()
    wind: Wind = CALM
    hours: TimeWindow = DAY_HOURS

    def __post_init__(self) -> None:
        ids = [j.id for j in self.jobs]
        if len(set(ids)) != len(ids):
            raise ProblemError("jobs", "duplicate job id")
        pids = [p.id for p in self.ports]
        if len(set(pids)) != len(pids):
            raise ProblemError("droneports", "duplicate droneport id")

    def drones(self) -> list[tuple[str, int]]:
        """Return every ``(drone id, port index)``."""
        return [(d, k) for k, p in enumerate(self.ports) for d in p.drone_ids()]


@dataclass(frozen=True, slots=True, kw_only=True)
class DronePlan:
    """Sorties (ordered by drone, then take-off) and the jobs refused with reasons."""

    sorties: tuple[Sortie, ...]
    refused: tuple[Refused, ...]
    runtime_s: float = 0.0

    def served(self) -> set[int]:
        """Return the indices of the jobs delivered."""
        return {j for s in self.sorties for j in s.jobs}

    def completion_s(self) -> int | None:
        """Return the time of the last drop, ``None`` for an empty plan."""
        return max((max(s.drop_s) for s in self.sorties if s.drop_s), default=None)
