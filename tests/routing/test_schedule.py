"""Cordeau scheduling of visit sequences, refereed by the independent checker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.check import check
from routing.instances import literature_cost, read_instance, read_solution
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
)
from routing.schedule import (
    compile_problem,
    route_from_sequence,
    schedule_route,
    schedule_times,
    sequence_from_route,
)
from routing.solution import Solution, Unassigned

DATA = Path(__file__).parents[1] / "data" / "instances"


def _line_problem(**req: object) -> Problem:
    """Depot at 0, pickup at 10, drop-off at 20 on a line (travel = distance)."""
    xs = [0, 10, 20]
    dur = np.array([[abs(a - b) for b in xs] for a in xs])
    request = Request(id="r", pickup=1, dropoff=2, load=(1,), **req)  # type: ignore[arg-type]
    return Problem(
        locations=tuple(Location(lon=float(x), lat=0.0) for x in xs), dimensions=("seats",),
        durations={"car": dur}, distances={"car": dur},
        vehicle_types=(VehicleType(name="van", capacity=(2,)),),
        vehicles=(Vehicle(id="v", type=0, start=0, end=0,
                          shift=TimeWindow(earliest=0, latest=1000), max_duration_s=200),),
        requests=(request,))


def _alone(problem: Problem, route_stops: list[tuple[StopKind, int]]) -> Solution | None:
    route = schedule_route(problem, 0, route_stops)
    if route is None:
        return None
    served = {v.ref for v in route.visits if v.kind is StopKind.PICKUP}
    un = [Unassigned(kind=ItemKind.REQUEST, ref=i, reason="-")
          for i in range(len(problem.requests)) if i not in served]
    return Solution(routes=(route,), unassigned=tuple(un))


def test_departure_is_delayed_so_the_rider_does_not_wait_on_board() -> None:
    # Earliest schedule: pick up at 10, reach the drop-off at 20 but it opens at 500.
    p = _line_problem(dropoff_window=TimeWindow(earliest=500, latest=520), max_ride_s=30)
    sol = _alone(p, [(StopKind.PICKUP, 0), (StopKind.DROPOFF, 0)])
    assert sol is not None
    assert check(p, sol) == []
    pick, drop = sol.routes[0].visits
    assert drop.start - pick.departure <= 30
    assert sol.routes[0].duration_s <= 200


def test_impossible_window_and_ride_limit_are_reported() -> None:
    late = _line_problem(pickup_window=TimeWindow(earliest=0, latest=5))
    assert _alone(late, [(StopKind.PICKUP, 0), (StopKind.DROPOFF, 0)]) is None
    ride = _line_problem(max_ride_s=5)
    assert _alone(ride, [(StopKind.PICKUP, 0), (StopKind.DROPOFF, 0)]) is None


def test_break_is_placed_inside_its_window() -> None:
    p = _line_problem()
    brk = Break(window=TimeWindow(earliest=15, latest=18), duration_s=30)
    v = Vehicle(id="v", type=0, start=0, end=0, breaks=(brk,))
    p = Problem(locations=p.locations, dimensions=p.dimensions, durations=p.durations,
                distances=p.distances, vehicle_types=p.vehicle_types, vehicles=(v,),
                requests=p.requests)
    sol = _alone(p, [(StopKind.PICKUP, 0), (StopKind.DROPOFF, 0)])
    assert sol is not None
    kinds = [x.kind for x in sol.routes[0].visits]
    assert kinds.count(StopKind.BREAK) == 1
    assert check(p, sol) == []


def test_li_lim_best_known_solution_is_retimed_feasibly() -> None:
    inst = read_instance(DATA / "lc101.txt", "lilim")
    bks = read_solution(DATA / "lc101.10_828.9369.txt", inst)
    cp = compile_problem(inst.problem)
    routes = []
    for r in bks.routes:
        route = route_from_sequence(cp, r.vehicle, sequence_from_route(cp, r))
        assert route is not None
        routes.append(route)
    sol = Solution(routes=tuple(routes))
    assert check(inst.problem, sol) == []
    assert abs(literature_cost(inst, sol) - 828.9369) < 0.01


@st.composite
def _problems(draw: st.DrawFn) -> Problem:
    n = draw(st.integers(2, 6))
    xy = [(draw(st.integers(0, 40)), draw(st.integers(0, 40))) for _ in range(n)]
    dur = np.array([[abs(a[0] - b[0]) + abs(a[1] - b[1]) for b in xy] for a in xy])

    def window() -> TimeWindow:
        a = draw(st.integers(0, 200))
        return TimeWindow(earliest=a, latest=a + draw(st.integers(0, 200)))

    reqs = tuple(Request(
        id=f"r{i}", pickup=draw(st.integers(0, n - 1)), dropoff=draw(st.integers(0, n - 1)),
        load=(draw(st.integers(0, 2)),), pickup_window=window(), dropoff_window=window(),
        pickup_service_s=draw(st.integers(0, 5)), dropoff_service_s=draw(st.integers(0, 5)),
        max_ride_s=draw(st.none() | st.integers(0, 120)),
        max_detour=draw(st.none() | st.sampled_from([1.0, 1.5]))) for i in range(
            draw(st.integers(0, 3))))
    jobs = tuple(Job(id=f"j{j}", location=draw(st.integers(0, n - 1)),
                     load=(draw(st.integers(0, 2)),), kind=draw(st.sampled_from(list(JobKind))),
                     window=window(), service_s=draw(st.integers(0, 5)))
                 for j in range(draw(st.integers(0, 2))))
    brk = tuple(Break(window=window(), duration_s=draw(st.integers(0, 15)))
                for _ in range(draw(st.integers(0, 1))))
    veh = Vehicle(id="v", type=0, start=draw(st.integers(0, n - 1)),
                  end=draw(st.none() | st.integers(0, n - 1)), shift=window(),
                  max_duration_s=draw(st.none() | st.integers(0, 300)), breaks=brk)
    return Problem(locations=tuple(Location(lon=float(x), lat=float(y)) for x, y in xy),
                   dimensions=("q",), durations={"car": dur}, distances={"car": dur},
                   vehicle_types=(VehicleType(name="t", capacity=(3,),
                                              speed_factor=draw(st.sampled_from([1.0, 0.8]))),),
                   vehicles=(veh,), requests=reqs, jobs=jobs)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_every_returned_schedule_passes_the_checker(data: st.DataObject) -> None:
    p = data.draw(_problems())
    cp = compile_problem(p)
    nodes = list(range(cp.n_nodes))
    order = data.draw(st.permutations(nodes))
    # Keep pickups before their drop-offs.
    def key(x: int) -> tuple[int, int]:
        if x < 2 * cp.n_requests and x % 2:
            return max(order.index(x), order.index(x - 1)), x
        return order.index(x), x

    seq = sorted(order, key=key)
    route = route_from_sequence(cp, 0, seq)
    if route is None:
        return
    assert schedule_times(cp, 0, sequence_from_route(cp, route)) is not None
    sol = Solution(routes=(route,))
    assert check(p, sol) == []
