"""Standing bookings (定期予約): weekly trips booked once, expanded into dated bookings.

A dialysis patient rides every Monday, Wednesday and Friday to the same clinic for the
same appointment, and home again some hours later; nobody should have to phone each
week. A :class:`StandingSeries` is that weekly template: days of the week, pickup place
and destination, a pickup time or an arrive-by appointment, an optional return trip
(after N minutes, or at a fixed time), the rider's class, passengers and wheelchair.

:func:`expand` turns series into dated bookings (:class:`DatedBooking`) for a range of
dates, ahead of each day and under the service's booking rules:

* a date the calendar has no service on (a public holiday, a closure, a day of the week
  the service does not run) is skipped with a :class:`Skip` naming the reason
  (``holiday`` with the holiday's name, ``closure``, ``not_a_service_day``); so is a date
  the rider cancelled (``cancelled``: :meth:`StandingSeries.cancel` takes one date out
  and leaves the series);
* each booking is placed at the earliest moment the booking rules allow (``max_days_ahead``
  before the day, not before ``now``); with a service profile every rule of
  :func:`dispatch.rules.check_booking` is checked at that moment, and a refused trip is
  flagged (:class:`Flag`) instead of booked.

:func:`book_ahead` then books one day's bookings into that day's engine before service
starts and confirms them; a trip the engine refuses (it no longer fits the fleet) is
flagged to the dispatcher before the day. :func:`flag_table` prints the flags.

Series are read from TOML (``[[series]]`` tables, places inline or from ``[places]``)
or CSV (one series a row), see :func:`load_series`.
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dispatch.calendar import (
    WEEKDAY_NAMES,
    DayCheck,
    ServiceCalendar,
    parse_days,
    parse_hhmm,
)
from dispatch.engine import Engine, Offer, Rejection, RideRequest, StopOption
from dispatch.errors import DispatchError, OfferExpiredError, ProfileError
from routing.model import TimeWindow

if TYPE_CHECKING:
    from dispatch.profile import ServiceProfile

#: Skip reason of a date the rider cancelled.
CANCELLED = "cancelled"
#: Legs of a standing trip.
OUT, RETURN = "out", "return"
_SERIES_KEYS = frozenset({
    "id", "rider", "days", "from", "to", "time", "arrive_by", "return_after_min",
    "return_at", "class", "passengers", "wheelchair", "companions", "member_id", "start",
    "end", "purpose", "cancelled", "tolerance_min"})


class StandingError(DispatchError, ValueError):
    """A standing-booking file or series that cannot be used: names the file and field."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    """A named place (lon/lat, WGS84)."""

    name: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StandingSeries:
    """A weekly standing booking.

    Exactly one of ``pickup_s`` (leave at: the wanted pickup time) and ``arrive_by_s``
    (an appointment: drop-off by then) is set, in seconds of day. The return trip, when
    set, picks up ``return_after_s`` after the appointment (or after the outbound pickup
    time), or at ``return_at_s``. ``tolerance_s`` is how long after the wanted pickup the
    rider accepts being picked up. ``start``/``end`` bound the series (inclusive);
    ``cancelled`` holds dates taken out of it.
    """

    id: str
    rider: str
    weekdays: tuple[int, ...]
    origin: Place
    destination: Place
    pickup_s: int | None = None
    arrive_by_s: int | None = None
    return_after_s: int | None = None
    return_at_s: int | None = None
    rider_class: str | None = None
    passengers: int = 1
    wheelchair: bool = False
    companions: int = 0
    member_id: str | None = None
    purpose: str = ""
    start: date | None = None
    end: date | None = None
    tolerance_s: int = 30 * 60
    cancelled: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        where = f"series {self.id!r}"
        if not self.id:
            raise StandingError("series.id must not be empty")
        if (self.pickup_s is None) == (self.arrive_by_s is None):
            msg = f"{where}: give exactly one of time (pickup) and arrive_by"
            raise StandingError(msg)
        if self.return_after_s is not None and self.return_at_s is not None:
            msg = f"{where}: give at most one of return_after_min and return_at"
            raise StandingError(msg)
        if self.passengers < 1 or not 0 <= self.companions < self.passengers:
            msg = (f"{where}: passengers must be at least 1 and companions fewer than "
                   f"passengers, got {self.passengers} and {self.companions}")
            raise StandingError(msg)
        if self.start is not None and self.end is not None and self.end < self.start:
            msg = f"{where}: end {self.end} is before start {self.start}"
            raise StandingError(msg)
        if self.return_after_s is not None and self.return_after_s < 0:
            msg = f"{where}.return_after_min: must not be negative"
            raise StandingError(msg)
        if self.tolerance_s < 0:
            msg = f"{where}.tolerance_min: must not be negative"
            raise StandingError(msg)
        if self.return_at_s is not None and self.return_at_s <= self.outbound_s:
            msg = f"{where}.return_at: must be after the outbound time"
            raise StandingError(msg)

    @property
    def outbound_s(self) -> int:
        """The outbound's wanted time: pickup, or appointment (arrive-by)."""
        return self.pickup_s if self.pickup_s is not None else int(self.arrive_by_s or 0)

    @property
    def return_pickup_s(self) -> int | None:
        """The return trip's wanted pickup (seconds of day), ``None`` without one."""
        if self.return_at_s is not None:
            return self.return_at_s
        if self.return_after_s is not None:
            return self.outbound_s + self.return_after_s
        return None

    def cancel(self, day: date) -> StandingSeries:
        """Return the series with ``day`` taken out (every other date stays booked)."""
        return replace(self, cancelled=self.cancelled | {day})

    def runs_on(self, day: date) -> bool:
        """Return whether the template asks for a trip on ``day`` (before the calendar)."""
        return (day.weekday() in self.weekdays
                and (self.start is None or day >= self.start)
                and (self.end is None or day <= self.end))


