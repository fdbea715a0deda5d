"""Timed train connections on the built-in region's real rail timetable (熊本電鉄)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import numpy as np
import pytest

from dispatch.connections import (
    ConnectedOffer,
    ConnectionStatus,
    ConnectionWatch,
    Direction,
    Timetable,
    TimetableError,
    builtin_station_feeds,
    catch_train,
    check_connection,
    meet_train,
)
from dispatch.engine import Engine, Offer, RideRequest, StopOption, VehicleSpec
from dispatch.network import TravelTable, table_from_points
from maps.region import default_region

DAY = date(2026, 12, 7)  # a Monday inside the feed's calendar (2026-05-11..2026-12-28)
FLEET = [VehicleSpec(id="bus1", depot=0)]
START = 7 * 3600


@pytest.fixture(scope="module")
def setting() -> tuple[Timetable, TravelTable]:
    """北熊本 station (last location) and six bus stops 1-3 km from it on real roads."""
    tt = Timetable.from_gtfs(builtin_station_feeds(), DAY)
    st = tt.station("北熊本")
    region = default_region()
    stops = region.stops[region.stops["in_area"]]
    lonlat = stops[["lon", "lat"]].to_numpy()
    dist = np.hypot((lonlat[:, 0] - st.lon) * 93_800, (lonlat[:, 1] - st.lat) * 111_000)
    pick = np.flatnonzero((dist > 1000) & (dist < 3000))[:6]
    points = np.vstack([lonlat[pick], [[st.lon, st.lat]]])
    return tt, table_from_points(region.road, points)


def _to_station(table: TravelTable) -> RideRequest:
    return RideRequest(id="r1", rider="r1", origin=(StopOption(location=1),),
                       destination=(StopOption(location=table.n - 1),))


def _catch(tt: Timetable, table: TravelTable) -> tuple[Engine, Any, Offer]:
    train = tt.departures(tt.station("北熊本"), 9 * 3600 + 1800, 10 * 3600 + 1800)[0]
    request, conn = catch_train(_to_station(table), train)
    assert request.arrive_by == train.departure_s - 600
    engine = Engine(table, FLEET, start_s=START)
    offer = engine.book(request)
    assert isinstance(offer, Offer)
    assert offer.latest_arrival <= train.departure_s - 600
    engine.confirm("r1")
    return engine, conn, offer


def test_timetable_reads_the_real_feed() -> None:
    tt = Timetable.from_gtfs(builtin_station_feeds(), DAY)
    st = tt.station("北熊本")
    deps = tt.departures(st, 9 * 3600, 10 * 3600)
    assert deps and all(c.boards and 9 * 3600 <= c.departure_s <= 10 * 3600 for c in deps)
    # A Sunday runs the 土日祝 timetable, not the weekday one.
    sunday = Timetable.from_gtfs(builtin_station_feeds(), date(2026, 12, 6))
    assert {c.trip_id for c in sunday.at(sunday.station("北熊本"))}.isdisjoint(
        {c.trip_id for c in tt.at(st)})
    with pytest.raises(TimetableError, match="no station"):
        tt.station("博多")


def test_a_connection_is_kept_in_a_replayed_day(setting: tuple[Timetable, TravelTable]) -> None:
    tt, table = setting
    engine, conn, offer = _catch(tt, table)
    text = ConnectedOffer(offer=offer, connection=conn).describe()
    assert conn.train.trip_id in text and "北熊本" in text
    watch = ConnectionWatch([conn])
    assert watch.check(engine) == []
    engine.advance(12 * 3600)
    engine.close_day()
    summary = watch.summary(engine)
    assert (summary["kept"], summary["broken"], summary["connection_rate"]) == (1, 0, 1.0)
    # The day rebuilt from its JSON command log keeps the same connection.
    log = [json.loads(json.dumps(c.to_dict())) for c in engine.commands]
    again = Engine.replay(table, FLEET, None, log, start_s=START)
    first, second = check_connection(engine, conn), check_connection(again, conn)
    assert second.status is ConnectionStatus.KEPT
    assert (second.at_s, second.slack_s) == (first.at_s, first.slack_s)


def test_a_delay_that_misses_the_train_is_recorded(
        setting: tuple[Timetable, TravelTable]) -> None:
    tt, table = setting
    engine, conn, offer = _catch(tt, table)
    watch = ConnectionWatch([conn])
    engine.advance(offer.planned_pickup_s + 120)  # the rider is on board
    engine.delay(0, 40 * 60, cause="accident on route 3")
    (broken,) = watch.check(engine)
    assert broken.request_id == "r1" and broken.late_s > 0
    assert "delay of vehicle 0" in broken.cause and "accident on route 3" in broken.cause
    assert engine.record("r1").broken  # the engine recorded the broken promise too
    assert watch.check(engine) == []  # recorded once
    engine.advance(13 * 3600)
    engine.close_day()
    summary = watch.summary(engine)
    assert (summary["kept"], summary["broken"], summary["connection_rate"]) == (0, 1, 0.0)
    assert "misses the" in summary["broken_list"][0]


def test_meet_an_arrival(setting: tuple[Timetable, TravelTable]) -> None:
    tt, table = setting
    train = tt.arrivals(tt.station("北熊本"), 10 * 3600, 11 * 3600)[0]
    request = RideRequest(id="m1", rider="m1", origin=(StopOption(location=table.n - 1),),
                          destination=(StopOption(location=2),))
    request, conn = meet_train(request, train)
    assert conn.direction is Direction.MEET
    engine = Engine(table, FLEET, start_s=START)
    offer = engine.book(request)
    assert isinstance(offer, Offer)
    assert offer.pickup_window.earliest >= train.arrival_s + 300
    engine.confirm("m1")
    engine.advance(13 * 3600)
    engine.close_day()
    assert check_connection(engine, conn).status is ConnectionStatus.KEPT


def test_margin_shorter_than_the_walk_is_refused(
        setting: tuple[Timetable, TravelTable]) -> None:
    tt, table = setting
    train = tt.departures(tt.station("北熊本"), 9 * 3600, 10 * 3600)[0]
    with pytest.raises(TimetableError, match="shorter than the walk"):
        catch_train(_to_station(table), train, margin_s=60)
