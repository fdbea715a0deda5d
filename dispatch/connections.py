"""Timed connections: a ride to or from a rail or tram station that names the train.

Riders of a town's on-demand service often ride to the station for a train (or from it
after one). Such a trip names the train from the region's GTFS-JP timetable and gets a
promise in its terms:

* **catch** a departure: "arrive ``margin`` minutes before the train leaves" becomes the
  request's latest drop-off (``RideRequest.arrive_by = departure - margin``);
* **meet** an arrival: "pick up after the train arrives" becomes the request's earliest
  pickup (``pickup_window = [arrival + margin, arrival + margin + wait]``).

:func:`catch_train` / :func:`meet_train` return the request and its :class:`Connection`;
:class:`ConnectedOffer` says which train the offer is for. The engine keeps the
promise like any other; a :class:`ConnectionWatch` checks, after any engine event and
at the end of the day, whether each connected rider still makes the train: the drop-off
(done, or as planned now) plus the drop-off service and the walk to the platform
(``transfer_s``) must be no later than the departure. One that no longer does is
recorded once as a :class:`BrokenConnection` naming the train, how late, and the
vehicle event that caused it (the latest delay, position report or breakdown of the
rider's vehicle). The check reads the engine; it does not change it.

:class:`Timetable` reads stations, departures and arrivals of one date from GTFS / GTFS-JP
zips (``calendar.txt`` and ``calendar_dates.txt`` decide which trips run).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from dispatch.engine import Engine, EventKind, Offer, RequestStatus, RideRequest
from dispatch.errors import DispatchError
from routing.model import TimeWindow
from routing.solution import StopKind

#: Default promise: at the station this long before the departure (catch).
CATCH_MARGIN_S = 10 * 60
#: Default walk from the drop-off to the platform (the train is missed past it).
TRANSFER_S = 3 * 60
#: Default time from a train's arrival to the earliest pickup (meet), and the wait.
MEET_MARGIN_S = 5 * 60
MEET_WAIT_S = 20 * 60


class TimetableError(DispatchError, ValueError):
    """A timetable or connection that cannot be used: the message names the file or
    the train."""


class Direction(StrEnum):
    """Which way the ride connects with the train."""

    CATCH = "catch"  # ride to the station, then the train departs
    MEET = "meet"  # the train arrives, then the ride leaves the station


class ConnectionStatus(StrEnum):
    """Where a connection stands when checked."""

    PENDING = "pending"  # the ride is still ahead and makes the train as planned
    KEPT = "kept"  # done: the rider made the train (or was met after it)
    BROKEN = "broken"  # the ride misses the train (or the meeting came too late)
    VOID = "void"  # the ride was not served (cancelled, rejected, no-show, ...)


# ------------------------------------------------------------------------------ timetable
@dataclass(frozen=True, slots=True, kw_only=True)
class Station:
    """A boarding point of a rail or tram feed."""

    feed: str
    stop_id: str
    name: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainCall:
    """One train at one station: times in seconds since the day's midnight."""

    feed: str
    trip_id: str
    route: str
    headsign: str
    stop_id: str
    station: str
    arrival_s: int
    departure_s: int
    boards: bool = True
    alights: bool = True

    def describe(self) -> str:
        """Return e.g. ``the 08:42 本線 train to 御代志 at 北熊本 (kumamotodentetsu)``."""
        return (f"the {_clock(self.departure_s)} {self.route} train to {self.headsign} at "
                f"{self.station} ({self.feed} trip {self.trip_id})")


def _gtfs_s(text: str) -> int:
    h, m, s = (int(x) for x in text.strip().split(":"))
    return h * 3600 + m * 60 + s