@dataclass(frozen=True, slots=True, kw_only=True)
class DatedBooking:
    """One dated trip of a series, to be booked at ``book_at``.

    ``pickup_s`` (leave at) or ``arrive_by_s`` (appointment) is the wanted time on
    ``day``, in seconds since that day's midnight.
    """

    id: str
    series_id: str
    day: date
    leg: str
    rider: str
    origin: Place
    destination: Place
    pickup_s: int | None
    arrive_by_s: int | None
    tolerance_s: int
    seats: int
    wheelchairs: int
    companions: int
    rider_class: str | None
    member_id: str | None
    purpose: str
    book_at: datetime

    @property
    def wanted_s(self) -> int:
        """The wanted pickup, or for an appointment the wanted arrival."""
        return self.pickup_s if self.pickup_s is not None else int(self.arrive_by_s or 0)

    def to_request(self, origin: int, destination: int, *, walk_s: tuple[int, int] = (0, 0),
                   arrive_early_s: int = 3600, direct_s: int | None = None) -> RideRequest:
        """Return the engine request at table locations ``origin``/``destination``.

        A leave-at trip asks for pickup in ``[pickup, pickup + tolerance]``; an
        appointment for drop-off by ``arrive_by`` (with ``direct_s``, the pickup window
        is ``[arrive_by - direct - arrive_early_s, arrive_by - direct]`` as the simulator
        asks; without it the engine derives the window).
        """
        window = None
        if self.pickup_s is not None:
            window = TimeWindow(earliest=self.pickup_s, latest=self.pickup_s + self.tolerance_s)
        elif direct_s is not None and self.arrive_by_s is not None:
            latest = max(self.arrive_by_s - direct_s, 0)
            window = TimeWindow(earliest=max(latest - arrive_early_s, 0), latest=latest)
        extra: dict[str, Any] = {"rider_class": self.rider_class or "general",
                                 "companions": self.companions, "member_id": self.member_id}
        fields = getattr(RideRequest, "__dataclass_fields__", {})
        extra = {k: v for k, v in extra.items() if k in fields}
        return RideRequest(
            id=self.id, rider=self.rider,
            origin=(StopOption(location=origin, walk_s=walk_s[0]),),
            destination=(StopOption(location=destination, walk_s=walk_s[1]),),
            pickup_window=window, arrive_by=self.arrive_by_s, seats=self.seats,
            wheelchairs=self.wheelchairs, **extra)


