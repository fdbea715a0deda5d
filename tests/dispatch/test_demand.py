"""Demand generation on the built-in Kumamoto region."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.demand import (
    DemandConfig,
    DemandDay,
    DemandError,
    DemandSources,
    LeadKind,
    LocationKind,
    Purpose,
    demand_summary,
    generate_day,
    sources_from_region,
)
from maps.region import Region, default_region


@pytest.fixture(scope="module")
def region() -> Region:
    return default_region()


@pytest.fixture(scope="module")
def sources(region: Region) -> DemandSources:
    return sources_from_region(region)


@pytest.fixture(scope="module")
def big_day(sources: DemandSources) -> DemandDay:
    return generate_day(sources, DemandConfig(seed=3, n_requests=1000, n_deliveries=40))


def test_same_seed_same_day(sources: DemandSources) -> None:
    cfg = DemandConfig(seed=11, n_requests=120, n_deliveries=10)
    a = generate_day(sources, cfg)
    b = generate_day(sources, cfg)
    assert a == b
    c = generate_day(sources, dataclasses.replace(cfg, seed=12))
    assert c.rides != a.rides


def test_counts_and_unique_ids(big_day: DemandDay) -> None:
    assert len(big_day.rides) == 1000
    assert len(big_day.deliveries) == 40
    ids = [r.id for r in big_day.rides] + [d.id for d in big_day.deliveries]
    assert len(set(ids)) == len(ids)
    assert big_day.places[big_day.depot].kind is LocationKind.DEPOT
    bookings = [(r.booking_s, r.id) for r in big_day.rides]
    assert bookings == sorted(bookings)


def test_times_inside_service_hours(big_day: DemandDay) -> None:
    cfg = big_day.config
    for r in big_day.rides:
        wanted = r.requested_pickup_s if r.requested_pickup_s is not None else r.arrive_by_s
        assert (r.requested_pickup_s is None) != (r.arrive_by_s is None)
        assert wanted is not None
        assert cfg.service_start_s <= wanted <= cfg.service_end_s
        assert r.booking_s <= wanted
        assert r.origin != r.destination
    for d in big_day.deliveries:
        assert cfg.service_start_s <= d.window_start_s < d.window_end_s <= cfg.service_end_s
        assert d.booking_s <= d.window_start_s
        assert 1 <= d.parcels <= cfg.max_parcels


def test_hospital_pairs(big_day: DemandDay) -> None:
    by_id = {r.id: r for r in big_day.rides}
    returns = [r for r in big_day.rides if r.purpose is Purpose.HOSPITAL_RETURN]
    outbound = [r for r in big_day.rides if r.purpose is Purpose.HOSPITAL]
    assert returns and len(returns) == len(outbound)
    for back in returns:
        out = by_id[back.return_of or ""]
        assert out.purpose is Purpose.HOSPITAL
        assert (back.origin, back.destination) == (out.destination, out.origin)
        assert big_day.places[out.destination].kind is LocationKind.HOSPITAL
        assert out.arrive_by_s is not None and back.requested_pickup_s is not None
        assert back.requested_pickup_s > out.arrive_by_s


def test_stop_based_walks(big_day: DemandDay) -> None:
    cfg = big_day.config
    for r in big_day.rides:
        for place, walk in ((r.origin, r.origin_walk_m), (r.destination, r.destination_walk_m)):
            kind = big_day.places[place].kind
            assert kind in (LocationKind.STOP, LocationKind.HOSPITAL, LocationKind.HOME)
            assert 0 <= walk <= cfg.max_walk_m
            if kind is LocationKind.HOME:
                assert walk == 0


def test_door_to_door_uses_homes(sources: DemandSources) -> None:
    day = generate_day(sources, DemandConfig(seed=2, n_requests=60, stop_based=False))
    for r in day.rides:
        if r.purpose in (Purpose.OTHER, Purpose.STATION):
            kinds = {day.places[r.origin].kind, day.places[r.destination].kind}
            assert LocationKind.HOME in kinds
        assert r.origin_walk_m == 0 and r.destination_walk_m == 0


def test_max_stops_keeps_the_busiest(sources: DemandSources) -> None:
    day = generate_day(sources, DemandConfig(seed=4, n_requests=80, max_stops=40))
    busiest = np.sort(sources.stop_departures)[-40]
    names = {n for n, d in zip(sources.stop_names, sources.stop_departures, strict=True)
             if d >= busiest}
    stops = [p for p in day.places if p.kind is LocationKind.STOP]
    assert stops
    assert all(p.name in names for p in stops)


def test_shares_follow_config(big_day: DemandDay) -> None:
    summary = demand_summary(big_day)
    cfg = big_day.config
    hospital = summary["rides_by_purpose"]["hospital"] + summary["rides_by_purpose"][
        "hospital_return"]
    assert hospital == 2 * round(1000 * cfg.share_hospital / 2)
    # 65+ riders are drawn with probability share_65plus: 1000 draws, 4-sigma band.
    sigma = np.sqrt(cfg.share_65plus * (1 - cfg.share_65plus) / 1000)
    assert abs(summary["riders_65plus_share"] - cfg.share_65plus) < 4 * sigma
    immediate = sum(1 for r in big_day.rides if r.lead is LeadKind.IMMEDIATE)
    assert 0 < immediate < 1000


def test_deliveries_start_at_pharmacy_stand_ins(big_day: DemandDay) -> None:
    for d in big_day.deliveries:
        assert big_day.places[d.pickup].kind is LocationKind.PHARMACY
        assert big_day.places[d.dropoff].kind is LocationKind.HOME
    assert any("pharmac" in n for n in big_day.notes)


@pytest.mark.parametrize(
    "changes",
    [{"n_requests": -1}, {"share_hospital": 1.5}, {"share_day_before": 0.8, "share_ahead": 0.5},
     {"service_start_s": 20 * 3600, "service_end_s": 8 * 3600}, {"walk_detour": 0.5}],
)
def test_bad_config_names_the_field(changes: dict[str, float]) -> None:
    with pytest.raises(DemandError, match="DemandConfig"):
        DemandConfig(**changes)  # type: ignore[arg-type]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_requests=st.integers(0, 60),
       n_deliveries=st.integers(0, 10), stop_based=st.booleans())
def test_random_days_hold_invariants(sources: DemandSources, seed: int, n_requests: int,
                                     n_deliveries: int, stop_based: bool) -> None:
    cfg = DemandConfig(seed=seed, n_requests=n_requests, n_deliveries=n_deliveries,
                       stop_based=stop_based)
    day = generate_day(sources, cfg)
    assert day == generate_day(sources, cfg)
    assert len(day.rides) == n_requests and len(day.deliveries) == n_deliveries
    n = len(day.places)
    for r in day.rides:
        assert 0 <= r.origin < n and 0 <= r.destination < n and r.origin != r.destination
        assert r.booking_s <= (r.requested_pickup_s or r.arrive_by_s or 0)
    for d in day.deliveries:
        assert 0 <= d.pickup < n and 0 <= d.dropoff < n
    # Every place is used by some request or is the depot.
    used = {day.depot} | {r.origin for r in day.rides} | {r.destination for r in day.rides}
    used |= {d.pickup for d in day.deliveries} | {d.dropoff for d in day.deliveries}
    assert used == set(range(n))
