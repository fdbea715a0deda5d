"""GTFS-Flex export of a service profile, so that journey planners can show the service.

GTFS-Flex (part of GTFS Schedule since 2024) describes demand-responsive service as
trips whose stops are zones (``locations.geojson``) served within a time window
(``stop_times.txt``: ``start_pickup_drop_off_window`` / ``end_pickup_drop_off_window``)
under booking rules (``booking_rules.txt``). :func:`export` writes, from a
:class:`dispatch.profile.ServiceProfile`:

* ``locations.geojson``: each service-area zone (Polygon/MultiPolygon), and each named
  out-of-area destination as a polygon of its radius;
* ``booking_rules.txt``: one rule from the profile's ``[booking]`` table —
  ``booking_type`` 2 (prior day, ``prior_notice_last_day`` 1 and
  ``prior_notice_last_time``) when booking closes the day before, else 1 (same day, with
  ``prior_notice_duration_min``), or 0 (real time) without notice; the booking horizon as
  ``prior_notice_start_day``;
* ``trips.txt`` and ``stop_times.txt``: per zone a trip within the zone (the zone twice:
  pick up, drop off), per allowed ordered zone pair a trip from one to the other, and per
  zone one trip to the named destinations and one back; forbidden zone pairs
  (``[od.forbidden]``) get no trip. Windows are the calendar's service hours;
  ``pickup_type``/``drop_off_type`` 2 (phone the agency) where allowed, 1 where not;
* ``agency.txt``, ``routes.txt`` (one route, ``route_type`` 3), ``calendar.txt`` (the
  service's days of the week over the export's dates) and ``calendar_dates.txt``
  (``exception_type`` 2 on every public holiday and closure in that range, 1 on extra
  service dates), ``feed_info.txt``.

What a feed cannot carry: rider classes, fares by class, members-only rules and the
"no competing with the fixed route" rule are not exported (GTFS-Flex has no field for
them). By default the zones are the pickup areas (door to door) and the registered
boarding points (乗降場) are named in the booking rule's message; ``pickup="points"``
exports each zone's boarding points as a location group instead (``stops.txt``,
``location_groups.txt``, ``location_group_stops.txt``). :func:`check_feed` reads a feed
back and lists every broken field rule and cross-reference.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dispatch.calendar import ServiceCalendar
from dispatch.errors import DispatchError

if TYPE_CHECKING:
    from dispatch.profile import ServiceProfile

ROUTE_ID = "ondemand"
SERVICE_ID = "service"
BOOKING_RULE_ID = "booking"
#: Vertices of the polygon drawn for a named destination's radius.
CIRCLE_VERTICES = 24
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class FlexExportError(DispatchError, ValueError):
    """A profile or export option that cannot make a feed: names the field."""


def _hms(s: int) -> str:
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _circle(lon: float, lat: float, radius_m: float) -> list[list[float]]:
    dlat = radius_m / 111_195.0
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    ring = [[round(lon + dlon * math.cos(2 * math.pi * k / CIRCLE_VERTICES), 7),
             round(lat + dlat * math.sin(2 * math.pi * k / CIRCLE_VERTICES), 7)]
            for k in range(CIRCLE_VERTICES)]
    return [*ring, ring[0]]


def _slug(name: str, taken: set[str]) -> str:
    base = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in name)
    base = base.strip("_") or "loc"
    out, k = base, 2
    while out in taken:
        out, k = f"{base}_{k}", k + 1
    taken.add(out)
    return out


def booking_rule(profile: ServiceProfile, phone: str = "", url: str = "") -> dict[str, str]:
    """Return the ``booking_rules.txt`` row of the profile's booking rules."""
    bk = profile.booking
    row = {"booking_rule_id": BOOKING_RULE_ID}
    points = "" if profile.boarding.door_to_door else (
        " 乗降場 (registered boarding points) only; door to door for some rider classes.")
    members = " Registered members only." if bk.members_only else ""
    if bk.day_before_by_s is not None:
        row.update(booking_type="2", prior_notice_last_day="1",
                   prior_notice_last_time=_hms(bk.day_before_by_s))
        when = f"Book by {_hms(bk.day_before_by_s)[:5]} the day before"
    elif bk.min_notice_s > 0:
        row.update(booking_type="1",
                   prior_notice_duration_min=str(math.ceil(bk.min_notice_s / 60)))
        when = f"Book at least {math.ceil(bk.min_notice_s / 60)} minutes ahead"
    else:
        row.update(booking_type="0")
        when = "Book any time"
    if row["booking_type"] != "0" and bk.max_days_ahead > 0:
        row.update(prior_notice_start_day=str(bk.max_days_ahead),
                   prior_notice_start_time="00:00:00")
        when += f", at most {bk.max_days_ahead} days ahead"
    row["message"] = f"{when}.{points}{members}"
    if phone:
        row["phone_number"] = phone
    if url:
        row["booking_url"] = url
    return row


