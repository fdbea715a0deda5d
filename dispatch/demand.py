"""Seeded demand for one service day: ride requests and deliveries drawn from a region.

The generator draws from plain arrays (:class:`DemandSources`): the census population
mesh, transit stops, hospitals and a depot. :func:`sources_from_region` builds them from a
:class:`maps.region.Region`; :func:`generate_day` draws a :class:`DemandDay` and
:func:`travel_table_for_day` computes its road travel matrices.

Demand model (every number is a :class:`DemandConfig` field; the defaults are the
assumptions of ``SCENARIOS.md``):

* **Origins** are homes: a 500 m census cell is drawn with probability proportional to its
  population (``total``), or to its 65+ population for the share ``share_65plus`` of riders,
  and the home is a uniform point inside the cell. A region without a census mesh spreads
  homes over its road network instead: the midpoint of a drivable road segment, drawn
  with probability proportional to its length, leaving out roads faster than 60 km/h
  (arterials and highways, where nobody lives). :attr:`DemandDay.placement` says which.
* **Purposes**: hospital visits (arrive-by an appointment time, with a paired return trip
  later the same day), trips to a rail/tram station (GTFS stops of rail and tram feeds),
  and other trips to a bus stop weighted by its weekday departures (shops, town hall:
  there are no shop coordinates in the data, so busy stops stand in for them). Without
  hospitals there are no hospital trips; without stops other trips go to the region's
  POIs, and without either to road points.
* **Stop-based service** (the default, as in Japanese 乗合 services): riders board at the
  nearest transit stop within ``max_walk_m`` (straight line times ``walk_detour``); with
  ``door_fallback`` a rider with no stop in reach is picked up at home instead, otherwise
  the cell is redrawn. Hospitals are themselves boarding points (as Choisoko's sponsored
  clinic stops are).
* **Booking lead times**: a share is booked the day before (negative booking times: seconds
  before the service day's midnight), a share 30-60 min ahead, the rest immediately.
* **Deliveries** go from a pharmacy to a home drawn from the 65+ population. The data has
  pharmacy addresses but no coordinates, so the hospitals nearest the depot stand in for
  pharmacies (``DemandDay.notes`` says so); without hospitals, the POIs nearest the depot.
* **Trip records** (:func:`day_from_trips`) replace the generator: every pickup and
  drop-off of a :mod:`dispatch.trips` CSV is a place of the day, door to door.

Times are integer seconds since the service day's midnight, distances integer metres.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from dispatch.errors import DispatchError

if TYPE_CHECKING:
    from dispatch.network import TravelTable
    from dispatch.trips import BadRow, TripRow
    from maps.region import Region

logger = logging.getLogger(__name__)


class DemandError(DispatchError, ValueError):
    """Demand that cannot be generated: the message names the field and the problem."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Mean Earth radius in metres, for the local equirectangular projection.
EARTH_RADIUS_M = 6_371_008.8

#: Relative booking intensity of leave-at trips by hour of day (assumption: a morning
#: peak for clinics and shopping, a lunch dip, a smaller afternoon peak).
HOURLY_PROFILE: dict[int, float] = {
    8: 1.0, 9: 1.6, 10: 1.6, 11: 1.2, 12: 0.7, 13: 1.1, 14: 1.2, 15: 1.0, 16: 0.6,
}


class Purpose(StrEnum):
    """Why a rider travels."""

    HOSPITAL = "hospital"
    HOSPITAL_RETURN = "hospital_return"
    STATION = "station"
    OTHER = "other"
    RETURN = "return"


class LocationKind(StrEnum):
    """What a location of the day is."""

    DEPOT = "depot"
    STOP = "stop"
    HOSPITAL = "hospital"
    PHARMACY = "pharmacy"
    HOME = "home"
    POI = "poi"
    POINT = "point"


class LeadKind(StrEnum):
    """How long before the trip a request is booked."""

    DAY_BEFORE = "day_before"
    AHEAD = "ahead"
    IMMEDIATE = "immediate"


@dataclass(frozen=True, slots=True, kw_only=True)
class DemandPlacement:
    """How the demand of a day was placed: where origins and destinations come from."""

    origins: str
    destinations: str

    def to_dict(self) -> dict[str, str]:
        """Return a JSON-able dict."""
        return {"origins": self.origins, "destinations": self.destinations}


#: Placement of the generator on a region with a census mesh, stops and hospitals.
MESH_PLACEMENT = DemandPlacement(
    origins="census mesh: homes drawn from 500 m cells by population (65+ for elderly riders)",
    destinations="hospitals (appointments), rail/tram stations, bus stops by departures")


