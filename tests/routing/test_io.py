"""Product JSON: problem round trip, strict validation with field paths, plan shape."""

from __future__ import annotations

import copy
import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from routing.check import check
from routing.errors import ProblemError
from routing.instances import earliest_schedule, read_instance
from routing.io import plan_to_dict, problem_from_dict, problem_to_dict, solution_from_plan
from routing.model import UNREACHABLE
from routing.solution import StopKind

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "problem.json"
DATA = ROOT / "tests" / "data" / "instances"


@pytest.fixture()
def example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return data


def test_example_reads_with_ids_mapped_to_indices(example: dict[str, Any]) -> None:
    p = problem_from_dict(example)
    assert p.dimensions == ("seats", "wheelchairs", "parcels")
    sato = next(r for r in p.requests if r.id == "ride-sato")
    assert p.locations[sato.pickup].name == "home-kamiezu"
    assert sato.load == (1, 1, 0)  # load given by dimension name, missing ones are 0
    assert sato.skills == frozenset({"wheelchair_lift"})
    assert p.vehicles[0].breaks[0].duration_s == 2700
    assert np.array_equal(p.durations["car"], np.array(example["durations"]["car"]))


def test_round_trip_is_stable(example: dict[str, Any]) -> None:
    once = problem_to_dict(problem_from_dict(example))
    twice = problem_to_dict(problem_from_dict(json.loads(json.dumps(once))))
    assert once == twice
    # every input value survives (the input may omit defaults)
    for i, r in enumerate(example["requests"]):
        for key, value in r.items():
            if key != "load":
                assert once["requests"][i][key] == value, key


def test_round_trip_of_a_literature_problem() -> None:
    p = read_instance(DATA / "a2-16.txt", "cordeau").problem
    d = problem_to_dict(p)
    q = problem_from_dict(json.loads(json.dumps(d)))
    assert problem_to_dict(q) == d
    assert q.requests == p.requests and q.vehicles == p.vehicles


def test_unreachable_is_null(example: dict[str, Any]) -> None:
    example["durations"]["car"][0][1] = None
    p = problem_from_dict(example)
    assert p.durations["car"][0, 1] == UNREACHABLE
    assert problem_to_dict(p)["durations"]["car"][0][1] is None


def _broken(example: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(example)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize("path,value,field", [
    (["requests", 3, "pickup_window"], {"earliest": 100, "latest": 50},
     "requests[3].pickup_window.latest"),
    (["requests", 0, "pickup"], "nowhere", "requests[0].pickup"),
    (["requests", 1, "load"], [1, 0], "requests[1].load"),
    (["requests", 1, "load"], {"seats": -1}, "requests[1].load.seats"),
    (["jobs"], [{"id": "j", "location": "depot-kengun", "load": [0, 0, 1], "color": 1}],
     "jobs[0].color"),
    (["vehicles", 1, "type"], "bus", "vehicles[1].type"),
    (["vehicles", 0, "breaks", 0, "duration_s"], 1.5, "vehicles[0].breaks[0].duration_s"),
    (["vehicle_types", 0, "capacity"], [3, 1], "vehicle_types[0].capacity"),
    (["locations", 2, "lat"], "north", "locations[2].lat"),
    (["locations", 2, "id"], "home-ezu", "locations[2].id"),
    (["durations", "car", 4], [0, 1], "durations.car[4]"),
    (["durations"], KeyError, "durations"),
    (["requests", 2, "allowed_vehicles"], ["van-9"], "requests[2].allowed_vehicles[0]"),
    (["requests", 2, "optional"], "yes", "requests[2].optional"),
    (["requests", 0, "max_ride_s"], 10**30, "requests[0].max_ride_s"),
    (["requests", 0, "max_ride_s"], 0, "requests[0].max_ride_s"),
    (["vehicles", 1, "max_duration_s"], 0, "vehicles[1].max_duration_s"),
    (["durations", "car", 0, 1], 10**20, "durations.car[0][1]"),
    (["distances", "car", 0, 1], float("inf"), "distances.car[0][1]"),
    (["vehicle_types", 0, "speed_factor"], 0, "vehicle_types[0].speed_factor"),
    (["vehicle_types", 0, "fixed_cost"], 10**15, "vehicle_types[0].fixed_cost"),
    (["requests", 3, "priority"], -(10**9), "requests[3].priority"),
    (["requests", 1, "max_detour"], 1000.0, "requests[1].max_detour"),
    (["requests", 0, "return_of"], "nobody", "requests[0].return_of"),
    (["requests", 2, "return_of"], "ride-sato-return", "requests[2].return_of"),
    (["requests", 2, "dropoff_window"], {"earliest": 0, "latest": 600},
     "requests[2].dropoff_window.latest"),
    (["jobs"], [{"id": "ride-kimura", "location": "home-ezu", "load": [0, 0, 1]}], "jobs[0].id"),
])
def test_bad_input_names_the_field(
    example: dict[str, Any], path: list[Any], value: Any, field: str
) -> None:
    with pytest.raises(ProblemError) as info:
        problem_from_dict(_broken(example, path, value))
    assert info.value.field == field, str(info.value)


def test_a_request_no_vehicle_can_carry_is_rejected(example: dict[str, Any]) -> None:
    data = _broken(example, ["requests", 0, "load"], {"seats": 9})
    with pytest.raises(ProblemError, match=r"ride-tanaka.*fits no vehicle type"):
        problem_from_dict(data)


def test_plan_shape_and_loads(example: dict[str, Any]) -> None:
    p = problem_from_dict(example)
    # serve every request on van-2 in input order, pickup then drop-off (not optimised)
    seq = [(kind, i) for i in range(len(p.requests)) for kind in (StopKind.PICKUP,
                                                                    StopKind.DROPOFF)]
    sol = earliest_schedule(p, [[], seq])
    plan = plan_to_dict(p, sol)
    assert set(plan) == {"summary", "routes", "unassigned"}
    s = plan["summary"]
    assert s["feasible"] == (not check(p, sol))
    assert s["served"] == len(p.requests) and s["unassigned"] == 0 and s["vehicles"] == 1
    (route,) = plan["routes"]
    assert route["vehicle"] == "van-2"
    steps = route["steps"]
    assert [st["type"] for st in steps] == ["start"] + ["pickup", "dropoff"] * 5 + ["end"]
    assert steps[1]["id"] == "ride-tanaka" and steps[1]["location"] == "home-ezu"
    assert steps[1]["load"] == [1, 0, 0] and steps[2]["load"] == [0, 0, 0]
    assert steps[-1]["location"] == "depot-kengun" and steps[-1]["load"] == [0, 0, 0]
    assert all(a["departure"] <= b["arrival"] for a, b in pairwise(steps))
    assert route["distance_m"] == s["distance_m"] == sol.distance(p)
    json.dumps(plan)  # JSON-ready


def test_plan_reads_back_into_the_same_solution(example: dict[str, Any]) -> None:
    p = problem_from_dict(example)
    seq = [(kind, i) for i in range(len(p.requests)) for kind in (StopKind.PICKUP,
                                                                    StopKind.DROPOFF)]
    sol = earliest_schedule(p, [[], seq])
    plan = json.loads(json.dumps(plan_to_dict(p, sol)))
    back = solution_from_plan(p, plan)
    assert back.routes == tuple(r for r in sol.routes if r.visits)
    assert back.unassigned == sol.unassigned
    assert check(p, back) == check(p, sol)
    plan["routes"][0]["steps"][3]["id"] = "ride-nobody"
    with pytest.raises(ProblemError) as info:
        solution_from_plan(p, plan)
    assert info.value.field == "routes[0].steps[3].id"
