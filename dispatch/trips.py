"""Operator inputs read from files: trip records (CSV) and a fleet (TOML or JSON).

Trip records
------------
A UTF-8 CSV (a byte-order mark is allowed) with a header row naming these columns, in
any order (extra columns, e.g. place names, are ignored; lines starting with ``#`` are
comments):

=================== ========= ==========================================================
column              required  value
=================== ========= ==========================================================
``id``              yes       unique trip id (text)
``request_time``    yes       when the rider booked: ``HH:MM[:SS]`` of the service day;
                              ``-HH:MM[:SS]`` is that time on the day before
``pickup_lon``      yes       pickup longitude (WGS84 degrees)
``pickup_lat``      yes       pickup latitude
``dropoff_lon``     yes       drop-off longitude
``dropoff_lat``     yes       drop-off latitude
``earliest_pickup`` one of    leave-at trip: earliest pickup wanted, ``HH:MM[:SS]``
``arrive_by``       the two   arrive-by trip (appointment): latest arrival, ``HH:MM[:SS]``
``passengers``      no        riders travelling together, 1..20 (default 1)
``wheelchair``      no        ``1``/``0`` (also ``true``/``false``, ``yes``/``no``;
                              default 0): one of the passengers rides in a wheelchair
``return_of``       no        id of the outbound trip this one returns from (e.g. home
                              from a hospital visit), empty otherwise
=================== ========= ==========================================================

Times are of the service day, ``00:00``-``23:59:59``. Each trip sets exactly one of
``earliest_pickup`` and ``arrive_by``. The booking must not come after the trip
(``request_time`` <= its earliest pickup or arrive-by time). A return trip must name an
outbound trip of the same file that is itself valid, and must not start before it (its
time >= the outbound's earliest pickup or arrive-by time).

:func:`read_trips` never raises for a bad row: it returns the good rows and one
:class:`BadRow` (line number, column, problem) per bad row; only a file that cannot be
read as such a CSV at all (missing, not UTF-8, no header, a required column missing)
raises :class:`TripsError`.

Fleet file
----------
TOML (``.toml``) or JSON (``.json``) with these optional tables (see
``examples/fleet.toml``)::

    [depot]           lon, lat (WGS84), name (optional)
    [buses]           count (0..1000), seats (1..100), wheelchairs (0..20)
    [vans]            count (0..1000), parcels (1..1000)
    [shift]           start, end as "HH:MM" (the service hours)

:func:`read_fleet` returns a :class:`FleetSpec` whose fields are ``None`` where the file
is silent, so that command-line flags and built-in defaults can fill them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatch.errors import DispatchError


class TripsError(DispatchError, ValueError):
    """A trip or fleet file that cannot be read at all: the message names the file."""


#: Columns every trip CSV must have.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "id", "request_time", "pickup_lon", "pickup_lat", "dropoff_lon", "dropoff_lat",
)
#: Columns read when present.
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "earliest_pickup", "arrive_by", "passengers", "wheelchair", "return_of",
)
MAX_PASSENGERS = 20
_TIME = re.compile(r"^(-)?(\d{1,2}):([0-5]\d)(?::([0-5]\d))?$")
_TRUE = frozenset({"1", "true", "yes", "y"})
_FALSE = frozenset({"0", "false", "no", "n", ""})


@dataclass(frozen=True, slots=True, kw_only=True)
class TripRow:
    """One valid trip record; times in seconds since the service day's midnight."""

    id: str
    line: int
    request_s: int
    pickup_lonlat: tuple[float, float]
    dropoff_lonlat: tuple[float, float]
    earliest_pickup_s: int | None
    arrive_by_s: int | None
    passengers: int = 1
    wheelchair: bool = False
    return_of: str | None = None

    @property
    def trip_s(self) -> int:
        """The trip's own time: earliest pickup, or arrive-by."""
        t = self.earliest_pickup_s if self.earliest_pickup_s is not None else self.arrive_by_s
        return int(t or 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class BadRow:
    """A row that was not read: its 1-based line in the file, the column, the problem."""

    line: int
    field: str
    problem: str

    def describe(self, source: str) -> str:
        """Return ``"SOURCE line N, FIELD: PROBLEM"``."""
        return f"{source} line {self.line}, {self.field}: {self.problem}"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"line": self.line, "field": self.field, "problem": self.problem}