@dataclass(frozen=True, slots=True, kw_only=True)
class Skip:
    """A date of a series that gets no booking, and why (``holiday``: ``detail`` names
    the holiday)."""

    series_id: str
    day: date
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Flag:
    """A standing trip the dispatcher must look at before the day: the rule or engine
    reason that refused it, and the detail."""

    booking_id: str
    series_id: str
    day: date
    leg: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Expansion:
    """The result of :func:`expand`: bookings in (day, wanted time, id) order, the dates
    skipped, and the trips the booking rules refused."""

    bookings: tuple[DatedBooking, ...]
    skips: tuple[Skip, ...]
    flags: tuple[Flag, ...]

    def on(self, day: date) -> tuple[DatedBooking, ...]:
        """Return the bookings of one day."""
        return tuple(b for b in self.bookings if b.day == day)


# ------------------------------------------------------------------------------ expansion
def _book_at(day: date, now: datetime | None, profile: ServiceProfile | None) -> datetime:
    """The earliest moment the rules allow booking for ``day``, not before ``now``."""
    ahead = profile.booking.max_days_ahead if profile is not None else 7
    first = datetime.combine(day - timedelta(days=ahead), time())
    return first if now is None or now < first else now


def _legs(s: StandingSeries, day: date, book_at: datetime) -> list[DatedBooking]:
    base: dict[str, Any] = {
            "series_id": s.id, "day": day, "rider": s.rider, "tolerance_s": s.tolerance_s,
            "seats": s.passengers - (1 if s.wheelchair else 0),
            "wheelchairs": 1 if s.wheelchair else 0, "companions": s.companions,
            "rider_class": s.rider_class, "member_id": s.member_id, "purpose": s.purpose,
            "book_at": book_at}
    out = [DatedBooking(id=f"{s.id}@{day.isoformat()}:{OUT}", leg=OUT, origin=s.origin,
                        destination=s.destination, pickup_s=s.pickup_s,
                        arrive_by_s=s.arrive_by_s, **base)]
    back = s.return_pickup_s
    if back is not None:
        out.append(DatedBooking(id=f"{s.id}@{day.isoformat()}:{RETURN}", leg=RETURN,
                                origin=s.destination, destination=s.origin, pickup_s=back,
                                arrive_by_s=None, **base))
    return out


def _rule_flag(b: DatedBooking, profile: ServiceProfile) -> Flag | None:
    from dispatch.rules import TripQuery, check_booking

    trip = TripQuery(origin=(b.origin.lon, b.origin.lat),
                     destination=(b.destination.lon, b.destination.lat),
                     service_date=b.day, wanted_s=b.wanted_s,
                     arrive_by=b.arrive_by_s is not None and b.pickup_s is None,
                     rider_class=b.rider_class, member_id=b.member_id,
                     companions=b.companions, wheelchair=b.wheelchairs > 0)
    refusal = check_booking(profile, trip, b.book_at)
    if refusal is None:
        return None
    return Flag(booking_id=b.id, series_id=b.series_id, day=b.day, leg=b.leg,
                reason=refusal.rule, detail=refusal.detail)


def expand(series: Iterable[StandingSeries], calendar: ServiceCalendar, start_date: date,
           end_date: date, profile: ServiceProfile | None = None, *,
           now: datetime | None = None) -> Expansion:
    """Expand standing series into dated bookings from ``start_date`` to ``end_date``.

    Parameters
    ----------
    series
        The weekly templates.
    calendar
        The service calendar: dates without service are skipped with the reason.
    start_date, end_date
        The dates to expand (both included).
    profile
        The service profile whose booking rules (and every other rule of
        :func:`dispatch.rules.check_booking`) each booking must pass at its booking
        time; ``None`` checks only the calendar and the service hours.
    now
        When the expansion runs; a booking is placed at the earliest moment the rules
        allow (``max_days_ahead`` before its day) but not before ``now``.

    Returns
    -------
    Expansion
        Bookings, skips and flags (a flagged trip is not in ``bookings``).
    """
    if end_date < start_date:
        msg = f"expand: end_date {end_date} is before start_date {start_date}"
        raise StandingError(msg)
    bookings: list[DatedBooking] = []
    skips: list[Skip] = []
    flags: list[Flag] = []
    checks: dict[date, DayCheck] = {}
    open_s, close_s = calendar.hours
    for s in series:
        day = start_date
        while day <= end_date:
            if s.runs_on(day):
                check = checks.get(day)
                if check is None:
                    check = checks[day] = calendar.check(day)
                if day in s.cancelled:
                    skips.append(Skip(series_id=s.id, day=day, reason=CANCELLED,
                                      detail="cancelled by the rider"))
                elif not check.open:
                    skips.append(Skip(series_id=s.id, day=day, reason=str(check.reason),
                                      detail=check.detail))
                else:
                    for b in _legs(s, day, _book_at(day, now, profile)):
                        flag = (_rule_flag(b, profile) if profile is not None else
                                _hours_flag(b, open_s, close_s))
                        if flag is None:
                            bookings.append(b)
                        else:
                            flags.append(flag)
            day += timedelta(days=1)
    bookings.sort(key=lambda b: (b.day, b.wanted_s, b.id))
    skips.sort(key=lambda k: (k.day, k.series_id))
    flags.sort(key=lambda f: (f.day, f.booking_id))
    return Expansion(bookings=tuple(bookings), skips=tuple(skips), flags=tuple(flags))


