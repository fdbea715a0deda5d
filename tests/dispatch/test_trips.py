"""Trip records and fleet files (dispatch.trips), and turning trips into a day."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from dispatch.demand import (
    DemandError,
    LocationKind,
    Purpose,
    day_from_trips,
    trip_service_hours,
    trips_on_region,
)
from dispatch.trips import (
    REQUIRED_COLUMNS,
    FleetSpec,
    TripsError,
    parse_clock,
    parse_trips,
    read_fleet,
    read_trips,
)
from maps.region import default_region

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "trips.csv"
FLEET = ROOT / "examples" / "fleet.toml"
HEADER = ("id,request_time,pickup_lon,pickup_lat,dropoff_lon,dropoff_lat,earliest_pickup,"
          "arrive_by,passengers,wheelchair,return_of")


def _example_rows() -> list[str]:
    """The example's data rows, cut to the reader's own columns."""
    lines = [ln for ln in EXAMPLE.read_text(encoding="utf-8").splitlines()
             if ln and not ln.startswith("#")]
    assert lines[0].startswith(HEADER)
    return [",".join(ln.split(",")[:11]) for ln in lines[1:]]


def test_parse_clock() -> None:
    assert parse_clock("08:30") == 8 * 3600 + 1800
    assert parse_clock("8:05:09") == 8 * 3600 + 309
    assert parse_clock("-16:00") == -8 * 3600
    for bad in ("24:00", "8:5", "08:60", "noon", "", "08:30:61"):
        with pytest.raises(ValueError):
            parse_clock(bad)


def test_example_file_reads_cleanly() -> None:
    got = read_trips(EXAMPLE)
    assert got.bad_rows == ()
    assert len(got.trips) == 36
    ids = [t.id for t in got.trips]
    assert len(set(ids)) == len(ids)
    by_id = {t.id: t for t in got.trips}
    returns = [t for t in got.trips if t.return_of]
    assert len(returns) == 8
    for back in returns:
        out = by_id[back.return_of or ""]
        assert out.return_of is None and out.arrive_by_s is not None
        assert back.earliest_pickup_s is not None and back.earliest_pickup_s >= out.arrive_by_s
        assert (back.pickup_lonlat, back.dropoff_lonlat) == (out.dropoff_lonlat,
                                                             out.pickup_lonlat)
    # Line numbers are those of the file, comment lines included.
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for t in got.trips:
        assert lines[t.line - 1].startswith(t.id + ",")
    assert any(t.wheelchair for t in got.trips)
    assert any(t.passengers == 2 for t in got.trips)
    assert any(t.request_s < 0 for t in got.trips)  # booked the day before


def _with_row(line: str, *, extra: tuple[str, ...] = ()) -> str:
    rows = _example_rows()[:4]
    return "\n".join([HEADER, *rows, *extra, line]) + "\n"


BASE = "x1,08:00,130.72,32.80,130.70,32.81,09:00,,1,0,"


@pytest.mark.parametrize(("row", "field", "problem"), [
    ("x1,08:00,abc,32.80,130.70,32.81,09:00,,1,0,", "pickup_lon", "not a number"),
    ("x1,08:00,130.72,95,130.70,32.81,09:00,,1,0,", "pickup_lat", "[-90, 90]"),
    ("x1,08:00,130.72,32.80,,32.81,09:00,,1,0,", "dropoff_lon", "empty"),
    ("x1,08:00,130.72,32.80,130.70,32.81,09:00,10:00,1,0,", "earliest_pickup/arrive_by",
     "only one"),
    ("x1,08:00,130.72,32.80,130.70,32.81,,,1,0,", "earliest_pickup/arrive_by", "exactly one"),
    ("x1,08:00,130.72,32.80,130.70,32.81,25:00,,1,0,", "earliest_pickup", "above 23"),
    ("x1,8h,130.72,32.80,130.70,32.81,09:00,,1,0,", "request_time", "not a time"),
    ("x1,,130.72,32.80,130.70,32.81,09:00,,1,0,", "request_time", "empty"),
    ("x1,10:00,130.72,32.80,130.70,32.81,09:00,,1,0,", "request_time", "after the trip"),
    ("x1,08:00,130.72,32.80,130.70,32.81,-09:00,,1,0,", "earliest_pickup", "day before"),
    ("x1,08:00,130.72,32.80,130.70,32.81,09:00,,0,0,", "passengers", "1..20"),
    ("x1,08:00,130.72,32.80,130.70,32.81,09:00,,two,0,", "passengers", "whole number"),
    ("x1,08:00,130.72,32.80,130.70,32.81,09:00,,1,maybe,", "wheelchair", "expected 1/0"),
    ("x1,08:00,130.72,32.80,130.72,32.80,09:00,,1,0,", "dropoff_lon/dropoff_lat", "same place"),
    (",08:00,130.72,32.80,130.70,32.81,09:00,,1,0,", "id", "empty"),
    ("t001,08:00,130.72,32.80,130.70,32.81,09:00,,1,0,", "id", "duplicate"),
    ("x1,08:00,130.72,32.80,130.70,32.81,09:00,,1,0,nobody", "return_of", "no trip with id"),
    ("x1,08:00,130.72,32.80,130.70,32.81,09:00,,1,0,x1", "return_of", "itself"),
    ("x1,08:00,130.72,32.80,130.70,32.81,08:30,,1,0,t001", "return_of", "before its outbound"),
    ("x1,08:00,130.72,32.80,130.70,32.81,16:30,,1,0,t002", "return_of", "itself a return"),
    ("x1,08:00,130.72,32.80,130.70,32.81,09:00,,1,0,,extra", "(row)", "more values"),
])
def test_bad_row_names_line_and_field(row: str, field: str, problem: str) -> None:
    got = parse_trips(_with_row(row), source="t.csv")
    assert len(got.trips) == 4  # the good rows are kept
    assert len(got.bad_rows) == 1
    bad = got.bad_rows[0]
    assert bad.line == 6 and bad.field == field
    assert problem in bad.problem
    assert bad.describe("t.csv").startswith(f"t.csv line 6, {field}: ")


def test_good_row_parses_every_field() -> None:
    got = parse_trips(_with_row("x1,-16:15,130.72,32.80,130.70,32.81,,11:00:30,3,yes,"))
    assert got.bad_rows == ()
    t = got.trips[-1]
    assert (t.id, t.line, t.request_s) == ("x1", 6, -24 * 3600 + 16 * 3600 + 900)
    assert t.pickup_lonlat == (130.72, 32.80) and t.dropoff_lonlat == (130.70, 32.81)
    assert (t.earliest_pickup_s, t.arrive_by_s) == (None, 11 * 3600 + 30)
    assert (t.passengers, t.wheelchair, t.return_of) == (3, True, None)


def test_return_of_a_bad_row_is_bad_too() -> None:
    out = "o1,08:00,abc,32.80,130.70,32.81,,10:00,1,0,"
    back = "o2,08:00,130.70,32.81,130.72,32.80,11:00,,1,0,o1"
    got = parse_trips("\n".join([HEADER, out, back]) + "\n")
    assert got.trips == ()
    assert [(b.line, b.field) for b in got.bad_rows] == [(2, "pickup_lon"), (3, "return_of")]
    assert "line 2" in got.bad_rows[1].problem


def test_blank_and_comment_lines_keep_line_numbers() -> None:
    text = "# a comment\n\n" + HEADER + "\n# another\n\n" + BASE + "\n"
    got = parse_trips(text)
    assert [t.line for t in got.trips] == [6]


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty file"),
    ("id,request_time,pickup_lon\n", "lacks pickup_lat"),
    ("id,request_time,pickup_lon,pickup_lat,dropoff_lon,dropoff_lat\n",
     "needs earliest_pickup or arrive_by"),
])
def test_not_a_trip_csv(text: str, message: str) -> None:
    with pytest.raises(TripsError, match=message):
        parse_trips(text, source="t.csv")


def test_trip_file_kinds(tmp_path: Path) -> None:
    with pytest.raises(TripsError, match="not found"):
        read_trips(tmp_path / "missing.csv")
    # A real file of another kind: the compressed OSM extract, and a TOML fleet file.
    with pytest.raises(TripsError, match="not UTF-8"):
        read_trips(ROOT / "tests" / "data" / "osm" / "West-Oakland.osm.bz2")
    with pytest.raises(TripsError, match="not a trip CSV"):
        read_trips(FLEET)
    assert set(REQUIRED_COLUMNS) <= set(HEADER.split(","))


# --------------------------------------------------------------------------- fleet
def test_example_fleet_file() -> None:
    fleet = read_fleet(FLEET)
    assert fleet == FleetSpec(depot_lonlat=(130.719382, 32.798106), buses=2, seats=8,
                              wheelchairs=1, vans=1, van_parcels=30,
                              shift_start_s=8 * 3600, shift_end_s=17 * 3600)


def test_json_fleet_and_partial_file(tmp_path: Path) -> None:
    p = tmp_path / "fleet.json"
    p.write_text(json.dumps({"buses": {"count": 3}, "shift": {"end": "18:30"}}))
    assert read_fleet(p) == FleetSpec(buses=3, shift_end_s=18 * 3600 + 1800)


@pytest.mark.parametrize(("name", "text", "message"), [
    ("f.toml", "[buses]\ncount = -1\n", "buses.count must lie in 0..1000, got -1"),
    ("f.toml", "[buses]\nseats = 0\n", "buses.seats must lie in 1..100"),
    ("f.toml", "[buses]\ncount = true\n", "buses.count must be a whole number"),
    ("f.toml", "[vans]\nparcels = 2.5\n", "vans.parcels must be a whole number"),
    ("f.toml", "[bus]\ncount = 2\n", "unknown fleet table 'bus'"),
    ("f.toml", "[buses]\nseat = 2\n", "unknown key buses.seat"),
    ("f.toml", "[depot]\nlon = 130.7\nlat = 132.8\n", "depot.lat must be a number"),
    ("f.toml", "[depot]\nlon = 130.7\n", "depot.lat must be a number"),
    ("f.toml", '[shift]\nstart = "17:00"\nend = "08:00"\n', "must come before shift.end"),
    ("f.toml", '[shift]\nstart = "8am"\n', "shift.start: not a time"),
    ("f.toml", "[buses\ncount = 2\n", "not a valid TOML fleet file"),
    ("f.json", "{\"buses\": ", "not a valid JSON fleet file"),
    ("f.json", "[1, 2]", "one table/object"),
    ("f.yaml", "buses: 2\n", "must be .toml or .json"),
])
def test_bad_fleet_file_names_the_key(tmp_path: Path, name: str, text: str,
                                      message: str) -> None:
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(TripsError, match=message.replace("(", r"\(").replace(".", r"\.")):
        read_fleet(p)


def test_fleet_file_missing(tmp_path: Path) -> None:
    with pytest.raises(TripsError, match="fleet file not found"):
        read_fleet(tmp_path / "nope.toml")


# --------------------------------------------------------------------------- day
def test_day_from_example_trips() -> None:
    trips = read_trips(EXAMPLE).trips
    day = day_from_trips(trips, depot_lonlat=(130.719382, 32.798106), source="trips.csv")
    assert len(day.rides) == 36 and day.deliveries == ()
    assert day.places[day.depot].kind is LocationKind.DEPOT
    assert {p.kind for p in day.places[1:]} == {LocationKind.POINT}
    lonlat = {(p.lon, p.lat) for p in day.places[1:]}
    assert lonlat == {x for t in trips for x in (t.pickup_lonlat, t.dropoff_lonlat)}
    by_id = {r.id: r for r in day.rides}
    for t in trips:
        r = by_id[t.id]
        assert (day.places[r.origin].lon, day.places[r.origin].lat) == t.pickup_lonlat
        assert (r.requested_pickup_s, r.arrive_by_s, r.booking_s) == (
            t.earliest_pickup_s, t.arrive_by_s, t.request_s)
        assert r.passengers == t.passengers and r.wheelchair == t.wheelchair
        assert r.purpose is (Purpose.RETURN if t.return_of else Purpose.OTHER)
    assert [r.booking_s for r in day.rides] == sorted(r.booking_s for r in day.rides)
    assert (day.config.service_start_s, day.config.service_end_s) == (8 * 3600, 17 * 3600)
    assert "trips.csv" in day.placement.origins


def test_service_hours_widen_to_the_trips() -> None:
    rows = parse_trips("\n".join([HEADER, "a,06:00,130.72,32.80,130.70,32.81,06:40,,1,0,",
                                  "b,06:00,130.70,32.81,130.72,32.80,18:10,,1,0,a"])).trips
    assert trip_service_hours(rows) == (6 * 3600, 20 * 3600)
    day = day_from_trips(rows, depot_lonlat=(130.7, 32.8), service_start_s=8 * 3600,
                         service_end_s=17 * 3600)
    assert any("2 trips ask for times outside the service hours" in n for n in day.notes)


def test_return_before_outbound_is_refused_by_the_day() -> None:
    rows = parse_trips("\n".join([HEADER, "a,06:00,130.72,32.80,130.70,32.81,09:00,,1,0,",
                                  "b,06:00,130.70,32.81,130.72,32.80,10:00,,1,0,a"])).trips
    early = [rows[0], dataclasses.replace(rows[1], earliest_pickup_s=8 * 3600)]
    with pytest.raises(DemandError, match="return ride b starts before its outbound ride a"):
        day_from_trips(early, depot_lonlat=(130.7, 32.8))
    with pytest.raises(DemandError, match="not an outbound ride"):
        day_from_trips(rows[1:], depot_lonlat=(130.7, 32.8))


def test_trips_off_the_map_are_bad_rows() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    # t001 is moved to Tokyo (off the Kumamoto map): it and its return t002 are dropped.
    lines = text.splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("t001,"))
    cells = lines[k].split(",")
    cells[2], cells[3] = "139.767", "35.681"
    lines[k] = ",".join(cells)
    got = parse_trips("\n".join(lines) + "\n", source="trips.csv")
    assert got.bad_rows == ()
    good, bad = trips_on_region(got.trips, default_region())
    assert [t.id for t in good] == [t.id for t in got.trips if t.id not in ("t001", "t002")]
    assert [(b.line, b.field) for b in bad] == [(k + 1, "pickup_lon/pickup_lat"),
                                                (k + 2, "return_of")]
    assert "from the roads of region" in bad[0].problem
