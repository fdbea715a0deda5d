"""Demand generation on the built-in Kumamoto region."""

from __future__ import annotations

import dataclasses
from pathlib import Path

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
    road_home_points,
    sources_from_region,
)
from maps.region import Region, default_region, region_from_files


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


# --------------------------------------------------------------------------- no mesh
OAKLAND = Path(__file__).resolve().parents[1] / "data" / "osm" / "West-Oakland.osm.bz2"


@pytest.fixture(scope="module")
def bare_region() -> Region:
    """A real OSM extract with roads and two bus stops, but no census mesh and no POIs."""
    return region_from_files(OAKLAND)


def test_without_a_mesh_demand_follows_the_roads(bare_region: Region) -> None:
    src = sources_from_region(bare_region)
    assert len(src.cell_bounds) == 0 and len(src.hospital_lonlat) == 0
    assert "road network" in src.placement.origins
    homes, weights = road_home_points(bare_region)
    assert len(homes) == len(src.home_lonlat) > 0 and np.all(weights > 0)
    # Every candidate home is the midpoint of a real road segment of the graph.
    road = bare_region.road
    ends = {(float(road.lon[t] + road.lon[h]) / 2, float(road.lat[t] + road.lat[h]) / 2)
            for t, h in zip(road.tail, road.head, strict=True)}
    assert {(float(x), float(y)) for x, y in homes} <= ends
    day = generate_day(src, DemandConfig(seed=1, n_requests=30, n_deliveries=0))
    assert len(day.rides) == 30
    assert day.placement == src.placement
    assert not any(r.purpose in (Purpose.HOSPITAL, Purpose.HOSPITAL_RETURN) for r in day.rides)
    assert any("without a census mesh" in n for n in day.notes)
    assert any("no hospital POI" in n for n in day.notes)
    homes_used = {(p.lon, p.lat) for p in day.places if p.kind is LocationKind.HOME}
    assert homes_used and homes_used <= {(float(x), float(y)) for x, y in homes}
    stops = {(p.lon, p.lat) for p in day.places if p.kind is LocationKind.STOP}
    assert stops <= {(float(x), float(y)) for x, y in src.stop_lonlat}
    summary = demand_summary(day)
    assert summary["placement"] == src.placement.to_dict()


def test_without_pois_deliveries_name_the_field(bare_region: Region) -> None:
    src = sources_from_region(bare_region)
    with pytest.raises(DemandError, match="n_deliveries"):
        generate_day(src, DemandConfig(seed=1, n_requests=5, n_deliveries=2))


def test_without_hospitals_or_stops(sources: DemandSources) -> None:
    # The built-in sources with hospitals and stops taken away: other trips go to the POIs.
    bare = dataclasses.replace(
        sources, hospital_lonlat=np.zeros((0, 2)), hospital_names=(),
        stop_lonlat=np.zeros((0, 2)), stop_names=(), stop_is_station=np.zeros(0, dtype=bool),
        stop_departures=np.zeros(0), poi_lonlat=sources.hospital_lonlat[:5],
        poi_names=sources.hospital_names[:5])
    day = generate_day(bare, DemandConfig(seed=2, n_requests=20, n_deliveries=3))
    assert all(r.purpose is Purpose.OTHER for r in day.rides)
    kinds = {p.kind for p in day.places}
    assert LocationKind.POI in kinds and LocationKind.HOSPITAL not in kinds
    assert all(day.places[d.pickup].kind is LocationKind.PHARMACY for d in day.deliveries)
    assert any("POIs nearest the depot" in n for n in day.notes)


def test_hospital_pairs_never_exceed_the_requests(sources: DemandSources) -> None:
    for n in range(0, 8):
        day = generate_day(sources, DemandConfig(seed=n, n_requests=n, n_deliveries=0,
                                                 share_hospital=1.0, share_station=0.0))
        assert len(day.rides) == n


def test_day_refuses_a_return_without_its_outbound(big_day: DemandDay) -> None:
    back = next(r for r in big_day.rides if r.return_of is not None)
    rides = tuple(r for r in big_day.rides if r.id != back.return_of)
    with pytest.raises(DemandError, match=f"return ride {back.id}"):
        dataclasses.replace(big_day, rides=rides)
    out = next(r for r in big_day.rides if r.id == back.return_of)
    early = dataclasses.replace(back, requested_pickup_s=(out.arrive_by_s or 0) - 60)
    with pytest.raises(DemandError, match="starts before its outbound"):
        dataclasses.replace(big_day, rides=tuple(early if r.id == back.id else r
                                                 for r in big_day.rides))
