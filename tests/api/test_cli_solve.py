"""``hakobu solve-instance`` and ``hakobu solve`` through typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.commands.solve import _road_matrices, register
from routing.check import ViolationKind, check
from routing.instances import read_instance
from routing.io import problem_from_dict, solution_from_plan

ROOT = Path(__file__).parents[2]
DATA = ROOT / "tests" / "data" / "instances"
EXAMPLE = ROOT / "examples" / "problem.json"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def test_solve_writes_the_example_plan(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "plan.json"
    res = runner.invoke(app, ["solve", str(EXAMPLE), "-o", str(out), "--time-limit", "1"])
    assert res.exit_code == 0, res.output
    plan = json.loads(out.read_text(encoding="utf-8"))
    problem = problem_from_dict(json.loads(EXAMPLE.read_text(encoding="utf-8")))
    s = plan["summary"]
    assert s["feasible"] is True
    assert s["served"] + s["unassigned"] == len(problem.requests) + len(problem.jobs)
    ids = [st["id"] for r in plan["routes"] for st in r["steps"]
           if st["type"] in ("pickup", "dropoff")]
    served = {r.id for r in problem.requests} - {u["id"] for u in plan["unassigned"]}
    assert sorted(ids) == sorted([i for i in served for _ in range(2)])
    assert s["distance_m"] == sum(r["distance_m"] for r in plan["routes"])


def test_solve_instance_prints_one_json_object(
    app: typer.Typer, runner: CliRunner
) -> None:
    path = DATA / "a2-16.txt"
    res = runner.invoke(app, ["solve-instance", str(path), "--format", "cordeau",
                              "--time-limit", "1", "--seed", "1"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(out) == {"instance", "format", "cost", "vehicles", "feasible", "unassigned",
                        "runtime_s", "routes"}
    assert out["instance"] == "a2-16" and out["format"] == "cordeau"
    assert out["feasible"] is True
    inst = read_instance(path, "cordeau")
    visited = sorted(i for r in out["routes"] for i in r)
    assert 0 not in visited and 33 not in visited  # depots excluded
    served = [r for r in range(1, 17) if r in visited]
    assert visited == sorted(served + [r + 16 for r in served])
    assert len(served) + len(out["unassigned"]) == len(inst.problem.requests)
    assert out["vehicles"] == len(out["routes"]) <= 2
    assert out["cost"] >= 294.25 - 0.01  # cannot beat the optimum


def test_solve_instance_on_each_small_format(
    app: typer.Typer, runner: CliRunner
) -> None:
    for name, fmt in [("lc101.txt", "lilim"), ("C101.txt", "solomon"),
                      ("X-n101-k25.vrp", "vrplib")]:
        res = runner.invoke(app, ["solve-instance", str(DATA / name), "--format", fmt,
                                  "--time-limit", "1"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.stdout.strip().splitlines()[-1])
        inst = read_instance(DATA / name, fmt)
        assert out["feasible"] is True
        assert out["cost"] > 0
        n_nodes = inst.problem.n_locations - len(inst.depots)
        assert len({i for r in out["routes"] for i in r}) == sum(len(r) for r in out["routes"])
        assert sum(len(r) for r in out["routes"]) <= n_nodes


@pytest.mark.parametrize("args,reason", [
    (["solve-instance", "nope.txt", "--format", "cordeau", "--time-limit", "1"],
     "no such file"),
    (["solve-instance", str(DATA / "lc101.txt"), "--format", "solomon", "--time-limit", "1"],
     "lc101.txt"),
    (["solve", "nope.json", "-o", "plan.json"], "no such file"),
])
def test_bad_input_exits_with_one_line(
    app: typer.Typer, runner: CliRunner, args: list[str], reason: str
) -> None:
    res = runner.invoke(app, args)
    assert res.exit_code != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and reason in lines[0], res.stderr
    assert "Traceback" not in res.output


def test_unknown_format_is_refused(app: typer.Typer, runner: CliRunner) -> None:
    res = runner.invoke(app, ["solve-instance", str(DATA / "a2-16.txt"), "--format", "tsplib",
                              "--time-limit", "1"])
    assert res.exit_code != 0
    assert "tsplib" in res.output


def test_bad_problem_json_names_line_and_field(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"dimensions": ["seats"],\n "locations": [}\n', encoding="utf-8")
    res = runner.invoke(app, ["solve", str(broken), "-o", str(tmp_path / "p.json")])
    assert res.exit_code != 0 and "broken.json:2: not valid JSON" in res.stderr
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["requests"][1]["dropoff_window"]["latest"] = 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    res = runner.invoke(app, ["solve", str(bad), "-o", str(tmp_path / "p.json")])
    assert res.exit_code != 0
    assert "requests[1].dropoff_window.latest" in res.stderr
    assert not (tmp_path / "p.json").exists()


def test_checker_agrees_with_the_printed_verdict(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "plan.json"
    res = runner.invoke(app, ["solve", str(EXAMPLE), "-o", str(out), "--time-limit", "1",
                              "--seed", "3"])
    assert res.exit_code == 0, res.output
    plan = json.loads(out.read_text(encoding="utf-8"))
    # the independent checker, run here on the plan the CLI wrote, finds nothing wrong
    problem = problem_from_dict(json.loads(EXAMPLE.read_text(encoding="utf-8")))
    solution = solution_from_plan(problem, plan)
    assert check(problem, solution) == []
    assert plan["summary"]["feasible"] is True
    assert "feasible=True" in res.stderr
    assert solution.distance(problem) == plan["summary"]["distance_m"]
    assert solution.cost(problem) == plan["summary"]["cost"]
    # ... and it is not blind: the same plan with one drop-off moved before its pickup
    # (and times kept) is caught
    route = next(r for r in plan["routes"] if any(st["type"] == "dropoff" for st in r["steps"]))
    steps = route["steps"]
    d = next(i for i, st in enumerate(steps) if st["type"] == "dropoff")
    p = next(i for i, st in enumerate(steps) if st["type"] == "pickup"
             and st["id"] == steps[d]["id"])
    steps[p]["type"], steps[d]["type"] = "dropoff", "pickup"
    kinds = {v.kind for v in check(problem, solution_from_plan(problem, plan))}
    assert ViolationKind.PRECEDENCE in kinds


def test_matrices_left_out_are_built_on_the_region_roads(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    inline = problem_from_dict(data)
    for key in ("durations", "distances"):
        del data[key]
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(data), encoding="utf-8")
    # The example's inline matrices came from the built-in road graph: the same come back.
    built = problem_from_dict(data, build_matrices=_road_matrices(None))
    assert (built.durations["car"] == inline.durations["car"]).all()
    assert (built.distances["car"] == inline.distances["car"]).all()
    out = tmp_path / "plan.json"
    res = runner.invoke(app, ["solve", str(bare), "-o", str(out), "--time-limit", "1"])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text(encoding="utf-8"))["summary"]["feasible"] is True


def test_matrices_left_out_need_known_profiles_and_points_near_roads(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    for key in ("durations", "distances"):
        del data[key]
    far = json.loads(json.dumps(data))
    far["locations"][2]["lon"] += 0.5  # 47 km east: off the map
    drone = json.loads(json.dumps(data))
    drone["vehicle_types"][0]["profile"] = "drone"
    for name, bad, field in (("far", far, "locations[2]"),
                             ("drone", drone, "vehicle_types.profile")):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(bad), encoding="utf-8")
        res = runner.invoke(app, ["solve", str(path), "-o", str(tmp_path / "p.json")])
        assert res.exit_code != 0 and field in res.stderr, res.stderr
