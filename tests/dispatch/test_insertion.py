"""Cheapest feasible insertion against brute force, on real Kumamoto travel times."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.network import TravelTable
from routing.insertion import (
    STAY,
    Candidate,
    Insertion,
    PlanStop,
    VehiclePlan,
    best_insertion,
    insert,
    remove,
    remove_repaired,
    schedule,
)
from routing.model import StopKind

DAY = 8 * 3600


@pytest.fixture(scope="module")
def table(stops_table: Callable[[int], TravelTable]) -> TravelTable:
    """30 seeded in-area transit stops of the built-in region, real road times."""
    return stops_table(7)


def _cand(table: TravelTable, key: str, a: int, b: int, earliest: int, load: int = 1,
          wheel: int = 0, width: int = 1800) -> Candidate:
    direct = table.travel_s(a, b)
    p = PlanStop(key=key, kind=StopKind.PICKUP, location=a, delta=(load, wheel),
                 earliest=earliest, latest=earliest + width, service_s=60)
    d = PlanStop(key=key, kind=StopKind.DROPOFF, location=b, delta=(-load, -wheel),
                 service_s=60, ride_limit_s=int(1.5 * direct) + 300)
    return Candidate(pickup=p, dropoff=d)


def _plans(n: int, cap: tuple[int, int] = (3, 1)) -> list[VehiclePlan]:
    return [VehiclePlan(vehicle=k, origin=k, origin_s=DAY, stops=(), capacity=cap,
                        onboard=(0, 0), end=k, end_latest=DAY + 8 * 3600)
            for k in range(n)]


def _brute(plans: list[VehiclePlan], cand: Candidate, table: TravelTable) -> int | None:
    best: int | None = None
    for k, pl in enumerate(plans):
        base = schedule(pl, table.durations, table.distances).cost
        for i in range(pl.n_locked, len(pl.stops) + 1):
            for j in range(i, len(pl.stops) + 1):
                ins = Insertion(plan=k, candidate=0, i=i, j=j, cost=0, pickup_start=0,
                                dropoff_start=0)
                s = schedule(insert(pl, ins, cand), table.durations, table.distances)
                if s.feasible and (best is None or s.cost - base < best):
                    best = s.cost - base
    return best


requests = st.lists(
    st.tuples(st.integers(0, 29), st.integers(0, 29), st.integers(0, 4 * 3600),
              st.integers(1, 2)),
    min_size=1, max_size=9,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reqs=requests, n_veh=st.integers(1, 3))
def test_insertion_is_exact_and_keeps_every_limit(
    table: TravelTable, reqs: list[tuple[int, int, int, int]], n_veh: int
) -> None:
    plans = _plans(n_veh)
    for r, (a, b, e, q) in enumerate(reqs):
        if a == b:
            continue
        cand = _cand(table, f"r{r}", a, b, DAY + e, load=q)
        ins = best_insertion(plans, [cand], table.durations, table.distances)
        expected = _brute(plans, cand, table)
        assert (ins is None) == (expected is None)
        if ins is None:
            continue
        assert ins.cost == expected
        plans[ins.plan] = insert(plans[ins.plan], ins, cand)
        sch = schedule(plans[ins.plan], table.durations, table.distances)
        assert sch.feasible, sch.violations
        k = [s.key for s in plans[ins.plan].stops].index(cand.pickup.key)
        assert sch.start[k] == ins.pickup_start


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reqs=requests, drop=st.integers(0, 8))
def test_removal_with_repair_keeps_plan_feasible(
    table: TravelTable, reqs: list[tuple[int, int, int, int]], drop: int
) -> None:
    plans = _plans(1)
    keys = []
    for r, (a, b, e, q) in enumerate(reqs):
        cand = _cand(table, f"r{r}", a, b, DAY + e, load=q)
        ins = best_insertion(plans, [cand], table.durations, table.distances)
        if ins is not None and a != b:
            plans[0] = insert(plans[0], ins, cand)
            keys.append(cand.pickup.key)
    if not keys:
        return
    key = keys[drop % len(keys)]
    after = remove_repaired(plans[0], key, table.durations, table.distances)
    assert key not in {s.key for s in after.stops}
    assert len(after.stops) == len(plans[0].stops) - 2
    assert schedule(after, table.durations, table.distances).feasible


def test_capacity_by_type_refuses_wheelchair_without_space(table: TravelTable) -> None:
    plans = _plans(2, cap=(8, 0))
    cand = _cand(table, "w", 3, 9, DAY, wheel=1)
    assert best_insertion(plans, [cand], table.durations, table.distances) is None
    plans[1] = VehiclePlan(vehicle=1, origin=1, origin_s=DAY, stops=(), capacity=(8, 1),
                           onboard=(0, 0), end=1, end_latest=DAY + 8 * 3600)
    ins = best_insertion(plans, [cand], table.durations, table.distances)
    assert ins is not None and ins.plan == 1


def test_locked_stop_stays_first(table: TravelTable) -> None:
    plans = _plans(1)
    first = _cand(table, "a", 5, 6, DAY + 1800)
    ins = best_insertion(plans, [first], table.durations, table.distances)
    assert ins is not None
    locked = [insert(plans[0], ins, first)]
    locked[0] = replace(locked[0], n_locked=1)
    # a request right at the vehicle's start, due now, would go first if it could
    cand = _cand(table, "b", 0, 5, DAY, width=7200)
    ins2 = best_insertion(locked, [cand], table.durations, table.distances)
    assert ins2 is not None and ins2.i >= 1


def test_capacity_holds_between_pickup_and_dropoff(table: TravelTable) -> None:
    plans = _plans(1, cap=(2, 0))
    for r in range(3):  # three riders of two seats each wanting the same trip
        cand = _cand(table, f"r{r}", 2, 20, DAY + 600, load=2, width=600)
        ins = best_insertion(plans, [cand], table.durations, table.distances)
        if ins is not None:
            plans[0] = insert(plans[0], ins, cand)
    load, worst = 0, 0
    for s in plans[0].stops:
        load += s.delta[0]
        worst = max(worst, load)
    assert worst <= 2
    assert schedule(plans[0], table.durations, table.distances).feasible


def test_break_is_taken_where_the_vehicle_is(table: TravelTable) -> None:
    brk = PlanStop(key="break", kind=StopKind.BREAK, location=STAY, delta=(0, 0),
                   earliest=DAY + 3600, latest=DAY + 3600, service_s=1800)
    plan = VehiclePlan(vehicle=0, origin=0, origin_s=DAY, stops=(brk,), capacity=(3, 1),
                       onboard=(0, 0), end=0, end_latest=DAY + 8 * 3600)
    cand = _cand(table, "r", 4, 11, DAY + 3000, width=1200)
    ins = best_insertion([plan], [cand], table.durations, table.distances)
    assert ins is not None
    new = insert(plan, ins, cand)
    sch = schedule(new, table.durations, table.distances)
    assert sch.feasible
    kb = [s.key for s in new.stops].index("break")
    assert sch.start[kb] == DAY + 3600 and sch.departure[kb] == DAY + 5400
    assert remove(new, "r").stops == (brk,)


def test_cheapest_of_several_meeting_stops(table: TravelTable) -> None:
    plans = _plans(1)
    near = _cand(table, "x", 0, 15, DAY)
    far = _cand(table, "x", 20, 15, DAY)
    cands = [far, near]
    ins = best_insertion(plans, cands, table.durations, table.distances)
    assert ins is not None
    costs = [best_insertion(plans, [c], table.durations, table.distances) for c in cands]
    assert ins.cost == min(c.cost for c in costs if c is not None)