def _hours_flag(b: DatedBooking, open_s: int, close_s: int) -> Flag | None:
    if open_s <= b.wanted_s <= close_s:
        return None
    return Flag(booking_id=b.id, series_id=b.series_id, day=b.day, leg=b.leg,
                reason="outside_service_hours",
                detail=f"{_clock(b.wanted_s)} is outside {_clock(open_s)}-{_clock(close_s)}")


def _clock(t: int) -> str:
    return f"{t // 3600:02d}:{t % 3600 // 60:02d}"


# ------------------------------------------------------------------------------ booking
@dataclass(frozen=True, slots=True, kw_only=True)
class AheadResult:
    """What :func:`book_ahead` did: confirmed offers by booking id, and the flags."""

    confirmed: Mapping[str, Offer] = field(default_factory=dict)
    flags: tuple[Flag, ...] = ()


def book_ahead(engine: Engine, bookings: Sequence[DatedBooking],
               locate: Callable[[Place], int], *, arrive_early_s: int = 3600) -> AheadResult:
    """Book one day's standing trips into that day's engine (at :attr:`Engine.now`,
    before service starts) and confirm each offer.

    ``locate`` maps a place to its index in the engine's travel table. A trip the
    engine refuses, or whose offer no longer fits when confirmed, becomes a
    :class:`Flag` with the engine's reason: the dispatcher sees it before the day.
    """
    days = {b.day for b in bookings}
    if len(days) > 1:
        msg = f"book_ahead: bookings of {len(days)} days given, one engine runs one day"
        raise StandingError(msg)
    confirmed: dict[str, Offer] = {}
    flags: list[Flag] = []
    for b in bookings:
        o, d = locate(b.origin), locate(b.destination)
        direct = int(engine.table.durations[o, d]) if b.pickup_s is None else None
        answer = engine.book(b.to_request(o, d, arrive_early_s=arrive_early_s,
                                          direct_s=direct))
        if isinstance(answer, Rejection):
            flags.append(Flag(booking_id=b.id, series_id=b.series_id, day=b.day, leg=b.leg,
                              reason=str(answer.reason), detail=answer.detail))
            continue
        try:
            confirmed[b.id] = engine.confirm(b.id)
        except OfferExpiredError as exc:
            flags.append(Flag(booking_id=b.id, series_id=b.series_id, day=b.day, leg=b.leg,
                              reason="expired", detail=str(exc)))
    return AheadResult(confirmed=confirmed, flags=tuple(flags))


def flag_table(flags: Sequence[Flag]) -> str:
    """Return the flags as an aligned text table for the dispatcher (or a one-line
    all-clear)."""
    if not flags:
        return "no standing booking needs attention"
    rows = [("date", "booking", "reason", "detail")] + [
        (f.day.isoformat(), f.booking_id, f.reason, f.detail) for f in flags]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}"
                     for r in rows)


