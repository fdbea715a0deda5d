"""solve(): engines, checker agreement, unassigned reasons, warm starts, determinism."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.check import check
from routing.instances import best_known, literature_cost, read_instance
from routing.model import (
    Break,
    Job,
    JobKind,
    Location,
    Problem,
    Request,
    TimeWindow,
    Vehicle,
    VehicleType,
)
from routing.solution import ItemKind, Solution, StopKind
from routing.solve import SolveParams, solve, solve_with_stats

DATA = Path(__file__).parents[1] / "data" / "instances"


def _served_once(problem: Problem, sol: Solution) -> None:
    """Every request and job is routed or unassigned exactly once."""
    seen: Counter[tuple[str, int]] = Counter()
    for r in sol.routes:
        for v in r.visits:
            if v.kind is StopKind.PICKUP:
                seen[("request", v.ref)] += 1
            elif v.kind is StopKind.JOB:
                seen[("job", v.ref)] += 1
    for u in sol.unassigned:
        seen[(u.kind.value, u.ref)] += 1
        assert u.reason
    expected = {("request", i) for i in range(len(problem.requests))} | {
        ("job", j) for j in range(len(problem.jobs))}
    assert set(seen) == expected
    assert all(c == 1 for c in seen.values())


def test_cordeau_a2_16_is_feasible_and_close_to_the_optimum() -> None:
    inst = read_instance(DATA / "a2-16.txt", "cordeau")
    sol, stats = solve_with_stats(inst.problem, SolveParams(time_limit_s=3))
    assert check(inst.problem, sol) == []
    assert not sol.unassigned
    _served_once(inst.problem, sol)
    bks = 294.25  # optimum (Cordeau 2006)
    assert literature_cost(inst, sol) <= bks * 1.03
    assert sol.engine == stats.engine == "ortools"
    assert stats.build_s < 1.0


def test_li_lim_and_solomon_go_to_pyvrp() -> None:
    for name, fmt in (("lc101.txt", "lilim"), ("C101.txt", "solomon")):
        inst = read_instance(DATA / name, fmt)
        sol = solve(inst.problem, SolveParams(time_limit_s=3))
        assert sol.engine == "pyvrp"
        assert check(inst.problem, sol) == []
        _served_once(inst.problem, sol)
        bk = best_known(DATA / name, fmt)
        ref = 828.94 if bk is None else bk.cost
        # PyVRP reaches 828.94 on both within a second or two; 2 % leaves room for a
        # loaded CI machine.
        assert literature_cost(inst, sol) <= ref * 1.02


@pytest.mark.parametrize("engine", ["auto", "lns", "ortools"])
def test_hierarchical_objective_trades_distance_for_vehicles(engine: str) -> None:
    # Solomon R201: its distance-only optimum uses 8 vehicles (1143.2, CVRPLIB), the
    # hierarchical best-known 4 vehicles (1252.37, SINTEF). Each engine lands near those
    # at 2 s (auto = PyVRP: 5 vs 8-9 vehicles, lns and ortools: 4 vs 7). A margin of two
    # vehicles, not one, so that timing noise between two runs of an objective that is
    # ignored (or applied to both runs) cannot pass by chance.
    inst = read_instance(DATA / "R201.txt", "solomon")
    by_objective = {}
    for objective in ("vehicles", "distance"):
        sol = solve(inst.problem, SolveParams(time_limit_s=2, objective=objective,
                                              engine=engine))
        assert check(inst.problem, sol) == []
        assert not sol.unassigned
        by_objective[objective] = (sol.n_vehicles(), literature_cost(inst, sol))
    (veh_v, veh_cost), (dist_v, dist_cost) = by_objective["vehicles"], by_objective["distance"]
    assert dist_v - veh_v >= 2, by_objective
    assert dist_cost < veh_cost, by_objective


def _grid_problem(
    requests: tuple[Request, ...] = (), jobs: tuple[Job, ...] = (),
    types: tuple[VehicleType, ...] = (VehicleType(name="van", capacity=(4, 1)),),
    vehicles: tuple[Vehicle, ...] | None = None,
) -> Problem:
    """Nine points on a 3x3 grid, 300 s and 3000 m per grid step (Manhattan)."""
    xy = [(i % 3, i // 3) for i in range(9)]
    steps = np.array([[abs(a[0] - b[0]) + abs(a[1] - b[1]) for b in xy] for a in xy])
    if vehicles is None:
        vehicles = (Vehicle(id="v0", type=0, start=0, end=0,
                            shift=TimeWindow(earliest=0, latest=20_000)),)
    return Problem(locations=tuple(Location(lon=float(x), lat=float(y)) for x, y in xy),
                   dimensions=("seats", "wheelchairs"), durations={"car": steps * 300},
                   distances={"car": steps * 3000}, vehicle_types=types, vehicles=vehicles,
                   requests=requests, jobs=jobs)


def test_unreachable_window_comes_back_unassigned_with_a_reason() -> None:
    ok = Request(id="ok", pickup=1, dropoff=2, load=(1, 0))
    late = Request(id="late", pickup=8, dropoff=1, load=(1, 0),
                   pickup_window=TimeWindow(earliest=0, latest=100))  # 4 steps = 1200 s away
    p = _grid_problem(requests=(ok, late))
    sol = solve(p, SolveParams(time_limit_s=1))
    assert check(p, sol) == []
    _served_once(p, sol)
    assert [(u.kind, u.ref) for u in sol.unassigned] == [(ItemKind.REQUEST, 1)]
    assert "infeasible" in sol.unassigned[0].reason


def test_dropoff_window_before_pickup_window_is_unassigned_not_an_error() -> None:
    # Found by Hypothesis: PyVRP refuses such a shipment, so `auto` must not hand it over.
    ok = Request(id="ok", pickup=1, dropoff=2, load=(1, 0))
    upside_down = Request(id="upside-down", pickup=3, dropoff=4, load=(1, 0),
                          pickup_window=TimeWindow(earliest=600, latest=900),
                          dropoff_window=TimeWindow(earliest=0, latest=300))
    p = _grid_problem(requests=(ok, upside_down))
    sol = solve(p, SolveParams(time_limit_s=1))
    assert check(p, sol) == []
    _served_once(p, sol)
    assert [(u.kind, u.ref) for u in sol.unassigned] == [(ItemKind.REQUEST, 1)]
    assert "infeasible" in sol.unassigned[0].reason


def test_optional_request_is_left_out_when_cheaper() -> None:
    near = Request(id="near", pickup=1, dropoff=2, load=(1, 0))
    far = Request(id="far", pickup=8, dropoff=6, load=(1, 0), optional=True, penalty=1)
    p = _grid_problem(requests=(near, far))
    sol = solve(p, SolveParams(time_limit_s=1))
    assert check(p, sol) == []
    assert [u.ref for u in sol.unassigned] == [1]
    assert "optional" in sol.unassigned[0].reason


def test_skills_and_heterogeneous_fleet() -> None:
    types = (VehicleType(name="car", capacity=(3, 0)),
             VehicleType(name="lift", capacity=(2, 1), skills=frozenset({"lift"})))
    vehicles = (Vehicle(id="car", type=0, start=0, end=0), Vehicle(id="lift", type=1, start=0,
                                                                   end=0))
    wheel = Request(id="wheel", pickup=4, dropoff=8, load=(0, 1))
    cold = Job(id="cold", location=5, load=(1, 0), skills=frozenset({"lift"}))
    three = Request(id="three", pickup=3, dropoff=7, load=(3, 0))
    p = _grid_problem(requests=(wheel, three), jobs=(cold,), types=types, vehicles=vehicles)
    sol = solve(p, SolveParams(time_limit_s=1))
    assert check(p, sol) == []
    assert not sol.unassigned
    by_item = {(v.kind, v.ref): r.vehicle for r in sol.routes for v in r.visits}
    assert by_item[(StopKind.PICKUP, 0)] == 1
    assert by_item[(StopKind.JOB, 0)] == 1
    assert by_item[(StopKind.PICKUP, 1)] == 0


def test_max_ride_time_is_respected() -> None:
    reqs = tuple(Request(id=f"r{i}", pickup=i, dropoff=8 - i, load=(1, 0), max_ride_s=1500,
                         dropoff_service_s=60, pickup_service_s=60) for i in range(4))
    p = _grid_problem(requests=reqs)
    sol = solve(p, SolveParams(time_limit_s=1))
    assert check(p, sol) == []
    assert not sol.unassigned
    for r in sol.routes:
        picks = {v.ref: v for v in r.visits if v.kind is StopKind.PICKUP}
        for v in r.visits:
            if v.kind is StopKind.DROPOFF:
                assert v.start - picks[v.ref].departure <= 1500


@pytest.mark.parametrize("engine", ["auto", "lns", "ortools"])
def test_breaks_are_taken(engine: str) -> None:
    brk = Break(window=TimeWindow(earliest=1000, latest=1500), duration_s=900)
    vehicles = (Vehicle(id="v0", type=0, start=0, end=0, breaks=(brk,),
                        shift=TimeWindow(earliest=0, latest=20_000)),)
    reqs = tuple(Request(id=f"r{i}", pickup=i + 1, dropoff=8 - i, load=(1, 0))
                 for i in range(3))
    p = _grid_problem(requests=reqs, vehicles=vehicles)
    sol = solve(p, SolveParams(time_limit_s=1, engine=engine))
    assert sol.engine == ("ortools" if engine == "auto" else engine)
    assert check(p, sol) == []
    assert not sol.unassigned
    assert sum(v.kind is StopKind.BREAK for r in sol.routes for v in r.visits) == 1


def test_same_seed_same_plan_with_an_iteration_limit() -> None:
    inst = read_instance(DATA / "a2-16.txt", "cordeau")
    params = SolveParams(time_limit_s=30, engine="lns", seed=3, max_iterations=40)
    a, b = solve(inst.problem, params), solve(inst.problem, params)
    assert a.routes == b.routes


def test_dispatch_reoptimisation_warm_start() -> None:
    inst = read_instance(DATA / "a2-16.txt", "cordeau")
    first = solve(inst.problem, SolveParams(time_limit_s=2))
    again = solve(inst.problem, SolveParams(time_limit_s=0.5, initial=first))
    assert check(inst.problem, again) == []
    assert again.cost(inst.problem) <= first.cost(inst.problem)


def test_on_board_rider_stays_on_its_vehicle() -> None:
    # Mid-day: vehicle 1 is at location 4 at t=3600 with a rider on board (delivery job).
    vehicles = (Vehicle(id="a", type=0, start=0, end=0,
                        shift=TimeWindow(earliest=3600, latest=20_000)),
                Vehicle(id="b", type=0, start=4, end=0,
                        shift=TimeWindow(earliest=3600, latest=20_000)))
    onboard = Job(id="onboard", location=8, load=(1, 0), kind=JobKind.DELIVERY,
                  allowed_vehicles=(1,), window=TimeWindow(earliest=3600, latest=5000))
    new = Request(id="new", pickup=2, dropoff=6, load=(1, 0),
                  pickup_window=TimeWindow(earliest=3600, latest=6000), max_ride_s=1800)
    p = _grid_problem(requests=(new,), jobs=(onboard,), vehicles=vehicles)
    sol = solve(p, SolveParams(time_limit_s=1))
    assert check(p, sol) == []
    assert not sol.unassigned
    job_vehicle = next(r.vehicle for r in sol.routes for v in r.visits if v.kind is StopKind.JOB)
    assert job_vehicle == 1


@st.composite
def _random_problems(draw: st.DrawFn) -> Problem:
    n = draw(st.integers(3, 8))
    xy = [(draw(st.integers(0, 30)), draw(st.integers(0, 30))) for _ in range(n)]
    dur = np.array([[abs(a[0] - b[0]) + abs(a[1] - b[1]) for b in xy] for a in xy]) * 10

    def window() -> TimeWindow:
        a = draw(st.integers(0, 1500))
        return TimeWindow(earliest=a, latest=a + draw(st.integers(0, 1500)))

    types = (VehicleType(name="a", capacity=(2,)),
             VehicleType(name="b", capacity=(4,), skills=frozenset({"s"})))
    nv = draw(st.integers(1, 3))
    vehicles = tuple(Vehicle(id=f"v{k}", type=draw(st.integers(0, 1)),
                             start=draw(st.integers(0, n - 1)),
                             end=draw(st.none() | st.integers(0, n - 1)),
                             shift=TimeWindow(earliest=0, latest=draw(st.integers(500, 4000))),
                             max_duration_s=draw(st.none() | st.integers(300, 3000)))
                     for k in range(nv))
    reqs = tuple(Request(
        id=f"r{i}", pickup=draw(st.integers(0, n - 1)), dropoff=draw(st.integers(0, n - 1)),
        load=(draw(st.integers(1, 2)),), pickup_window=window(),
        dropoff_window=draw(st.just(TimeWindow()) | st.builds(window)),
        pickup_service_s=draw(st.integers(0, 30)), max_ride_s=draw(st.none() | st.integers(0, 600)),
        optional=draw(st.booleans()), penalty=draw(st.integers(0, 500)))
        for i in range(draw(st.integers(0, 6))))
    jobs = tuple(Job(id=f"j{j}", location=draw(st.integers(0, n - 1)),
                     load=(draw(st.integers(0, 2)),), kind=draw(st.sampled_from(list(JobKind))),
                     window=window(), skills=draw(st.sampled_from([frozenset(), frozenset("s")])),
                     allowed_vehicles=draw(st.none() | st.just((0,))))
                 for j in range(draw(st.integers(0, 4))))
    try:
        return Problem(locations=tuple(Location(lon=float(x), lat=float(y)) for x, y in xy),
                       dimensions=("q",), durations={"car": dur}, distances={"car": dur},
                       vehicle_types=types, vehicles=vehicles, requests=reqs, jobs=jobs)
    except ValueError:
        from hypothesis import reject

        reject()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.filter_too_much])
@given(problem=_random_problems(), engine=st.sampled_from(["auto", "lns", "ortools"]))
def test_random_problems_pass_the_checker(problem: Problem, engine: str) -> None:
    sol = solve(problem, SolveParams(time_limit_s=0.2, engine=engine))
    assert check(problem, sol) == []
    _served_once(problem, sol)


def test_bad_parameters_raise() -> None:
    with pytest.raises(ValueError, match="engine"):
        SolveParams(engine="gurobi")
    with pytest.raises(ValueError, match="objective"):
        SolveParams(objective="time")


def test_work_no_vehicle_can_reach_is_unassigned_as_unreachable() -> None:
    """A home cut off from the depot (no path in the matrix) is 'unreachable', not late."""
    from routing.io import problem_from_dict

    inf = None  # no path
    problem = problem_from_dict({
        "dimensions": ["seats"],
        "locations": [{"id": "depot", "lon": 130.70, "lat": 32.80},
                      {"id": "home", "lon": 130.71, "lat": 32.80},
                      {"id": "island", "lon": 130.72, "lat": 32.80},
                      {"id": "clinic", "lon": 130.73, "lat": 32.80}],
        "durations": {"car": [[0, 300, inf, 600], [300, 0, inf, 300], [inf, inf, 0, inf],
                              [600, 300, inf, 0]]},
        "distances": {"car": [[0, 3000, inf, 6000], [3000, 0, inf, 3000],
                              [inf, inf, 0, inf], [6000, 3000, inf, 0]]},
        "vehicle_types": [{"id": "bus", "capacity": [4]}],
        "vehicles": [{"id": "b1", "type": "bus", "start": "depot", "end": "depot"}],
        "requests": [
            {"id": "ok", "pickup": "home", "dropoff": "clinic", "load": {"seats": 1}},
            {"id": "cut", "pickup": "island", "dropoff": "clinic", "load": {"seats": 1}}],
    })
    sol = solve(problem, SolveParams(time_limit_s=2, engine="lns"))
    reasons = {problem.requests[u.ref].id: u.reason for u in sol.unassigned}
    assert set(reasons) == {"cut"}
    assert reasons["cut"].startswith("unreachable: no path from depot to island"), reasons
