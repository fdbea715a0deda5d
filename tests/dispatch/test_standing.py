"""Standing bookings: weekly series expanded under the calendar and booking rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from dispatch.calendar import ServiceCalendar
from dispatch.engine import Engine, RequestStatus, VehicleSpec
from dispatch.network import TravelTable
from dispatch.standing import (
    CANCELLED,
    Place,
    StandingError,
    StandingSeries,
    book_ahead,
    expand,
    expansion_to_dict,
    flag_table,
    load_series,
)

CAL = ServiceCalendar.from_table({"closures": ["12-29..01-03"]}, source="test: [calendar]")
HOME = Place(name="home", lon=130.7712, lat=32.7925)
CLINIC = Place(name="clinic", lon=130.71146, lat=32.79614)


def _dialysis(**kw: object) -> StandingSeries:
    base: dict[str, object] = {
        "id": "dialysis", "rider": "r1", "weekdays": (0, 2, 4), "origin": HOME,
        "destination": CLINIC, "arrive_by_s": 9 * 3600, "return_after_s": 4 * 3600}
    base.update(kw)
    return StandingSeries(**base)  # type: ignore[arg-type]


def test_a_holiday_skips_the_date_and_says_which() -> None:
    # Mon/Wed/Fri over two weeks of September 2026: 09-21 敬老の日 (Mon) and 09-23
    # 秋分の日 (Wed) are public holidays.
    x = expand([_dialysis()], CAL, date(2026, 9, 14), date(2026, 9, 25))
    days = sorted({b.day for b in x.bookings})
    assert days == [date(2026, 9, 14), date(2026, 9, 16), date(2026, 9, 18), date(2026, 9, 25)]
    assert [(k.day, k.reason, k.detail) for k in x.skips] == [
        (date(2026, 9, 21), "holiday", "敬老の日"), (date(2026, 9, 23), "holiday", "秋分の日")]
    # Each service day has the appointment and the return four hours later.
    legs = x.on(date(2026, 9, 14))
    assert [(b.leg, b.arrive_by_s, b.pickup_s) for b in legs] == [
        ("out", 9 * 3600, None), ("return", None, 13 * 3600)]
    assert legs[1].origin == CLINIC and legs[1].destination == HOME
    assert x.flags == ()


def test_year_end_closure_skips_and_bookings_are_placed_ahead() -> None:
    x = expand([_dialysis()], CAL, date(2026, 12, 25), date(2027, 1, 6),
               now=datetime(2026, 12, 20, 9))
    assert [(k.day, k.reason) for k in x.skips] == [
        (date(2026, 12, 30), "closure"), (date(2027, 1, 1), "closure")]
    # Booked at the earliest moment the rules allow (7 days ahead), never before now.
    first = {b.day: b.book_at for b in x.bookings}
    assert first[date(2026, 12, 25)] == datetime(2026, 12, 20, 9)
    assert first[date(2027, 1, 6)] == datetime(2026, 12, 30)


def test_cancelling_one_date_leaves_the_series() -> None:
    s = _dialysis()
    one_off = s.cancel(date(2026, 12, 9))
    assert s.cancelled == frozenset() and one_off.id == s.id
    x = expand([one_off], CAL, date(2026, 12, 7), date(2026, 12, 18))
    assert [(k.day, k.reason) for k in x.skips] == [(date(2026, 12, 9), CANCELLED)]
    assert sorted({b.day for b in x.bookings}) == [
        date(2026, 12, 7), date(2026, 12, 11), date(2026, 12, 14), date(2026, 12, 16),
        date(2026, 12, 18)]


def test_trips_outside_service_hours_are_flagged() -> None:
    x = expand([_dialysis(arrive_by_s=9 * 3600, return_after_s=9 * 3600)], CAL,
               date(2026, 12, 7), date(2026, 12, 7))
    assert [b.leg for b in x.bookings] == ["out"]
    assert [(f.leg, f.reason) for f in x.flags] == [("return", "outside_service_hours")]
    assert "outside_service_hours" in flag_table(x.flags)
    assert expansion_to_dict(x)["flags"][0]["day"] == "2026-12-07"


def test_profile_booking_rules_flag_a_late_booking() -> None:
    from dispatch.profile import load_profile

    root = Path(__file__).resolve().parents[2]
    profile = load_profile(root / "examples/profiles/kumamoto.toml")
    strict = replace(profile, booking=replace(profile.booking, day_before_by_s=17 * 3600))
    # Expanded at 18:00 on Sunday 12-06: Monday's trips missed the 17:00 cutoff.
    x = expand([_dialysis(rider_class="disability")], strict.service_calendar(),
               date(2026, 12, 7), date(2026, 12, 9), strict, now=datetime(2026, 12, 6, 18))
    assert {(f.day, f.reason) for f in x.flags} == {(date(2026, 12, 7), "after_booking_cutoff")}
    assert sorted({b.day for b in x.bookings}) == [date(2026, 12, 9)]


def test_book_ahead_confirms_and_flags_what_no_longer_fits(
        stops_table: Callable[..., TravelTable]) -> None:
    table = stops_table(3, 12)
    places = [Place(name=f"s{i}", lon=float(table.locations[i, 0]),
                    lat=float(table.locations[i, 1])) for i in range(table.n)]
    index = {p.name: i for i, p in enumerate(places)}
    far = max(range(1, table.n), key=lambda j: int(table.durations[1, j]))
    # One single-seat vehicle; two riders want the same long trip at the same time.
    series = [StandingSeries(id=f"r{k}", rider=f"r{k}", weekdays=(0,), origin=places[1],
                             destination=places[far], pickup_s=9 * 3600, tolerance_s=300)
              for k in range(2)]
    x = expand(series, CAL, date(2026, 12, 7), date(2026, 12, 7))
    engine = Engine(table, [VehicleSpec(id="bus1", depot=0, capacity=(1, 0, 0))], start_s=0)
    done = book_ahead(engine, x.bookings, lambda p: index[p.name])
    assert list(done.confirmed) == ["r0@2026-12-07:out"]
    assert [(f.series_id, f.reason) for f in done.flags] == [("r1", "no_feasible_insertion")]
    assert engine.status("r0@2026-12-07:out") is RequestStatus.ASSIGNED


def test_load_series_toml_and_csv(tmp_path: Path) -> None:
    toml = tmp_path / "standing.toml"
    toml.write_text("""
