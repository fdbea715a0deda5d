"""Cheapest feasible insertion against brute force, on real Kumamoto travel times."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from dispatch.network import TravelTable
from routing import insertion
from routing.insertion import (
    STAY,
    Candidate,
    Insertion,
    PlanStop,
    VehiclePlan,
    best_insertion,
    best_insertions,
    insert,
    remove,
    remove_repaired,
    schedule,
    to_stops,
)
from routing.insertion import _earliest as _earliest
from routing.model import IntMatrix, StopKind
from routing.schedule import Times, time_stops

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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
        assert sch.start[ins.j + 1] == ins.dropoff_start
        if _earliest(plans[ins.plan], table.durations, table.distances)[0].long_rides:
            event("a plan only the delayed rule makes feasible")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reqs=requests, n_veh=st.integers(1, 3), new=st.tuples(
    st.integers(0, 29), st.integers(0, 29), st.integers(0, 4 * 3600), st.integers(0, 900)))
def test_every_insertion_row_is_judged_as_its_plan_is_timed(
    table: TravelTable, reqs: list[tuple[int, int, int, int]], n_veh: int,
    new: tuple[int, int, int, int],
) -> None:
    # The compiled row evaluation against the earliest schedule of each inserted plan,
    # row by row (every plan, every i <= j): feasible there exactly when the kernel says
    # so, with the same cost (extra cost included) and start times; and a row the
    # compiled pruning drops is refused by the timing rule.
    plans = _plans(n_veh)
    d, dist = table.durations, table.distances
    for r, (a, b, e, q) in enumerate(reqs):
        cand = _cand(table, f"r{r}", a, b, DAY + e, load=q)
        ins = best_insertion(plans, [cand], d, dist) if a != b else None
        if ins is not None:
            plans[ins.plan] = insert(plans[ins.plan], ins, cand)
    a, b, e, extra = new
    assume(a != b)
    cand = replace(_cand(table, "new", a, b, DAY + e), extra_cost=extra)
    rows = np.array([(k, 0, i, j) for k, pl in enumerate(plans)
                     for i in range(len(pl.stops) + 1) for j in range(i, len(pl.stops) + 1)],
                    dtype=np.int64)
    arrays = insertion.PlanCache().arrays(plans, d, dist)
    ok, ride_ok, _, cost, p_start, d_start = insertion._evaluate(
        plans, arrays, [cand], insertion._Batch(rows=rows), d, dist)
    kept = {tuple(x) for x in insertion._pairs(insertion._fleet(plans, arrays), plans, [cand],
                                               d).rows.tolist()}
    for n, (k, _, i, j) in enumerate(rows.tolist()):
        ins = Insertion(plan=k, candidate=0, i=i, j=j, cost=0, pickup_start=0,
                        dropoff_start=0)
        new_plan = insert(plans[k], ins, cand)
        early, _ = _earliest(new_plan, d, dist)
        assert bool(ok[n] and ride_ok[n]) == early.feasible, (k, i, j, early.violations)
        if early.feasible:
            base = _earliest(plans[k], d, dist)[0].cost
            assert cost[n] == early.cost - base + extra
            assert (p_start[n], d_start[n]) == (early.start[i], early.start[j + 1])
        if (k, 0, i, j) not in kept:
            assert not schedule(new_plan, d, dist).feasible, (k, i, j)
    event("some row feasible" if (ok & ride_ok).any() else "no row feasible")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reqs=requests, drop=st.integers(0, 8))
def test_removal_keeps_plan_feasible_without_repair(
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
    after = remove(plans[0], key)
    assert key not in {s.key for s in after.stops}
    assert len(after.stops) == len(plans[0].stops) - 2
    assert schedule(after, table.durations, table.distances).feasible
    assert remove_repaired(plans[0], key, table.durations, table.distances) == after
    event("a ride too long at the earliest schedule"
          if _earliest(after, table.durations, table.distances)[0].long_rides
          else "earliest schedule feasible")


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


# ------------------------------------------------------- live plans under the solver's rule
# Live plans and solver problems share one rule: Cordeau's procedure
# (:func:`routing.schedule.time_stops`: departure delayed, pickups delayed while a ride
# is too long) on :func:`to_stops`. The insertion search filters at the earliest
# schedule (leave at once, wait at the stop); these tests pin down how the two relate:
# the solver's rule accepts every plan the earliest schedule accepts, its times keep
# every limit of the plan, and :func:`schedule` reports exactly its times.
def _cordeau(plan: VehiclePlan, durations: IntMatrix) -> Times | None:
    """The solver's mode of the procedure."""
    return time_stops(to_stops(plan, durations), start_s=plan.origin_s,
                      latest_end=plan.end_latest)


