"""A service profile: the rules of one on-demand service, read from one TOML file.

A town's on-demand service (デマンド交通) runs by the rules its local transport council
approved: where the vehicles may go (区域運行: service-area polygons, plus named
destinations outside it such as a hospital in the next town), where riders board
(registered 乗降場 or door to door), which trips it may not take from the fixed bus
route, when one must book, who may ride and at what fare, and what the service costs.
:func:`load_profile` reads such a file into a frozen :class:`ServiceProfile`; every bad
value is one :class:`dispatch.errors.ProfileError` naming the file, the table and the key.

The tables (see ``examples/profiles/kumamoto.toml`` for a documented example)::

    [service]       name, default_class
    [area]          geojson (file beside the TOML) and/or [[area.zones]] inline rings;
                    [[area.destinations]] named out-of-area points with a radius
    [boarding]      points = "door_to_door" | "gtfs" | CSV file (id,name,lon,lat), or a
                    list of "gtfs" and CSV files;
                    snap_m, wheelchair_boarding_min, boarding_min, gtfs = [feeds]
    [od]            [[od.forbidden]] from/to zone pairs; [od.fixed_route] feeds,
                    max_walk_m, max_wait_min, walk_speed_mps
    [calendar]      service days and hours (read by :mod:`dispatch.calendar`)
    [booking]       day_before_by = "HH:MM", min_notice_min, max_days_ahead,
                    members_only, members = [...] or members_csv
    [classes.NAME]  label, fare_discount_pct | fare_jpy, max_wait_min, max_ride_min,
                    boarding_min, door_to_door, allowed, max_companions,
                    companion_discount_pct, needs_member, fixed_route_exempt
    [fares]         kind = "flat" | "zone" | "distance" and its amounts; day_pass_jpy
    [costs]         per_vehicle_hour_jpy, per_km_jpy, per_vehicle_day_jpy

Paths in the file are relative to the file; ``"builtin"`` names the GTFS feeds of the
built-in Kumamoto region (``maps/data/kumamoto/*.gtfs.zip``).
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, NoReturn, Protocol

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape

from dispatch.errors import ProfileError


class CalendarLike(Protocol):
    """What the rules need of :class:`dispatch.calendar.ServiceCalendar`."""

    @property
    def hours(self) -> tuple[int, int]:
        """Service hours as (open, close) seconds of day."""

    def is_service_day(self, day: date) -> tuple[bool, str | None]:
        """Return whether ``day`` is a service day, and the reason when it is not."""

FloatArray = npt.NDArray[np.float64]

#: Mean Earth radius in metres (the same local projection as :mod:`dispatch.demand`).
EARTH_RADIUS_M = 6_371_008.8
#: Fare kinds a profile may name.
FARE_KINDS = ("flat", "zone", "distance")


def builtin_gtfs_feeds() -> tuple[Path, ...]:
    """Return the GTFS feeds of the built-in Kumamoto region, sorted by name."""
    from maps.region import DEFAULT_DATA_DIR

    return tuple(sorted(DEFAULT_DATA_DIR.glob("*.gtfs.zip")))


def metres_between(lon1: float, lat1: float, lon2: FloatArray | float,
                   lat2: FloatArray | float) -> Any:
    """Return the equirectangular distance in metres (fine at town scale)."""
    k = math.pi / 180.0 * EARTH_RADIUS_M
    dx = (np.asarray(lon2) - lon1) * k * math.cos(math.radians(lat1))
    dy = (np.asarray(lat2) - lat1) * k
    return np.hypot(dx, dy)


# ------------------------------------------------------------------------------ data
@dataclass(frozen=True, slots=True, kw_only=True)
class NamedPlace:
    """A named destination outside the service area, allowed within ``radius_m``."""

    name: str
    lon: float
    lat: float
    radius_m: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Zone:
    """A named service-area polygon (prepared for fast point tests)."""

    name: str
    geometry: Any = field(repr=False)

    def contains(self, lon: float, lat: float) -> bool:
        """Return whether the point lies in the zone (its boundary included)."""
        return bool(shapely.intersects_xy(self.geometry, lon, lat))


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceArea:
    """Where the service runs: zones, plus named destinations outside them."""

    zones: tuple[Zone, ...]
    destinations: tuple[NamedPlace, ...] = ()

    def zone_of(self, lon: float, lat: float) -> str | None:
        """Return the name of the first zone holding the point, or ``None``."""
        for z in self.zones:
            if z.contains(lon, lat):
                return z.name
        return None

    def destination_of(self, lon: float, lat: float) -> NamedPlace | None:
        """Return the allowed out-of-area destination within reach of the point."""
        for d in self.destinations:
            if float(metres_between(d.lon, d.lat, lon, lat)) <= d.radius_m:
                return d
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class BoardingPoint:
    """A registered boarding point (乗降場)."""

    id: str
    name: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Boarding:
    """Where riders board: registered points (``points`` non-empty) or door to door.

    A pickup or drop-off within ``snap_m`` of a registered point is at that point.
    ``boarding_s`` is the time a stop takes for a rider (classes may set their own);
    a wheelchair adds ``wheelchair_boarding_s``.
    """

    source: str
    points: tuple[BoardingPoint, ...] = ()
    snap_m: float = 30.0
    boarding_s: int = 60
    wheelchair_boarding_s: int = 300
    _lonlat: FloatArray = field(default_factory=lambda: np.zeros((0, 2)), repr=False,
                                compare=False)

    def __post_init__(self) -> None:
        arr = np.array([(p.lon, p.lat) for p in self.points], dtype=np.float64).reshape(-1, 2)
        object.__setattr__(self, "_lonlat", arr)

    @property
    def door_to_door(self) -> bool:
        """Whether every rider is picked up at the door (no registered points)."""
        return not self.points

    def nearest(self, lon: float, lat: float) -> tuple[BoardingPoint, float] | None:
        """Return the nearest registered point and its distance in metres."""
        if not self.points:
            return None
        d = metres_between(lon, lat, self._lonlat[:, 0], self._lonlat[:, 1])
        i = int(np.argmin(d))
        return self.points[i], float(d[i])


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedRouteRule:
    """"No competing with the fixed route": refuse a trip a GTFS bus serves.

    A trip is served when a bus of ``feeds`` leaves a stop within ``max_walk_m`` of the
    origin within ``max_wait_s`` after the rider could reach that stop (walking at
    ``walk_speed_mps`` from the wanted pickup time) and later calls at a stop within
    ``max_walk_m`` of the destination.
    """

    feeds: tuple[Path, ...]
    max_walk_m: float = 300.0
    max_wait_s: int = 900
    walk_speed_mps: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ODRules:
    """Origin-destination rules: forbidden zone pairs and the fixed-route rule."""

    forbidden: frozenset[tuple[str, str]] = frozenset()
    fixed_route: FixedRouteRule | None = None

    def is_forbidden(self, origin_zone: str, destination_zone: str) -> bool:
        """Return whether trips from ``origin_zone`` to ``destination_zone`` are refused
        (``"*"`` in a pair matches any zone)."""
        f = self.forbidden
        return bool(f) and any(p in f for p in (
            (origin_zone, destination_zone), ("*", destination_zone),
            (origin_zone, "*")))


@dataclass(frozen=True, slots=True, kw_only=True)
class BookingRules:
    """When and by whom a trip may be booked.

    ``day_before_by_s``: a trip must be booked by this time of the day before (``None``:
    same-day booking allowed); ``min_notice_s``: at least this long before the wanted
    time; ``max_days_ahead``: at most this many days before the service day.
    """

    day_before_by_s: int | None = None
    min_notice_s: int = 0
    max_days_ahead: int = 7
    members_only: bool = False
    members: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class RiderClass:
    """A rider class with its fare concession and its own limits.

    The fare is ``fare_jpy`` when set, else the base fare less ``fare_discount_pct``
    (rounded up to the profile's rounding step). Companions (同乗者) pay the base fare
    less ``companion_discount_pct``. ``None`` limits fall back to the service's.
    ``fixed_route_exempt``: the "no competing with the fixed route" rule does not apply
    (e.g. riders who cannot use the bus).
    """

    name: str
    label: str = ""
    allowed: bool = True
    needs_member: bool = False
    fare_discount_pct: float = 0.0
    fare_jpy: int | None = None
    max_wait_s: int | None = None
    max_ride_s: int | None = None
    boarding_s: int | None = None
    door_to_door: bool = False
    max_companions: int = 3
    companion_discount_pct: float = 0.0
    fixed_route_exempt: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class FareRules:
    """Base fares: flat, by zone pair, or by distance; day pass; rounding.

    ``zone``: ``zone_jpy[(from, to)]`` (either direction), else ``same_zone_jpy`` within
    a zone and ``cross_zone_jpy`` across zones; an allowed out-of-area destination
    counts as the zone ``"outside"``. ``distance``: ``base_jpy`` for the first
    ``base_km``, then ``per_step_jpy`` per started ``step_km``, capped at ``max_jpy``.
    """

    kind: str = "flat"
    flat_jpy: int = 0
    same_zone_jpy: int = 0
    cross_zone_jpy: int = 0
    zone_jpy: Mapping[tuple[str, str], int] = field(default_factory=dict)
    base_jpy: int = 0
    base_km: float = 0.0
    per_step_jpy: int = 0
    step_km: float = 1.0
    max_jpy: int | None = None
    round_up_jpy: int = 10
    day_pass_jpy: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CostModel:
    """Operating cost: per vehicle-hour, per km, and fixed per vehicle-day (JPY)."""

    per_vehicle_hour_jpy: float = 0.0
    per_km_jpy: float = 0.0
    per_vehicle_day_jpy: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceProfile:
    """The rules of one on-demand service (see the module docstring for the file)."""

    name: str
    source: Path
    area: ServiceArea
    boarding: Boarding
    od: ODRules
    booking: BookingRules
    classes: Mapping[str, RiderClass]
    default_class: str
    fares: FareRules
    costs: CostModel
    calendar: Mapping[str, Any] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def rider_class(self, name: str | None) -> RiderClass | None:
        """Return the class called ``name`` (the default class for ``None``)."""
        return self.classes.get(name or self.default_class)

    def service_calendar(self) -> CalendarLike:
        """Return the service calendar of the ``[calendar]`` table (built once, by
        :meth:`dispatch.calendar.ServiceCalendar.from_table`)."""
        cal: CalendarLike | None = self._cache.get("calendar")
        if cal is None:
            module = importlib.import_module("dispatch.calendar")
            cal = module.ServiceCalendar.from_table(dict(self.calendar),
                                                    source=f"{self.source}: [calendar]")
            self._cache["calendar"] = cal
        assert cal is not None
        return cal


# ------------------------------------------------------------------------------ reading
class _Table:
    """Typed access to one TOML table; every error names the file, table and key."""

    def __init__(self, path: Path, name: str, data: Any) -> None:
        self.path, self.name = path, name
        if not isinstance(data, dict):
            self.fail("", f"must be a table, got {type(data).__name__}")
        self.data: dict[str, Any] = data
        self.used: set[str] = set()

    def fail(self, key: str, problem: str) -> NoReturn:
        where = f"[{self.name}]" + (f" {key}" if key else "")
        msg = f"{self.path}: {where}: {problem}"
        raise ProfileError(msg)

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = None) -> Any:
        self.used.add(key)
        return self.data.get(key, default)

    def sub(self, key: str) -> _Table:
        self.used.add(key)
        return _Table(self.path, f"{self.name}.{key}" if self.name else key,
                      self.data.get(key, {}))

    def string(self, key: str, default: str | None = None) -> str:
        v = self.raw(key, default)
        if not isinstance(v, str) or (not v and default is None):
            self.fail(key, f"must be a non-empty string, got {v!r}")
        return str(v)

    def boolean(self, key: str, default: bool) -> bool:
        v = self.raw(key, default)
        if not isinstance(v, bool):
            self.fail(key, f"must be true or false, got {v!r}")
        return bool(v)

    def number(self, key: str, default: float | None, *, low: float = 0.0,
               high: float | None = None) -> float | None:
        v = self.raw(key, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            self.fail(key, f"must be a number, got {v!r}")
        if v < low or (high is not None and v > high):
            rng = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
            self.fail(key, f"must be {rng}, got {v!r}")
        return float(v)

    def num(self, key: str, default: float, *, low: float = 0.0,
            high: float | None = None) -> float:
        v = self.number(key, default, low=low, high=high)
        assert v is not None
        return v

    def integer(self, key: str, default: int | None, *, low: int = 0) -> int | None:
        v = self.raw(key, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(key, f"must be a whole number, got {v!r}")
        if v < low:
            self.fail(key, f"must be at least {low}, got {v!r}")
        return int(v)

    def minutes(self, key: str, default: int | None) -> int | None:
        """A duration in minutes, returned in seconds."""
        v = self.number(key, None if default is None else default / 60.0)
        return None if v is None else round(v * 60)

    def clock(self, key: str) -> int | None:
        """An ``"HH:MM"`` time of day, returned in seconds."""
        v = self.raw(key)
        if v is None:
            return None
        ok = isinstance(v, str) and len(v.split(":")) == 2
        if ok:
            h, m = v.split(":")
            ok = h.isdigit() and m.isdigit() and 0 <= int(h) <= 24 and 0 <= int(m) < 60
        if not ok:
            self.fail(key, f"must be a time \"HH:MM\", got {v!r}")
        h, m = str(v).split(":")
        return int(h) * 3600 + int(m) * 60

    def file(self, key: str, value: Any = None) -> Path:
        v = self.raw(key) if value is None else value
        if not isinstance(v, str) or not v:
            self.fail(key, f"must be a file path, got {v!r}")
        p = (self.path.parent / str(v)).resolve()
        if not p.is_file():
            self.fail(key, f"file not found: {p}")
        return p

    def feeds(self, key: str) -> tuple[Path, ...]:
        v = self.raw(key, "builtin")
        if v == "builtin":
            out = builtin_gtfs_feeds()
            if not out:
                self.fail(key, "no built-in GTFS feed found")
            return out
        if not isinstance(v, list) or not v:
            self.fail(key, f"must be \"builtin\" or a list of GTFS zip files, got {v!r}")
        return tuple(self.file(f"{key}[{i}]", x) for i, x in enumerate(v))

    def done(self, *, allow: tuple[str, ...] = ()) -> None:
        extra = sorted(set(self.data) - self.used - set(allow))
        if extra:
            self.fail(extra[0], "unknown key (check the spelling)")


def _ring(t: _Table, key: str, ring: Any) -> Polygon:
    if (not isinstance(ring, list) or len(ring) < 3 or not all(
            isinstance(p, list) and len(p) == 2
            and all(isinstance(c, int | float) and not isinstance(c, bool) for c in p)
            for p in ring)):
        t.fail(key, "must be a list of at least 3 [lon, lat] pairs")
    poly = Polygon([(float(a), float(b)) for a, b in ring])
    if not poly.is_valid or poly.area == 0:
        t.fail(key, f"is not a valid polygon ({shapely.is_valid_reason(poly)})")
    if not all(-180 <= a <= 180 and -90 <= b <= 90 for a, b in ring):
        t.fail(key, "holds a point outside lon -180..180 / lat -90..90")
    return poly


def _zones_from_geojson(t: _Table, path: Path) -> list[Zone]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        feats = data["features"] if data.get("type") == "FeatureCollection" else [data]
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        t.fail("geojson", f"{path}: not a GeoJSON feature collection ({exc})")
    zones: list[Zone] = []
    for i, f in enumerate(feats):
        try:
            geom = shape(f["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            t.fail("geojson", f"{path}: feature {i} has no readable geometry ({exc})")
        if not isinstance(geom, Polygon | MultiPolygon) or not geom.is_valid:
            t.fail("geojson", f"{path}: feature {i} is not a valid polygon")
        props = f.get("properties") or {}
        name = props.get("zone") or props.get("name") or f"zone{i + 1}"
        shapely.prepare(geom)
        zones.append(Zone(name=str(name), geometry=geom))
    return zones


def _area(t: _Table) -> ServiceArea:
    zones: list[Zone] = []
    if t.has("geojson"):
        zones += _zones_from_geojson(t, t.file("geojson"))
    for i, z in enumerate(t.raw("zones", []) or []):
        zt = _Table(t.path, f"{t.name}.zones[{i}]", z)
        name = zt.string("name")
        poly = _ring(zt, "ring", zt.raw("ring"))
        shapely.prepare(poly)
        zones.append(Zone(name=name, geometry=poly))
        zt.done()
    if not zones:
        t.fail("zones", "the service area needs at least one zone (geojson or [[area.zones]])")
    names = [z.name for z in zones]
    if len(set(names)) != len(names):
        t.fail("zones", f"zone names must be distinct, got {names}")
    dests: list[NamedPlace] = []
    for i, d in enumerate(t.raw("destinations", []) or []):
        dt = _Table(t.path, f"{t.name}.destinations[{i}]", d)
        dests.append(NamedPlace(name=dt.string("name"),
                                lon=dt.num("lon", math.nan, low=-180, high=180),
                                lat=dt.num("lat", math.nan, low=-90, high=90),
                                radius_m=dt.num("radius_m", 100.0)))
        dt.done()
    t.done()
    return ServiceArea(zones=tuple(zones), destinations=tuple(dests))


def _points_from_csv(t: _Table, path: Path) -> list[BoardingPoint]:
    out: list[BoardingPoint] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"id", "name", "lon", "lat"} - set(reader.fieldnames or [])
        if missing:
            t.fail("points", f"{path}: missing column {sorted(missing)[0]!r} "
                   "(need id,name,lon,lat)")
        for n, row in enumerate(reader, start=2):
            try:
                lon, lat = float(row["lon"]), float(row["lat"])
            except ValueError:
                t.fail("points", f"{path}:{n}: unreadable lon/lat {row['lon']!r}, "
                       f"{row['lat']!r}")
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                t.fail("points", f"{path}:{n}: lon/lat out of range")
            out.append(BoardingPoint(id=row["id"], name=row["name"], lon=lon, lat=lat))
    if not out:
        t.fail("points", f"{path}: no boarding point")
    return out


def _points_from_gtfs(feeds: tuple[Path, ...]) -> list[BoardingPoint]:
    from maps.region import stops_from_gtfs

    out: list[BoardingPoint] = []
    for f in feeds:
        s = stops_from_gtfs(f)
        for sid, name, feed, lon, lat in zip(s["stop_id"], s["name"], s["feed"], s["lon"],
                                             s["lat"], strict=True):
            out.append(BoardingPoint(id=f"{feed}:{sid}", name=str(name), lon=float(lon),
                                     lat=float(lat)))
    return out


def _boarding(t: _Table, area: ServiceArea) -> Boarding:
    src = t.raw("points", "door_to_door")
    sources = src if isinstance(src, list) else [src]
    if not sources or not all(isinstance(x, str) and x for x in sources):
        t.fail("points", f"must be \"door_to_door\", \"gtfs\", a CSV file or a list of "
               f"\"gtfs\" and CSV files, got {src!r}")
    points: list[BoardingPoint] = []
    if "door_to_door" in sources:
        if len(sources) > 1:
            t.fail("points", "\"door_to_door\" cannot be combined with boarding points")
        t.raw("gtfs")
    for x in sources:
        if x == "gtfs":
            gtfs = _points_from_gtfs(t.feeds("gtfs"))
            # keep the stops where the service runs (in a zone or at a named destination)
            points += [p for p in gtfs if area.zone_of(p.lon, p.lat) is not None
                       or area.destination_of(p.lon, p.lat) is not None]
        elif x != "door_to_door":
            points += _points_from_csv(t, t.file("points", x))
    if sources != ["door_to_door"] and not points:
        t.fail("points", "no boarding point lies in the service area")
    b = Boarding(source="+".join(sources), points=tuple(points),
                 snap_m=t.num("snap_m", 30.0),
                 boarding_s=t.minutes("boarding_min", 60) or 0,
                 wheelchair_boarding_s=t.minutes("wheelchair_boarding_min", 300) or 0)
    t.done()
    return b


def _od(t: _Table, area: ServiceArea) -> ODRules:
    names = {z.name for z in area.zones} | {"outside", "*"}
    pairs: set[tuple[str, str]] = set()
    for i, p in enumerate(t.raw("forbidden", []) or []):
        pt = _Table(t.path, f"{t.name}.forbidden[{i}]", p)
        a, b = pt.string("from"), pt.string("to")
        for key, z in (("from", a), ("to", b)):
            if z not in names:
                pt.fail(key, f"unknown zone {z!r} (zones: {sorted(names - {'*'})})")
        pairs.add((a, b))
        if pt.boolean("both_ways", False):
            pairs.add((b, a))
        pt.done()
    fixed: FixedRouteRule | None = None
    if t.has("fixed_route"):
        ft = t.sub("fixed_route")
        if ft.boolean("enabled", True):
            fixed = FixedRouteRule(
                feeds=ft.feeds("feeds"), max_walk_m=ft.num("max_walk_m", 300.0),
                max_wait_s=ft.minutes("max_wait_min", 900) or 0,
                walk_speed_mps=ft.num("walk_speed_mps", 1.0, low=0.1))
        else:
            ft.raw("feeds"), ft.raw("max_walk_m"), ft.raw("max_wait_min")
            ft.raw("walk_speed_mps")
        ft.done()
    t.done()
    return ODRules(forbidden=frozenset(pairs), fixed_route=fixed)


def _booking(t: _Table) -> BookingRules:
    members: set[str] = set()
    raw = t.raw("members", [])
    if not isinstance(raw, list) or not all(isinstance(m, str) and m for m in raw):
        t.fail("members", "must be a list of member ids (strings)")
    members.update(raw)
    if t.has("members_csv"):
        p = t.file("members_csv")
        with p.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if "member_id" not in (reader.fieldnames or []):
                t.fail("members_csv", f"{p}: needs a member_id column")
            members.update(row["member_id"] for row in reader if row["member_id"])
    b = BookingRules(day_before_by_s=t.clock("day_before_by"),
                     min_notice_s=t.minutes("min_notice_min", 0) or 0,
                     max_days_ahead=t.integer("max_days_ahead", 7) or 0,
                     members_only=t.boolean("members_only", False),
                     members=frozenset(members))
    if b.members_only and not b.members:
        t.fail("members_only", "is true but no member is listed (members or members_csv)")
    t.done()
    return b


def _classes(t: _Table) -> dict[str, RiderClass]:
    out: dict[str, RiderClass] = {}
    for name in t.data:
        ct = t.sub(name)
        fare = ct.integer("fare_jpy", None)
        disc = ct.num("fare_discount_pct", 0.0, high=100.0)
        if fare is not None and ct.has("fare_discount_pct"):
            ct.fail("fare_jpy", "give fare_jpy or fare_discount_pct, not both")
        out[name] = RiderClass(
            name=name, label=ct.string("label", name), allowed=ct.boolean("allowed", True),
            needs_member=ct.boolean("needs_member", False), fare_discount_pct=disc,
            fare_jpy=fare, max_wait_s=ct.minutes("max_wait_min", None),
            max_ride_s=ct.minutes("max_ride_min", None),
            boarding_s=ct.minutes("boarding_min", None),
            door_to_door=ct.boolean("door_to_door", False),
            max_companions=ct.integer("max_companions", 3) or 0,
            companion_discount_pct=ct.num("companion_discount_pct", 0.0, high=100.0),
            fixed_route_exempt=ct.boolean("fixed_route_exempt", False))
        ct.done()
    if not out:
        t.fail("", "define at least one rider class ([classes.general])")
    return out


def _zone_pair(t: _Table, key: str, names: set[str]) -> tuple[str, str]:
    parts = key.split("-")
    if len(parts) != 2 or not all(p in names for p in parts):
        t.fail(key, f"must name two zones as \"from-to\" (zones: {sorted(names)})")
    return parts[0], parts[1]


def _fares(t: _Table, area: ServiceArea) -> FareRules:
    kind = t.string("kind", "flat")
    if kind not in FARE_KINDS:
        t.fail("kind", f"must be one of {', '.join(FARE_KINDS)}, got {kind!r}")
    names = {z.name for z in area.zones} | {"outside"}
    pairs: dict[tuple[str, str], int] = {}
    if t.has("zones"):
        zt = t.sub("zones")
        for key in zt.data:
            pair = _zone_pair(zt, key, names)
            v = zt.integer(key, None)
            assert v is not None
            pairs[pair] = v
        zt.done()
    need = {"flat": ("flat_jpy",), "zone": ("same_zone_jpy", "cross_zone_jpy"),
            "distance": ("base_jpy", "per_step_jpy")}[kind]
    for key in need:
        if not t.has(key):
            t.fail(key, f"is required for kind = {kind!r}")
    f = FareRules(kind=kind, flat_jpy=t.integer("flat_jpy", 0) or 0,
                  same_zone_jpy=t.integer("same_zone_jpy", 0) or 0,
                  cross_zone_jpy=t.integer("cross_zone_jpy", 0) or 0, zone_jpy=pairs,
                  base_jpy=t.integer("base_jpy", 0) or 0, base_km=t.num("base_km", 0.0),
                  per_step_jpy=t.integer("per_step_jpy", 0) or 0,
                  step_km=t.num("step_km", 1.0, low=0.001),
                  max_jpy=t.integer("max_jpy", None),
                  round_up_jpy=t.integer("round_up_jpy", 10, low=1) or 1,
                  day_pass_jpy=t.integer("day_pass_jpy", None))
    t.done()
    return f


def _costs(t: _Table) -> CostModel:
    c = CostModel(per_vehicle_hour_jpy=t.num("per_vehicle_hour_jpy", 0.0),
                  per_km_jpy=t.num("per_km_jpy", 0.0),
                  per_vehicle_day_jpy=t.num("per_vehicle_day_jpy", 0.0))
    t.done()
    return c


def load_profile(path: str | Path) -> ServiceProfile:
    """Read a service profile from a TOML file.

    Raises
    ------
    ProfileError
        When the file is missing or not TOML, or a value is bad; the message names the
        file, the table and the key (one line).
    """
    p = Path(path).resolve()
    if not p.is_file():
        msg = f"{p}: profile file not found"
        raise ProfileError(msg)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"{p}: not a TOML file ({exc})"
        raise ProfileError(msg) from exc
    top = _Table(p, "", data)
    svc = top.sub("service")
    name = svc.string("name")
    area = _area(top.sub("area"))
    boarding = _boarding(top.sub("boarding"), area)
    od = _od(top.sub("od"), area)
    booking = _booking(top.sub("booking"))
    classes = _classes(top.sub("classes"))
    default = svc.string("default_class", "general")
    if default not in classes:
        svc.fail("default_class", f"names no class (classes: {sorted(classes)})")
    svc.done()
    fares = _fares(top.sub("fares"), area)
    costs = _costs(top.sub("costs"))
    cal = top.raw("calendar", {})
    if not isinstance(cal, dict):
        top.fail("calendar", "must be a table")
    top.done()
    profile = ServiceProfile(name=name, source=p, area=area, boarding=boarding, od=od,
                             booking=booking, classes=classes, default_class=default,
                             fares=fares, costs=costs, calendar=cal)
    _check_calendar(profile)
    return profile


def _check_calendar(profile: ServiceProfile) -> None:
    """Validate the ``[calendar]`` table now when :mod:`dispatch.calendar` is there."""
    if importlib.util.find_spec("dispatch.calendar") is None:
        return
    try:
        profile.service_calendar()
    except ProfileError:
        raise
    except ValueError as exc:
        msg = str(exc) if str(profile.source) in str(exc) else (
            f"{profile.source}: [calendar]: {exc}")
        raise ProfileError(msg) from exc