def _locations(profile: ServiceProfile) -> tuple[dict[str, Any], dict[str, str],
                                                  dict[str, str]]:
    from shapely.geometry import mapping

    taken: set[str] = set()
    features = []
    zones: dict[str, str] = {}
    for z in profile.area.zones:
        lid = _slug(f"zone_{z.name}", taken)
        zones[z.name] = lid
        geom = mapping(z.geometry)
        if geom["type"] not in ("Polygon", "MultiPolygon"):
            msg = f"{profile.source}: zone {z.name!r} is a {geom['type']}, not a polygon"
            raise FlexExportError(msg)
        features.append({"type": "Feature", "id": lid,
                         "properties": {"stop_name": z.name, "stop_desc": "service area zone"},
                         "geometry": json.loads(json.dumps(geom))})
    dests: dict[str, str] = {}
    for k, d in enumerate(profile.area.destinations, start=1):
        lid = _slug(f"dest_{k}", taken)
        dests[d.name] = lid
        features.append({"type": "Feature", "id": lid,
                         "properties": {"stop_name": d.name,
                                        "stop_desc": f"destination outside the zones, "
                                                     f"within {d.radius_m:.0f} m"},
                         "geometry": {"type": "Polygon",
                                      "coordinates": [_circle(d.lon, d.lat, d.radius_m)]}})
    return {"type": "FeatureCollection", "features": features}, zones, dests