def _rows(zf: zipfile.ZipFile, name: str, path: Path, required: bool) -> list[dict[str, str]]:
    members = {Path(n).name: n for n in zf.namelist()}
    if name not in members:
        if required:
            msg = f"{path}: GTFS feed has no {name}"
            raise TimetableError(msg)
        return []
    with zf.open(members[name]) as fh:
        return list(csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8-sig")))


def active_services(calendar: Sequence[dict[str, str]], dates: Sequence[dict[str, str]],
                    day: date) -> set[str]:
    """Return the service ids that run on ``day`` (``calendar.txt`` weekday flags in
    their date range, then ``calendar_dates.txt`` additions (1) and removals (2))."""
    names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    key = day.strftime("%Y%m%d")
    out = {r["service_id"] for r in calendar
           if r.get("start_date", "") <= key <= r.get("end_date", "")
           and r.get(names[day.weekday()], "0").strip() == "1"}
    for r in dates:
        if r.get("date", "").strip() != key:
            continue
        if r.get("exception_type", "").strip() == "1":
            out.add(r["service_id"])
        elif r.get("exception_type", "").strip() == "2":
            out.discard(r["service_id"])
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Timetable:
    """Stations and the trains calling at them on one date."""

    day: date
    stations: tuple[Station, ...]
    calls: tuple[TrainCall, ...] = field(repr=False)

    @classmethod
    def from_gtfs(cls, paths: Iterable[str | Path], day: date) -> Timetable:
        """Read the trains of ``day`` from GTFS / GTFS-JP zips.

        Raises
        ------
        TimetableError
            When a file is missing, not a zip, or lacks a required table or column.
        """
        stations: list[Station] = []
        calls: list[TrainCall] = []
        for raw in paths:
            p = Path(raw)
            feed = p.name.removesuffix(".zip").removesuffix(".gtfs")
            try:
                zf = zipfile.ZipFile(p)
            except (OSError, zipfile.BadZipFile) as exc:
                msg = f"{p}: not a readable GTFS zip ({exc})"
                raise TimetableError(msg) from None
            with zf:
                try:
                    s, c = _read_feed(zf, p, feed, day)
                except (KeyError, ValueError) as exc:
                    msg = f"{p}: bad GTFS data ({exc})"
                    raise TimetableError(msg) from None
            stations += s
            calls += c
        calls.sort(key=lambda c: (c.departure_s, c.feed, c.trip_id, c.stop_id))
        return cls(day=day, stations=tuple(stations), calls=tuple(calls))

    def station(self, name_or_id: str, feed: str | None = None) -> Station:
        """Return the station with this stop id or name (first match)."""
        for s in self.stations:
            if (feed is None or s.feed == feed) and name_or_id in (s.stop_id, s.name):
                return s
        msg = f"no station {name_or_id!r} in the timetable"
        raise TimetableError(msg)

    def at(self, station: Station) -> list[TrainCall]:
        """Return every train calling at ``station``, by departure."""
        return [c for c in self.calls if c.feed == station.feed and c.stop_id == station.stop_id]

    def departures(self, station: Station, after_s: int, before_s: int) -> list[TrainCall]:
        """Return trains one may board at ``station`` leaving in ``[after_s, before_s]``."""
        return [c for c in self.at(station)
                if c.boards and after_s <= c.departure_s <= before_s]

    def arrivals(self, station: Station, after_s: int, before_s: int) -> list[TrainCall]:
        """Return trains one may leave at ``station`` arriving in ``[after_s, before_s]``."""
        return [c for c in self.at(station)
                if c.alights and after_s <= c.arrival_s <= before_s]

    def train(self, feed: str, trip_id: str, stop_id: str) -> TrainCall:
        """Return the call of trip ``trip_id`` of ``feed`` at ``stop_id``."""
        for c in self.calls:
            if c.feed == feed and c.trip_id == trip_id and c.stop_id == stop_id:
                return c
        msg = f"{feed}: trip {trip_id!r} does not call at {stop_id!r} on {self.day}"
        raise TimetableError(msg)


def _read_feed(zf: zipfile.ZipFile, p: Path, feed: str,
               day: date) -> tuple[list[Station], list[TrainCall]]:
    stops = _rows(zf, "stops.txt", p, True)
    routes = {r["route_id"]: (r.get("route_short_name") or r.get("route_long_name") or
                              r["route_id"]) for r in _rows(zf, "routes.txt", p, True)}
    services = active_services(_rows(zf, "calendar.txt", p, False),
                               _rows(zf, "calendar_dates.txt", p, False), day)
    trips = {t["trip_id"]: t for t in _rows(zf, "trips.txt", p, True)
             if t["service_id"] in services}
    names = {s["stop_id"]: s.get("stop_name", s["stop_id"]) for s in stops}
    stations = [Station(feed=feed, stop_id=s["stop_id"], name=s.get("stop_name", ""),
                        lon=float(s["stop_lon"]), lat=float(s["stop_lat"]))
                for s in stops if s.get("location_type", "").strip() in ("", "0")]
    rows = [st for st in _rows(zf, "stop_times.txt", p, True)
            if st["trip_id"] in trips and st.get("departure_time", "").strip()]
    seq: dict[str, tuple[int, int]] = {}
    for st in rows:
        k = int(st["stop_sequence"])
        lo, hi = seq.get(st["trip_id"], (k, k))
        seq[st["trip_id"]] = (min(lo, k), max(hi, k))
    calls = []
    for st in rows:
        trip = trips[st["trip_id"]]
        k, (first, last) = int(st["stop_sequence"]), seq[st["trip_id"]]
        calls.append(TrainCall(
            feed=feed, trip_id=st["trip_id"], route=routes.get(trip["route_id"], ""),
            headsign=st.get("stop_headsign") or trip.get("trip_headsign", ""),
            stop_id=st["stop_id"], station=names.get(st["stop_id"], st["stop_id"]),
            arrival_s=_gtfs_s(st.get("arrival_time") or st["departure_time"]),
            departure_s=_gtfs_s(st["departure_time"]),
            boards=k < last and st.get("pickup_type", "").strip() != "1",
            alights=k > first and st.get("drop_off_type", "").strip() != "1"))
    return stations, calls


def builtin_station_feeds() -> tuple[Path, ...]:
    """Return the built-in Kumamoto region's rail and tram feeds (熊本電鉄, 熊本市電)."""
    from dispatch.demand import KUMAMOTO_STATION_FEEDS
    from maps.region import DEFAULT_DATA_DIR

    return tuple(sorted(DEFAULT_DATA_DIR / f"{f}.gtfs.zip" for f in KUMAMOTO_STATION_FEEDS))


# ------------------------------------------------------------------------------ promises
@dataclass(frozen=True, slots=True, kw_only=True)
class Connection:
    """The train a ride connects with, and the promise made for it.

    ``promise_s`` is the latest drop-off (catch) or the earliest pickup (meet);
    ``transfer_s`` the walk between the vehicle and the platform.
    """

    request_id: str
    train: TrainCall
    direction: Direction
    margin_s: int
    transfer_s: int = TRANSFER_S

    @property
    def promise_s(self) -> int:
        """The promised latest drop-off (catch) or earliest pickup (meet)."""
        if self.direction is Direction.CATCH:
            return self.train.departure_s - self.margin_s
        return self.train.arrival_s + self.margin_s

    def describe(self) -> str:
        """Return the promise in words, naming the train."""
        t = self.train
        if self.direction is Direction.CATCH:
            return (f"at {t.station} by {_clock(self.promise_s)} for {t.describe()}")
        return (f"picked up at {t.station} from {_clock(self.promise_s)} after the "
                f"{_clock(t.arrival_s)} {t.route} train ({t.feed} trip {t.trip_id}) arrives")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectedOffer:
    """An engine offer for a connected ride: says which train it is for."""

    offer: Offer
    connection: Connection

    def describe(self) -> str:
        """Return the offer in words: pickup window, drop-off and the train."""
        o = self.offer
        return (f"{o.request_id}: pickup {_clock(o.pickup_window.earliest)}-"
                f"{_clock(o.pickup_window.latest)}, {self.connection.describe()}")


def catch_train(request: RideRequest, train: TrainCall, *, margin_s: int = CATCH_MARGIN_S,
                transfer_s: int = TRANSFER_S) -> tuple[RideRequest, Connection]:
    """Return ``request`` promised to reach the station ``margin_s`` before ``train``
    departs (its latest drop-off), and the connection to watch.

    Raises
    ------
    TimetableError
        When ``margin_s`` is shorter than ``transfer_s`` (the promise would miss the train).
    """
    if margin_s < transfer_s or transfer_s < 0:
        msg = (f"connection {request.id!r}: margin {margin_s} s is shorter than the walk "
               f"to the platform ({transfer_s} s)")
        raise TimetableError(msg)
    latest = train.departure_s - margin_s
    arrive_by = latest if request.arrive_by is None else min(request.arrive_by, latest)
    window = request.pickup_window
    if window is not None and window.earliest > arrive_by:
        msg = (f"connection {request.id!r}: the pickup window opens at "
               f"{_clock(window.earliest)}, after the latest drop-off {_clock(arrive_by)}")
        raise TimetableError(msg)
    conn = Connection(request_id=request.id, train=train, direction=Direction.CATCH,
                      margin_s=margin_s, transfer_s=transfer_s)
    return replace(request, arrive_by=arrive_by), conn


def meet_train(request: RideRequest, train: TrainCall, *, margin_s: int = MEET_MARGIN_S,
               wait_s: int = MEET_WAIT_S) -> tuple[RideRequest, Connection]:
    """Return ``request`` picked up from ``margin_s`` after ``train`` arrives (within
    ``wait_s`` after that), and the connection to watch."""
    earliest = train.arrival_s + margin_s
    window = TimeWindow(earliest=earliest, latest=earliest + wait_s)
    conn = Connection(request_id=request.id, train=train, direction=Direction.MEET,
                      margin_s=margin_s, transfer_s=0)
    return replace(request, pickup_window=window, arrive_by=None), conn


# ------------------------------------------------------------------------------ the check
@dataclass(frozen=True, slots=True, kw_only=True)
class BrokenConnection:
    """A connection that broke: when it was found, the time that breaks it, by how
    much, and the vehicle event that caused it."""

    request_id: str
    train: TrainCall
    direction: Direction
    found_s: int
    at_s: int
    late_s: int
    cause: str

    def describe(self) -> str:
        """Return the broken connection in words."""
        what = ("misses" if self.direction is Direction.CATCH else "is met late after")
        return (f"{self.request_id} {what} {self.train.describe()} by {self.late_s // 60} min "
                f"{self.late_s % 60} s ({self.cause})")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionCheck:
    """The state of one connection at a check."""

    connection: Connection
    status: ConnectionStatus
    at_s: int | None  # drop-off (catch) or pickup (meet): done, or as planned now
    slack_s: int | None  # how much later it could be and still connect


def _planned_start(engine: Engine, vehicle: int, key: str, kind: StopKind) -> int | None:
    for s in engine.plan(vehicle):
        if s.key == key and s.kind is kind:
            return int(s.start_s)
    return None


def _cause(engine: Engine, vehicle: int | None) -> str:
    kinds = (EventKind.DELAY, EventKind.POSITION, EventKind.BREAKDOWN)
    for e in reversed(engine.events):
        if e.kind in kinds and e.vehicle == vehicle:
            return f"{e.kind} of vehicle {vehicle} at {_clock(e.time_s)}" + (
                f": {e.cause}" if e.cause else "")
    return "the vehicle's plan"


def check_connection(engine: Engine, conn: Connection) -> ConnectionCheck:
    """Return whether the ride of ``conn`` still connects with its train.

    Catch: the drop-off start (done, or planned now) plus the drop-off service and
    ``transfer_s`` must not pass the departure. Meet: the pickup must be inside the
    promised window (``[arrival + margin, + wait]``) of the confirmed offer.
    """
    rec = engine.record(conn.request_id)
    if rec.status in (RequestStatus.CANCELLED, RequestStatus.REJECTED, RequestStatus.NO_SHOW,
                      RequestStatus.DECLINED, RequestStatus.EXPIRED, RequestStatus.REQUESTED,
                      RequestStatus.OFFERED):
        return ConnectionCheck(connection=conn, status=ConnectionStatus.VOID, at_s=None,
                               slack_s=None)
    if conn.direction is Direction.CATCH:
        at = rec.dropped_off_s
        if at is None and rec.vehicle is not None:
            at = _planned_start(engine, rec.vehicle, conn.request_id, StopKind.DROPOFF)
        limit = conn.train.departure_s - engine.config.dropoff_service_s - conn.transfer_s
        done = rec.dropped_off_s is not None
    else:
        at = rec.picked_up_s
        if at is None and rec.vehicle is not None:
            at = _planned_start(engine, rec.vehicle, conn.request_id, StopKind.PICKUP)
        latest = rec.offer.pickup_window.latest if rec.offer is not None else conn.promise_s
        limit = latest
        done = rec.picked_up_s is not None
    if at is None:
        return ConnectionCheck(connection=conn, status=ConnectionStatus.PENDING, at_s=None,
                               slack_s=None)
    slack = limit - at
    status = (ConnectionStatus.BROKEN if slack < 0 else
              ConnectionStatus.KEPT if done else ConnectionStatus.PENDING)
    return ConnectionCheck(connection=conn, status=status, at_s=at, slack_s=slack)


class ConnectionWatch:
    """The connected rides of a day and the connections found broken.

    Call :meth:`check` after any engine event (a delay, a position report, a
    breakdown, re-optimization) and at the end of the day; each connection that breaks
    is recorded once, with the time it was found and its cause.
    """

    def __init__(self, connections: Iterable[Connection] = ()) -> None:
        self.connections: dict[str, Connection] = {}
        self.broken: dict[str, BrokenConnection] = {}
        for c in connections:
            self.add(c)

    def add(self, conn: Connection) -> None:
        """Watch one more connection (its request must be booked in the engine)."""
        if conn.request_id in self.connections:
            msg = f"connection for {conn.request_id!r} is already watched"
            raise TimetableError(msg)
        self.connections[conn.request_id] = conn

    def check(self, engine: Engine) -> list[BrokenConnection]:
        """Check every connection against the engine; return the newly broken ones."""
        new = []
        for rid, conn in self.connections.items():
            if rid in self.broken:
                continue
            c = check_connection(engine, conn)
            if c.status is ConnectionStatus.BROKEN:
                assert c.at_s is not None and c.slack_s is not None
                b = BrokenConnection(request_id=rid, train=conn.train,
                                     direction=conn.direction, found_s=engine.now,
                                     at_s=c.at_s, late_s=-c.slack_s,
                                     cause=_cause(engine, engine.record(rid).vehicle))
                self.broken[rid] = b
                new.append(b)
        return new

    def summary(self, engine: Engine) -> dict[str, Any]:
        """Return counts by status and the connection rate (kept over kept + broken;
        ``None`` when none is decided yet), after a final :meth:`check`."""
        self.check(engine)
        counts = {s.value: 0 for s in ConnectionStatus}
        for rid, conn in self.connections.items():
            status = (ConnectionStatus.BROKEN if rid in self.broken
                      else check_connection(engine, conn).status)
            counts[status.value] += 1
        decided = counts["kept"] + counts["broken"]
        return {"connections": len(self.connections), **counts,
                "connection_rate": counts["kept"] / decided if decided else None,
                "broken_list": [b.describe() for b in self.broken.values()]}


def _clock(t: int) -> str:
    t = max(t, 0)
    return f"{t // 3600:02d}:{t % 3600 // 60:02d}"