def _rider_first(plan: VehiclePlan, durations: IntMatrix) -> Times | None:
    """The live engine's mode of the same procedure."""
    return time_stops(to_stops(plan, durations), start_s=plan.origin_s,
                      latest_end=plan.end_latest, hold=False, full=False)


def _broken_limits(plan: VehiclePlan, t: Times, durations: IntMatrix) -> list[str]:
    """Every limit of ``plan`` that the times ``t`` break, judged here from the stops."""
    bad: list[str] = []
    cur, dep = plan.origin, t.depart
    if dep < plan.origin_s:
        bad.append("leaves before the vehicle is free")
    pick_dep: dict[str, int] = {}
    for i, s in enumerate(plan.stops):
        nxt = cur if s.location == STAY else s.location
        if t.arrival[i] < dep + int(durations[cur, nxt]) or t.begin[i] < t.arrival[i]:
            bad.append(f"{s.key}: arrives too soon")
        if not s.earliest <= t.begin[i] <= s.latest:
            bad.append(f"{s.key}: {s.kind} outside its window")
        if t.leave[i] != t.begin[i] + s.service_s:
            bad.append(f"{s.key}: service time")
        if s.kind is StopKind.PICKUP:
            pick_dep[s.key] = t.leave[i]
        elif s.ride_limit_s is not None:
            frm = pick_dep.get(s.key, s.ride_from_s)
            if frm is not None and t.begin[i] - frm > s.ride_limit_s:
                bad.append(f"{s.key}: ride too long")
        cur, dep = nxt, t.leave[i]
    end = dep if plan.end is None else dep + int(durations[cur, plan.end])
    if t.end != end or end > plan.end_latest:
        bad.append("end")
    return bad


