"""Re-optimization keeps every promise, improves or leaves plans alone, and merges."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.engine import (
    FINAL_STATUSES,
    Engine,
    EventKind,
    Offer,
    RequestStatus,
    RideRequest,
    StopOption,
    VehicleSpec,
)
from dispatch.network import TravelTable
from dispatch.reoptimize import (
    Improvement,
    ReoptParams,
    build_problem,
    finish,
    merge,
    plans_cost,
    reinsert_all,
    reoptimize,
    snapshot,
)
from routing.check import check
from routing.insertion import VehiclePlan, remove, schedule
from routing.model import Break, TimeWindow
from routing.solution import StopKind

H = 3600


@pytest.fixture(scope="module")
def table(stops_table: Callable[[int], TravelTable]) -> TravelTable:
    """A depot and 29 seeded in-area transit stops of the built-in region."""
    return stops_table(13)


def _engine(table: TravelTable, seed: int, n: int = 24, vehicles: int = 3) -> Engine:
    """Pre-booked rides confirmed in booking order (so the plans have room to improve)."""
    lunch = (Break(window=TimeWindow(earliest=12 * H, latest=13 * H), duration_s=1800),)
    fleet = [VehicleSpec(id=f"v{k}", depot=0, capacity=(4, 1, 0), breaks=lunch)
             for k in range(vehicles)]
    eng = Engine(table, fleet, start_s=7 * H)
    rng = np.random.default_rng(seed)
    for i in range(n):
        a, b = (int(x) for x in rng.choice(np.arange(1, table.n), 2, replace=False))
        e = int(rng.integers(8 * H, 15 * H))
        req = RideRequest(id=f"r{i}", rider="m", origin=(StopOption(location=a),),
                          destination=(StopOption(location=b),),
                          pickup_window=TimeWindow(earliest=e, latest=e + 3600))
        if isinstance(eng.book(req), Offer):
            eng.confirm(req.id)
    return eng


def _assert_promises_hold(eng: Engine) -> None:
    for k in range(eng.n_vehicles):
        sch = schedule(eng.vehicle_plan(k), eng.table.durations, eng.table.distances)
        assert sch.feasible, sch.violations
    for r in eng.records():
        if r.status is RequestStatus.ASSIGNED:
            assert r.offer is not None and r.vehicle is not None
            planned = [s for s in eng.plan(r.vehicle) if s.key == r.request.id]
            assert [s.kind for s in planned] == ["pickup", "dropoff"]
            assert r.offer.pickup_window.contains(planned[0].start_s)
            assert planned[1].start_s <= r.offer.latest_arrival


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), at=st.integers(8 * H, 12 * H))
def test_reinsertion_keeps_promises_and_never_costs_more(
    table: TravelTable, seed: int, at: int
) -> None:
    eng = _engine(table, seed)
    eng.advance(at)
    before = plans_cost(eng.live_plans(), eng)
    keys = sorted((s.key, s.kind) for k in range(eng.n_vehicles) for s in eng.plan(k))
    res = reoptimize(eng, ReoptParams(use_solver=False, time_limit_s=30))
    assert res.method == "reinsertion"
    after = plans_cost(eng.live_plans(), eng)
    assert after <= before
    assert res.adopted == (after < before)
    assert sorted((s.key, s.kind) for k in range(eng.n_vehicles) for s in eng.plan(k)) == keys
    _assert_promises_hold(eng)
    eng.close_day()
    recs = eng.records()
    assert all(r.status in FINAL_STATUSES for r in recs)
    assert all(not r.broken for r in recs)


def test_reinsertion_is_deterministic(table: TravelTable) -> None:
    a, b = _engine(table, 5), _engine(table, 5)
    for eng in (a, b):
        eng.advance(9 * H)
        reoptimize(eng, ReoptParams(use_solver=False, time_limit_s=30))
    assert a.to_dict() == b.to_dict()


def test_solver_plan_is_adopted_only_when_checked_and_better(table: TravelTable) -> None:
    eng = _engine(table, 1, n=20)
    eng.advance(9 * H)
    _picked_up(eng)  # a rider on board whose drop-off is not the leg in progress
    snap = snapshot(eng)
    built = build_problem(snap, eng)
    # riders on board once the locked legs are driven (on board now, or picked up in
    # the leg in progress) are pinned to their vehicle as delivery jobs, unless their
    # drop-off is in the locked leg too
    picked = {s.key for p in snap.plans for s in p.stops[: p.n_locked]
              if s.kind is StopKind.PICKUP}
    dropped = {s.key for p in snap.plans for s in p.stops[: p.n_locked]
               if s.kind is StopKind.DROPOFF}
    on_board = [r.request.id for r in eng.records()
                if (r.status is RequestStatus.PICKED_UP or r.request.id in picked)
                and r.request.id not in dropped]
    assert on_board
    assert sorted(j.id for j in built.problem.jobs) == sorted(on_board)
    assert all(j.allowed_vehicles is not None and len(j.allowed_vehicles) == 1
               for j in built.problem.jobs)
    before = plans_cost(snap.plans, eng)
    res = reoptimize(eng, ReoptParams(time_limit_s=20, max_iterations=20, seed=1))
    assert res.cost_before == before
    if res.adopted:
        assert res.cost_after < res.cost_before
        assert any(e.kind is EventKind.REOPTIMIZED for e in eng.events)
    else:
        assert plans_cost(eng.live_plans(), eng) == before
    _assert_promises_hold(eng)
    eng.close_day()
    assert all(not r.broken for r in eng.records())


@pytest.mark.parametrize("seed", [2, 5, 11])
def test_current_plans_are_a_valid_solution(table: TravelTable, seed: int) -> None:
    """The warm start the solver gets is the live plans, and the checker accepts it at
    every moment of a day, locked legs included: a locked stop keeps the time the whole
    plan gives it (a ride clock started by a locked pickup that the plan delays starts
    at the delayed departure)."""
    from dispatch.reoptimize import initial_solution

    eng = _engine(table, seed, n=40)
    locked = 0
    for at in range(8 * H, 16 * H, 300):
        eng.advance(at)
        snap = snapshot(eng)
        locked += sum(p.n_locked for p in snap.plans)
        built = build_problem(snap, eng)
        sol = initial_solution(built, snap, eng)
        assert check(built.problem, sol) == [], at
    assert locked > 0  # legs in progress were part of the check


def test_merge_replays_bookings_made_during_the_solve(table: TravelTable) -> None:
    eng = _engine(table, 3, n=12)
    eng.advance(8 * H)
    snap = snapshot(eng)
    new = reinsert_all(list(snap.plans), eng, ReoptParams(use_solver=False))
    late = RideRequest(id="late", rider="m", origin=(StopOption(location=4),),
                       destination=(StopOption(location=9),),
                       pickup_window=TimeWindow(earliest=14 * H, latest=15 * H))
    assert isinstance(eng.book(late), Offer)
    eng.confirm("late")
    cancelled = next(r.request.id for r in eng.records()
                     if r.status is RequestStatus.ASSIGNED and r.request.id != "late")
    eng.cancel(cancelled)
    merged = merge(eng, snap, new)
    assert merged is not None
    keys = [s.key for p in merged for s in p.stops]
    assert keys.count("late") == 2 and cancelled not in keys
    for p in merged:
        assert schedule(p, eng.table.durations, eng.table.distances).feasible
    # a vehicle event since the snapshot makes the new plans stale
    eng.delay(0, 60, cause="traffic")
    assert merge(eng, snap, new) is None


# ---------------------------------------------------------------------- solver path
def test_the_solver_wins_on_a_day_where_it_finds_a_gain(table: TravelTable) -> None:
    """Seed 2 at 09:00, plans already re-inserted to a local optimum: re-insertion alone
    finds nothing more, the solver's plan is adopted."""
    params = ReoptParams(time_limit_s=30, max_iterations=20, seed=1)

    def settled() -> Engine:
        eng = _engine(table, 2, n=20)
        eng.advance(9 * H)
        first = reoptimize(eng, replace(params, use_solver=False, reinsertion_rounds=10))
        assert first.adopted and first.method == "reinsertion"
        return eng

    alone = settled()
    reinsertion = reoptimize(alone, replace(params, use_solver=False))
    assert reinsertion.method == "reinsertion"
    eng = settled()
    res = reoptimize(eng, replace(params, polish=False))
    assert (res.method, res.adopted) == ("solver", True), res
    assert not reinsertion.adopted and reinsertion.cost_after == res.cost_before
    assert res.cost_after < res.cost_before
    polished = settled()
    res2 = reoptimize(polished, params)
    assert res2.adopted and res2.method in ("solver", "solver+reinsertion")
    assert res2.cost_after <= res.cost_after
    _assert_promises_hold(eng)