[places.home]
lon = 130.7712
lat = 32.7925
[places.clinic]
name = "clinic"
lon = 130.71146
lat = 32.79614

[[series]]
id = "dialysis"
rider = "tanaka"
days = ["mon", "wed", "fri"]
from = "home"
to = "clinic"
arrive_by = "09:00"
return_after_min = 240
class = "disability"
wheelchair = true
passengers = 2
companions = 1
cancelled = ["2026-12-09"]
""", encoding="utf-8")
    (s,) = load_series(toml)
    assert s.weekdays == (0, 2, 4) and s.return_pickup_s == 13 * 3600 and s.wheelchair
    assert s.cancelled == frozenset({date(2026, 12, 9)})
    csv = tmp_path / "standing.csv"
    csv.write_text("id,rider,days,from_name,from_lon,from_lat,to_name,to_lon,to_lat,time,"
                   "return_at\nshop,sato,火木,home,130.7712,32.7925,shop,130.72,32.80,"
                   "10:00,11:30\n", encoding="utf-8")
    (c,) = load_series(csv)
    assert c.weekdays == (1, 3) and c.pickup_s == 10 * 3600 and c.return_at_s == 41400


@pytest.mark.parametrize(("body", "needle"), [
    ("[[series]]\nid='a'\ndays=['mon']\nfrom='x'\nto='y'\ntime='09:00'\n",
     "[[series]][0] (a).from: unknown place 'x'"),
    ("[[series]]\nid='a'\ndays=['mo']\nfrom={lon=1,lat=2}\nto={lon=1,lat=2}\ntime='09:00'\n",
     "(a).days: unknown day 'mo'"),
    ("[[series]]\nid='a'\ndays=['mon']\nfrom={lon=1,lat=2}\nto={lon=1,lat=2}\n",
     "give exactly one of time (pickup) and arrive_by"),
    ("[[series]]\nid='a'\ndays=['mon']\nfrom={lon=1,lat=2}\nto={lon=1,lat=2}\ntime='9am'\n",
     "(a).time: must be a time"),
    ("[[series]]\nid='a'\ndays=['mon']\nfrom={lon=1,lat=2}\nto={lon=1,lat=2}\ntime='09:00'\n"
     "seats=2\n", "[[series]][0].seats: unknown key"),
])
def test_bad_series_name_the_file_and_field(tmp_path: Path, body: str, needle: str) -> None:
    f = tmp_path / "s.toml"
    f.write_text(body, encoding="utf-8")
    with pytest.raises(StandingError) as err:
        load_series(f)
    assert needle in str(err.value)
    assert str(err.value).startswith(str(f))
