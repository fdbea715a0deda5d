"""Property tests of the independent checker on random small problems.

The tests build routes with their own forward scheduler (earliest start plus random
waiting), judge them with their own simple rule evaluation, and require
:func:`routing.check.check` to agree; then they break a feasible plan in known ways and
require the matching violation.
"""

from __future__ import annotations

import dataclasses
import math
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.check import ViolationKind, check
from routing.model import (
    Break,
    ItemKind,
    Job,
    JobKind,
    Location,
    Problem,
    Request,
    StopKind,
    TimeWindow,
    Vehicle,
    VehicleType,
    max_ride_limit,
)
from routing.solution import Route, Solution, Unassigned, Visit

SKILLS = ("cold", "pharma")


def _own_ride_limit(problem: Problem, r: int) -> int | None:
    """The ride limit computed here, not by the model: tighter of absolute and detour."""
    req = problem.requests[r]
    limits = [] if req.max_ride_s is None else [req.max_ride_s]
    if req.max_detour is not None:
        direct = int(problem.durations[str(problem.vehicle_types[0].profile)][
            req.pickup, req.dropoff])
        limits.append(math.ceil(req.max_detour * direct) + req.detour_slack_s)
    return min(limits) if limits else None


@st.composite
def problems(draw: st.DrawFn, *, loose: bool = False) -> Problem:
    """Draw a small random problem; ``loose`` makes every constraint non-binding."""
    n = draw(st.integers(2, 6))
    xy = [(draw(st.integers(0, 50)), draw(st.integers(0, 50))) for _ in range(n)]
    dur = np.array([[abs(a[0] - b[0]) + abs(a[1] - b[1]) for b in xy] for a in xy])
    d = draw(st.integers(1, 2))
    big = 10**6
    types = tuple(
        VehicleType(
            name=f"t{t}",
            capacity=tuple(big if loose else draw(st.integers(1, 4)) for _ in range(d)),
            skills=frozenset(SKILLS) if loose else frozenset(
                draw(st.sets(st.sampled_from(SKILLS)))),
            speed_factor=draw(st.sampled_from([1.0, 0.8, 1.25])),
        )
        for t in range(draw(st.integers(1, 2)))
    )
    vehicles = tuple(
        Vehicle(
            id=f"v{k}",
            type=draw(st.integers(0, len(types) - 1)),
            start=draw(st.integers(0, n - 1)),
            end=draw(st.none() | st.integers(0, n - 1)),
            shift=TimeWindow() if loose else _window(draw, 0, 400),
            max_duration_s=None if loose else draw(st.none() | st.integers(0, 400)),
            breaks=() if loose else tuple(
                Break(window=_window(draw, 0, 300), duration_s=draw(st.integers(0, 20)))
                for _ in range(draw(st.integers(0, 1)))
            ),
        )
        for k in range(draw(st.integers(1, 3)))
    )

    def load() -> tuple[int, ...]:
        return tuple(draw(st.integers(0, 2)) for _ in range(d))

    def skills() -> frozenset[str]:
        return frozenset() if loose else frozenset(draw(st.sets(st.sampled_from(SKILLS),
                                                                max_size=1)))

    def allowed() -> tuple[int, ...] | None:
        if loose:
            return None
        return draw(st.none() | st.lists(st.integers(0, len(vehicles) - 1), min_size=1,
                                         max_size=2, unique=True).map(tuple))

    def window() -> TimeWindow:
        return TimeWindow() if loose else _window(draw, 0, 300)

    requests = []
    for i in range(draw(st.integers(0, 3))):
        requests.append(Request(
            id=f"r{i}", pickup=draw(st.integers(0, n - 1)), dropoff=draw(st.integers(0, n - 1)),
            load=load(), pickup_window=window(), dropoff_window=window(),
            pickup_service_s=draw(st.integers(0, 10)), dropoff_service_s=draw(st.integers(0, 10)),
            max_ride_s=None if loose else draw(st.none() | st.integers(0, 150)),
            max_detour=None if loose else draw(st.none() | st.sampled_from([1.0, 1.5, 2.0])),
            max_wait_s=None if loose else draw(st.none() | st.integers(0, 100)),
            skills=skills(), allowed_vehicles=allowed(),
        ))
    jobs = []
    for j in range(draw(st.integers(0, 3))):
        jobs.append(Job(
            id=f"j{j}", location=draw(st.integers(0, n - 1)), load=load(),
            kind=draw(st.sampled_from(list(JobKind))), window=window(),
            service_s=draw(st.integers(0, 10)), skills=skills(), allowed_vehicles=allowed(),
        ))
    try:
        return Problem(
            locations=tuple(Location(lon=float(x), lat=float(y)) for x, y in xy),
            dimensions=tuple(f"d{i}" for i in range(d)),
            durations={"car": dur}, distances={"car": dur * 10},
            vehicle_types=types, vehicles=vehicles, requests=tuple(requests), jobs=tuple(jobs),
        )
    except ValueError:
        # an item no vehicle type can carry: a rejected problem, not a test case
        from hypothesis import reject

        reject()


