"""The compiled kernels agree with the Python scheduler and with brute-force insertion."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing import construct, kernels
from routing.construct import ACCEPT_WORSE, COOLING, Lns, temperature
from routing.model import (
    Location,
    Problem,
    Request,
    StopKind,
    TimeWindow,
    Vehicle,
    VehicleType,
)
from routing.schedule import compile_problem, schedule_times, sequence_load_ok
from tests.routing.test_check import assignments, problems

ALL = 10**6  # schedule every screened position (exact cheapest insertion)


def _no_breaks(problem: Problem) -> Problem:
    vehicles = tuple(dataclasses.replace(v, breaks=()) for v in problem.vehicles)
    return dataclasses.replace(problem, vehicles=vehicles)


def _node(nr: int, kind: StopKind, ref: int) -> int:
    if kind is StopKind.PICKUP:
        return 2 * ref
    if kind is StopKind.DROPOFF:
        return 2 * ref + 1
    return 2 * nr + ref


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_schedule_verdict_equals_the_python_scheduler(data: st.DataObject) -> None:
    problem = _no_breaks(data.draw(problems()))
    cp = compile_problem(problem)
    lns = Lns(cp)
    assert lns.compiled
    for k, stops in enumerate(data.draw(assignments(problem))):
        seq = [_node(cp.n_requests, kind, ref) for kind, ref in stops if kind is not
               StopKind.BREAK]
        expected = schedule_times(cp, k, seq, full=False) is not None
        got = kernels.schedule_ok(np.asarray(seq, dtype=np.int64), k, lns.tb)
        assert got == expected, (k, seq)


def _drawn_plan(data: st.DataObject) -> tuple[Lns, list[list[int]]]:
    """A random problem without breaks and random routes (not necessarily feasible)."""
    problem = _no_breaks(data.draw(problems()))
    lns = Lns(compile_problem(problem))
    routes = [[_node(lns.cp.n_requests, kind, ref) for kind, ref in stops]
              for stops in data.draw(assignments(problem))]
    return lns, routes


def _brute_force(lns: Lns, u: int, k: int, seq: list[int]) -> int | None:
    """Cheapest feasible insertion of unit ``u`` by trying every position."""
    nodes = lns.nodes(u)
    if not lns.cp.allowed[k][nodes[0]]:
        return None
    base = lns.route_cost(k, seq)
    best: int | None = None
    for i in range(len(seq) + 1):
        for j in range(i, len(seq) + 1) if len(nodes) == 2 else [i]:
            new = list(seq)
            if len(nodes) == 2:
                new.insert(j, nodes[1])
            new.insert(i, nodes[0])
            if not sequence_load_ok(lns.cp, k, new):
                continue
            if schedule_times(lns.cp, k, new, full=False) is None:
                continue
            delta = lns.route_cost(k, new) - base
            if best is None or delta < best:
                best = delta
    return best


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_best_insertion_is_the_brute_force_optimum(data: st.DataObject) -> None:
    lns, routes = _drawn_plan(data)
    assert lns.compiled
    placed = {lns.unit_of(x) for seq in routes for x in seq}
    for u in (u for u in range(lns.n_units) if u not in placed):
        for k, seq in enumerate(routes):
            if seq and not lns.feasible(k, seq):
                continue  # insertion starts from a feasible route
            expected = _brute_force(lns, u, k, seq)
            cost, i, j = kernels.best_insertion(u, k, np.asarray(seq, dtype=np.int64), lns.tb,
                                                ALL)
            if expected is None:
                assert i < 0
                continue
            assert i >= 0
            fixed = lns.veh.fixed[k] if not seq else 0
            assert cost - fixed == expected
            nodes = lns.nodes(u)
            new = [*seq[:i], nodes[0], *seq[i:j], *nodes[1:], *seq[j:]]
            assert lns.route_cost(k, new) - lns.route_cost(k, seq) == cost
            assert schedule_times(lns.cp, k, new, full=False) is not None
            assert sequence_load_ok(lns.cp, k, new)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_removal_savings_match_route_costs(data: st.DataObject) -> None:
    lns, routes = _drawn_plan(data)
    assert lns.compiled
    arr, lens = lns._to_arrays(routes)
    got = kernels.removal_savings(arr, lens, lns.tb)
    expected = dict((u, s) for s, u in lns._savings(routes))
    for u in range(lns.n_units):
        assert got[u] == expected.get(u, -1)


# --------------------------------------------------------------------------- annealing
@settings(max_examples=500, deadline=None)
@given(delta=st.integers(-10**9, 10**9), temp=st.floats(0.0, 1e9) | st.just(0.0),
       u=st.floats(0.0, 1.0, exclude_max=True))
def test_acceptance_decides_alike_compiled_and_in_python(delta: int, temp: float,
                                                         u: float) -> None:
    compiled = kernels.accept(float(delta), temp, u)
    python = cast(Any, kernels.accept).py_func  # the same source, run by CPython
    assert compiled == python(float(delta), temp, u)
    if delta < 0 or (delta == 0 and temp > 0):
        assert compiled  # better plans are always taken, equal ones while it is warm
    elif temp == 0:
        assert not compiled
    else:
        assert compiled == (u < math.exp(-delta / temp))


def test_start_temperature_takes_the_set_share_worse_half_the_time() -> None:
    arc = 123_456
    t0 = temperature(arc, 0.0)
    worse = ACCEPT_WORSE * arc
    assert kernels.accept(worse, t0, 0.4999)
    assert not kernels.accept(worse, t0, 0.5001)
    assert temperature(arc, 1.0) == pytest.approx(COOLING * t0)
    assert temperature(0, 0.0) == 1.0


def _one_served_one_left_out() -> Problem:
    """Request ``r`` is served by the one van; ``late`` (optional, penalty 10**6) cannot
    reach its drop-off in time and is left out."""
    xy = [(0, 0), (30, 0), (30, 40), (300, 0)]
    m = np.array([[round(math.dist(a, b)) for b in xy] for a in xy], dtype=np.int64)
    return Problem(
        locations=tuple(Location(lon=x, lat=y) for x, y in xy), dimensions=("seats",),
        durations={"car": m}, distances={"car": m},
        vehicle_types=(VehicleType(name="van", capacity=(4,)),),
        vehicles=(Vehicle(id="v", type=0, start=0, end=0),),
        requests=(
            Request(id="r", pickup=1, dropoff=2, load=(1,)),
            Request(id="late", pickup=3, dropoff=2, load=(1,), optional=True, penalty=10**6,
                    dropoff_window=TimeWindow(earliest=0, latest=100)),
        ),
    )


@pytest.mark.parametrize("compiled", [True, False])
def test_both_loops_anneal_from_the_arc_cost(compiled: bool,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # The Python loop used to start from the total cost (penalties of units left out
    # included): here that would be 10**6 + 120 instead of the arc cost 120.
    seen: list[int] = []

    def spy(arc_cost: int, frac: float) -> float:
        seen.append(arc_cost)
        return temperature(arc_cost, frac)

    monkeypatch.setattr(construct, "temperature", spy)
    lns = Lns(compile_problem(_one_served_one_left_out()), seed=3)
    assert lns.compiled
    lns.compiled = compiled  # without breaks both loops can run the same problem
    res = lns.run(600.0, max_iterations=6)  # the iterations end it (not the compile time)
    assert res.unassigned == [1]
    assert res.cost == 120 + 10**6
    assert seen
    assert set(seen) == {30 + 40 + 50}
