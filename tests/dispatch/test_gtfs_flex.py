"""GTFS-Flex export of the example profile: the files read back and cross-reference."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from dispatch.gtfs_flex import FlexExportError, booking_rule, check_feed, export
from dispatch.profile import ServiceProfile, load_profile

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def profile() -> ServiceProfile:
    return load_profile(ROOT / "examples" / "profiles" / "kumamoto.toml")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_feed_files_cross_reference(profile: ServiceProfile, tmp_path: Path) -> None:
    export(profile, tmp_path, start=date(2026, 12, 1), end=date(2027, 3, 31),
           agency_url="https://example.org/", phone="096-000-0000")
    assert check_feed(tmp_path) == []
    geo = json.loads((tmp_path / "locations.geojson").read_text(encoding="utf-8"))
    ids = {f["id"] for f in geo["features"]}
    assert {f["geometry"]["type"] for f in geo["features"]} <= {"Polygon", "MultiPolygon"}
    assert len(ids) == len(profile.area.zones) + len(profile.area.destinations)
    times = _rows(tmp_path / "stop_times.txt")
    rules = {r["booking_rule_id"]: r for r in _rows(tmp_path / "booking_rules.txt")}
    trips = {t["trip_id"] for t in _rows(tmp_path / "trips.txt")}
    for st in times:  # every zone and booking rule used exists; windows ordered
        assert st["location_id"] in ids and st["trip_id"] in trips
        assert st["start_pickup_drop_off_window"] < st["end_pickup_drop_off_window"]
        for k in ("pickup_booking_rule_id", "drop_off_booking_rule_id"):
            assert st[k] == "" or st[k] in rules
        assert not st.get("arrival_time") and not st.get("departure_time")
    assert {st["start_pickup_drop_off_window"] for st in times} == {"08:00:00"}
    # Zones north and east may not be joined: no trip between them.
    assert not any("north_to_zone_east" in t or "east_to_zone_north" in t for t in trips)
    # The example books 30 minutes ahead, at most 7 days: a same-day rule.
    (rule,) = rules.values()
    assert (rule["booking_type"], rule["prior_notice_duration_min"],
            rule["prior_notice_start_day"]) == ("1", "30", "7")
    assert rule["prior_notice_last_day"] == ""
    # Holidays and the year-end closure are removed; weekends are not service days anyway.
    removed = {r["date"] for r in _rows(tmp_path / "calendar_dates.txt")
               if r["exception_type"] == "2"}
    assert {"20261229", "20261231", "20270111", "20270211"} <= removed
    assert "20270102" not in removed  # a Saturday: no exception needed
    (cal,) = _rows(tmp_path / "calendar.txt")
    assert (cal["monday"], cal["saturday"], cal["start_date"]) == ("1", "0", "20261201")


def test_day_before_booking_is_a_prior_day_rule(profile: ServiceProfile) -> None:
    strict = replace(profile, booking=replace(profile.booking, day_before_by_s=17 * 3600))
    r = booking_rule(strict)
    assert (r["booking_type"], r["prior_notice_last_day"], r["prior_notice_last_time"]) == (
        "2", "1", "17:00:00")
    assert "prior_notice_duration_min" not in r


def test_check_feed_finds_broken_references(profile: ServiceProfile, tmp_path: Path) -> None:
    export(profile, tmp_path, start=date(2026, 12, 1), end=date(2026, 12, 31),
           agency_url="https://example.org/")
    p = tmp_path / "stop_times.txt"
    p.write_text(p.read_text(encoding="utf-8").replace(",zone_north,", ",zone_nowhere,", 1)
                 .replace("08:00:00,17:00:00", "17:00:00,08:00:00", 1), encoding="utf-8")
    problems = check_feed(tmp_path)
    assert any("'zone_nowhere' is not in locations.geojson" in x for x in problems)
    assert any("start before end" in x for x in problems)
    b = tmp_path / "booking_rules.txt"
    b.write_text(b.read_text(encoding="utf-8").replace("booking,1,30", "booking,2,30"),
                 encoding="utf-8")
    assert any("prior_notice_last_day is required for booking_type 2" in x
               for x in check_feed(tmp_path))


def test_bad_export_options(profile: ServiceProfile, tmp_path: Path) -> None:
    with pytest.raises(FlexExportError, match="agency URL"):
        export(profile, tmp_path, start=date(2026, 12, 1), end=date(2026, 12, 31),
               agency_url="example.org")
    with pytest.raises(FlexExportError, match="before start"):
        export(profile, tmp_path, start=date(2026, 12, 1), end=date(2026, 11, 30),
               agency_url="https://example.org/")


def test_pickup_at_boarding_points_exports_location_groups(
    profile: ServiceProfile, tmp_path: Path
) -> None:
    paths = export(profile, tmp_path, start=date(2026, 12, 1), end=date(2026, 12, 31),
                   agency_url="https://example.org/", pickup="points")
    assert check_feed(tmp_path) == []
    assert {"stops.txt", "location_groups.txt", "location_group_stops.txt"} <= {
        p.name for p in paths}
    groups = {g["location_group_id"] for g in _rows(tmp_path / "location_groups.txt")}
    stops = {s["stop_id"]: s for s in _rows(tmp_path / "stops.txt")}
    members = _rows(tmp_path / "location_group_stops.txt")
    assert groups and {m["location_group_id"] for m in members} == groups
    # every member is a registered boarding point inside its zone's polygon
    zone_of = {g["location_group_id"]: g["location_group_name"].removeprefix("乗降場 of ")
               for g in _rows(tmp_path / "location_groups.txt")}
    zones = {z.name: z for z in profile.area.zones}
    for m in members:
        s = stops[m["stop_id"]]
        assert zones[zone_of[m["location_group_id"]]].contains(float(s["stop_lon"]),
                                                               float(s["stop_lat"]))
    assert len(stops) == len({b.id for b in profile.boarding.points
                              if any(z.contains(b.lon, b.lat) for z in zones.values())})
    times = _rows(tmp_path / "stop_times.txt")
    # the zones are not written (no trip uses them); the named destinations still are
    geo = json.loads((tmp_path / "locations.geojson").read_text(encoding="utf-8"))
    dests = {f["id"] for f in geo["features"]}
    assert len(dests) == len(profile.area.destinations) and not dests & groups
    # inside the zones riders board at the points; a destination stays a location
    assert {st["location_group_id"] for st in times} - {""} == groups
    assert {st["location_id"] for st in times} - {""} == dests
    assert all(bool(st["location_id"]) != bool(st["location_group_id"]) for st in times)
    # a broken group reference is found
    p = tmp_path / "stop_times.txt"
    first = next(iter(groups))
    p.write_text(p.read_text(encoding="utf-8").replace(f",{first},", ",points_nowhere,", 1),
                 encoding="utf-8")
    assert any("'points_nowhere' is not in location_groups.txt" in x
               for x in check_feed(tmp_path))
    with pytest.raises(FlexExportError, match="zones or points"):
        export(profile, tmp_path, start=date(2026, 12, 1), end=date(2026, 12, 31),
               agency_url="https://example.org/", pickup="stops")