def _picked_up(eng: Engine) -> str:
    """Advance ``eng`` in 5-minute steps until a rider is on board whose drop-off is not
    the leg in progress (moving that is refused before the engine is asked); return it."""
    while True:
        plans = eng.live_plans()
        for r in eng.records():
            if r.status is RequestStatus.PICKED_UP and r.vehicle is not None:
                p = plans[r.vehicle]
                if all(s.key != r.request.id for s in p.stops[: p.n_locked]):
                    return r.request.id
        eng.advance(eng.now + 300)


def _dropped(plans: list[VehiclePlan], key: str) -> list[VehiclePlan]:
    return [remove(p, key) for p in plans]


def _window_broken(plans: list[VehiclePlan], key: str) -> list[VehiclePlan]:
    """The pickup of ``key`` made to start after its promised window closes."""
    return [replace(p, stops=tuple(replace(s, earliest=s.latest + 1800)
                                   if (s.key, s.kind) == (key, StopKind.PICKUP) else s
                                   for s in p.stops)) for p in plans]


def _moved_on_board(plans: list[VehiclePlan], key: str) -> list[VehiclePlan]:
    """The drop-off of rider ``key`` (on board) moved to the end of another vehicle's plan."""
    k = next(i for i, p in enumerate(plans) if any(s.key == key for s in p.stops))
    drop = next(s for s in plans[k].stops if s.key == key)
    other = (k + 1) % len(plans)
    out = list(plans)
    out[k] = remove(plans[k], key)
    out[other] = replace(plans[other], stops=(*plans[other].stops, drop))
    return out