def _window(draw: st.DrawFn, lo: int, hi: int) -> TimeWindow:
    a = draw(st.integers(lo, hi))
    return TimeWindow(earliest=a, latest=a + draw(st.integers(0, hi)))


@st.composite
def assignments(draw: st.DrawFn, problem: Problem) -> list[list[tuple[StopKind, int]]]:
    """Draw routes: items spread over vehicles, pickups before drop-offs, some left out."""
    seqs: list[list[tuple[StopKind, int]]] = [[] for _ in problem.vehicles]
    for i in range(len(problem.requests)):
        k = draw(st.integers(-1, len(seqs) - 1))
        if k < 0:
            continue
        seq = seqs[k]
        a = draw(st.integers(0, len(seq)))
        seq.insert(a, (StopKind.PICKUP, i))
        seq.insert(draw(st.integers(a + 1, len(seq))), (StopKind.DROPOFF, i))
    for j in range(len(problem.jobs)):
        k = draw(st.integers(-1, len(seqs) - 1))
        if k >= 0:
            seqs[k].insert(draw(st.integers(0, len(seqs[k]))), (StopKind.JOB, j))
    for k, v in enumerate(problem.vehicles):
        for b in range(len(v.breaks)):
            if draw(st.booleans()):
                seqs[k].insert(draw(st.integers(0, len(seqs[k]))), (StopKind.BREAK, b))
    return seqs


def schedule(
    problem: Problem, seqs: list[list[tuple[StopKind, int]]], waits: list[int]
) -> Solution:
    """Forward scheduler of the test: earliest start plus a given extra wait per stop."""
    routes = []
    w = iter(waits * 100)
    served_r: set[int] = set()
    served_j: set[int] = set()
    for k, seq in enumerate(seqs):
        if not seq:
            continue
        v = problem.vehicles[k]
        t0 = v.shift.earliest
        loc, dep = v.start, t0
        visits = []
        for kind, ref in seq:
            if kind is StopKind.BREAK:
                target, service, win = loc, v.breaks[ref].duration_s, v.breaks[ref].window
            elif kind is StopKind.JOB:
                job = problem.jobs[ref]
                target, service, win = job.location, job.service_s, job.window
                served_j.add(ref)
            else:
                r = problem.requests[ref]
                pick = kind is StopKind.PICKUP
                target = r.pickup if pick else r.dropoff
                service = r.pickup_service_s if pick else r.dropoff_service_s
                win = r.effective_pickup_window if pick else r.dropoff_window
                served_r.add(ref)
            arrival = dep + problem.travel_s(k, loc, target) + next(w)
            start = max(arrival, win.earliest)
            visits.append(Visit(kind=kind, ref=ref, location=target, arrival=arrival,
                                start=start, departure=start + service))
            loc, dep = target, start + service
        end = dep if v.end is None else dep + problem.travel_s(k, loc, v.end)
        routes.append(Route(vehicle=k, visits=tuple(visits), start_s=t0, end_s=end))
    unassigned = [Unassigned(kind=ItemKind.REQUEST, ref=i, reason="test")
                  for i in range(len(problem.requests)) if i not in served_r]
    unassigned += [Unassigned(kind=ItemKind.JOB, ref=j, reason="test")
                   for j in range(len(problem.jobs)) if j not in served_j]
    return Solution(routes=tuple(routes), unassigned=tuple(unassigned))