@st.composite
def live_plans(draw: st.DrawFn, table: TravelTable) -> VehiclePlan:
    """A random plan of one vehicle: riders to pick up, riders on board, maybe a break,
    with windows and ride limits from loose to tight, in a random order or roughly by
    time (each pickup before its drop-off)."""
    n = draw(st.integers(1, 5))
    origin = draw(st.integers(0, 29))
    timed: list[tuple[int, int, PlanStop]] = []  # (rough time, tie, stop)
    onboard = 0
    for r in range(n):
        a, b = draw(st.integers(0, 29)), draw(st.integers(0, 29))
        e = DAY + draw(st.integers(0, 2 * 3600))
        width = draw(st.sampled_from([0, 600, 1800, 3600, 7200]))
        alpha, beta = draw(st.sampled_from([(1.0, 0), (1.2, 60), (1.5, 300), (3.0, 1800)]))
        direct = table.travel_s(a, b)
        d = PlanStop(key=f"r{r}", kind=StopKind.DROPOFF, location=b, delta=(-1, 0),
                     service_s=60, ride_limit_s=math.ceil(alpha * direct) + beta)
        if draw(st.booleans()) and onboard < 3:  # on board since ``ago`` at the origin
            onboard += 1
            ago = draw(st.integers(0, 600))
            limit = math.ceil(alpha * table.travel_s(origin, b)) + beta + ago
            d = replace(d, ride_from_s=DAY - ago, ride_limit_s=limit)
            timed.append((DAY + draw(st.integers(0, 1800)), 2 * r + 1, d))
            continue
        p = PlanStop(key=f"r{r}", kind=StopKind.PICKUP, location=a, delta=(1, 0),
                     earliest=e, latest=e + width, service_s=60)
        timed += [(e, 2 * r, p), (e + direct + draw(st.integers(0, 1800)), 2 * r + 1, d)]
    if draw(st.booleans()):
        e = DAY + draw(st.integers(0, 3 * 3600))
        brk = PlanStop(key="break", kind=StopKind.BREAK, location=STAY, delta=(0, 0),
                       earliest=e, latest=e + 1800, service_s=600)
        timed.append((e, 2 * n, brk))
    if draw(st.sampled_from([True, True, False])):
        timed.sort()
    else:
        timed = draw(st.permutations(timed))
    seq: list[PlanStop] = []
    picked: set[str] = set()
    waiting: dict[str, PlanStop] = {}  # a drop-off drawn before its pickup follows it
    for _, _, s in timed:
        if s.kind is StopKind.DROPOFF and s.ride_from_s is None and s.key not in picked:
            waiting[s.key] = s
            continue
        seq.append(s)
        if s.kind is StopKind.PICKUP:
            picked.add(s.key)
            if s.key in waiting:
                seq.append(waiting.pop(s.key))
    end = draw(st.sampled_from([None, 0]))
    return VehiclePlan(vehicle=0, origin=origin, origin_s=DAY,
                       stops=tuple(seq), capacity=(4, 1), onboard=(onboard, 0), end=end,
                       end_latest=DAY + draw(st.sampled_from([4, 8])) * 3600)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_solver_timing_accepts_every_live_plan_and_keeps_its_limits(
    table: TravelTable, data: st.DataObject
) -> None:
    plan = data.draw(live_plans(table))
    d = table.durations
    live, _ = _earliest(plan, d, table.distances)
    solver = _cordeau(plan, d)
    if live.feasible:
        assert solver is not None, live
    if solver is None:
        event("both refuse")
        return
    assert _broken_limits(plan, solver, d) == []
    event("both accept" if live.feasible else "only the solver's rule accepts")
    if live.feasible:
        # The solver's rule only delays the departure (no ride is too long to repair):
        # no stop starts earlier than at the earliest schedule.
        assert all(b >= s for b, s in zip(solver.begin, live.start, strict=True))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_rider_first_mode_agrees_with_the_solver_and_moves_no_service(
    table: TravelTable, data: st.DataObject
) -> None:
    # The engine's mode must accept exactly the plans the solver's mode accepts (a
    # re-optimized plan is then never refused for its timing), keep every limit, and,
    # where the earliest schedule keeps every limit, start every service at its
    # earliest time (riders are not made to wait later within their windows).
    plan = data.draw(live_plans(table))
    d = table.durations
    live, _ = _earliest(plan, d, table.distances)
    solver, rider = _cordeau(plan, d), _rider_first(plan, d)
    assert (solver is None) == (rider is None)
    if rider is None:
        event("both refuse")
        return
    assert _broken_limits(plan, rider, d) == []
    if live.feasible:
        event("earliest schedule feasible")
        assert tuple(rider.begin) == live.start
        assert all(b >= s for b, s in zip(solver.begin, rider.begin, strict=True))
    else:
        event("a pickup delayed for a ride limit")


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_compiled_rule_times_every_plan_as_the_python_procedure(
    table: TravelTable, data: st.DataObject
) -> None:
    # The engine times its plans with routing.kernels.live_times (rule_times): the same
    # verdict and the same arrival, start and departure per stop as time_stops in its
    # rider-first mode, also where a pickup is delayed for a ride limit.
    plan = data.draw(live_plans(table))
    d = table.durations
    python, compiled = _rider_first(plan, d), insertion.rule_times(plan, d)
    assert (python is None) == (compiled is None)
    if python is None or compiled is None:
        event("both refuse")
        return
    event("a pickup delayed" if tuple(python.begin) != _earliest(plan, d, table.distances)[0]
          .start else "earliest times")
    assert compiled.tolist() == [list(python.arrival), list(python.begin),
                                 list(python.leave)]


