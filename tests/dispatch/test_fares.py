"""Fares for every class and companions, day passes and operating cost: hand-computed."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_profile import EXAMPLE, load

from dispatch.fares import (
    base_fare,
    day_pass_price,
    operating_cost,
    quote,
    rider_day_total,
    round_up,
    trip_quote,
)
from dispatch.profile import ServiceProfile, load_profile
from dispatch.rules import TripQuery


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> ServiceProfile:
    return load(tmp_path_factory.mktemp("fares"))


# (class, origin zone, destination zone, companions) -> (rider, each companion, total)
GOLDEN = [
    ("general", "a", "a", 0, 300, 300, 300),
    ("general", "a", "b", 2, 500, 500, 1500),
    ("senior", "a", "a", 0, 210, 300, 210),         # 30 % off 300
    ("senior", "b", "outside", 1, 350, 500, 850),   # 30 % off 500; companion full
    ("disability", "a", "a", 1, 150, 150, 300),     # carer at the same 50 %
    ("disability", "a", "outside", 1, 250, 250, 500),
    ("licence_returned", "a", "a", 0, 150, 300, 150),
    ("child", "b", "b", 0, 150, 300, 150),
    ("child", "a", "outside", 0, 250, 500, 250),
    ("free", "a", "b", 1, 0, 500, 500),             # fixed fare 0; companion pays
]


@pytest.mark.parametrize(("cls", "oz", "dz", "comp", "rider", "each", "total"), GOLDEN)
def test_zone_fares_by_class(profile: ServiceProfile, cls: str, oz: str, dz: str, comp: int,
                             rider: int, each: int, total: int) -> None:
    q = quote(profile, cls, oz, dz, 1234.0, comp)
    assert (q.rider_jpy, q.companion_jpy, q.total_jpy) == (rider, each, total)


def test_rounding_up_to_ten_yen() -> None:
    assert round_up(175, 10) == 180
    assert round_up(210.0000000001, 10) == 210  # float noise does not add 10 JPY
    assert round_up(150, 10) == 150
    assert round_up(0, 10) == 0


def test_flat_fare(tmp_path: Path) -> None:
    p = load(tmp_path, {'kind = "zone"': 'kind = "flat"\nflat_jpy = 350'})
    assert quote(p, "general", "a", "b", 9999.0).rider_jpy == 350
    assert quote(p, "child", "a", "b", 0.0).rider_jpy == 180  # 175 rounded up


def test_distance_fare(tmp_path: Path) -> None:
    p = load(tmp_path, {'kind = "zone"': 'kind = "distance"\nbase_jpy = 400\nbase_km = 2\n'
                        'per_step_jpy = 100\nstep_km = 1\nmax_jpy = 1000'})
    f = p.fares
    assert [base_fare(f, "a", "a", m) for m in (1500, 2000, 2001, 3000, 3500, 20000)] == [
        400, 400, 500, 500, 600, 1000]
    assert quote(p, "senior", "a", "a", 3500).rider_jpy == 420  # 30 % off 600


def test_trip_quote_uses_the_zones_of_the_ends(profile: ServiceProfile) -> None:
    from datetime import date

    t = TripQuery(origin=(130.725, 32.805), destination=(130.76, 32.81),
                  service_date=date(2026, 12, 8), wanted_s=36000, rider_class="senior",
                  companions=1)
    q = trip_quote(profile, t, 5000.0)
    assert (q.base_jpy, q.rider_jpy, q.total_jpy) == (500, 350, 850)


def test_day_pass_caps_the_riders_own_fares(profile: ServiceProfile) -> None:
    g = [quote(profile, "general", "a", "a", 0) for _ in range(3)]  # 3 x 300 = 900
    assert rider_day_total(profile, "general", g) == 800
    assert rider_day_total(profile, "general", g[:2]) == 600
    assert day_pass_price(profile, "senior") == 560  # 30 % off 800
    s = [quote(profile, "senior", "a", "outside", 0, 1) for _ in range(2)]
    # own fares 2 x 350 = 700 capped at 560, the companion pays 2 x 500
    assert rider_day_total(profile, "senior", s) == 560 + 1000
    assert day_pass_price(profile, "free") == 0


def test_operating_cost() -> None:
    costs = load_profile(EXAMPLE).costs
    # 2 vehicles, 8.5 vehicle-hours, 120.4 km: 2500*8.5 + 35*120.4 + 6000*2
    assert operating_cost(costs, vehicle_hours=8.5, km=120.4, vehicle_days=2) == (
        pytest.approx(21250 + 4214 + 12000))


def test_example_fares() -> None:
    p = load_profile(EXAMPLE)
    assert quote(p, "general", "north", "north", 0).rider_jpy == 300
    assert quote(p, "general", "east", "outside", 0).rider_jpy == 500
    assert quote(p, "senior", "north", "north", 0).rider_jpy == 210
    assert quote(p, "disability", "north", "outside", 0, 1).total_jpy == 500
    with pytest.raises(KeyError):
        quote(p, "vip", "north", "north", 0)


# ------------------------------------------------------------------------------ a day
@pytest.fixture(scope="module")
def profile_day() -> tuple[object, object]:
    from datetime import date

    from dispatch.demand import (
        DemandConfig,
        generate_day,
        sources_from_region,
        sources_within,
        travel_table_for_day,
    )
    from dispatch.rules import points_within
    from dispatch.simulate import SimulationConfig, assign_classes, simulate_day
    from maps.region import default_region

    p = load_profile(EXAMPLE)
    region = default_region()
    sources = sources_within(sources_from_region(region), lambda ll: points_within(p, ll))
    day = generate_day(sources, DemandConfig(seed=3, n_requests=40, n_deliveries=0))
    table = travel_table_for_day(region, day)
    cfg = SimulationConfig(seed=3, vehicles=2, vans=0, reopt_every_s=0, profile=p,
                           service_date=date(2026, 12, 8),
                           rider_classes=assign_classes(day, p, 3))
    return simulate_day(day, table, cfg), p


def test_simulated_day_money_kpis(profile_day: tuple[object, object]) -> None:
    from dispatch.engine import Engine, RejectReason
    from dispatch.kpi import compute_kpis
    from dispatch.simulate import FinalState, SimulationResult

    res, p = profile_day
    assert isinstance(res, SimulationResult) and isinstance(p, ServiceProfile)
    k = compute_kpis(res)
    served = [r for r in res.records if r.final is FinalState.SERVED]
    assert served and all(r.fare_jpy is not None and r.rider_class for r in served)
    cost = 2500 * k["vehicle_hours"] + 35 * k["vehicle_km"] + 6000 * 2
    assert k["operating_cost_jpy"] == pytest.approx(cost, rel=1e-3)
    assert k["farebox_ratio"] == pytest.approx(k["fare_revenue_jpy"] / k["operating_cost_jpy"],
                                               rel=1e-3)
    pax = sum(r.load for r in served)
    assert k["subsidy_per_rider_jpy"] == pytest.approx(
        (k["operating_cost_jpy"] - k["fare_revenue_jpy"]) / pax, rel=1e-3)
    # revenue: the offers' fares, less what day passes save (a rider's two legs are one)
    fares = sum(r.fare_jpy or 0 for r in served)
    assert 0 < k["fare_revenue_jpy"] <= fares
    assert sum(k["served_by_class"].values()) == len(served)
    assert sum(k["served_by_area"].values()) == len(served)
    assert sum(k["rejected_by_reason"].values()) == k["rejected"]
    assert set(k["rejected_by_reason"]) <= {str(r) for r in RejectReason}
    # the day replays from its command log with the same profile
    e = res.engine
    assert e is not None
    again = Engine.replay(e.table, [e.vehicle_spec(i) for i in range(e.n_vehicles)],
                          e.config, e.commands, start_s=e.start_s, profile=p,
                          service_date=e.service_date)
    assert again.to_dict() == e.to_dict()


def test_money_kpis_are_none_without_a_profile(profile_day: tuple[object, object]) -> None:
    from dataclasses import replace

    from dispatch.kpi import MONEY_KEYS, money_kpis
    from dispatch.simulate import SimulationConfig, SimulationResult

    res, _ = profile_day
    assert isinstance(res, SimulationResult)
    bare = replace(res, config=SimulationConfig(vehicles=2, vans=0))
    assert money_kpis(bare) == dict.fromkeys(MONEY_KEYS)
