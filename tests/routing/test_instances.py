"""Literature readers, best-known values and the checker on best-known solutions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routing.check import ViolationKind, check
from routing.errors import InstanceFormatError
from routing.instances import (
    best_known,
    literature_cost,
    read_instance,
    read_solomon,
    read_solution,
    route_node_ids,
)

DATA = Path(__file__).parents[1] / "data" / "instances"
SHARED = Path(__file__).parents[2].parent / "shared" / "benchmarks"


@pytest.fixture(scope="module")
def bench() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/benchmarks is not available")
    return SHARED


def test_cordeau_reader_follows_the_format() -> None:
    inst = read_instance(DATA / "a2-16.txt", "cordeau")
    p = inst.problem
    assert inst.scale == 1000
    assert len(p.requests) == 16 and len(p.vehicles) == 2
    assert p.vehicle_types[0].capacity == (3,)
    r = p.requests[0]
    assert (r.pickup, r.dropoff, r.max_ride_s) == (1, 17, 30_000)
    assert p.vehicles[0].max_duration_s == 480_000
    assert (p.vehicles[0].start, p.vehicles[0].end) == (0, 33)
    # travel times are the ceil of the scaled Euclidean distance, never below it
    d = inst.cost_matrix * inst.scale
    assert (p.durations["car"] >= d - 1e-6).all()
    assert (p.durations["car"] < d + 1).all()
    # every request has one tight (15 min) window, the other end is open
    tight = [min(r.pickup_window.latest - r.pickup_window.earliest,
                 r.dropoff_window.latest - r.dropoff_window.earliest) for r in p.requests]
    assert set(tight) == {15_000}


def test_lilim_reader_pairs_pickups_and_deliveries() -> None:
    inst = read_instance(DATA / "lc101.txt", "lilim")
    p = inst.problem
    assert len(p.vehicles) == 25 and p.vehicle_types[0].capacity == (200,)
    assert len(p.requests) == 53 and 2 * len(p.requests) + 1 == p.n_locations
    locs = [r.pickup for r in p.requests] + [r.dropoff for r in p.requests]
    assert sorted(locs) == list(range(1, p.n_locations))
    # node 1 in lc101 is a delivery (demand -10) of pickup 11
    r = next(r for r in p.requests if r.dropoff == 1)
    assert r.pickup == 11 and r.load == (10,)


def test_solomon_and_vrplib_readers() -> None:
    sol = read_instance(DATA / "C101.txt", "solomon")
    assert len(sol.problem.jobs) == 100 and len(sol.problem.vehicles) == 25
    assert sol.problem.jobs[0].window.earliest == 912_000
    assert sol.problem.jobs[0].service_s == 90_000
    x = read_instance(DATA / "X-n101-k25.vrp", "vrplib")
    assert x.scale == 1 and len(x.problem.jobs) == 100
    assert x.node_ids[0] == 1 and x.depots == frozenset({0})
    assert np.array_equal(x.cost_matrix, np.rint(x.cost_matrix))  # EUC_2D rounded


def test_bks_solutions_pass_the_checker_with_their_cost() -> None:
    cases = [
        ("lc101.txt", "lilim", "lc101.10_828.9369.txt", 828.9369),
        ("X-n101-k25.vrp", "vrplib", "X-n101-k25.sol", 27591.0),
    ]
    for name, fmt, sol_name, cost in cases:
        inst = read_instance(DATA / name, fmt)
        solution = read_solution(DATA / sol_name, inst)
        assert check(inst.problem, solution) == []
        assert literature_cost(inst, solution) == pytest.approx(cost, abs=5e-4)
    inst = read_solomon(DATA / "C101.txt", arc_decimals=1)
    solution = read_solution(DATA / "C101.sol", inst)
    assert check(inst.problem, solution) == []
    assert literature_cost(inst, solution) == pytest.approx(827.3, abs=1e-6)


def test_route_node_ids_exclude_depots_and_use_file_numbers() -> None:
    inst = read_instance(DATA / "X-n101-k25.vrp", "vrplib")
    solution = read_solution(DATA / "X-n101-k25.sol", inst)
    routes = route_node_ids(inst, solution)
    assert len(routes) == 26
    assert sorted(i for r in routes for i in r) == list(range(2, 102))  # depot is node 1


def test_bad_files_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    lines = (DATA / "a2-16.txt").read_text().splitlines()
    lines[3] = lines[3] + " 7"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InstanceFormatError, match=r"bad\.txt:4: node line needs 7 fields"):
        read_instance(bad, "cordeau")
    with pytest.raises(InstanceFormatError, match="unknown instance format"):
        read_instance(bad, "tsplib")
    with pytest.raises(InstanceFormatError, match="no such file"):
        read_instance(tmp_path / "missing.txt", "solomon")
    with pytest.raises(InstanceFormatError, match="expected 7 numbers"):
        read_instance(DATA / "lc101.txt", "solomon")


# ----------------------------------------------------------------- on ../shared


@pytest.mark.parametrize("fmt,folder,pattern", [
    ("cordeau", "darp_cordeau/instances", "*.txt"),
    ("lilim", "pdptw_li_lim/instances", "*.txt"),
    ("solomon", "vrptw_solomon/instances", "*.txt"),
    ("vrplib", "cvrp_x/instances", "*.vrp"),
])
def test_every_shared_instance_reads_with_a_best_known_value(
    bench: Path, fmt: str, folder: str, pattern: str
) -> None:
    files = sorted((bench / folder).glob(pattern))
    assert files
    for f in files:
        inst = read_instance(f, fmt)
        bk = best_known(f, fmt)
        assert bk is not None and bk.cost > 0, f
        assert inst.name == f.stem
        assert len(inst.node_ids) == inst.problem.n_locations


def test_all_lilim_bks_solutions_are_feasible_at_their_cost(bench: Path) -> None:
    files = sorted((bench / "pdptw_li_lim" / "bks_solutions").glob("*.txt"))
    assert len(files) == 40
    for f in files:
        path = bench / "pdptw_li_lim" / "instances" / f"{f.name.split('.')[0]}.txt"
        inst = read_instance(path, "lilim")
        bk = best_known(path, "lilim")
        assert bk is not None and bk.solution_file == f
        solution = read_solution(f, inst)
        assert check(inst.problem, solution) == [], f.name
        assert solution.n_vehicles() == bk.vehicles
        assert literature_cost(inst, solution) == pytest.approx(bk.cost, abs=5e-4), f.name


def test_all_cvrp_x_bks_solutions_reproduce_their_cost(bench: Path) -> None:
    for f in sorted((bench / "cvrp_x" / "instances").glob("*.sol")):
        inst = read_instance(f.with_suffix(".vrp"), "vrplib")
        bk = best_known(f.with_suffix(".vrp"), "vrplib")
        solution = read_solution(f, inst)
        assert bk is not None and check(inst.problem, solution) == [], f.name
        assert literature_cost(inst, solution) == bk.cost
        assert solution.n_vehicles() == bk.vehicles


def test_solomon_distance_only_optima_need_their_truncated_arcs(bench: Path) -> None:
    """The CVRPLIB optima are feasible with arcs truncated to 0.1, not always unrounded."""
    n_unrounded_infeasible = 0
    for f in sorted((bench / "vrptw_solomon" / "mindist_solutions_cvrplib").glob("*.sol")):
        path = bench / "vrptw_solomon" / "instances" / f"{f.stem}.txt"
        bk = best_known(path, "solomon")
        assert bk is not None and bk.distance_only_cost is not None
        inst = read_solomon(path, arc_decimals=1)
        solution = read_solution(f, inst)
        assert check(inst.problem, solution) == [], f.name
        assert literature_cost(inst, solution) == pytest.approx(bk.distance_only_cost, abs=1e-6)
        assert solution.n_vehicles() == bk.distance_only_vehicles
        exact = read_instance(path, "solomon")
        found = check(exact.problem, read_solution(f, exact))
        assert {v.kind for v in found} <= {ViolationKind.TIME_WINDOW}
        n_unrounded_infeasible += bool(found)
        # unrounded arcs are never shorter than truncated ones
        assert literature_cost(exact, read_solution(f, exact)) >= bk.distance_only_cost
    # tight instances (R102, R105, ...) exploit the truncation: the checker sees it
    assert n_unrounded_infeasible > 0


def test_cordeau_requests_have_consistent_ends(bench: Path) -> None:
    for f in sorted((bench / "darp_cordeau" / "instances").glob("*.txt")):
        inst = read_instance(f, "cordeau")
        n = len(inst.problem.requests)
        assert [(r.pickup, r.dropoff) for r in inst.problem.requests] == [
            (i, n + i) for i in range(1, n + 1)]
        # file names encode the fleet and the request count: a4-32 = 4 vehicles, 32 requests
        assert f.stem == f"a{len(inst.problem.vehicles)}-{n}"
