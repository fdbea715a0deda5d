"""Refusal rules of a service profile: a pure check of one booking before insertion.

:func:`check_booking` judges a :class:`TripQuery` (where from and to, when, who) against
a :class:`dispatch.profile.ServiceProfile` at the booking time and returns ``None`` or
the first :class:`Refusal`, naming the rule (:data:`RULES`). The rules are checked from
the cheapest to the dearest; the fixed-route rule searches the GTFS timetable through a
:class:`FixedRouteIndex` built once per profile (polygons are prepared and stops held in
arrays, so a check costs well under a millisecond).

:func:`trip_from_request` turns an engine :class:`~dispatch.engine.types.RideRequest`
into a query (its first origin and destination option, located in the travel table);
:func:`class_limits` gives the per-class changes to the engine's
:class:`~dispatch.engine.types.DispatchConfig` (max wait, max ride, boarding time).
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from dispatch.errors import ProfileError
from dispatch.profile import (
    EARTH_RADIUS_M,
    FixedRouteRule,
    RiderClass,
    ServiceProfile,
    metres_between,
)

if TYPE_CHECKING:
    from dispatch.engine.types import DispatchConfig, RideRequest
    from dispatch.network import TravelTable

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Every rule a refusal may name, in the order they are checked.
RULES = (
    "class_not_allowed", "not_member", "too_many_companions", "not_a_service_day",
    "outside_service_hours", "too_far_ahead", "after_booking_cutoff", "too_short_notice",
    "outside_service_area", "forbidden_od", "not_a_boarding_point", "served_by_fixed_route",
)

#: Zone name of an allowed destination outside every zone.
OUTSIDE = "outside"


@dataclass(frozen=True, slots=True, kw_only=True)
class TripQuery:
    """A booking in the profile's terms.

    ``wanted_s`` is the wanted pickup time (seconds since the service day's midnight),
    or with ``arrive_by`` the wanted arrival. ``origin``/``destination`` are (lon, lat).
    """

    origin: tuple[float, float]
    destination: tuple[float, float]
    service_date: date
    wanted_s: int
    arrive_by: bool = False
    rider_class: str | None = None
    member_id: str | None = None
    companions: int = 0
    wheelchair: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """Why the profile refuses a booking: the rule (one of :data:`RULES`) and a detail."""

    rule: str
    detail: str


def _clock(t: int) -> str:
    return f"{t // 3600:02d}:{t % 3600 // 60:02d}"


# ------------------------------------------------------------------------------ fixed route
@dataclass(frozen=True, slots=True, kw_only=True)
class BusOption:
    """A fixed-route bus that serves a trip."""

    feed: str
    route: str
    board_stop: str
    board_s: int
    alight_stop: str
    alight_s: int

    def describe(self) -> str:
        """Return one line: route, where and when it leaves and arrives."""
        return (f"{self.route} ({self.feed}) leaves {self.board_stop} at "
                f"{_clock(self.board_s)}, arrives {self.alight_stop} at "
                f"{_clock(self.alight_s)}")


def _gtfs_seconds(col: pd.Series) -> IntArray:
    parts = col.str.split(":", expand=True)
    if parts.shape[1] != 3:
        msg = "times must be HH:MM:SS"
        raise ValueError(msg)
    h, m, s = (pd.to_numeric(parts[i], errors="raise") for i in range(3))
    return (h * 3600 + m * 60 + s).to_numpy(dtype=np.int64)


class FixedRouteIndex:
    """The timetables of GTFS feeds, indexed for "is this trip served by a bus?".

    Stop times are held per stop sorted by time; a query looks at the stops within walk
    of the origin, their boardings in the wait window, and whether the same vehicle trip
    calls at a stop within walk of the destination later.

    Service dates: a date the feed's calendar covers uses that date's services; a date
    outside it uses the covered date of the same weekday with the most trips (the
    timetable of a typical such day), as a timetable repeats by weekday.
    """

    def __init__(self, rule: FixedRouteRule) -> None:
        self.rule = rule
        names: list[str] = []
        feeds: list[str] = []
        lonlat: list[FloatArray] = []
        rows: list[pd.DataFrame] = []
        self._route_names: list[str] = []
        self._days: list[dict[date, set[str]]] = []
        self._by_weekday: list[dict[int, date]] = []
        trip_services: list[str] = []
        n_stops = 0
        for fi, path in enumerate(rule.feeds):
            st, tr, times, routes, active = self._read(path)
            feed = path.name.removesuffix(".zip").removesuffix(".gtfs")
            sid = {s: n_stops + i for i, s in enumerate(st["stop_id"])}
            names += list(st.get("stop_name", st["stop_id"]))
            feeds += [feed] * len(st)
            lonlat.append(np.column_stack([st["stop_lon"].astype(float),
                                           st["stop_lat"].astype(float)]))
            n_stops += len(st)
            rname = {r.route_id: (r.route_short_name or r.route_long_name or r.route_id)
                     for r in routes.itertuples(index=False)} if len(routes) else {}
            t0 = len(self._route_names)
            tid = {t: t0 + i for i, t in enumerate(tr["trip_id"])}
            self._route_names += [str(rname.get(r, r)) for r in tr["route_id"]]
            trip_services += [f"{fi}:{x}" for x in tr["service_id"]]
            times = times[times["trip_id"].isin(tid) & times["stop_id"].isin(sid)]
            dep = _gtfs_seconds(times["departure_time"].where(times["departure_time"] != "",
                                                              times["arrival_time"]))
            arr = _gtfs_seconds(times["arrival_time"].where(times["arrival_time"] != "",
                                                            times["departure_time"]))
            pick = (times["pickup_type"] != "1").to_numpy() if "pickup_type" in times \
                else np.ones(len(times), dtype=bool)
            drop = (times["drop_off_type"] != "1").to_numpy() if "drop_off_type" in times \
                else np.ones(len(times), dtype=bool)
            rows.append(pd.DataFrame({
                "stop": times["stop_id"].map(sid).to_numpy(dtype=np.int64),
                "trip": times["trip_id"].map(tid).to_numpy(dtype=np.int64),
                "seq": times["stop_sequence"].astype(int).to_numpy(dtype=np.int64),
                "dep": dep, "arr": arr, "board": pick, "alight": drop}))
            self._days.append(active)
            counts: dict[str, int] = tr.groupby("service_id").size().to_dict()
            best: dict[int, tuple[int, date]] = {}
            for day, services in active.items():
                c = sum(counts.get(s, 0) for s in services)
                wd = day.weekday()
                if wd not in best or c > best[wd][0]:
                    best[wd] = (c, day)
            self._by_weekday.append({wd: d for wd, (_, d) in best.items()})
        # services as integer codes ("feed:service_id"), so a date's mask is one lookup
        self._service_code = {k: i for i, k in enumerate(dict.fromkeys(trip_services))}
        self._trip_service = np.array([self._service_code[k] for k in trip_services],
                                      dtype=np.int64)
        self.stop_names = names
        self.stop_feeds = feeds
        self.stop_lonlat = (np.vstack(lonlat) if lonlat else np.zeros((0, 2)))
        allrows = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
            {k: np.zeros(0, dtype=np.int64) for k in ("stop", "trip", "seq", "dep", "arr")})
        allrows = allrows.sort_values(["stop", "dep"], kind="stable")
        self._stop = allrows["stop"].to_numpy(dtype=np.int64)
        self._trip = allrows["trip"].to_numpy(dtype=np.int64)
        self._seq = allrows["seq"].to_numpy(dtype=np.int64)
        self._dep = allrows["dep"].to_numpy(dtype=np.int64)
        self._arr = allrows["arr"].to_numpy(dtype=np.int64)
        self._board = allrows["board"].to_numpy(dtype=bool)
        self._alight = allrows["alight"].to_numpy(dtype=bool)
        self._start = np.searchsorted(self._stop, np.arange(n_stops + 1))
        self._active_cache: dict[date, npt.NDArray[np.bool_]] = {}
        lat0 = float(self.stop_lonlat[:, 1].mean()) if n_stops else 0.0
        self._kx = math.pi / 180.0 * EARTH_RADIUS_M * math.cos(math.radians(lat0))
        self._ky = math.pi / 180.0 * EARTH_RADIUS_M

    @staticmethod
    def _read(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame,
                                   dict[date, set[str]]]:
        from maps.errors import MapDataError
        from maps.region import _active_services, _read_gtfs_table

        try:
            with zipfile.ZipFile(path) as zf:
                stops = _read_gtfs_table(zf, "stops.txt", path, True)
                trips = _read_gtfs_table(zf, "trips.txt", path, True)
                times = _read_gtfs_table(zf, "stop_times.txt", path, True)
                routes = _read_gtfs_table(zf, "routes.txt", path, False)
                cal = _read_gtfs_table(zf, "calendar.txt", path, False)
                dates = _read_gtfs_table(zf, "calendar_dates.txt", path, False)
        except (OSError, zipfile.BadZipFile, MapDataError) as exc:
            msg = f"{path}: cannot read the GTFS feed for the fixed-route rule ({exc})"
            raise ProfileError(msg) from exc
        if "location_type" in stops:
            stops = stops[stops["location_type"].isin(["", "0"])]
        for col in ("route_short_name", "route_long_name"):
            if len(routes) and col not in routes:
                routes[col] = ""
        return stops, trips, times, routes, _active_services(cal, dates)

    def _active(self, day: date) -> npt.NDArray[np.bool_]:
        """Return, per trip, whether it runs on ``day``."""
        got = self._active_cache.get(day)
        if got is not None:
            return got
        running = np.zeros(len(self._service_code) + 1, dtype=bool)
        for fi, days in enumerate(self._days):
            use = day if day in days else self._by_weekday[fi].get(day.weekday())
            if use is None:
                continue
            for sid in days[use]:
                code = self._service_code.get(f"{fi}:{sid}")
                if code is not None:
                    running[code] = True
        out = running[self._trip_service] if len(self._trip_service) else np.zeros(0, bool)
        self._active_cache[day] = out
        return out

    def near(self, lon: float, lat: float) -> tuple[IntArray, FloatArray]:
        """Return the stops within the rule's walk of a point, and their distances (m)."""
        dx = (self.stop_lonlat[:, 0] - lon) * self._kx
        dy = (self.stop_lonlat[:, 1] - lat) * self._ky
        d = np.hypot(dx, dy)
        idx = np.flatnonzero(d <= self.rule.max_walk_m)
        return idx, d[idx]

    def serving(self, origin: tuple[float, float], destination: tuple[float, float],
                day: date, wanted_s: int, *, arrive_by: bool = False) -> BusOption | None:
        """Return the first bus that serves the trip within the rule's walk and wait."""
        r = self.rule
        o_idx, o_d = self.near(*origin)
        if not len(o_idx):
            return None
        d_idx, d_d = self.near(*destination)
        if not len(d_idx):
            return None
        active = self._active(day)
        walk_o = o_d / r.walk_speed_mps
        walk_d = d_d / r.walk_speed_mps
        # alighting rows of trips running that day, at destination stops, with the walk
        counts = self._start[d_idx + 1] - self._start[d_idx]
        a_rows = np.concatenate([np.arange(self._start[s], self._start[s + 1])
                                 for s in d_idx.tolist()])
        a_walk = np.repeat(walk_d, counts)
        keep = self._alight[a_rows] & active[self._trip[a_rows]]
        a_rows, a_walk = a_rows[keep], a_walk[keep]
        if not len(a_rows):
            return None
        best: BusOption | None = None
        for s, w in zip(o_idx.tolist(), walk_o.tolist(), strict=True):
            lo, hi = int(self._start[s]), int(self._start[s + 1])
            if arrive_by:
                rows = np.arange(lo, hi)
            else:
                t0 = wanted_s + w
                a = lo + int(np.searchsorted(self._dep[lo:hi], t0, side="left"))
                b = lo + int(np.searchsorted(self._dep[lo:hi], t0 + r.max_wait_s,
                                             side="right"))
                rows = np.arange(a, b)
            rows = rows[self._board[rows] & active[self._trip[rows]]]
            if not len(rows):
                continue
            found = self._match(rows, a_rows, a_walk, wanted_s, arrive_by)
            if found is not None and (best is None or found.board_s < best.board_s):
                best = found
        return best

    def _match(self, rows: IntArray, a_rows: IntArray, a_walk: FloatArray, wanted_s: int,
               arrive_by: bool) -> BusOption | None:
        """Return the earliest-arriving trip boarded at ``rows`` and left at ``a_rows``."""
        trips = self._trip[rows]
        hit = np.isin(self._trip[a_rows], trips)
        if not hit.any():
            return None
        board_of = {int(t): (int(q), int(i)) for t, q, i in zip(
            trips.tolist(), self._seq[rows].tolist(), rows.tolist(), strict=True)}
        best: BusOption | None = None
        for j, walk in zip(a_rows[hit].tolist(), a_walk[hit].tolist(), strict=True):
            t = int(self._trip[j])
            seq, i = board_of[t]
            if self._seq[j] <= seq:
                continue
            arr = int(self._arr[j])
            # arrive-by: at the destination in time, and not more than the wait early
            if arrive_by and not (wanted_s - self.rule.max_wait_s <= arr + walk <= wanted_s):
                continue
            if best is not None and arr >= best.alight_s:
                continue
            best = BusOption(feed=self.stop_feeds[int(self._stop[i])],
                             route=self._route_names[t],
                             board_stop=self.stop_names[int(self._stop[i])],
                             board_s=int(self._dep[i]),
                             alight_stop=self.stop_names[int(self._stop[j])], alight_s=arr)
        return best


def fixed_route_index(profile: ServiceProfile) -> FixedRouteIndex | None:
    """Return the profile's fixed-route index (built on first use, then kept)."""
    rule = profile.od.fixed_route
    if rule is None:
        return None
    idx: FixedRouteIndex | None = profile._cache.get("fixed_route")
    if idx is None:
        idx = FixedRouteIndex(rule)
        profile._cache["fixed_route"] = idx
    return idx


# ------------------------------------------------------------------------------ the check
def _where(profile: ServiceProfile, lon: float, lat: float) -> tuple[str | None, str]:
    """Return the zone of a point (``OUTSIDE`` at an allowed destination) and a label."""
    z = profile.area.zone_of(lon, lat)
    if z is not None:
        return z, z
    d = profile.area.destination_of(lon, lat)
    if d is not None:
        return OUTSIDE, d.name
    return None, f"({lon:.5f}, {lat:.5f})"


def _at_boarding_point(profile: ServiceProfile, lon: float, lat: float) -> bool:
    b = profile.boarding
    near = b.nearest(lon, lat)
    if near is not None and near[1] <= b.snap_m:
        return True
    return profile.area.destination_of(lon, lat) is not None


def check_booking(profile: ServiceProfile, trip: TripQuery, now: datetime, *,
                  fixed_routes: FixedRouteIndex | None = None,
                  skip: Sequence[str] = ()) -> Refusal | None:
    """Return the first rule of ``profile`` that refuses ``trip`` booked at ``now``.

    Parameters
    ----------
    profile
        The service rules.
    trip
        The booking.
    now
        When the rider books (naive local time of the service).
    fixed_routes
        The index for the fixed-route rule; default: the profile's own (built once).
    skip
        Rules not to check (e.g. ``"served_by_fixed_route"`` for a what-if).

    Returns
    -------
    Refusal or None
        ``None`` when every rule accepts the trip.
    """
    cls = profile.rider_class(trip.rider_class)
    if cls is None or not cls.allowed:
        name = trip.rider_class or profile.default_class
        why = "is not a class of this service" if cls is None else "may not book"
        return Refusal(rule="class_not_allowed", detail=f"rider class {name!r} {why}")
    bk = profile.booking
    if (bk.members_only or cls.needs_member) and trip.member_id not in bk.members:
        who = "no member id" if trip.member_id is None else f"member id {trip.member_id!r}"
        return Refusal(rule="not_member", detail=f"{who} is not on the member list")
    if trip.companions > cls.max_companions:
        return Refusal(rule="too_many_companions",
                       detail=f"{trip.companions} companions, class {cls.name!r} allows "
                              f"{cls.max_companions}")
    refusal = _check_time(profile, trip, now)
    if refusal is not None:
        return refusal
    (olon, olat), (dlon, dlat) = trip.origin, trip.destination
    oz, olabel = _where(profile, olon, olat)
    dz, dlabel = _where(profile, dlon, dlat)
    if oz is None or dz is None or oz == dz == OUTSIDE:
        bad = ("origin " + olabel if oz is None else "destination " + dlabel
               if dz is None else f"{olabel} to {dlabel}: neither end")
        return Refusal(rule="outside_service_area",
                       detail=f"{bad} is not in a zone of the service area")
    if profile.od.is_forbidden(oz, dz):
        return Refusal(rule="forbidden_od", detail=f"trips from zone {oz!r} to {dz!r} "
                       "are not served")
    if not profile.boarding.door_to_door and not cls.door_to_door:
        for end, (lon, lat) in (("origin", trip.origin), ("destination", trip.destination)):
            if not _at_boarding_point(profile, lon, lat):
                near = profile.boarding.nearest(lon, lat)
                hint = "" if near is None else (
                    f" (nearest: {near[0].name}, {near[1]:.0f} m)")
                return Refusal(rule="not_a_boarding_point",
                               detail=f"the {end} is not a registered boarding point{hint}")
    if ("served_by_fixed_route" not in skip and profile.od.fixed_route is not None
            and not cls.fixed_route_exempt):
        idx = fixed_routes or fixed_route_index(profile)
        assert idx is not None
        bus = idx.serving(trip.origin, trip.destination, trip.service_date, trip.wanted_s,
                          arrive_by=trip.arrive_by)
        if bus is not None:
            return Refusal(rule="served_by_fixed_route", detail=bus.describe())
    return None


def _check_time(profile: ServiceProfile, trip: TripQuery, now: datetime) -> Refusal | None:
    """The calendar, hours and booking-time rules."""
    if profile.calendar:
        cal = profile.service_calendar()
        ok, why = cal.is_service_day(trip.service_date)
        if not ok:
            check = getattr(cal, "check", None)  # the calendar's detail, when it has one
            more = getattr(check(trip.service_date), "detail", "") if check else ""
            return Refusal(rule="not_a_service_day",
                           detail=f"{trip.service_date.isoformat()}: {why or 'closed'}"
                                  + (f" ({more})" if more else ""))
        open_s, close_s = cal.hours
        if not open_s <= trip.wanted_s <= close_s:
            what = "arrival" if trip.arrive_by else "pickup"
            return Refusal(rule="outside_service_hours",
                           detail=f"{what} at {_clock(trip.wanted_s)} is outside "
                                  f"{_clock(open_s)}-{_clock(close_s)}")
    bk = profile.booking
    midnight = datetime.combine(trip.service_date, datetime.min.time())
    days = (trip.service_date - now.date()).days
    if days > bk.max_days_ahead:
        return Refusal(rule="too_far_ahead", detail=f"booked {days} days ahead, at most "
                       f"{bk.max_days_ahead}")
    if bk.day_before_by_s is not None:
        cutoff = midnight - timedelta(days=1) + timedelta(seconds=bk.day_before_by_s)
        if now > cutoff:
            return Refusal(rule="after_booking_cutoff",
                           detail=f"booking closed {cutoff:%Y-%m-%d %H:%M} (the day before "
                                  f"by {_clock(bk.day_before_by_s)})")
    # the pickup (or, arrive-by, the arrival) must be at least min_notice ahead
    lead = (midnight + timedelta(seconds=trip.wanted_s) - now).total_seconds()
    if lead < bk.min_notice_s:
        return Refusal(rule="too_short_notice",
                       detail=f"{max(lead, 0) / 60:.0f} min before the wanted time, at least "
                              f"{bk.min_notice_s // 60} min")
    return None


# ------------------------------------------------------------------------------ engine glue
def trip_from_request(request: RideRequest, table: TravelTable, service_date: date,
                      now_s: int, *, asap_lead_s: int = 0) -> TripQuery:
    """Return the query of an engine ride request (first origin/destination option).

    The wanted time is the request's arrive-by (an appointment: the rules judge the
    arrival), else the pickup window's start, else (as soon as possible) ``now_s +
    asap_lead_s`` (the soonest pickup the booking rules allow).
    """
    o = request.origin[0].location
    d = request.destination[0].location
    loc = table.locations
    if request.arrive_by is not None:
        wanted, arrive = request.arrive_by, True
    elif request.pickup_window is not None:
        wanted, arrive = request.pickup_window.earliest, False
    else:
        wanted, arrive = now_s + asap_lead_s, False
    return TripQuery(origin=(float(loc[o, 0]), float(loc[o, 1])),
                     destination=(float(loc[d, 0]), float(loc[d, 1])),
                     service_date=service_date, wanted_s=int(wanted), arrive_by=arrive,
                     rider_class=request.rider_class, member_id=request.member_id,
                     companions=request.companions, wheelchair=request.wheelchairs > 0)


def class_limits(profile: ServiceProfile, config: DispatchConfig,
                 request: RideRequest) -> DispatchConfig:
    """Return ``config`` with the limits of the request's class applied.

    Max wait caps the pickup window (``max_wait_s``, and the as-soon-as-possible wait);
    max ride caps the ride (``max_ride_cap_s``); the boarding time is the class's (else
    the profile's) per rider, plus the wheelchair boarding time for a wheelchair; no
    pickup is sooner than the booking rules' minimum notice (``min_lead_s``).
    """
    cls: RiderClass | None = profile.rider_class(request.rider_class)
    if cls is None:
        return config
    b = profile.boarding
    board = cls.boarding_s if cls.boarding_s is not None else b.boarding_s
    board += b.wheelchair_boarding_s if request.wheelchairs else 0
    changes: dict[str, Any] = {
        "pickup_service_s": board, "dropoff_service_s": board,
        "min_lead_s": max(config.min_lead_s, profile.booking.min_notice_s)}
    if cls.max_wait_s is not None:
        changes["max_wait_s"] = cls.max_wait_s
        changes["asap_wait_s"] = min(config.asap_wait_s, cls.max_wait_s)
    if cls.max_ride_s is not None:
        changes["max_ride_cap_s"] = cls.max_ride_s
    return replace(config, **changes)


def points_within(profile: ServiceProfile, lonlat: FloatArray) -> npt.NDArray[np.bool_]:
    """Return, per (lon, lat) row, whether it lies in a zone or at a named destination."""
    pts = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    out = np.zeros(len(pts), dtype=bool)
    for z in profile.area.zones:
        out |= np.asarray(shapely.intersects_xy(z.geometry, pts[:, 0], pts[:, 1]), dtype=bool)
    for d in profile.area.destinations:
        out |= metres_between(d.lon, d.lat, pts[:, 0], pts[:, 1]) <= d.radius_m
    return out


__all__ = [
    "OUTSIDE",
    "RULES",
    "BusOption",
    "FixedRouteIndex",
    "Refusal",
    "TripQuery",
    "check_booking",
    "class_limits",
    "fixed_route_index",
    "metres_between",
    "points_within",
    "trip_from_request",
]