def rules_hold(problem: Problem, sol: Solution) -> bool:  # noqa: C901 - a flat list of rules
    """Judge a schedule built by :func:`schedule` with the test's own rule list."""
    for route in sol.routes:
        k = route.vehicle
        v = problem.vehicles[k]
        vt = problem.vehicle_type(k)
        if route.end_s > v.shift.latest:
            return False
        if v.max_duration_s is not None and route.end_s - route.start_s > v.max_duration_s:
            return False
        load = np.zeros(len(problem.dimensions), dtype=int)
        for x in route.visits:
            if x.kind is StopKind.JOB and problem.jobs[x.ref].kind is JobKind.DELIVERY:
                load += problem.jobs[x.ref].load
        if (load > vt.capacity).any():
            return False
        picked: dict[int, Visit] = {}
        taken = [0] * len(v.breaks)
        for x in route.visits:
            if x.kind is StopKind.BREAK:
                taken[x.ref] += 1
                if not v.breaks[x.ref].window.contains(x.start):
                    return False
                continue
            if x.kind is StopKind.JOB:
                job = problem.jobs[x.ref]
                if not job.window.contains(x.start) or not job.skills <= vt.skills:
                    return False
                if job.allowed_vehicles is not None and k not in job.allowed_vehicles:
                    return False
                load += job.load if job.kind is JobKind.PICKUP else -np.array(job.load)
            else:
                r = problem.requests[x.ref]
                if x.kind is StopKind.PICKUP:
                    w = r.pickup_window
                    if r.max_wait_s is not None and x.start > w.earliest + r.max_wait_s:
                        return False
                    if not w.contains(x.start) or not r.skills <= vt.skills:
                        return False
                    if r.allowed_vehicles is not None and k not in r.allowed_vehicles:
                        return False
                    picked[x.ref] = x
                    load += r.load
                else:
                    if not r.dropoff_window.contains(x.start):
                        return False
                    lim = _own_ride_limit(problem, x.ref)
                    if lim is not None and x.start - picked[x.ref].departure > lim:
                        return False
                    load -= r.load
            if (load > vt.capacity).any():
                return False
        if route.visits and any(t == 0 and route.end_s > b.window.earliest
                                for t, b in zip(taken, v.breaks, strict=True)):
            return False
    return True


FAST = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


@FAST
@given(st.data())
def test_scheduled_plan_is_feasible_iff_rules_hold(data: st.DataObject) -> None:
    problem = data.draw(problems())
    seqs = data.draw(assignments(problem))
    waits = data.draw(st.lists(st.integers(0, 15), min_size=1, max_size=5))
    sol = schedule(problem, seqs, waits)
    found = check(problem, sol)
    assert (not found) == rules_hold(problem, sol), found
    # the timing rules themselves always hold by construction
    timing = {ViolationKind.TRAVEL_TIME, ViolationKind.TIMING, ViolationKind.MISSING,
              ViolationKind.DUPLICATE, ViolationKind.PAIRING, ViolationKind.PRECEDENCE}
    assert not [v for v in found if v.kind in timing]


