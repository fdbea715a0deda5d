"""The service calendar: which dates a service runs, and its hours.

A Japanese on-demand service (デマンド交通) usually runs on weekdays, stops on national
public holidays (祝日) and over the year-end and New Year break (年末年始, often
12/29–1/3), and may close on extra dates the town names. :class:`ServiceCalendar` holds
those rules; :meth:`ServiceCalendar.is_service_day` answers for one date and names the
reason when the service does not run. Public holidays come from the maintained
``jpholiday`` package (the Cabinet Office's 国民の祝日 rules, substitute holidays
(振替休日) and citizens' holidays (国民の休日) included), not from a hand-written table.

The ``[calendar]`` table of a service profile (see :mod:`dispatch.profile`)::

    [calendar]
    days = ["mon", "tue", "wed", "thu", "fri"]  # or "weekdays", "daily", "月火水木金"
    hours = "08:00-17:00"                       # or open = "08:00", close = "17:00"
    holidays = "closed"                         # "closed" (default) or "open"
    closures = ["12-29..01-03"]                 # every year, MM-DD or MM-DD..MM-DD
    closed_dates = ["2026-08-14"]               # YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD
    open_dates = []                             # extra service dates (override the rest)

Every key is optional: the default is Monday to Friday, 08:00–17:00 (SCENARIOS.md's
assumption), closed on public holidays, no other closures.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

import jpholiday

from dispatch.errors import ProfileError

#: Reason codes of a date without service.
HOLIDAY = "holiday"
CLOSURE = "closure"
NOT_A_SERVICE_DAY = "not_a_service_day"

_DAY_NAMES: dict[str, int] = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
    "saturday": 5, "sunday": 6,
    "月": 0, "火": 1, "水": 2, "木": 3, "金": 4, "土": 5, "日": 6,
}
_DAY_GROUPS: dict[str, tuple[int, ...]] = {
    "weekdays": (0, 1, 2, 3, 4), "weekends": (5, 6), "daily": (0, 1, 2, 3, 4, 5, 6),
}
#: Short English names of the days of the week, Monday first.
WEEKDAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_KEYS = frozenset({"days", "hours", "open", "close", "holidays", "closures",
                   "closed_dates", "open_dates"})
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")
_MMDD = re.compile(r"^(\d{2})-(\d{2})$")


def parse_days(value: Any, where: str) -> tuple[int, ...]:
    """Return sorted weekday numbers (Monday 0) of ``value``.

    ``value`` is a list of day names (``"mon"``, ``"monday"``, ``"月"``), a group
    (``"weekdays"``, ``"weekends"``, ``"daily"``) or a string of Japanese day characters
    (``"月水金"``). ``where`` names the field in the error.

    Raises
    ------
    ProfileError
        For an unknown name or an empty list.
    """
    items: list[Any]
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _DAY_GROUPS:
            return _DAY_GROUPS[key]
        items = list(key) if key and all(c in _DAY_NAMES for c in key) else [key]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        msg = f"{where}: must be a list of day names, got {value!r}"
        raise ProfileError(msg)
    out: set[int] = set()
    for item in items:
        name = str(item).strip().lower()
        if name in _DAY_GROUPS:
            out.update(_DAY_GROUPS[name])
        elif name in _DAY_NAMES:
            out.add(_DAY_NAMES[name])
        else:
            msg = (f"{where}: unknown day {item!r} (use mon..sun, monday..sunday, 月..日, "
                   "weekdays, weekends or daily)")
            raise ProfileError(msg)
    if not out:
        msg = f"{where}: names no day"
        raise ProfileError(msg)
    return tuple(sorted(out))


def parse_hhmm(value: Any, where: str, *, allow_24: bool = True) -> int:
    """Return seconds of day of an ``"HH:MM"`` text (``"24:00"`` allowed as the end)."""
    if isinstance(value, time):  # a TOML local time (08:00:00)
        value = f"{value.hour:02d}:{value.minute:02d}"
    m = _HHMM.match(str(value).strip()) if isinstance(value, str) else None
    if m is None:
        msg = f"{where}: must be a time \"HH:MM\", got {value!r}"
        raise ProfileError(msg)
    h, mi = int(m.group(1)), int(m.group(2))
    if mi >= 60 or h > 24 or (h == 24 and (mi or not allow_24)):
        msg = f"{where}: {value!r} is not a time of day"
        raise ProfileError(msg)
    return h * 3600 + mi * 60


def _mmdd(text: str, where: str) -> tuple[int, int]:
    m = _MMDD.match(text.strip())
    if m is None:
        msg = f"{where}: {text!r} must be MM-DD or MM-DD..MM-DD"
        raise ProfileError(msg)
    month, day = int(m.group(1)), int(m.group(2))
    try:
        date(2028, month, day)  # a leap year: 02-29 is allowed
    except ValueError:
        msg = f"{where}: {text!r} is not a date of the year"
        raise ProfileError(msg) from None
    return month, day


def _iso(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        msg = f"{where}: {text!r} is not a date YYYY-MM-DD"
        raise ProfileError(msg) from None


def _list(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | date) for v in value):
        msg = f"{where}: must be a list of dates as text, got {value!r}"
        raise ProfileError(msg)
    return [v.isoformat() if isinstance(v, date) else v for v in value]


def _date_set(items: list[str], where: str) -> frozenset[date]:
    out: set[date] = set()
    for i, item in enumerate(items):
        w = f"{where}[{i}]"
        first, sep, last = item.partition("..")
        a = _iso(first, w)
        b = _iso(last, w) if sep else a
        if b < a:
            msg = f"{w}: {item!r} ends before it starts"
            raise ProfileError(msg)
        if (b - a).days > 366:
            msg = f"{w}: {item!r} spans more than a year (use closures for every year)"
            raise ProfileError(msg)
        out.update(a + timedelta(days=k) for k in range((b - a).days + 1))
    return frozenset(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class DayCheck:
    """Whether a service runs on a date, why not (reason code), and the detail."""

    day: date
    open: bool
    reason: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceCalendar:
    """Service days and hours of one service.

    Parameters
    ----------
    weekdays
        Days of the week with service (Monday 0 ... Sunday 6).
    hours
        ``(open_s, close_s)``: seconds of day when the service runs.
    holidays_closed
        No service on Japanese public holidays (from ``jpholiday``).
    closures
        Recurring closures, each ``((month, day), (month, day))`` inclusive; a range may
        wrap over the new year (``12-29..01-03``).
    closed_dates
        Extra dates without service.
    open_dates
        Dates with service whatever the other rules say (a special service day).
    """

    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    hours: tuple[int, int] = (8 * 3600, 17 * 3600)
    holidays_closed: bool = True
    closures: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = ()
    closed_dates: frozenset[date] = frozenset()
    open_dates: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        open_s, close_s = self.hours
        if not 0 <= open_s < close_s <= 24 * 3600:
            msg = f"calendar.hours: need 00:00 <= open < close <= 24:00, got {self.hours}"
            raise ProfileError(msg)
        if not self.weekdays or not set(self.weekdays) <= set(range(7)):
            msg = f"calendar.days: need weekday numbers 0..6, got {self.weekdays}"
            raise ProfileError(msg)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], *, source: str) -> ServiceCalendar:
        """Read the ``[calendar]`` table of a profile (see the module docstring).

        ``source`` names the file and table in errors, e.g. ``"kumamoto.toml: [calendar]"``.

        Raises
        ------
        ProfileError
            Naming ``source`` and the key, for an unknown key or a bad value.
        """
        if not isinstance(table, Mapping):
            msg = f"{source}: must be a table"
            raise ProfileError(msg)
        unknown = sorted(set(table) - _KEYS)
        if unknown:
            msg = f"{source}.{unknown[0]}: unknown key (known: {', '.join(sorted(_KEYS))})"
            raise ProfileError(msg)
        days = parse_days(table.get("days", "weekdays"), f"{source}.days")
        hours = _hours(table, source)
        policy = table.get("holidays", "closed")
        if policy not in ("closed", "open"):
            msg = f"{source}.holidays: must be \"closed\" or \"open\", got {policy!r}"
            raise ProfileError(msg)
        closures = []
        for i, item in enumerate(_list(table, "closures", f"{source}.closures")):
            w = f"{source}.closures[{i}]"
            first, sep, last = item.partition("..")
            a = _mmdd(first, w)
            closures.append((a, _mmdd(last, w) if sep else a))
        return cls(weekdays=days, hours=hours, holidays_closed=policy == "closed",
                   closures=tuple(closures),
                   closed_dates=_date_set(_list(table, "closed_dates",
                                                f"{source}.closed_dates"),
                                          f"{source}.closed_dates"),
                   open_dates=_date_set(_list(table, "open_dates", f"{source}.open_dates"),
                                        f"{source}.open_dates"))

    # ------------------------------------------------------------------ answers
    def check(self, day: date) -> DayCheck:
        """Return whether the service runs on ``day``, with the reason and detail.

        The rules in order: an ``open_dates`` date runs; a ``closed_dates`` date or a
        recurring closure is ``closure``; a public holiday (when holidays are closed) is
        ``holiday`` with the holiday's name as detail (e.g. ``元日``); a day of the
        week without service is ``not_a_service_day``.
        """
        if day in self.open_dates:
            return DayCheck(day=day, open=True, detail="extra service date")
        if day in self.closed_dates:
            return DayCheck(day=day, open=False, reason=CLOSURE, detail="closed date")
        name = holiday_name(day)
        for a, b in self.closures:
            if _in_range((day.month, day.day), a, b):
                also = f" ({name})" if name else ""
                span = f"{a[0]:02d}-{a[1]:02d}" + (f"..{b[0]:02d}-{b[1]:02d}" if b != a else "")
                return DayCheck(day=day, open=False, reason=CLOSURE,
                                detail=f"closed {span}{also}")
        if self.holidays_closed and name is not None:
            return DayCheck(day=day, open=False, reason=HOLIDAY, detail=name)
        if day.weekday() not in self.weekdays:
            return DayCheck(day=day, open=False, reason=NOT_A_SERVICE_DAY,
                            detail=f"no service on {WEEKDAY_NAMES[day.weekday()]}")
        return DayCheck(day=day, open=True, detail=name or "")

    def is_service_day(self, day: date) -> tuple[bool, str | None]:
        """Return ``(True, None)`` on a service day, else ``(False, reason)`` with reason
        ``holiday``, ``closure`` or ``not_a_service_day`` (:meth:`check` has the detail)."""
        c = self.check(day)
        return c.open, c.reason

    def service_days(self, start: date, end: date) -> Iterator[date]:
        """Yield the service days from ``start`` to ``end`` (both included)."""
        for k in range((end - start).days + 1):
            d = start + timedelta(days=k)
            if self.check(d).open:
                yield d

    def in_hours(self, t_s: int) -> bool:
        """Return whether ``t_s`` (seconds of day) lies in the service hours."""
        return self.hours[0] <= t_s <= self.hours[1]

    def to_table(self) -> dict[str, Any]:
        """Return the ``[calendar]`` table that reads back to this calendar."""
        def hhmm(s: int) -> str:
            return f"{s // 3600:02d}:{s % 3600 // 60:02d}"

        return {
            "days": [WEEKDAY_NAMES[d] for d in self.weekdays],
            "hours": f"{hhmm(self.hours[0])}-{hhmm(self.hours[1])}",
            "holidays": "closed" if self.holidays_closed else "open",
            "closures": [f"{a[0]:02d}-{a[1]:02d}..{b[0]:02d}-{b[1]:02d}"
                         for a, b in self.closures],
            "closed_dates": sorted(d.isoformat() for d in self.closed_dates),
            "open_dates": sorted(d.isoformat() for d in self.open_dates),
        }


def holiday_name(day: date) -> str | None:
    """Return the name of the Japanese public holiday on ``day`` (e.g. ``元日``), or
    ``None`` (``jpholiday``; 振替休日 and 国民の休日 included)."""
    name = jpholiday.is_holiday_name(day)
    return str(name) if name else None


def _in_range(md: tuple[int, int], a: tuple[int, int], b: tuple[int, int]) -> bool:
    if a <= b:
        return a <= md <= b
    return md >= a or md <= b  # wraps over the new year


def _hours(table: Mapping[str, Any], source: str) -> tuple[int, int]:
    if "hours" in table and ("open" in table or "close" in table):
        msg = f"{source}.hours: give either hours or open/close, not both"
        raise ProfileError(msg)
    if "hours" in table:
        value = table["hours"]
        if isinstance(value, str) and "-" in value:
            parts: list[Any] = value.split("-", 1)
        elif isinstance(value, list) and len(value) == 2:
            parts = list(value)
        else:
            msg = (f"{source}.hours: must be \"HH:MM-HH:MM\" or [\"HH:MM\", \"HH:MM\"], "
                   f"got {value!r}")
            raise ProfileError(msg)
        open_s = parse_hhmm(parts[0], f"{source}.hours", allow_24=False)
        close_s = parse_hhmm(parts[1], f"{source}.hours")
    else:
        open_s = parse_hhmm(table.get("open", "08:00"), f"{source}.open", allow_24=False)
        close_s = parse_hhmm(table.get("close", "17:00"), f"{source}.close")
    if close_s <= open_s:
        msg = f"{source}.hours: the service must close after it opens, got {table.get('hours')!r}"
        raise ProfileError(msg)
    return open_s, close_s