def _trips(profile: ServiceProfile, zones: Mapping[str, str], dests: Mapping[str, str],
           window: tuple[int, int], groups: frozenset[str] = frozenset(),
           ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Trips and stop times; an id in ``groups`` is a location group, else a location."""
    trips: list[dict[str, str]] = []
    times: list[dict[str, str]] = []
    start, end = _hms(window[0]), _hms(window[1])

    def trip(tid: str, stops: Sequence[tuple[str, bool, bool]], headsign: str) -> None:
        trips.append({"route_id": ROUTE_ID, "service_id": SERVICE_ID, "trip_id": tid,
                      "trip_headsign": headsign})
        for k, (lid, pick, drop) in enumerate(stops, start=1):
            key = "location_group_id" if lid in groups else "location_id"
            times.append({
                "trip_id": tid, "stop_sequence": str(k), key: lid,
                "start_pickup_drop_off_window": start, "end_pickup_drop_off_window": end,
                "pickup_type": "2" if pick else "1", "drop_off_type": "2" if drop else "1",
                "pickup_booking_rule_id": BOOKING_RULE_ID if pick else "",
                "drop_off_booking_rule_id": BOOKING_RULE_ID if drop else ""})

    od = profile.od
    for a, la in zones.items():
        for b, lb in zones.items():
            if od.is_forbidden(a, b):
                continue
            if a == b:
                trip(f"within_{la}", [(la, True, False), (la, False, True)], f"within {a}")
            else:
                trip(f"{la}_to_{lb}", [(la, True, False), (lb, False, True)], f"{a} to {b}")
        out = [d for d in dests if not od.is_forbidden(a, "outside")]
        back = [d for d in dests if not od.is_forbidden("outside", a)]
        if out:
            trip(f"{la}_to_destinations",
                 [(la, True, False), *((dests[d], False, True) for d in out)],
                 f"{a} to the named destinations")
        if back:
            trip(f"destinations_to_{la}",
                 [*((dests[d], True, False) for d in back), (la, False, True)],
                 f"the named destinations to {a}")
    return trips, times


def _calendar(cal: ServiceCalendar, start: date, end: date) -> tuple[dict[str, str],
                                                                  list[dict[str, str]]]:
    row = {"service_id": SERVICE_ID,
           **{name: "1" if k in cal.weekdays else "0" for k, name in enumerate(_DAYS)},
           "start_date": start.strftime("%Y%m%d"), "end_date": end.strftime("%Y%m%d")}
    exceptions = []
    day = start
    while day <= end:
        weekly = day.weekday() in cal.weekdays
        runs = cal.check(day).open
        if weekly != runs:
            exceptions.append({"service_id": SERVICE_ID, "date": day.strftime("%Y%m%d"),
                               "exception_type": "1" if runs else "2"})
        day += timedelta(days=1)
    return row, exceptions


def _write(path: Path, rows: Sequence[Mapping[str, str]], header: Sequence[str]) -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(header), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in header})
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _point_groups(profile: ServiceProfile, zone_ids: Mapping[str, str],
                  taken: set[str]) -> tuple[dict[str, str], list[dict[str, str]],
                                            list[dict[str, str]], list[dict[str, str]]]:
    """Location groups of the registered boarding points in each zone: (zone -> group
    id, stops.txt rows, location_groups.txt rows, location_group_stops.txt rows)."""
    groups: dict[str, str] = {}
    stops: dict[str, dict[str, str]] = {}
    names, members = [], []
    for z in profile.area.zones:
        inside = [b for b in profile.boarding.points if z.contains(b.lon, b.lat)]
        if not inside:
            continue
        gid = _slug(f"points_{zone_ids[z.name]}", taken)
        groups[z.name] = gid
        names.append({"location_group_id": gid,
                      "location_group_name": f"乗降場 of {z.name}"})
        for b in inside:
            stops.setdefault(b.id, {"stop_id": b.id, "stop_name": b.name or b.id,
                                    "stop_lat": f"{b.lat:.6f}", "stop_lon": f"{b.lon:.6f}"})
            members.append({"location_group_id": gid, "stop_id": b.id})
    return groups, list(stops.values()), names, members


def export(profile: ServiceProfile, out: str | Path, *, start: date, end: date,
           agency_url: str, phone: str = "", booking_url: str = "",
           pickup: str = "zones") -> list[Path]:
    """Write the profile as a GTFS-Flex feed into ``out``; return the files written.

    Parameters
    ----------
    profile
        The service.
    out
        Output folder (created).
    start, end
        The dates the feed covers (``calendar.txt``; holidays and closures in between
        are removed in ``calendar_dates.txt``).
    agency_url
        The operator's web page (required by GTFS; not in the profile).
    phone, booking_url
        Where riders book (``booking_rules.txt``), optional.
    pickup
        ``"zones"``: riders are picked up anywhere in a zone (door to door);
        ``"points"``: only at the profile's registered boarding points of each zone
        (``stops.txt``, ``location_groups.txt``, ``location_group_stops.txt``; the zones
        are then not written, since no trip uses them).

    Raises
    ------
    FlexExportError
        For an empty date range, a missing agency URL or a profile without zones.
    """
    if end < start:
        msg = f"gtfs-flex: end {end} is before start {start}"
        raise FlexExportError(msg)
    if (end - start).days > 366 * 2:
        msg = f"gtfs-flex: {start}..{end} spans more than two years"
        raise FlexExportError(msg)
    if not agency_url.startswith(("http://", "https://")):
        msg = f"gtfs-flex: agency URL must be a full http(s) URL, got {agency_url!r}"
        raise FlexExportError(msg)
    if not profile.area.zones:
        msg = f"{profile.source}: the profile has no service-area zone to export"
        raise FlexExportError(msg)
    if pickup not in ("zones", "points"):
        msg = f"gtfs-flex: pickup must be zones or points, got {pickup!r}"
        raise FlexExportError(msg)
    if pickup == "points" and profile.boarding.door_to_door:
        msg = f"{profile.source}: pickup at points needs registered boarding points"
        raise FlexExportError(msg)
    cal = (ServiceCalendar.from_table(dict(profile.calendar),
                                      source=f"{profile.source}: [calendar]")
           if profile.calendar else ServiceCalendar())
    lang, timezone = "ja", "Asia/Tokyo"  # GTFS-JP: Japanese, Japan Standard Time
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    geo, zones, dests = _locations(profile)
    extra: list[Path] = []
    group_ids: frozenset[str] = frozenset()
    if pickup == "points":
        taken = {str(f["id"]) for f in geo["features"]}
        zones, stops, names, members = _point_groups(profile, zones, taken)
        dest_ids = set(dests.values())
        geo["features"] = [f for f in geo["features"] if f["id"] in dest_ids]
        group_ids = frozenset(zones.values())
        extra = [
            _write(o / "stops.txt", stops, ["stop_id", "stop_name", "stop_lat", "stop_lon"]),
            _write(o / "location_groups.txt", names,
                   ["location_group_id", "location_group_name"]),
            _write(o / "location_group_stops.txt", members, ["location_group_id", "stop_id"]),
        ]
    trips, times = _trips(profile, zones, dests, cal.hours, group_ids)
    row, exceptions = _calendar(cal, start, end)
    (o / "locations.geojson").write_text(json.dumps(geo, ensure_ascii=False, indent=1),
                                         encoding="utf-8")
    rule = booking_rule(profile, phone, booking_url)
    return [
        _write(o / "agency.txt", [{"agency_id": "operator", "agency_name": profile.name,
                                   "agency_url": agency_url, "agency_timezone": timezone,
                                   "agency_lang": lang, "agency_phone": phone}],
               ["agency_id", "agency_name", "agency_url", "agency_timezone", "agency_lang",
                "agency_phone"]),
        _write(o / "routes.txt", [{"route_id": ROUTE_ID, "agency_id": "operator",
                                   "route_long_name": profile.name, "route_type": "3"}],
               ["route_id", "agency_id", "route_short_name", "route_long_name",
                "route_type"]),
        _write(o / "trips.txt", trips, ["route_id", "service_id", "trip_id", "trip_headsign"]),
        _write(o / "stop_times.txt", times, [
            "trip_id", "stop_sequence", "location_group_id", "location_id",
            "start_pickup_drop_off_window",
            "end_pickup_drop_off_window", "pickup_type", "drop_off_type",
            "pickup_booking_rule_id", "drop_off_booking_rule_id"]),
        _write(o / "booking_rules.txt", [rule], [
            "booking_rule_id", "booking_type", "prior_notice_duration_min",
            "prior_notice_last_day", "prior_notice_last_time", "prior_notice_start_day",
            "prior_notice_start_time", "message", "phone_number", "booking_url"]),
        _write(o / "calendar.txt", [row], ["service_id", *_DAYS, "start_date", "end_date"]),
        _write(o / "calendar_dates.txt", exceptions, ["service_id", "date", "exception_type"]),
        _write(o / "feed_info.txt", [{"feed_publisher_name": profile.name,
                                      "feed_publisher_url": agency_url, "feed_lang": lang,
                                      "feed_start_date": row["start_date"],
                                      "feed_end_date": row["end_date"]}],
               ["feed_publisher_name", "feed_publisher_url", "feed_lang", "feed_start_date",
                "feed_end_date"]),
        o / "locations.geojson",
        *extra,
    ]


# ------------------------------------------------------------------------------ checking
def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _secs(text: str) -> int | None:
    parts = text.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    h, m, s = (int(p) for p in parts)
    return h * 3600 + m * 60 + s if m < 60 and s < 60 else None


def _check_booking_rules(rules: Sequence[Mapping[str, str]]) -> list[str]:
    problems = []
    for r in rules:
        rid, bt = r.get("booking_rule_id", ""), r.get("booking_type", "")
        where = f"booking_rules.txt {rid!r}"
        if not rid or bt not in ("0", "1", "2"):
            problems.append(f"{where}: booking_rule_id and booking_type 0/1/2 are required")
            continue
        has = {k for k, v in r.items() if v}
        need = {"1": {"prior_notice_duration_min"},
                "2": {"prior_notice_last_day", "prior_notice_last_time"}}.get(bt, set())
        forbid = {"0": {"prior_notice_duration_min", "prior_notice_duration_max",
                        "prior_notice_last_day", "prior_notice_last_time",
                        "prior_notice_start_day", "prior_notice_start_time"},
                  "1": {"prior_notice_last_day", "prior_notice_last_time"},
                  "2": {"prior_notice_duration_min", "prior_notice_duration_max"}}[bt]
        problems += [f"{where}: {k} is required for booking_type {bt}" for k in need - has]
        problems += [f"{where}: {k} is forbidden for booking_type {bt}"
                     for k in sorted(forbid & has)]
        if ("prior_notice_start_day" in has) != ("prior_notice_start_time" in has):
            problems.append(f"{where}: prior_notice_start_time goes with "
                            "prior_notice_start_day")
        for k in ("prior_notice_last_time", "prior_notice_start_time"):
            if k in has and _secs(r[k]) is None:
                problems.append(f"{where}: {k} {r[k]!r} is not HH:MM:SS")
    return problems


def _check_stop_times(times: Sequence[Mapping[str, str]], locations: set[str],
                      rules: set[str], trips: set[str], groups: set[str]) -> list[str]:
    problems = []
    used_trips = set()
    for i, st in enumerate(times, start=2):
        where = f"stop_times.txt line {i}"
        used_trips.add(st.get("trip_id", ""))
        if st.get("trip_id") not in trips:
            problems.append(f"{where}: trip_id {st.get('trip_id')!r} is not in trips.txt")
        lid, gid = st.get("location_id") or "", st.get("location_group_id") or ""
        if bool(lid) == bool(gid) or st.get("stop_id"):
            problems.append(f"{where}: exactly one of location_id and location_group_id "
                            "(and no stop_id) is needed")
        elif lid and lid not in locations:
            problems.append(f"{where}: location_id {lid!r} is not in locations.geojson")
        elif gid and gid not in groups:
            problems.append(f"{where}: location_group_id {gid!r} is not in "
                            "location_groups.txt")
        a = _secs(st.get("start_pickup_drop_off_window", ""))
        b = _secs(st.get("end_pickup_drop_off_window", ""))
        if a is None or b is None or not a < b:
            problems.append(f"{where}: the pickup/drop-off window must be two HH:MM:SS "
                            "times, start before end")
        if st.get("arrival_time") or st.get("departure_time"):
            problems.append(f"{where}: arrival/departure times are forbidden with a window")
        if st.get("pickup_type") in ("0", "3") or st.get("drop_off_type") == "0":
            problems.append(f"{where}: pickup_type 0/3 and drop_off_type 0 are forbidden "
                            "with a window")
        for k in ("pickup_booking_rule_id", "drop_off_booking_rule_id"):
            if st.get(k) and st[k] not in rules:
                problems.append(f"{where}: {k} {st[k]!r} is not in booking_rules.txt")
    problems += [f"trips.txt: trip {t!r} has no stop_times" for t in sorted(trips - used_trips)]
    return problems


def _check_agency_routes(agency: Sequence[Mapping[str, str]],
                         routes: Mapping[str, Mapping[str, str]]) -> list[str]:
    problems = [f"agency.txt: {k} is required" for a in agency
                for k in ("agency_name", "agency_url", "agency_timezone") if not a.get(k)]
    if not agency:
        problems.append("agency.txt: no agency")
    for rid, r in routes.items():
        if not (r.get("route_short_name") or r.get("route_long_name")) or not r.get(
                "route_type"):
            problems.append(f"routes.txt {rid!r}: a name and route_type are required")
        if len(agency) > 1 and r.get("agency_id") not in {a.get("agency_id") for a in agency}:
            problems.append(f"routes.txt {rid!r}: agency_id is not in agency.txt")
    return problems


def _check_groups(d: Path, location_ids: set[str]) -> tuple[set[str], list[str]]:
    """Location groups and their stops: every member is a stop of stops.txt; ids are
    unique across stops, locations and groups."""
    if not (d / "location_groups.txt").is_file():
        return set(), []
    groups = {g.get("location_group_id", "") for g in _read(d / "location_groups.txt")}
    stops = {s.get("stop_id", "") for s in _read(d / "stops.txt")} if (
        d / "stops.txt").is_file() else set()
    problems = [f"location_group_stops.txt: {m.get('location_group_id')!r}/"
                f"{m.get('stop_id')!r} names an unknown group or stop"
                for m in (_read(d / "location_group_stops.txt")
                          if (d / "location_group_stops.txt").is_file() else [])
                if m.get("location_group_id") not in groups or m.get("stop_id") not in stops]
    clash = (groups & stops) | (groups & location_ids) | (stops & location_ids)
    if clash:
        problems.append(f"ids used twice across stops, locations and groups: {sorted(clash)[:3]}")
    return groups, problems


def check_feed(folder: str | Path) -> list[str]:
    """Read a GTFS-Flex feed back and return every problem found (empty when none).

    Checked: the required files and fields; every ``location_id`` in ``stop_times.txt``
    is a feature of ``locations.geojson`` (Polygon or MultiPolygon, unique ids), every
    ``location_group_id`` a group of ``location_groups.txt`` whose stops are in
    ``stops.txt``, every
    booking rule and trip used exists, every trip's route and service exist; windows are
    HH:MM:SS with start before end, no arrival/departure times beside them, no
    pickup_type 0/3 or drop_off_type 0 with them; the booking-rule fields required or
    forbidden by ``booking_type``; ``calendar_dates`` name a known service.
    """
    d = Path(folder)
    names = ("agency.txt", "routes.txt", "trips.txt", "stop_times.txt", "booking_rules.txt",
             "calendar.txt", "calendar_dates.txt", "locations.geojson")
    missing = [n for n in names if not (d / n).is_file()]
    if missing:
        return [f"{d}: missing {', '.join(missing)}"]
    problems: list[str] = []
    geo = json.loads((d / "locations.geojson").read_text(encoding="utf-8"))
    ids = [f.get("id") for f in geo.get("features", [])]
    if geo.get("type") != "FeatureCollection" or len(set(ids)) != len(ids) or None in ids:
        problems.append("locations.geojson: must be a FeatureCollection with unique ids")
    for f in geo.get("features", []):
        if (f.get("geometry") or {}).get("type") not in ("Polygon", "MultiPolygon"):
            problems.append(f"locations.geojson {f.get('id')!r}: geometry must be a Polygon "
                            "or MultiPolygon")
    routes = {r["route_id"]: r for r in _read(d / "routes.txt")}
    problems += _check_agency_routes(_read(d / "agency.txt"), routes)
    services = {c["service_id"] for c in _read(d / "calendar.txt")}
    trips = _read(d / "trips.txt")
    for t in trips:
        if t.get("route_id") not in routes or t.get("service_id") not in services:
            problems.append(f"trips.txt {t.get('trip_id')!r}: route_id or service_id unknown")
    rules = _read(d / "booking_rules.txt")
    problems += _check_booking_rules(rules)
    groups, group_problems = _check_groups(d, {str(i) for i in ids})
    problems += group_problems
    problems += _check_stop_times(_read(d / "stop_times.txt"), {str(i) for i in ids},
                                  {r.get("booking_rule_id", "") for r in rules},
                                  {t.get("trip_id", "") for t in trips}, groups)
    for c in _read(d / "calendar_dates.txt"):
        if c.get("service_id") not in services or c.get("exception_type") not in ("1", "2"):
            problems.append(f"calendar_dates.txt {c.get('date')}: unknown service or "
                            "exception_type")
    return problems