def _loose_feasible(data: st.DataObject) -> tuple[Problem, Solution]:
    problem = data.draw(problems(loose=True))
    seqs = data.draw(assignments(problem))
    sol = schedule(problem, seqs, [0])
    assert check(problem, sol) == []
    return problem, sol


def _replace_route(sol: Solution, k: int, route: Route) -> Solution:
    routes = tuple(route if r.vehicle == k else r for r in sol.routes)
    return dataclasses.replace(sol, routes=routes)


@FAST
@given(st.data())
def test_drop_before_pick_is_detected(data: st.DataObject) -> None:
    problem, sol = _loose_feasible(data)
    routes = [r for r in sol.routes if any(x.kind is StopKind.PICKUP for x in r.visits)]
    if not routes:
        return
    route = data.draw(st.sampled_from(routes))
    visits = list(route.visits)
    ref = next(x.ref for x in visits if x.kind is StopKind.PICKUP)
    a = next(i for i, x in enumerate(visits) if x.kind is StopKind.PICKUP and x.ref == ref)
    b = next(i for i, x in enumerate(visits) if x.kind is StopKind.DROPOFF and x.ref == ref)
    visits[a], visits[b] = visits[b], visits[a]
    seqs = [[(x.kind, x.ref) for x in r.visits] for r in sol.routes]
    by_vehicle = {r.vehicle: s for r, s in zip(sol.routes, seqs, strict=True)}
    by_vehicle[route.vehicle] = [(x.kind, x.ref) for x in visits]
    bad = schedule(problem, [by_vehicle.get(k, []) for k in range(len(problem.vehicles))], [0])
    kinds = {(v.kind, v.ref) for v in check(problem, bad)}
    assert (ViolationKind.PRECEDENCE, ref) in kinds


@FAST
@given(st.data())
def test_overload_is_detected(data: st.DataObject) -> None:
    problem, sol = _loose_feasible(data)
    peak: dict[int, int] = {}
    for r in sol.routes:
        t = problem.vehicles[r.vehicle].type
        on_board = [sum(problem.requests[x.ref].load) for x in r.visits
                    if x.kind is StopKind.PICKUP]
        jobs = [sum(problem.jobs[x.ref].load) for x in r.visits if x.kind is StopKind.JOB]
        peak[t] = max(peak.get(t, 0), *on_board, *jobs, 0)
    t = data.draw(st.sampled_from(sorted(peak)) if peak else st.nothing())
    if peak[t] == 0:
        return
    # a capacity of zero in every dimension overloads any stop with a positive load
    vt = problem.vehicle_types[t]
    types = list(problem.vehicle_types)
    types[t] = dataclasses.replace(vt, capacity=(0,) * len(vt.capacity))
    try:
        small = dataclasses.replace(problem, vehicle_types=tuple(types))
    except ValueError:
        return  # some item would fit no vehicle: the model rejects the problem itself
    assert ViolationKind.CAPACITY in {v.kind for v in check(small, sol)}


@FAST
@given(st.data())
def test_start_outside_window_is_detected(data: st.DataObject) -> None:
    problem, sol = _loose_feasible(data)
    routes = [r for r in sol.routes if any(x.kind is StopKind.JOB for x in r.visits)]
    if not routes:
        return
    route = data.draw(st.sampled_from(routes))
    pos = next(i for i, x in enumerate(route.visits) if x.kind is StopKind.JOB)
    x = route.visits[pos]
    job = problem.jobs[x.ref]
    # close the job's window before the planned start
    jobs = list(problem.jobs)
    jobs[x.ref] = dataclasses.replace(job, window=TimeWindow(earliest=0, latest=x.start - 1)
                                      if x.start > 0 else TimeWindow(earliest=1, latest=1))
    tight = dataclasses.replace(problem, jobs=tuple(jobs))
    found = {(v.kind, v.ref) for v in check(tight, sol)}
    assert (ViolationKind.TIME_WINDOW, x.ref) in found