@dataclass(frozen=True, slots=True, kw_only=True)
class TripsFile:
    """What :func:`read_trips` found: valid rows (file order) and bad rows."""

    source: str
    trips: tuple[TripRow, ...]
    bad_rows: tuple[BadRow, ...]


class _RowError(Exception):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


def parse_clock(text: str) -> int:
    """Return ``HH:MM[:SS]`` (``-`` prefix: the day before) as seconds since midnight.

    Raises
    ------
    ValueError
        If the text is not such a time or the hour is above 23.
    """
    m = _TIME.match(text.strip())
    if m is None:
        msg = f"not a time HH:MM[:SS] ({text!r})"
        raise ValueError(msg)
    before, hh, mm, ss = m.groups()
    hours = int(hh)
    if hours > 23:
        msg = f"hour {hours} is above 23 ({text!r})"
        raise ValueError(msg)
    t = hours * 3600 + int(mm) * 60 + int(ss or 0)
    return t - 24 * 3600 if before else t


def _time(row: dict[str, str], name: str) -> int | None:
    text = (row.get(name) or "").strip()
    if not text:
        return None
    try:
        return parse_clock(text)
    except ValueError as exc:
        raise _RowError(name, str(exc)) from None


def _coord(row: dict[str, str], name: str, limit: float) -> float:
    text = (row.get(name) or "").strip()
    if not text:
        raise _RowError(name, "empty")
    try:
        value = float(text)
    except ValueError:
        raise _RowError(name, f"not a number ({text!r})") from None
    if not math.isfinite(value) or abs(value) > limit:
        raise _RowError(name, f"must lie in [-{limit:g}, {limit:g}], got {text}")
    return value


def _passengers(row: dict[str, str]) -> int:
    text = (row.get("passengers") or "").strip()
    if not text:
        return 1
    try:
        n = int(text)
    except ValueError:
        raise _RowError("passengers", f"not a whole number ({text!r})") from None
    if not 1 <= n <= MAX_PASSENGERS:
        raise _RowError("passengers", f"must lie in 1..{MAX_PASSENGERS}, got {n}")
    return n