def test_a_rider_who_would_wait_on_board_is_picked_up_later(table: TravelTable) -> None:
    # X must be picked up the moment the vehicle arrives (so the departure cannot be
    # delayed); A is picked up right after; B's window opens late, so A waits on board
    # at B and rides too long under the earliest schedule. Cordeau's step 7 delays A's
    # pickup: the plan is feasible as it is, and those are its planned times (it used
    # to need its pickup pinned after the fact).
    d = table.durations
    t_x = DAY + int(d[0, 4])
    t_a = t_x + 60 + int(d[4, 1])
    wait = 900
    b_open = t_a + 60 + int(d[1, 2]) + wait

    def pick(key: str, loc: int, earliest: int, latest: int) -> PlanStop:
        return PlanStop(key=key, kind=StopKind.PICKUP, location=loc, delta=(1, 0),
                        earliest=earliest, latest=latest, service_s=60)

    def drop(key: str, limit: int | None = None) -> PlanStop:
        return PlanStop(key=key, kind=StopKind.DROPOFF, location=3, delta=(-1, 0),
                        service_s=60, ride_limit_s=limit)

    stops = (pick("X", 4, t_x, t_x), pick("A", 1, DAY, DAY + 3600),
             pick("B", 2, b_open, b_open + 600),
             drop("A", int(d[1, 2]) + 60 + int(d[2, 3]) + wait // 2), drop("B"), drop("X"))
    plan = VehiclePlan(vehicle=0, origin=0, origin_s=DAY, stops=stops, capacity=(4, 1),
                       onboard=(0, 0), end=0, end_latest=DAY + 8 * 3600)
    live, _ = _earliest(plan, d, table.distances)
    assert live.long_rides == ("A",)
    assert live.start[:3] == (t_x, t_a, b_open)
    solver = _rider_first(plan, d)
    assert solver is not None
    assert _broken_limits(plan, solver, d) == []
    assert solver.depart == DAY  # no slack at the start: X is due on arrival
    assert solver.begin[0] == t_x and solver.begin[2] == b_open  # X and B are not moved
    assert solver.begin[1] > t_a  # A is picked up later
    sch = schedule(plan, d, table.distances)
    assert sch.feasible
    assert sch.start == tuple(solver.begin) and sch.departure == tuple(solver.leave)
    assert sch.end_s == live.end_s and sch.cost == live.cost


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_schedule_reports_the_solver_rule_else_every_earliest_violation(
    table: TravelTable, data: st.DataObject
) -> None:
    plan = data.draw(live_plans(table))
    d, m = table.durations, table.distances
    sch = schedule(plan, d, m)
    early, load_ok = _earliest(plan, d, m)
    solver = _rider_first(plan, d)
    assert (sch.end_s, sch.distance_m, sch.cost) == (early.end_s, early.distance_m, early.cost)
    if solver is not None and load_ok:
        event("solver's times")
        assert sch.feasible
        assert sch.arrival == tuple(solver.arrival)
        assert sch.start == tuple(solver.begin)
        assert sch.departure == tuple(solver.leave)
        assert solver.end == sch.end_s
    else:
        event("earliest times and their violations")
        assert sch == early
        assert not sch.feasible


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_removing_a_rider_keeps_a_feasible_plan_feasible_without_repair(
    table: TravelTable, data: st.DataObject
) -> None:
    plan = data.draw(live_plans(table))
    d, m = table.durations, table.distances
    if not schedule(plan, d, m).feasible:
        return
    key = data.draw(st.sampled_from(sorted({s.key for s in plan.stops})))
    # A break is taken where the vehicle is: removing a stop before it moves the break
    # (and the drive after it), so the claim holds only without that.
    first = next(i for i, s in enumerate(plan.stops) if s.key == key)
    assume(all(s.location != STAY for s in plan.stops[first:]))
    after = remove(plan, key)
    sch = schedule(after, d, m)
    assert sch.feasible, sch.violations
    assert remove_repaired(plan, key, d, m) == after
    event("a ride too long at the earliest schedule" if _earliest(after, d, m)[0].long_rides
          else "earliest schedule feasible")


def test_insertion_finds_what_only_the_delayed_rule_allows(table: TravelTable) -> None:
    # Two riders to the same stop: the cheapest plan picks up the later one first and
    # makes them wait on board at the other's pickup, which only a delayed pickup keeps
    # within the ride limit (found by the brute-force property above).
    plans = _plans(1)
    first = _cand(table, "r0", 2, 0, DAY + 896)
    ins = best_insertion(plans, [first], table.durations, table.distances)
    assert ins is not None
    plans[0] = insert(plans[0], ins, first)
    cand = _cand(table, "r1", 9, 0, DAY)
    expected = _brute(plans, cand, table)
    ins = best_insertion(plans, [cand], table.durations, table.distances)
    assert ins is not None and ins.cost == expected
    new = insert(plans[0], ins, cand)
    assert _earliest(new, table.durations, table.distances)[0].long_rides
    sch = schedule(new, table.durations, table.distances)
    assert sch.feasible
    assert (sch.start[ins.i], sch.start[ins.j + 1]) == (ins.pickup_start, ins.dropoff_start)
    earliest_only = best_insertions(plans, [cand], table.durations, table.distances)[0]
    assert earliest_only is not None and earliest_only.cost == ins.cost
    saved = insertion.DELAYED_CHECKS
    insertion.DELAYED_CHECKS = 0  # the earliest schedule alone misses it
    try:
        only = best_insertion(plans, [cand], table.durations, table.distances)
    finally:
        insertion.DELAYED_CHECKS = saved
    assert only is not None and only.cost > expected