@FAST
@given(st.data())
def test_broken_timing_and_coverage_are_detected(data: st.DataObject) -> None:
    problem, sol = _loose_feasible(data)
    routes = [r for r in sol.routes if r.visits]
    if not routes:
        return
    route = data.draw(st.sampled_from(routes))
    pos = data.draw(st.integers(0, len(route.visits) - 1))
    x = route.visits[pos]
    prev_dep = route.start_s if pos == 0 else route.visits[pos - 1].departure
    prev_loc = (problem.vehicles[route.vehicle].start if pos == 0
                else route.visits[pos - 1].location)
    travel = problem.travel_s(route.vehicle, prev_loc, x.location)
    if travel > 0:
        early = dataclasses.replace(x, arrival=prev_dep + travel - 1)
        visits = (*route.visits[:pos], early, *route.visits[pos + 1:])
        bad = _replace_route(sol, route.vehicle, dataclasses.replace(route, visits=visits))
        assert ViolationKind.TRAVEL_TIME in {v.kind for v in check(problem, bad)}
    longer = dataclasses.replace(x, departure=x.departure + 1)
    visits = (*route.visits[:pos], longer, *route.visits[pos + 1:])
    bad = _replace_route(sol, route.vehicle, dataclasses.replace(route, visits=visits))
    assert ViolationKind.TIMING in {v.kind for v in check(problem, bad)}
    # drop the stop entirely: its item is now missing or half-served
    visits = route.visits[:pos] + route.visits[pos + 1:]
    bad = _replace_route(sol, route.vehicle, dataclasses.replace(route, visits=visits))
    kinds = {v.kind for v in check(problem, bad)}
    expected = {StopKind.JOB: ViolationKind.MISSING, StopKind.PICKUP: ViolationKind.PAIRING,
                StopKind.DROPOFF: ViolationKind.PAIRING}
    if x.kind in expected:
        assert expected[x.kind] in kinds
    # listing a served item as unassigned too
    if x.kind is StopKind.JOB:
        extra = Unassigned(kind=ItemKind.JOB, ref=x.ref, reason="test")
        bad = dataclasses.replace(sol, unassigned=(*sol.unassigned, extra))
        assert ViolationKind.DUPLICATE in {v.kind for v in check(problem, bad)}


def _one_ride_problem(**request_kw: object) -> Problem:
    dur = np.array([[0, 10, 20], [10, 0, 10], [20, 10, 0]])
    return Problem(
        locations=tuple(Location(lon=float(i), lat=0.0) for i in range(3)),
        dimensions=("seats",), durations={"car": dur}, distances={"car": dur},
        vehicle_types=(VehicleType(name="van", capacity=(2,)),),
        vehicles=(Vehicle(id="v", type=0, start=0, end=0),),
        requests=(Request(id="r", pickup=1, dropoff=2, load=(1,), **request_kw),),  # type: ignore[arg-type]
    )


def test_ride_time_uses_departure_from_pickup() -> None:
    # pickup service 5 s: departure 15, travel 10, waiting 3 -> ride 13 s
    problem = _one_ride_problem(pickup_service_s=5, max_ride_s=13)
    visits = (
        Visit(kind=StopKind.PICKUP, ref=0, location=1, arrival=10, start=10, departure=15),
        Visit(kind=StopKind.DROPOFF, ref=0, location=2, arrival=25, start=28, departure=28),
    )
    ok = Solution(routes=(Route(vehicle=0, visits=visits, start_s=0, end_s=48),))
    assert check(problem, ok) == []
    late = dataclasses.replace(visits[1], start=29, departure=29)
    bad = Solution(routes=(Route(vehicle=0, visits=(visits[0], late), start_s=0, end_s=49),))
    assert [v.kind for v in check(problem, bad)] == [ViolationKind.RIDE_TIME]