def _flag(row: dict[str, str], name: str) -> bool:
    text = (row.get(name) or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _RowError(name, f"expected 1/0, true/false or yes/no, got {text!r}")


def _row(row: dict[str, str], line: int) -> TripRow:
    trip_id = (row.get("id") or "").strip()
    if not trip_id:
        raise _RowError("id", "empty")
    request_text = (row.get("request_time") or "").strip()
    if not request_text:
        raise _RowError("request_time", "empty")
    request = _time(row, "request_time")
    pickup = (_coord(row, "pickup_lon", 180.0), _coord(row, "pickup_lat", 90.0))
    dropoff = (_coord(row, "dropoff_lon", 180.0), _coord(row, "dropoff_lat", 90.0))
    earliest, arrive = _time(row, "earliest_pickup"), _time(row, "arrive_by")
    if (earliest is None) == (arrive is None):
        raise _RowError("earliest_pickup/arrive_by",
                        "set exactly one of them" if earliest is None else "set only one of them")
    trip_s = int(earliest if earliest is not None else arrive or 0)
    if trip_s < 0:
        raise _RowError("earliest_pickup" if earliest is not None else "arrive_by",
                        "must be a time of the service day, not the day before")
    if request is not None and request > trip_s:
        raise _RowError("request_time", "is after the trip's own time")
    if pickup == dropoff:
        raise _RowError("dropoff_lon/dropoff_lat", "same place as the pickup")
    passengers = _passengers(row)
    wheelchair = _flag(row, "wheelchair")
    back = (row.get("return_of") or "").strip() or None
    if back == trip_id:
        raise _RowError("return_of", "a trip cannot return from itself")
    return TripRow(id=trip_id, line=line, request_s=int(request or 0), pickup_lonlat=pickup,
                   dropoff_lonlat=dropoff, earliest_pickup_s=earliest, arrive_by_s=arrive,
                   passengers=passengers, wheelchair=wheelchair, return_of=back)


def _check_returns(rows: list[TripRow], bad: list[BadRow],
                   lines: dict[str, int]) -> list[TripRow]:
    """Drop (as bad rows) returns whose outbound is missing, bad or later than them."""
    good = {r.id: r for r in rows}
    out: list[TripRow] = []
    for r in rows:
        if r.return_of is None:
            out.append(r)
            continue
        outbound = good.get(r.return_of)
        if outbound is None:
            problem = (f"outbound trip {r.return_of!r} (line {lines[r.return_of]}) was not read"
                       if r.return_of in lines else f"no trip with id {r.return_of!r}")
            bad.append(BadRow(line=r.line, field="return_of", problem=problem))
        elif outbound.return_of is not None:
            bad.append(BadRow(line=r.line, field="return_of",
                              problem=f"trip {r.return_of!r} is itself a return trip"))
        elif r.trip_s < outbound.trip_s:
            bad.append(BadRow(line=r.line, field="return_of",
                              problem=f"starts before its outbound trip {r.return_of!r}"))
        else:
            out.append(r)
    return out


def parse_trips(text: str, *, source: str = "trips") -> TripsFile:
    """Read trip records from CSV text (see the module docstring for the columns).

    Parameters
    ----------
    text
        The whole CSV, header first.
    source
        Name used in messages (usually the file name).

    Returns
    -------
    TripsFile
        Valid rows in file order and one :class:`BadRow` per rejected row, sorted by line.

    Raises
    ------
    TripsError
        If there is no header or a required column is missing.
    """
    # Comment lines become blank lines so that line numbers stay those of the file.
    lines_in = ["\n" if ln.lstrip().startswith("#") else ln
                for ln in text.splitlines(keepends=True)]
    offset = 0
    while offset < len(lines_in) and not lines_in[offset].strip():
        offset += 1
    reader = csv.DictReader(io.StringIO("".join(lines_in[offset:]), newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        msg = f"{source}: empty file, expected a CSV header ({', '.join(REQUIRED_COLUMNS)}, ...)"
        raise TripsError(msg)
    reader.fieldnames = header
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        msg = (f"{source}: not a trip CSV, header lacks {', '.join(missing)} "
               f"(found: {', '.join(header[:8])})")
        raise TripsError(msg)
    if "earliest_pickup" not in header and "arrive_by" not in header:
        msg = f"{source}: not a trip CSV, header needs earliest_pickup or arrive_by"
        raise TripsError(msg)
    rows: list[TripRow] = []
    bad: list[BadRow] = []
    lines: dict[str, int] = {}
    for raw in reader:
        line = reader.line_num + offset
        if None in raw:
            bad.append(BadRow(line=line, field="(row)", problem="more values than header columns"))
            continue
        if all(not (v or "").strip() for v in raw.values()):
            continue  # blank line
        try:
            row = _row(raw, line)
        except _RowError as exc:
            bad.append(BadRow(line=line, field=exc.field, problem=exc.problem))
            tid = (raw.get("id") or "").strip()
            if tid:
                lines.setdefault(tid, line)
            continue
        if row.id in lines:
            bad.append(BadRow(line=line, field="id",
                              problem=f"duplicate id {row.id!r} (first on line {lines[row.id]})"))
            continue
        lines[row.id] = line
        rows.append(row)
    rows = _check_returns(rows, bad, lines)
    return TripsFile(source=source, trips=tuple(rows),
                     bad_rows=tuple(sorted(bad, key=lambda b: b.line)))


def read_trips(path: str | Path) -> TripsFile:
    """Read a trip CSV file (see :func:`parse_trips`).

    Raises
    ------
    TripsError
        If the file is missing, not UTF-8 text, or not a trip CSV.
    """
    p = Path(path)
    if not p.is_file():
        msg = f"{p}: trip file not found"
        raise TripsError(msg)
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        msg = f"{p}: not UTF-8 text, expected a trip CSV ({exc.reason} at byte {exc.start})"
        raise TripsError(msg) from None
    if "\x00" in text:
        msg = f"{p}: binary data, expected a trip CSV"
        raise TripsError(msg)
    return parse_trips(text, source=p.name)


# --------------------------------------------------------------------------- fleet
@dataclass(frozen=True, slots=True, kw_only=True)
class FleetSpec:
    """A fleet file's content; ``None`` where the file says nothing."""

    depot_lonlat: tuple[float, float] | None = None
    buses: int | None = None
    seats: int | None = None
    wheelchairs: int | None = None
    vans: int | None = None
    van_parcels: int | None = None
    shift_start_s: int | None = None
    shift_end_s: int | None = None


_FLEET_FIELDS: dict[str, dict[str, tuple[str, int, int]]] = {
    "buses": {"count": ("buses", 0, 1000), "seats": ("seats", 1, 100),
              "wheelchairs": ("wheelchairs", 0, 20)},
    "vans": {"count": ("vans", 0, 1000), "parcels": ("van_parcels", 1, 1000)},
}


def _load_fleet_doc(p: Path) -> dict[str, Any]:
    suffix = p.suffix.lower()
    if suffix not in (".toml", ".json"):
        msg = f"{p}: fleet file must be .toml or .json, got {suffix or 'no suffix'}"
        raise TripsError(msg)
    if not p.is_file():
        msg = f"{p}: fleet file not found"
        raise TripsError(msg)
    try:
        text = p.read_bytes().decode("utf-8-sig")
        doc = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except UnicodeDecodeError:
        msg = f"{p}: not UTF-8 text, expected a {suffix[1:].upper()} fleet file"
        raise TripsError(msg) from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        first = str(exc).splitlines()[0]
        msg = f"{p}: not a valid {suffix[1:].upper()} fleet file ({first})"
        raise TripsError(msg) from None
    if not isinstance(doc, dict):
        msg = f"{p}: a fleet file holds one table/object, got {type(doc).__name__}"
        raise TripsError(msg)
    return doc


def _fleet_int(p: Path, key: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"{p}: {key} must be a whole number, got {value!r}"
        raise TripsError(msg)
    if not lo <= value <= hi:
        msg = f"{p}: {key} must lie in {lo}..{hi}, got {value}"
        raise TripsError(msg)
    return value


def _table(p: Path, doc: dict[str, Any], name: str) -> dict[str, Any]:
    t = doc.get(name, {})
    if not isinstance(t, dict):
        msg = f"{p}: {name} must be a table/object, got {type(t).__name__}"
        raise TripsError(msg)
    return t


def _depot(p: Path, doc: dict[str, Any]) -> tuple[float, float] | None:
    t = _table(p, doc, "depot")
    if not t:
        return None
    extra = sorted(set(t) - {"lon", "lat", "name"})
    if extra:
        msg = f"{p}: unknown key depot.{extra[0]} (known: lon, lat, name)"
        raise TripsError(msg)
    out = []
    for key, limit in (("lon", 180.0), ("lat", 90.0)):
        v = t.get(key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
                or abs(v) > limit:
            msg = f"{p}: depot.{key} must be a number in [-{limit:g}, {limit:g}], got {v!r}"
            raise TripsError(msg)
        out.append(float(v))
    return out[0], out[1]


def _shift(p: Path, doc: dict[str, Any]) -> tuple[int | None, int | None]:
    t = _table(p, doc, "shift")
    extra = sorted(set(t) - {"start", "end"})
    if extra:
        msg = f"{p}: unknown key shift.{extra[0]} (known: start, end)"
        raise TripsError(msg)
    got: list[int | None] = []
    for key in ("start", "end"):
        v = t.get(key)
        if v is None:
            got.append(None)
            continue
        try:
            s = parse_clock(str(v))
        except ValueError as exc:
            msg = f"{p}: shift.{key}: {exc}"
            raise TripsError(msg) from None
        if s < 0:
            msg = f"{p}: shift.{key} must be a time of the service day, got {v!r}"
            raise TripsError(msg)
        got.append(s)
    start, end = got
    if start is not None and end is not None and not start < end:
        msg = f"{p}: shift.start ({t['start']}) must come before shift.end ({t['end']})"
        raise TripsError(msg)
    return start, end


def read_fleet(path: str | Path) -> FleetSpec:
    """Read a fleet file (TOML or JSON by suffix; see the module docstring).

    Raises
    ------
    TripsError
        If the file is missing, of another kind, not parseable, has unknown tables or keys,
        or a value out of range (the message names the key).
    """
    p = Path(path)
    doc = _load_fleet_doc(p)
    unknown = sorted(set(doc) - {"depot", "buses", "vans", "shift"})
    if unknown:
        msg = f"{p}: unknown fleet table {unknown[0]!r} (known: depot, buses, vans, shift)"
        raise TripsError(msg)
    values: dict[str, Any] = {}
    for table, keys in _FLEET_FIELDS.items():
        t = _table(p, doc, table)
        extra = sorted(set(t) - set(keys))
        if extra:
            msg = f"{p}: unknown key {table}.{extra[0]} (known: {', '.join(keys)})"
            raise TripsError(msg)
        for key, (attr, lo, hi) in keys.items():
            if key in t:
                values[attr] = _fleet_int(p, f"{table}.{key}", t[key], lo, hi)
    start, end = _shift(p, doc)
    return FleetSpec(depot_lonlat=_depot(p, doc), shift_start_s=start, shift_end_s=end,
                     **values)