def expansion_to_dict(x: Expansion) -> dict[str, Any]:
    """Return the expansion as JSON-able data."""
    def plain(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in obj.__dataclass_fields__:
            v = getattr(obj, k)
            out[k] = (v.isoformat() if isinstance(v, date | datetime) else
                      {"name": v.name, "lon": v.lon, "lat": v.lat} if isinstance(v, Place)
                      else v)
        return out

    return {"bookings": [plain(b) for b in x.bookings], "skips": [plain(s) for s in x.skips],
            "flags": [plain(f) for f in x.flags]}


# ------------------------------------------------------------------------------ reading
def _place(value: Any, places: Mapping[str, Place], where: str) -> Place:
    if isinstance(value, str):
        if value not in places:
            msg = f"{where}: unknown place {value!r} (define it under [places])"
            raise StandingError(msg)
        return places[value]
    if isinstance(value, Mapping):
        try:
            lon, lat = float(value["lon"]), float(value["lat"])
        except (KeyError, TypeError, ValueError):
            msg = f"{where}: a place needs numeric lon and lat, got {dict(value)!r}"
            raise StandingError(msg) from None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            msg = f"{where}: lon/lat {lon}, {lat} out of range"
            raise StandingError(msg)
        return Place(name=str(value.get("name", f"{lat:.5f},{lon:.5f}")), lon=lon, lat=lat)
    msg = f"{where}: must be a place name or a table with lon and lat"
    raise StandingError(msg)


def _minutes(value: Any, where: str) -> int:
    try:
        x = float(value)
    except (TypeError, ValueError):
        msg = f"{where}: must be a number of minutes, got {value!r}"
        raise StandingError(msg) from None
    if not x >= 0:
        msg = f"{where}: must not be negative, got {value!r}"
        raise StandingError(msg)
    return round(x * 60)


def _day(value: Any, where: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        msg = f"{where}: {value!r} is not a date YYYY-MM-DD"
        raise StandingError(msg) from None


def _flag(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y"):
        return True
    if text in ("", "0", "false", "no", "n"):
        return False
    msg = f"{where}: must be true or false, got {value!r}"
    raise StandingError(msg)


def _int(value: Any, where: str, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        msg = f"{where}: must be an integer, got {value!r}"
        raise StandingError(msg) from None


def series_from_table(t: Mapping[str, Any], places: Mapping[str, Place],
                      where: str) -> StandingSeries:
    """Return one series from a TOML table or a CSV row (``where`` names it in errors)."""
    unknown = sorted(set(t) - _SERIES_KEYS)
    if unknown:
        msg = f"{where}.{unknown[0]}: unknown key (known: {', '.join(sorted(_SERIES_KEYS))})"
        raise StandingError(msg)
    sid = str(t.get("id", "")).strip()
    if not sid:
        msg = f"{where}.id: missing"
        raise StandingError(msg)
    w = f"{where} ({sid})"

    def hhmm(key: str) -> int | None:
        v = t.get(key)
        if v in (None, ""):
            return None
        try:
            return parse_hhmm(v, f"{w}.{key}")
        except ProfileError as exc:
            raise StandingError(str(exc)) from None

    for key in ("days", "from", "to"):
        if t.get(key) in (None, ""):
            msg = f"{w}.{key}: missing"
            raise StandingError(msg)
    try:
        days = parse_days(t["days"], f"{w}.days")
    except ProfileError as exc:
        raise StandingError(str(exc)) from None
    after = t.get("return_after_min")
    cancelled = t.get("cancelled") or []
    if isinstance(cancelled, str):
        cancelled = cancelled.split()
    try:
        return StandingSeries(
            id=sid, rider=str(t.get("rider") or sid), weekdays=days,
            origin=_place(t["from"], places, f"{w}.from"),
            destination=_place(t["to"], places, f"{w}.to"),
            pickup_s=hhmm("time"), arrive_by_s=hhmm("arrive_by"),
            return_after_s=(None if after in (None, "")
                            else _minutes(after, f"{w}.return_after_min")),
            return_at_s=hhmm("return_at"),
            rider_class=str(t["class"]) if t.get("class") not in (None, "") else None,
            passengers=_int(t.get("passengers"), f"{w}.passengers", 1),
            wheelchair=_flag(t.get("wheelchair", False), f"{w}.wheelchair"),
            companions=_int(t.get("companions"), f"{w}.companions", 0),
            member_id=str(t["member_id"]) if t.get("member_id") not in (None, "") else None,
            purpose=str(t.get("purpose") or ""),
            start=_day(t.get("start"), f"{w}.start"), end=_day(t.get("end"), f"{w}.end"),
            tolerance_s=(30 * 60 if t.get("tolerance_min") in (None, "")
                         else _minutes(t["tolerance_min"], f"{w}.tolerance_min")),
            cancelled=frozenset(d for i, x in enumerate(cancelled)
                                if (d := _day(x, f"{w}.cancelled[{i}]")) is not None))
    except StandingError as exc:
        msg = str(exc) if str(exc).startswith(where) else f"{where}: {exc}"
        raise StandingError(msg) from None


def load_series(path: str | Path) -> tuple[StandingSeries, ...]:
    """Read standing series from a TOML or CSV file.

    TOML: ``[places.NAME]`` tables (``lon``, ``lat``, optional ``name``) and one
    ``[[series]]`` table per series with ``id``, ``rider``, ``days``, ``from``/``to``
    (a place name or an inline ``{name, lon, lat}``), ``time`` (pickup) or
    ``arrive_by`` (``"HH:MM"``), optional ``return_after_min`` or ``return_at``,
    ``class``, ``passengers``, ``wheelchair``, ``companions``, ``member_id``,
    ``purpose``, ``start``/``end`` dates, ``tolerance_min``, ``cancelled`` dates.

    CSV: one row per series with the same names, places as ``from_name, from_lon,
    from_lat, to_name, to_lon, to_lat`` and ``days`` as ``"mon wed fri"`` or ``月水金``.

    Raises
    ------
    StandingError
        Naming the file, the series (table index or CSV line) and the field.
    """
    p = Path(path)
    if not p.is_file():
        msg = f"{p}: standing-booking file not found"
        raise StandingError(msg)
    if p.suffix.lower() == ".csv":
        return _load_csv(p)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"{p}: not a TOML file ({exc})"
        raise StandingError(msg) from None
    raw_places = doc.get("places", {})
    if not isinstance(raw_places, Mapping):
        msg = f"{p}: [places] must be a table of places"
        raise StandingError(msg)
    places = {k: _place({"name": k, **v} if isinstance(v, Mapping) else v, {},
                        f"{p}: [places.{k}]") for k, v in raw_places.items()}
    raw = doc.get("series", [])
    if not isinstance(raw, list) or not raw:
        msg = f"{p}: needs one or more [[series]] tables"
        raise StandingError(msg)
    out = [series_from_table(t, places, f"{p}: [[series]][{i}]") for i, t in enumerate(raw)]
    return _unique(out, p)


def _load_csv(p: Path) -> tuple[StandingSeries, ...]:
    with p.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        msg = f"{p}: no series rows"
        raise StandingError(msg)
    out = []
    for line, row in enumerate(rows, start=2):
        where = f"{p}: line {line}"
        t: dict[str, Any] = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        for end in ("from", "to"):
            lon, lat = t.pop(f"{end}_lon", ""), t.pop(f"{end}_lat", "")
            name = t.pop(f"{end}_name", "")
            if lon or lat:
                t[end] = {"name": name or end, "lon": lon, "lat": lat}
        t = {k: v for k, v in t.items() if v != ""}
        out.append(series_from_table(t, {}, where))
    return _unique(out, p)


def _unique(series: list[StandingSeries], p: Path) -> tuple[StandingSeries, ...]:
    seen: set[str] = set()
    for s in series:
        if s.id in seen:
            msg = f"{p}: series id {s.id!r} appears twice"
            raise StandingError(msg)
        seen.add(s.id)
    return tuple(series)


def describe(s: StandingSeries) -> str:
    """Return one line describing a series (days, places, times)."""
    days = "/".join(WEEKDAY_NAMES[d] for d in s.weekdays)
    when = (f"pickup {_clock(s.pickup_s)}" if s.pickup_s is not None
            else f"arrive by {_clock(int(s.arrive_by_s or 0))}")
    back = s.return_pickup_s
    ret = f", return {_clock(back)}" if back is not None else ""
    return f"{s.id}: {days} {s.origin.name} -> {s.destination.name}, {when}{ret}"
