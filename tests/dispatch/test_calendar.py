"""The service calendar: weekdays, Japanese public holidays (jpholiday), closures."""

from __future__ import annotations

from datetime import date

import pytest

from dispatch.calendar import (
    CLOSURE,
    HOLIDAY,
    NOT_A_SERVICE_DAY,
    ServiceCalendar,
    holiday_name,
    parse_days,
)
from dispatch.errors import ProfileError

SRC = "town.toml: [calendar]"


def _cal(**table: object) -> ServiceCalendar:
    return ServiceCalendar.from_table(table, source=SRC)


def test_defaults_are_weekdays_eight_to_five_closed_on_holidays() -> None:
    cal = _cal()
    assert cal.weekdays == (0, 1, 2, 3, 4)
    assert cal.hours == (8 * 3600, 17 * 3600)
    assert cal.is_service_day(date(2026, 12, 7)) == (True, None)  # a Monday
    assert cal.is_service_day(date(2026, 12, 5)) == (False, NOT_A_SERVICE_DAY)  # Saturday


def test_real_holidays_close_and_are_named() -> None:
    cal = _cal()
    # 2026-09-21 敬老の日 (Monday) and 2026-09-22 国民の休日 (between it and 秋分の日).
    assert cal.check(date(2026, 9, 21)).detail == "敬老の日"
    assert cal.is_service_day(date(2026, 9, 21)) == (False, HOLIDAY)
    assert cal.check(date(2026, 9, 22)).detail == "国民の休日"
    assert cal.is_service_day(date(2027, 1, 11)) == (False, HOLIDAY)  # 成人の日 2027
    assert holiday_name(date(2027, 1, 1)) == "元日"
    assert holiday_name(date(2026, 9, 24)) is None
    # Open on holidays: 敬老の日 is a plain Monday then.
    assert _cal(holidays="open").is_service_day(date(2026, 9, 21)) == (True, None)


def test_year_end_closure_wraps_over_the_new_year() -> None:
    cal = _cal(closures=["12-29..01-03"])
    for d in (date(2026, 12, 29), date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 3)):
        assert cal.is_service_day(d) == (False, CLOSURE), d
    assert "元日" in cal.check(date(2027, 1, 1)).detail
    assert cal.is_service_day(date(2026, 12, 28)) == (True, None)  # Monday before
    assert cal.is_service_day(date(2027, 1, 4)) == (True, None)  # Monday after


def test_closed_and_open_dates() -> None:
    cal = _cal(days=["mon", "wed", "fri"], closed_dates=["2026-12-09", "2026-12-14..2026-12-16"],
               open_dates=["2026-12-12"])
    assert cal.is_service_day(date(2026, 12, 9)) == (False, CLOSURE)
    assert cal.is_service_day(date(2026, 12, 16)) == (False, CLOSURE)
    assert cal.is_service_day(date(2026, 12, 8)) == (False, NOT_A_SERVICE_DAY)  # Tuesday
    assert cal.is_service_day(date(2026, 12, 12)) == (True, None)  # an extra Saturday
    days = list(cal.service_days(date(2026, 12, 7), date(2026, 12, 13)))
    assert days == [date(2026, 12, 7), date(2026, 12, 11), date(2026, 12, 12)]


def test_hours_forms_and_round_trip() -> None:
    assert _cal(hours="07:30-18:00").hours == (7 * 3600 + 1800, 18 * 3600)
    assert _cal(hours=["09:00", "24:00"]).hours == (9 * 3600, 24 * 3600)
    assert _cal(open="09:00", close="16:00").hours == (9 * 3600, 16 * 3600)
    cal = _cal(days="月水金", closures=["12-29..01-03"], closed_dates=["2026-08-14"])
    assert cal.weekdays == (0, 2, 4)
    assert ServiceCalendar.from_table(cal.to_table(), source=SRC) == cal
    assert parse_days("daily", "x") == tuple(range(7))


@pytest.mark.parametrize(("table", "needle"), [
    ({"days": ["mon", "funday"]}, "[calendar].days: unknown day 'funday'"),
    ({"hours": "17:00-08:00"}, "[calendar].hours: the service must close after it opens"),
    ({"hours": "8am"}, "[calendar].hours: must be"),
    ({"open": "25:00"}, "[calendar].open: '25:00' is not a time of day"),
    ({"holidays": "sometimes"}, "[calendar].holidays: must be \"closed\" or \"open\""),
    ({"closures": ["13-01"]}, "[calendar].closures[0]: '13-01' is not a date of the year"),
    ({"closed_dates": ["2026-02-30"]}, "[calendar].closed_dates[0]: '2026-02-30' is not"),
    ({"closed_dates": ["2026-03-02..2026-03-01"]}, "ends before it starts"),
    ({"weekdays": ["mon"]}, "[calendar].weekdays: unknown key"),
])
def test_bad_values_name_the_key(table: dict[str, object], needle: str) -> None:
    with pytest.raises(ProfileError) as err:
        ServiceCalendar.from_table(table, source=SRC)
    assert needle in str(err.value)
    assert str(err.value).startswith("town.toml: [calendar]")