@pytest.mark.parametrize("breakage", ["dropped stop", "pickup window", "rider on board"])
def test_an_invalid_plan_is_refused_with_a_reason(table: TravelTable, breakage: str) -> None:
    eng = _engine(table, 1, n=20)
    eng.advance(9 * H)
    if breakage == "rider on board":
        key = _picked_up(eng)
    else:
        key = next(r.request.id for r in eng.records() if r.status is RequestStatus.ASSIGNED)
    snap = snapshot(eng)
    make = {"dropped stop": _dropped, "pickup window": _window_broken,
            "rider on board": _moved_on_board}[breakage]
    bad = make(list(snap.plans), key)
    before = [eng.vehicle_plan(k) for k in range(eng.n_vehicles)]
    cost = plans_cost(snap.plans, eng)
    imp = Improvement(plans=tuple(bad), method="test", cost_before=cost, cost_after=cost - 1,
                      runtime_s=0.0)
    # any gain accepted: only the engine's own check stands between the plan and adoption
    res = finish(eng, snap, imp, ReoptParams(min_gain=-10**9))
    assert not res.adopted
    assert res.reason.startswith("refused by the engine"), res.reason
    assert key in res.reason
    assert [eng.vehicle_plan(k) for k in range(eng.n_vehicles)] == before
    assert not any(e.kind is EventKind.REOPTIMIZED for e in eng.events)