@dataclass(frozen=True, slots=True, kw_only=True)
class DemandConfig:
    """Parameters of a generated service day.

    Parameters
    ----------
    seed
        Seed of the random generator: the same seed and config give the same day.
    n_requests
        Ride requests, return legs of hospital visits included.
    n_deliveries
        Pharmacy-to-home deliveries.
    service_start_s, service_end_s
        Service hours (assumption: 8:00-17:00 on weekdays). Every pickup and drop-off
        requested lies inside them.
    share_65plus
        Share of riders drawn from the 65+ population instead of the whole population
        (assumption: rural on-demand riders are mostly elderly).
    share_hospital, share_station
        Shares of ride requests that are hospital legs (outbound plus return) and
        station trips; the rest are other trips.
    stop_based, max_walk_m, walk_detour, door_fallback, max_stops
        Stop-based service: board at the nearest stop within ``max_walk_m`` (straight line
        times ``walk_detour``); ``door_fallback`` picks up at home when no stop is in
        reach; ``max_stops`` keeps only the busiest stops as boarding points (``None``
        for all). With ``stop_based=False`` service is door to door.
    share_day_before, share_ahead
        Shares booked the day before and ``ahead_min_s``-``ahead_max_s`` ahead; the rest
        book immediately.
    wheelchair_share
        Share of riders in a wheelchair (assumption).
    appointment_min_s, appointment_max_s
        Appointment times lie between these; the return trip is requested
        ``visit_min_s``-``visit_max_s`` after the appointment.
    delivery_window_s, delivery_lead_min_s, max_parcels, n_pharmacies
        Deliveries have a window of this length, are booked at least this long before it,
        carry 1..``max_parcels`` parcels and start at one of ``n_pharmacies`` stand-ins.
    """

    seed: int = 0
    n_requests: int = 150
    n_deliveries: int = 30
    service_start_s: int = 8 * 3600
    service_end_s: int = 17 * 3600
    share_65plus: float = 0.6
    share_hospital: float = 0.4
    share_station: float = 0.2
    stop_based: bool = True
    max_walk_m: int = 500
    walk_detour: float = 1.3
    door_fallback: bool = True
    max_stops: int | None = None
    share_day_before: float = 0.5
    share_ahead: float = 0.3
    ahead_min_s: int = 30 * 60
    ahead_max_s: int = 60 * 60
    wheelchair_share: float = 0.03
    appointment_min_s: int = 9 * 3600
    appointment_max_s: int = 14 * 3600 + 30 * 60
    visit_min_s: int = 60 * 60
    visit_max_s: int = 150 * 60
    delivery_window_s: int = 2 * 3600
    delivery_lead_min_s: int = 60 * 60
    max_parcels: int = 3
    n_pharmacies: int = 1

    def __post_init__(self) -> None:
        _check_count("n_requests", self.n_requests)
        _check_count("n_deliveries", self.n_deliveries)
        for name in ("share_65plus", "share_hospital", "share_station", "share_day_before",
                     "share_ahead", "wheelchair_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                msg = f"DemandConfig.{name}: must lie in [0, 1], got {value}"
                raise DemandError(msg)
        if self.share_hospital + self.share_station > 1.0:
            msg = "DemandConfig.share_hospital + share_station: must not exceed 1"
            raise DemandError(msg)
        if self.share_day_before + self.share_ahead > 1.0:
            msg = "DemandConfig.share_day_before + share_ahead: must not exceed 1"
            raise DemandError(msg)
        if not 0 <= self.service_start_s < self.service_end_s <= 24 * 3600:
            msg = (f"DemandConfig.service_start_s/service_end_s: need 0 <= start < end <= 86400,"
                   f" got {self.service_start_s}, {self.service_end_s}")
            raise DemandError(msg)
        self._check_ranges()

    def _check_ranges(self) -> None:
        pairs = (("ahead_min_s", "ahead_max_s"), ("visit_min_s", "visit_max_s"),
                 ("appointment_min_s", "appointment_max_s"))
        for lo, hi in pairs:
            if not 0 <= getattr(self, lo) <= getattr(self, hi):
                msg = f"DemandConfig.{lo}/{hi}: need 0 <= {lo} <= {hi}"
                raise DemandError(msg)
        if self.max_walk_m < 0 or self.walk_detour < 1.0:
            msg = "DemandConfig.max_walk_m/walk_detour: need max_walk_m >= 0, walk_detour >= 1"
            raise DemandError(msg)
        if self.max_parcels < 1 or self.n_pharmacies < 1 or self.delivery_window_s < 0:
            msg = "DemandConfig.max_parcels/n_pharmacies: need >= 1 (and a window >= 0)"
            raise DemandError(msg)
        if self.max_stops is not None and self.max_stops < 1:
            msg = f"DemandConfig.max_stops: must be None or >= 1, got {self.max_stops}"
            raise DemandError(msg)


def _check_count(name: str, value: int) -> None:
    if value < 0:
        msg = f"DemandConfig.{name}: must not be negative, got {value}"
        raise DemandError(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class DemandSources:
    """The plain arrays the generator draws from; all coordinates (lon, lat).

    Parameters
    ----------
    cell_bounds
        ``(n, 4)`` census cells as ``minlon, minlat, maxlon, maxlat``.
    cell_total, cell_65plus
        Residents and residents aged 65+ per cell.
    stop_lonlat, stop_names, stop_is_station, stop_departures
        Transit stops, whether each is a rail/tram station, and weekday departures.
    hospital_lonlat, hospital_names
        Hospitals.
    depot_lonlat
        The vehicle depot.
    home_ok
        Optional filter: given ``(n, 2)`` lon/lat, which points may be homes (e.g. near
        enough to a road to be snapped); rejected points are redrawn.
    home_lonlat, home_weight
        Candidate homes and their weights, used when there are no census cells (e.g.
        points along the road network weighted by road length).
    poi_lonlat, poi_names
        Other points of interest: destinations of other trips when there are no stops,
        and shop stand-ins for deliveries when there are no hospitals.
    placement
        How origins and destinations are placed (reported with the day).
    """

    cell_bounds: FloatArray
    cell_total: FloatArray
    cell_65plus: FloatArray
    stop_lonlat: FloatArray
    stop_names: tuple[str, ...]
    stop_is_station: BoolArray
    stop_departures: FloatArray
    hospital_lonlat: FloatArray
    hospital_names: tuple[str, ...]
    depot_lonlat: tuple[float, float]
    home_ok: Callable[[FloatArray], BoolArray] | None = None
    home_lonlat: FloatArray = field(default_factory=lambda: np.zeros((0, 2)))
    home_weight: FloatArray = field(default_factory=lambda: np.zeros(0))
    poi_lonlat: FloatArray = field(default_factory=lambda: np.zeros((0, 2)))
    poi_names: tuple[str, ...] = ()
    placement: DemandPlacement = MESH_PLACEMENT

    def __post_init__(self) -> None:
        n_cells = len(self.cell_bounds)
        if (n_cells == 0 or float(np.sum(self.cell_total)) <= 0) and (
                len(self.home_lonlat) == 0 or float(np.sum(self.home_weight)) <= 0):
            msg = ("DemandSources.cell_total/home_lonlat: no census mesh and no candidate "
                   "homes to place riders")
            raise DemandError(msg)
        if len(self.home_weight) != len(self.home_lonlat):
            msg = "DemandSources.home_weight: need one weight per candidate home"
            raise DemandError(msg)
        if len(self.poi_names) != len(self.poi_lonlat):
            msg = "DemandSources.poi_names: need one name per POI"
            raise DemandError(msg)
        if len(self.cell_total) != n_cells or len(self.cell_65plus) != n_cells:
            msg = "DemandSources.cell_total/cell_65plus: need one value per cell"
            raise DemandError(msg)
        n_stops = len(self.stop_lonlat)
        if not (len(self.stop_names) == len(self.stop_is_station) == len(self.stop_departures)
                == n_stops):
            msg = "DemandSources.stop_*: need one name, station flag and count per stop"
            raise DemandError(msg)
        if len(self.hospital_names) != len(self.hospital_lonlat):
            msg = "DemandSources.hospital_names: need one name per hospital"
            raise DemandError(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    """A location of the day: where vehicles stop."""

    lon: float
    lat: float
    name: str
    kind: LocationKind


@dataclass(frozen=True, slots=True, kw_only=True)
class RideDemand:
    """One ride request.

    ``origin`` and ``destination`` index ``DemandDay.places``. A leave-at trip sets
    ``requested_pickup_s`` (earliest pickup wanted); an arrive-by trip (hospital
    appointment) sets ``arrive_by_s`` and leaves ``requested_pickup_s`` ``None``.
    ``booking_s`` is when the rider calls (negative: the day before). The walks are
    from home to the boarding stop and from the alighting stop home (0 door to door).
    """

    id: str
    origin: int
    destination: int
    booking_s: int
    requested_pickup_s: int | None
    arrive_by_s: int | None
    purpose: Purpose
    lead: LeadKind
    wheelchair: bool = False
    age65plus: bool = False
    return_of: str | None = None
    origin_walk_m: int = 0
    destination_walk_m: int = 0
    passengers: int = 1

    @property
    def wanted_s(self) -> int:
        """The trip's own time: wanted pickup, or arrive-by."""
        t = self.requested_pickup_s if self.requested_pickup_s is not None else self.arrive_by_s
        return int(t or 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryDemand:
    """One pharmacy-to-home delivery, booked at ``booking_s``, due in the window."""

    id: str
    pickup: int
    dropoff: int
    booking_s: int
    window_start_s: int
    window_end_s: int
    parcels: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DemandDay:
    """A day of demand: the places used, the depot, rides and deliveries.

    Every return ride (``return_of`` set) names an outbound ride of the day that is not
    itself a return and does not start before it.

    Raises
    ------
    DemandError
        When a return ride breaks that rule (the message names the ride).
    """

    config: DemandConfig
    places: tuple[Place, ...]
    depot: int
    rides: tuple[RideDemand, ...]
    deliveries: tuple[DeliveryDemand, ...]
    notes: tuple[str, ...] = ()
    placement: DemandPlacement = MESH_PLACEMENT

    def __post_init__(self) -> None:
        by_id = {r.id: r for r in self.rides}
        for r in self.rides:
            if r.return_of is None:
                continue
            out = by_id.get(r.return_of)
            if out is None or out.return_of is not None:
                msg = (f"DemandDay.rides: return ride {r.id} names {r.return_of!r}, which is "
                       "not an outbound ride of the day")
                raise DemandError(msg)
            if r.wanted_s < out.wanted_s:
                msg = (f"DemandDay.rides: return ride {r.id} starts before its outbound ride "
                       f"{out.id}")
                raise DemandError(msg)

    @property
    def lonlat(self) -> FloatArray:
        """Return the ``(n, 2)`` lon/lat array of the places."""
        return np.array([(p.lon, p.lat) for p in self.places], dtype=np.float64).reshape(-1, 2)


# --------------------------------------------------------------------------- geometry
def _to_metres(lonlat: FloatArray, lat0: float) -> FloatArray:
    """Project lon/lat to a local equirectangular plane in metres (fine at town scale)."""
    k = math.pi / 180.0 * EARTH_RADIUS_M
    out = np.empty_like(lonlat, dtype=np.float64)
    out[:, 0] = lonlat[:, 0] * k * math.cos(math.radians(lat0))
    out[:, 1] = lonlat[:, 1] * k
    return out


@dataclass(slots=True)
class _Builder:
    """Mutable helper that deduplicates places while a day is drawn."""

    places: list[Place] = field(default_factory=list)
    index: dict[tuple[str, int], int] = field(default_factory=dict)

    def add(self, key: tuple[str, int], place: Place) -> int:
        if key in self.index:
            return self.index[key]
        self.index[key] = len(self.places)
        self.places.append(place)
        return self.index[key]


class _Drawer:
    """Draws homes, stops and destinations from the sources with one generator."""

    def __init__(self, src: DemandSources, cfg: DemandConfig, rng: np.random.Generator) -> None:
        self.src = src
        self.cfg = cfg
        self.rng = rng
        self.builder = _Builder()
        self.use_cells = len(src.cell_bounds) > 0 and float(np.sum(src.cell_total)) > 0
        if self.use_cells:
            self.lat0 = float(np.mean(src.cell_bounds[:, [1, 3]]))
            self.p_total = _normalise(src.cell_total, "cell_total")
            self.p_65 = _normalise(
                src.cell_65plus if np.sum(src.cell_65plus) > 0 else src.cell_total,
                "cell_65plus")
        else:
            self.lat0 = float(np.mean(src.home_lonlat[:, 1]))
            self.p_total = self.p_65 = _normalise(src.home_weight, "home_weight")
        boarding = np.arange(len(src.stop_lonlat))
        if cfg.max_stops is not None and cfg.max_stops < len(boarding):
            # The busiest stops become boarding points; ties broken by index (stable).
            order = np.argsort(-src.stop_departures, kind="stable")
            boarding = np.sort(order[: cfg.max_stops])
        self.boarding = boarding
        self.stop_tree = (cKDTree(_to_metres(src.stop_lonlat[boarding], self.lat0))
                          if len(boarding) else None)
        # Stations are destinations only where they are boarding points too.
        self.stations = boarding[src.stop_is_station[boarding]]
        self.n_home = 0
        self.depot = self.builder.add(("depot", 0), Place(
            lon=src.depot_lonlat[0], lat=src.depot_lonlat[1], name="depot",
            kind=LocationKind.DEPOT))

    def home_point(self, elderly: bool) -> tuple[float, float]:
        p = self.p_65 if elderly else self.p_total
        for _ in range(100):
            cell = int(self.rng.choice(len(p), p=p))
            if not self.use_cells:
                lon, lat = self.src.home_lonlat[cell]
                return float(lon), float(lat)
            minx, miny, maxx, maxy = self.src.cell_bounds[cell]
            point = float(self.rng.uniform(minx, maxx)), float(self.rng.uniform(miny, maxy))
            if self.src.home_ok is None or bool(self.src.home_ok(np.array([point]))[0]):
                return point
        msg = "DemandSources.home_ok: rejected 100 home draws in a row; check the filter"
        raise DemandError(msg)

    def home_place(self, lonlat: tuple[float, float]) -> int:
        self.n_home += 1
        return self.builder.add(("home", self.n_home), Place(
            lon=lonlat[0], lat=lonlat[1], name=f"home {self.n_home}", kind=LocationKind.HOME))

    def stop_place(self, stop: int) -> int:
        lon, lat = self.src.stop_lonlat[stop]
        return self.builder.add(("stop", stop), Place(
            lon=float(lon), lat=float(lat), name=self.src.stop_names[stop],
            kind=LocationKind.STOP))

    def poi_place(self, k: int, kind: LocationKind = LocationKind.POI) -> int:
        lon, lat = self.src.poi_lonlat[k]
        name = self.src.poi_names[k]
        if kind is LocationKind.PHARMACY:
            name = f"{name} (shop stand-in)"
        return self.builder.add((f"poi-{kind}", k), Place(
            lon=float(lon), lat=float(lat), name=name, kind=kind))

    def hospital_place(self, h: int, kind: LocationKind = LocationKind.HOSPITAL) -> int:
        lon, lat = self.src.hospital_lonlat[h]
        name = self.src.hospital_names[h]
        if kind is LocationKind.PHARMACY:
            name = f"{name} (pharmacy stand-in)"
        return self.builder.add((str(kind), h), Place(
            lon=float(lon), lat=float(lat), name=name, kind=kind))

    def boarding_point(self, elderly: bool) -> tuple[int, int] | None:
        """Draw a home and return (place, walk metres), or ``None`` to redraw."""
        home = self.home_point(elderly)
        if not self.cfg.stop_based or self.stop_tree is None:
            return self.home_place(home), 0
        xy = _to_metres(np.array([home]), self.lat0)[0]
        dist, k = self.stop_tree.query(xy)
        walk = float(dist) * self.cfg.walk_detour
        if walk <= self.cfg.max_walk_m:
            return self.stop_place(int(self.boarding[int(k)])), round(walk)
        if self.cfg.door_fallback:
            return self.home_place(home), 0
        return None

    def rider_origin(self, elderly: bool) -> tuple[int, int]:
        for _ in range(1000):
            got = self.boarding_point(elderly)
            if got is not None:
                return got
        msg = (f"DemandConfig.max_walk_m: no home within {self.cfg.max_walk_m} m of a stop "
               "after 1000 draws; raise max_walk_m or set door_fallback")
        raise DemandError(msg)

    def station(self) -> int | None:
        if len(self.stations) == 0:
            return None
        return self.stop_place(int(self.rng.choice(self.stations)))

    def other_destination(self) -> int:
        stops = self.boarding
        if len(stops):
            w = self.src.stop_departures[stops].astype(np.float64) + 1.0
            return self.stop_place(int(self.rng.choice(stops, p=w / w.sum())))
        if len(self.src.hospital_lonlat):
            return self.hospital_place(int(self.rng.integers(len(self.src.hospital_lonlat))))
        if len(self.src.poi_lonlat):
            return self.poi_place(int(self.rng.integers(len(self.src.poi_lonlat))))
        return self.home_place(self.home_point(elderly=False))


def _normalise(weights: FloatArray, name: str) -> FloatArray:
    w = np.clip(np.nan_to_num(np.asarray(weights, dtype=np.float64)), 0.0, None)
    total = float(w.sum())
    if total <= 0:
        msg = f"DemandSources.{name}: weights sum to zero"
        raise DemandError(msg)
    return w / total


# --------------------------------------------------------------------------- timing
def _leave_at_time(rng: np.random.Generator, cfg: DemandConfig, latest_s: int) -> int:
    """Draw a desired pickup time from the hourly profile, on a 5-minute grid."""
    hours = [h for h in sorted(HOURLY_PROFILE)
             if cfg.service_start_s <= h * 3600 < min(cfg.service_end_s, latest_s)]
    if not hours:
        return cfg.service_start_s
    w = np.array([HOURLY_PROFILE[h] for h in hours], dtype=np.float64)
    hour = int(rng.choice(hours, p=w / w.sum()))
    t = hour * 3600 + 300 * int(rng.integers(12))
    return int(min(t, latest_s))


def _booking_time(rng: np.random.Generator, cfg: DemandConfig, trip_s: int) -> tuple[int, LeadKind]:
    """Draw when a trip at ``trip_s`` is booked."""
    u = float(rng.random())
    if u < cfg.share_day_before:
        # Called the day before between 9:00 and 17:00: negative seconds.
        return int(-24 * 3600 + rng.integers(9 * 3600, 17 * 3600)), LeadKind.DAY_BEFORE
    if u < cfg.share_day_before + cfg.share_ahead:
        lead = int(rng.integers(cfg.ahead_min_s, cfg.ahead_max_s + 1))
        return trip_s - lead, LeadKind.AHEAD
    return trip_s, LeadKind.IMMEDIATE


# --------------------------------------------------------------------------- drawing
def _draw_hospital_pair(d: _Drawer, k: int) -> list[RideDemand]:
    cfg, rng = d.cfg, d.rng
    elderly = bool(rng.random() < cfg.share_65plus)
    wheelchair = bool(rng.random() < cfg.wheelchair_share)
    origin, walk = d.rider_origin(elderly)
    hospital = d.hospital_place(int(rng.integers(len(d.src.hospital_lonlat))))
    slots = (cfg.appointment_max_s - cfg.appointment_min_s) // 900
    appointment = cfg.appointment_min_s + 900 * int(rng.integers(slots + 1))
    booking, lead = _booking_time(rng, cfg, appointment - 3600)
    out_id = f"r{k:04d}"
    outbound = RideDemand(
        id=out_id, origin=origin, destination=hospital, booking_s=booking,
        requested_pickup_s=None, arrive_by_s=appointment, purpose=Purpose.HOSPITAL, lead=lead,
        wheelchair=wheelchair, age65plus=elderly, origin_walk_m=walk)
    back_s = appointment + int(rng.integers(cfg.visit_min_s, cfg.visit_max_s + 1))
    back_s = min(back_s, cfg.service_end_s - 3600)
    back_s = max(back_s, appointment + 15 * 60)
    # The return is booked with the outbound trip when that was pre-booked, otherwise
    # the rider calls when the visit ends.
    back_booking, back_lead = ((booking, lead) if lead is LeadKind.DAY_BEFORE
                               else (back_s, LeadKind.IMMEDIATE))
    back = RideDemand(
        id=f"r{k + 1:04d}", origin=hospital, destination=origin, booking_s=back_booking,
        requested_pickup_s=back_s, arrive_by_s=None, purpose=Purpose.HOSPITAL_RETURN,
        lead=back_lead, wheelchair=wheelchair, age65plus=elderly, return_of=out_id,
        destination_walk_m=walk)
    return [outbound, back]


def _draw_leave_at(d: _Drawer, k: int, purpose: Purpose) -> RideDemand:
    cfg, rng = d.cfg, d.rng
    elderly = bool(rng.random() < cfg.share_65plus)
    wheelchair = bool(rng.random() < cfg.wheelchair_share)
    home, walk = d.rider_origin(elderly)
    target = d.station() if purpose is Purpose.STATION else None
    if target is None:
        purpose = Purpose.OTHER
        target = d.other_destination()
    if target == home:
        target = d.other_destination()
    pickup = _leave_at_time(rng, cfg, cfg.service_end_s - 3600)
    booking, lead = _booking_time(rng, cfg, pickup)
    # Half of the trips go home from the destination (afternoon-weighted by the profile).
    outbound = bool(rng.random() < 0.5)
    origin, destination = (home, target) if outbound else (target, home)
    return RideDemand(
        id=f"r{k:04d}", origin=origin, destination=destination, booking_s=booking,
        requested_pickup_s=pickup, arrive_by_s=None, purpose=purpose, lead=lead,
        wheelchair=wheelchair, age65plus=elderly, origin_walk_m=walk if outbound else 0,
        destination_walk_m=0 if outbound else walk)


def _draw_rides(d: _Drawer) -> list[RideDemand]:
    cfg, rng = d.cfg, d.rng
    n_hospital_pairs = (min(round(cfg.n_requests * cfg.share_hospital / 2), cfg.n_requests // 2)
                        if len(d.src.hospital_lonlat) else 0)
    n_station = round(cfg.n_requests * cfg.share_station)
    n_station = min(n_station, cfg.n_requests - 2 * n_hospital_pairs)
    rides: list[RideDemand] = []
    for _ in range(n_hospital_pairs):
        rides.extend(_draw_hospital_pair(d, len(rides)))
    for _ in range(n_station):
        rides.append(_draw_leave_at(d, len(rides), Purpose.STATION))
    while len(rides) < cfg.n_requests:
        rides.append(_draw_leave_at(d, len(rides), Purpose.OTHER))
    del rng
    return rides


def _draw_deliveries(d: _Drawer) -> list[DeliveryDemand]:
    cfg, rng = d.cfg, d.rng
    if cfg.n_deliveries == 0:
        return []
    depot_xy = _to_metres(np.array([d.src.depot_lonlat]), d.lat0)
    use_hospitals = len(d.src.hospital_lonlat) > 0
    candidates = d.src.hospital_lonlat if use_hospitals else d.src.poi_lonlat
    if len(candidates) == 0:
        msg = (f"DemandConfig.n_deliveries: {cfg.n_deliveries} deliveries need a shop, but the "
               "region has no hospital or other POI to stand in for one")
        raise DemandError(msg)
    nearest = np.argsort(np.hypot(*(_to_metres(candidates, d.lat0) - depot_xy).T),
                         kind="stable")
    place = d.hospital_place if use_hospitals else d.poi_place
    shops = [place(int(h), LocationKind.PHARMACY) for h in nearest[: cfg.n_pharmacies]]
    latest_start = cfg.service_end_s - cfg.delivery_window_s
    out: list[DeliveryDemand] = []
    for k in range(cfg.n_deliveries):
        home = d.home_place(d.home_point(elderly=True))
        start = int(rng.integers(cfg.service_start_s, max(latest_start, cfg.service_start_s) + 1))
        start -= start % 900
        booking = start - int(rng.integers(cfg.delivery_lead_min_s,
                                           cfg.delivery_lead_min_s + 4 * 3600))
        if booking < cfg.service_start_s:
            # Too early for the shop's opening hours: ordered the day before.
            booking = -24 * 3600 + int(rng.integers(9 * 3600, 17 * 3600))
        out.append(DeliveryDemand(
            id=f"d{k:04d}", pickup=shops[k % len(shops)], dropoff=home, booking_s=booking,
            window_start_s=start, window_end_s=start + cfg.delivery_window_s,
            parcels=int(rng.integers(1, cfg.max_parcels + 1))))
    return out


def generate_day(sources: DemandSources, config: DemandConfig | None = None) -> DemandDay:
    """Draw one service day of rides and deliveries.

    Parameters
    ----------
    sources
        Population, stops, hospitals and depot (see :func:`sources_from_region`).
    config
        Parameters; the defaults are the demo day of ``SCENARIOS.md``.

    Returns
    -------
    DemandDay
        Rides and deliveries sorted by booking time (ties by id), and the places they
        use, the depot first.

    Raises
    ------
    DemandError
        When the sources cannot give the requested demand (e.g. no home near a stop).
    """
    cfg = config or DemandConfig()
    rng = np.random.default_rng(cfg.seed)
    d = _Drawer(sources, cfg, rng)
    rides = sorted(_draw_rides(d), key=lambda r: (r.booking_s, r.id))
    deliveries = sorted(_draw_deliveries(d), key=lambda x: (x.booking_s, x.id))
    notes = []
    if deliveries and len(sources.hospital_lonlat):
        notes.append("Deliveries start at hospitals standing in for pharmacies: the data has "
                     "pharmacy addresses without coordinates.")
    elif deliveries:
        notes.append("Deliveries start at the POIs nearest the depot, standing in for shops: "
                     "the region has no hospital or pharmacy with coordinates.")
    if not d.use_cells:
        notes.append(f"Demand placed without a census mesh: {sources.placement.origins}.")
    if cfg.n_requests and not len(sources.hospital_lonlat) and cfg.share_hospital > 0:
        notes.append("The region has no hospital POI: hospital trips are drawn as other trips.")
    if cfg.stop_based:
        n_door = sum(1 for r in rides
                     if d.builder.places[r.origin].kind is LocationKind.HOME
                     or d.builder.places[r.destination].kind is LocationKind.HOME)
        if n_door:
            notes.append(f"{n_door} rides have no stop within {cfg.max_walk_m} m of home and "
                         "are served door to door.")
    logger.info("generated %d rides and %d deliveries on %d places",
                len(rides), len(deliveries), len(d.builder.places))
    return DemandDay(config=cfg, places=tuple(d.builder.places), depot=d.depot,
                     rides=tuple(rides), deliveries=tuple(deliveries), notes=tuple(notes),
                     placement=sources.placement)


def demand_summary(day: DemandDay) -> dict[str, Any]:
    """Return counts of the day by purpose, lead time and kind, for reports."""
    by_purpose: dict[str, int] = {}
    by_lead: dict[str, int] = {}
    for r in day.rides:
        by_purpose[str(r.purpose)] = by_purpose.get(str(r.purpose), 0) + 1
        by_lead[str(r.lead)] = by_lead.get(str(r.lead), 0) + 1
    return {
        "rides": len(day.rides),
        "deliveries": len(day.deliveries),
        "places": len(day.places),
        "rides_by_purpose": by_purpose,
        "rides_by_lead": by_lead,
        "wheelchair_rides": sum(1 for r in day.rides if r.wheelchair),
        "passengers": sum(r.passengers for r in day.rides),
        "placement": day.placement.to_dict(),
        "riders_65plus_share": (sum(1 for r in day.rides if r.age65plus) / len(day.rides)
                                if day.rides else 0.0),
        "notes": list(day.notes),
    }


def _names(names: Sequence[object]) -> tuple[str, ...]:
    """Return names as strings (missing names become empty strings)."""
    return tuple("" if n is None or (isinstance(n, float) and math.isnan(n)) else str(n)
                 for n in names)


#: GTFS feeds of the built-in region that are rail or tram (their stops are stations).
#: The region's stop table has no route types, so this is named per region.
KUMAMOTO_STATION_FEEDS: frozenset[str] = frozenset({"kumamotoshiden", "kumamotodentetsu"})


def _clip_cells(region: Region) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return cell bounds clipped to the road data's bounds, with population scaled by the
    share of each cell's area kept (people are assumed spread evenly inside a cell)."""
    pop = region.population
    b = np.asarray(pop.geometry.bounds.to_numpy(), dtype=np.float64).reshape(-1, 4)
    x0, y0, x1, y1 = region.bounds
    c = np.column_stack([np.maximum(b[:, 0], x0), np.maximum(b[:, 1], y0),
                         np.minimum(b[:, 2], x1), np.minimum(b[:, 3], y1)])
    full = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    kept = np.clip(c[:, 2] - c[:, 0], 0, None) * np.clip(c[:, 3] - c[:, 1], 0, None)
    share = np.divide(kept, full, out=np.zeros_like(kept), where=full > 0)
    total = pop["total"].to_numpy(dtype=np.float64) * share
    old = pop["age65plus"].to_numpy(dtype=np.float64) * share
    keep = (share > 0) & (total > 0)
    return c[keep], total[keep], old[keep]


#: Roads faster than this (m/s, 60 km/h) get no homes when demand follows the roads.
HOME_ROAD_MAX_MPS = 60 / 3.6


def road_home_points(region: Region) -> tuple[FloatArray, FloatArray]:
    """Return candidate homes along the drive graph and their weights.

    One point per road segment (each two-way road once), at the midpoint of its end
    nodes, weighted by the segment's length; segments faster than
    :data:`HOME_ROAD_MAX_MPS` (arterials, highways) and of zero length are left out
    unless nothing else is left.
    """
    road = region.road
    e = np.arange(len(road.reverse))
    once = (road.reverse < 0) | (e < road.reverse)
    length = road.length_m.astype(np.float64)
    speed = np.divide(length, road.travel_s, out=np.zeros_like(length),
                      where=road.travel_s > 0)
    keep = once & (length > 0) & (speed <= HOME_ROAD_MAX_MPS)
    if not keep.any():
        keep = once & (length > 0)
    tail, head = road.tail[keep], road.head[keep]
    lonlat = np.column_stack([(road.lon[tail] + road.lon[head]) / 2,
                              (road.lat[tail] + road.lat[head]) / 2])
    return lonlat, length[keep]


def _region_stops(region: Region) -> Any:
    stops = region.stops
    if len(stops) == 0:
        return stops
    stops = stops[stops["in_area"].astype(bool)]
    if (stops["source"] == "gtfs").any():
        stops = stops[stops["source"] == "gtfs"]
    return stops.drop_duplicates(subset=["lon", "lat"]).reset_index(drop=True)


def _region_pois(region: Region) -> tuple[Any, Any]:
    """Return (hospitals, other POIs) inside the road data's bounds, snappable to it."""
    from maps.snap import snap_or_mask

    pois = region.pois
    if len(pois) == 0:
        return pois, pois
    x0, y0, x1, y1 = region.bounds
    inside = pois[pois["lon"].between(x0, x1) & pois["lat"].between(y0, y1)]
    if len(inside):
        _, ok = snap_or_mask(region.road, inside[["lon", "lat"]].to_numpy(dtype=np.float64))
        inside = inside[ok]
    hosp = inside[inside["kind"] == "hospital"]
    return hosp, inside[inside["kind"] != "hospital"]


def _placement(has_cells: bool, stops: int, hospitals: int, pois: int) -> DemandPlacement:
    if has_cells and stops and hospitals:
        return MESH_PLACEMENT
    origins = (MESH_PLACEMENT.origins if has_cells else
               "road network: homes at road-segment midpoints weighted by length (roads "
               "up to 60 km/h)")
    dest = []
    if hospitals:
        dest.append(f"{hospitals} hospitals (appointments)")
    if stops:
        dest.append(f"{stops} transit stops by departures")
    elif pois:
        dest.append(f"{pois} POIs (no transit stops)")
    if not dest or (not stops and not pois):
        dest.append("road points (no transit stops or other POIs)")
    return DemandPlacement(origins=origins, destinations=", ".join(dest))


def sources_from_region(
    region: Region,
    *,
    depot_lonlat: tuple[float, float] | None = None,
    station_feeds: frozenset[str] = KUMAMOTO_STATION_FEEDS,
    max_home_snap_m: float = 300.0,
) -> DemandSources:
    """Build the generator's inputs from a region.

    Parameters
    ----------
    region
        A :class:`maps.region.Region` (``population``, ``stops``, ``pois``, ``road``).
        Without a census mesh, homes follow the road network (:func:`road_home_points`);
        without hospitals there are no hospital trips; without stops other trips go to
        the POIs (or to road points).
    depot_lonlat
        The depot; by default the in-area stop nearest the population-weighted centre
        (an assumption: the data holds no depot or garage), or the candidate home
        nearest that centre when the region has no stop.
    station_feeds
        Feeds whose stops are rail/tram stations.
    max_home_snap_m
        Homes farther than this from the drive graph are redrawn.
    """
    from maps.snap import snap_or_mask

    has_cells = len(region.population) > 0
    bounds, total, old = (_clip_cells(region) if has_cells
                          else (np.zeros((0, 4)), np.zeros(0), np.zeros(0)))
    has_cells = bool(len(bounds)) and float(total.sum()) > 0
    homes, weights = (np.zeros((0, 2)), np.zeros(0)) if has_cells else road_home_points(region)
    stops = _region_stops(region)
    stop_ll = (stops[["lon", "lat"]].to_numpy(dtype=np.float64) if len(stops)
               else np.zeros((0, 2)))
    hosp, other = _region_pois(region)
    index = region.edge_index()

    def home_ok(points: FloatArray) -> BoolArray:
        return snap_or_mask(index, points, max_distance_m=max_home_snap_m)[1]

    if depot_lonlat is None:
        if has_cells:
            centre = (bounds[:, :2] + bounds[:, 2:]) / 2
            mean = (centre * total[:, None]).sum(axis=0) / total.sum()
        else:
            mean = (homes * weights[:, None]).sum(axis=0) / weights.sum()
        pool = stop_ll if len(stop_ll) else homes
        k = int(np.argmin(np.hypot(*(pool - mean).T)))
        depot_lonlat = (float(pool[k, 0]), float(pool[k, 1]))
    return DemandSources(
        cell_bounds=bounds, cell_total=total, cell_65plus=old, stop_lonlat=stop_ll,
        stop_names=_names(stops["name"].tolist()) if len(stops) else (),
        stop_is_station=(stops["feed"].isin(station_feeds).to_numpy(dtype=bool) if len(stops)
                         else np.zeros(0, dtype=bool)),
        stop_departures=(stops["departures_weekday"].to_numpy(dtype=np.float64) if len(stops)
                         else np.zeros(0)),
        hospital_lonlat=(hosp[["lon", "lat"]].to_numpy(dtype=np.float64) if len(hosp)
                         else np.zeros((0, 2))),
        hospital_names=_names(hosp["name"].tolist()) if len(hosp) else (),
        depot_lonlat=depot_lonlat, home_ok=home_ok if has_cells else None,
        home_lonlat=homes, home_weight=weights,
        poi_lonlat=(other[["lon", "lat"]].to_numpy(dtype=np.float64) if len(other)
                    else np.zeros((0, 2))),
        poi_names=_names(other["name"].tolist()) if len(other) else (),
        placement=_placement(has_cells, len(stops), len(hosp), len(other)))


def sources_within(sources: DemandSources,
                   inside: Callable[[FloatArray], BoolArray]) -> DemandSources:
    """Return ``sources`` kept to where ``inside`` holds (e.g. a service area).

    Census cells are kept by their centre and homes are redrawn until ``inside``; stops,
    hospitals and other POIs outside are dropped; the depot moves to the kept stop
    nearest the kept population's centre (the depot stays when no stop is kept).

    Raises
    ------
    DemandError
        When no census cell (or candidate home) lies inside.
    """
    s = sources
    cells = s.cell_bounds
    keep_c = inside((cells[:, :2] + cells[:, 2:]) / 2) if len(cells) else np.zeros(0, bool)
    keep_h = inside(s.home_lonlat) if len(s.home_lonlat) else np.zeros(0, bool)
    if not keep_c.any() and not keep_h.any():
        msg = "DemandSources: no census cell or candidate home lies in the area"
        raise DemandError(msg)
    base_ok = s.home_ok

    def home_ok(points: FloatArray) -> BoolArray:
        ok = inside(points)
        return ok & base_ok(points) if base_ok is not None else ok

    def kept(lonlat: FloatArray) -> BoolArray:
        return inside(lonlat) if len(lonlat) else np.zeros(0, bool)

    ks, kh, kp = kept(s.stop_lonlat), kept(s.hospital_lonlat), kept(s.poi_lonlat)
    depot = s.depot_lonlat
    if ks.any() and keep_c.any():
        centre = ((cells[keep_c, :2] + cells[keep_c, 2:]) / 2)
        w = s.cell_total[keep_c]
        mean = (centre * w[:, None]).sum(axis=0) / max(float(w.sum()), 1e-9)
        pool = s.stop_lonlat[ks]
        k = int(np.argmin(np.hypot(*(pool - mean).T)))
        depot = (float(pool[k, 0]), float(pool[k, 1]))
    return DemandSources(
        cell_bounds=cells[keep_c], cell_total=s.cell_total[keep_c],
        cell_65plus=s.cell_65plus[keep_c], stop_lonlat=s.stop_lonlat[ks],
        stop_names=tuple(n for n, k in zip(s.stop_names, ks, strict=True) if k),
        stop_is_station=s.stop_is_station[ks], stop_departures=s.stop_departures[ks],
        hospital_lonlat=s.hospital_lonlat[kh],
        hospital_names=tuple(n for n, k in zip(s.hospital_names, kh, strict=True) if k),
        depot_lonlat=depot, home_ok=home_ok if len(cells) else None,
        home_lonlat=s.home_lonlat[keep_h], home_weight=s.home_weight[keep_h],
        poi_lonlat=s.poi_lonlat[kp],
        poi_names=tuple(n for n, k in zip(s.poi_names, kp, strict=True) if k),
        placement=s.placement)


def travel_table_for_day(region: Region, day: DemandDay) -> TravelTable:
    """Compute the road travel table between the day's places (ordered like them).

    Raises
    ------
    maps.errors.UnreachableLocationError
        If a place lies too far from the drive graph.
    """
    from dispatch.network import table_from_points

    names = tuple(f"{p.kind}:{p.name}" for p in day.places)
    return table_from_points(region.road, day.lonlat, names=names)


# --------------------------------------------------------------------------- trip records
def trips_on_region(trips: Sequence[TripRow], region: Region, *,
                    max_snap_m: float | None = None) -> tuple[list[TripRow], list[BadRow]]:
    """Split trip records into those whose pickup and drop-off lie on the region's roads
    and bad rows for the others (and for returns whose outbound was dropped).

    Parameters
    ----------
    trips
        Valid rows of :func:`dispatch.trips.read_trips`.
    region
        The region whose drive graph the trips must lie on.
    max_snap_m
        Farthest a point may lie from a drivable road (default: the snapping default
        of :mod:`maps.snap`, as the travel table uses).
    """
    from dispatch.trips import BadRow
    from maps.snap import DEFAULT_MAX_SNAP_M, snap_or_mask

    limit = DEFAULT_MAX_SNAP_M if max_snap_m is None else max_snap_m
    if not trips:
        return [], []
    pts = np.array([p for t in trips for p in (t.pickup_lonlat, t.dropoff_lonlat)],
                   dtype=np.float64)
    _, ok = snap_or_mask(region.edge_index(), pts, max_distance_m=limit)
    good: list[TripRow] = []
    bad: list[BadRow] = []
    dropped: set[str] = set()
    for k, t in enumerate(trips):
        for j, end in ((0, "pickup"), (1, "dropoff")):
            if not ok[2 * k + j]:
                bad.append(BadRow(line=t.line, field=f"{end}_lon/{end}_lat",
                                  problem=f"more than {limit:g} m from the roads of region "
                                          f"{region.name}"))
                dropped.add(t.id)
                break
    for t in trips:
        if t.id in dropped:
            continue
        if t.return_of is not None and t.return_of in dropped:
            bad.append(BadRow(line=t.line, field="return_of",
                              problem=f"outbound trip {t.return_of!r} is off the map"))
            continue
        good.append(t)
    return good, sorted(bad, key=lambda b: b.line)


def _lead(t: TripRow, service_start_s: int) -> LeadKind:
    if t.request_s < min(0, service_start_s):
        return LeadKind.DAY_BEFORE
    if t.request_s < t.trip_s:
        return LeadKind.AHEAD
    return LeadKind.IMMEDIATE


def trip_service_hours(trips: Sequence[TripRow]) -> tuple[int, int]:
    """Return default service hours for trip records: 8:00-17:00, widened to whole hours
    so that every trip time lies inside (the end at least an hour after the last one)."""
    start, end = 8 * 3600, 17 * 3600
    if trips:
        first = min(t.trip_s for t in trips)
        last = max(t.trip_s for t in trips)
        start = min(start, first - first % 3600)
        end = max(end, min(24 * 3600, (last // 3600 + 2) * 3600))
    return start, end


def day_from_trips(trips: Sequence[TripRow], *, depot_lonlat: tuple[float, float],
                   service_start_s: int | None = None, service_end_s: int | None = None,
                   source: str = "trip records") -> DemandDay:
    """Turn trip records into a day of door-to-door rides.

    Parameters
    ----------
    trips
        Valid rows (see :func:`dispatch.trips.read_trips` and :func:`trips_on_region`).
    depot_lonlat
        The vehicles' depot.
    service_start_s, service_end_s
        Service hours; by default :func:`trip_service_hours`.
    source
        Where the trips come from (the file name), for the placement note.

    Returns
    -------
    DemandDay
        Rides sorted by booking time (ties by file order); places: the depot first, then
        each distinct pickup or drop-off point.

    Raises
    ------
    DemandError
        If the service hours are invalid or a return ride names no outbound ride.
    """
    start, end = trip_service_hours(trips)
    start = start if service_start_s is None else service_start_s
    end = end if service_end_s is None else service_end_s
    cfg = DemandConfig(n_requests=len(trips), n_deliveries=0, service_start_s=start,
                       service_end_s=end)
    b = _Builder()
    depot = b.add(("depot", 0), Place(lon=depot_lonlat[0], lat=depot_lonlat[1], name="depot",
                                      kind=LocationKind.DEPOT))
    points: dict[tuple[float, float], int] = {}

    def place(lonlat: tuple[float, float], label: str) -> int:
        if lonlat not in points:
            points[lonlat] = b.add(("point", len(points)), Place(
                lon=lonlat[0], lat=lonlat[1], name=label, kind=LocationKind.POINT))
        return points[lonlat]

    rides = []
    for t in trips:
        origin = place(t.pickup_lonlat, f"{t.id} pickup")
        dest = place(t.dropoff_lonlat, f"{t.id} drop-off")
        rides.append(RideDemand(
            id=t.id, origin=origin, destination=dest, booking_s=t.request_s,
            requested_pickup_s=t.earliest_pickup_s, arrive_by_s=t.arrive_by_s,
            purpose=Purpose.RETURN if t.return_of else Purpose.OTHER, lead=_lead(t, start),
            wheelchair=t.wheelchair, return_of=t.return_of, passengers=t.passengers))
    order = {t.id: k for k, t in enumerate(trips)}
    rides.sort(key=lambda r: (r.booking_s, order[r.id]))
    notes = []
    outside = sum(1 for t in trips if not start <= t.trip_s <= end)
    if outside:
        notes.append(f"{outside} trips ask for times outside the service hours "
                     f"{start // 3600:02d}:{start % 3600 // 60:02d}-"
                     f"{end // 3600:02d}:{end % 3600 // 60:02d}.")
    placement = DemandPlacement(
        origins=f"trip records ({source}): each pickup at its own coordinates, door to door",
        destinations=f"trip records ({source}): each drop-off at its own coordinates")
    return DemandDay(config=cfg, places=tuple(b.places), depot=depot, rides=tuple(rides),
                     deliveries=(), notes=tuple(notes), placement=placement)