def test_ride_limit_rounds_the_detour_up_and_takes_the_tighter_limit() -> None:
    assert max_ride_limit(10, alpha=1.25, beta_s=0) == 13  # ceil(12.5)
    assert max_ride_limit(10, alpha=1.5, beta_s=600) == 615
    assert max_ride_limit(10, alpha=1.5, beta_s=600, cap_s=20) == 20
    assert max_ride_limit(10, alpha=1.0, beta_s=0, cap_s=20) == 10
    # direct time 1 -> 2 is 10 s in the one-ride problem
    assert _one_ride_problem().ride_limit(0) is None
    assert _one_ride_problem(max_ride_s=7).ride_limit(0) == 7
    assert _one_ride_problem(max_detour=1.5, detour_slack_s=2).ride_limit(0) == 17
    assert _one_ride_problem(max_detour=1.5, detour_slack_s=2, max_ride_s=16).ride_limit(0) == 16


@pytest.mark.parametrize(("ride", "ok"), [(13, True), (14, False)])
def test_detour_limit_is_checked_rounded_up(ride: int, ok: bool) -> None:
    problem = _one_ride_problem(max_detour=1.25)  # ceil(1.25 * 10) = 13 s
    visits = (
        Visit(kind=StopKind.PICKUP, ref=0, location=1, arrival=10, start=10, departure=10),
        Visit(kind=StopKind.DROPOFF, ref=0, location=2, arrival=20, start=10 + ride,
              departure=10 + ride),
    )
    sol = Solution(routes=(Route(vehicle=0, visits=visits, start_s=0, end_s=60),))
    assert [v.kind for v in check(problem, sol)] == ([] if ok else [ViolationKind.RIDE_TIME])


def test_unreachable_leg_and_unknown_vehicle() -> None:
    from routing.model import UNREACHABLE

    problem = _one_ride_problem()
    dur = np.array([[0, 10, 20], [10, 0, UNREACHABLE], [20, 10, 0]])
    problem = dataclasses.replace(problem, durations={"car": dur})
    visits = (
        Visit(kind=StopKind.PICKUP, ref=0, location=1, arrival=10, start=10, departure=10),
        Visit(kind=StopKind.DROPOFF, ref=0, location=2, arrival=20, start=20, departure=20),
    )
    sol = Solution(routes=(Route(vehicle=0, visits=visits, start_s=0, end_s=40),
                           Route(vehicle=3, visits=(), start_s=0, end_s=0)))
    kinds = [v.kind for v in check(problem, sol)]
    assert ViolationKind.UNREACHABLE in kinds
    assert ViolationKind.UNKNOWN_VEHICLE in kinds


@pytest.mark.parametrize("wait", [0, 50])
def test_max_wait_tightens_pickup_window(wait: int) -> None:
    problem = _one_ride_problem(pickup_window=TimeWindow(earliest=0, latest=100),
                                max_wait_s=30)
    start = 10 + wait
    visits = (
        Visit(kind=StopKind.PICKUP, ref=0, location=1, arrival=10, start=start,
              departure=start),
        Visit(kind=StopKind.DROPOFF, ref=0, location=2, arrival=start + 10, start=start + 10,
              departure=start + 10),
    )
    sol = Solution(routes=(Route(vehicle=0, visits=visits, start_s=0, end_s=start + 30),))
    kinds = [v.kind for v in check(problem, sol)]
    assert kinds == ([] if wait == 0 else [ViolationKind.TIME_WINDOW])


def test_pairwise_helper_consistency() -> None:
    # Route.distance uses the depots: a sanity check that the test schedule agrees
    problem = _one_ride_problem()
    sol = schedule(problem, [[(StopKind.PICKUP, 0), (StopKind.DROPOFF, 0)]], [0])
    seq = sol.routes[0].locations(problem)
    assert seq == [0, 1, 2, 0]
    assert sol.distance(problem) == sum(int(problem.distances["car"][a, b])
                                        for a, b in pairwise(seq))
    assert check(problem, sol) == []
