"""Drone sortie plans at real hospitals of the built-in region, refereed by the
independent drone checker (routing/check_drone.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from shapely.geometry import LineString, box

from routing.check_drone import DroneViolationKind, check_drone_plan
from routing.drone import DroneJob, Droneport, DroneProblem, Refusal, Wind
from routing.drone_plan import DronePlanParams, StraightAir, plan_drones
from routing.model import TimeWindow

ROOT = Path(__file__).resolve().parents[2]
H = 3600


def _hospitals() -> list[tuple[str, float, float]]:
    path = ROOT / "maps" / "data" / "kumamoto" / "kumamoto_city_hospitals.geojson"
    feats = json.loads(path.read_text(encoding="utf-8"))["features"]
    return [(f["properties"]["name"], *f["geometry"]["coordinates"]) for f in feats]


@pytest.fixture(scope="module")
def problem() -> DroneProblem:
    """A droneport at the first hospital, parcels to the ten nearest others (one too
    heavy), one of them urgent with a morning window."""
    hs = _hospitals()
    _, lon, lat = hs[0]
    near = sorted(hs[1:], key=lambda h: (h[1] - lon) ** 2 + (h[2] - lat) ** 2)[:10]
    jobs = [DroneJob(id=f"j{k}", lon=x, lat=y, weight_kg=1.0 + 0.3 * k,
                     priority=2 if k == 0 else 0,
                     window=TimeWindow(earliest=9 * H, latest=10 * H) if k == 0
                     else TimeWindow(earliest=8 * H, latest=17 * H))
            for k, (_, x, y) in enumerate(near)]
    jobs[-1] = dataclasses.replace(jobs[-1], weight_kg=7.5)  # over the 5 kg payload
    return DroneProblem(jobs=tuple(jobs), ports=(Droneport(id="port", lon=lon, lat=lat,
                                                           drones=2),))


def test_a_plan_serves_what_fits_and_passes_the_checker(problem: DroneProblem) -> None:
    plan = plan_drones(problem, StraightAir(), DronePlanParams(time_limit_s=0.5))
    assert check_drone_plan(problem, plan) == []
    refused = {r.job: r.reason for r in plan.refused}
    assert refused == {len(problem.jobs) - 1: Refusal.PAYLOAD}
    assert plan.served() == set(range(len(problem.jobs) - 1))
    (urgent,) = [(s, s.jobs.index(0)) for s in plan.sorties if 0 in s.jobs]
    assert 9 * H <= urgent[0].drop_s[urgent[1]] <= 10 * H
    for s in plan.sorties:
        assert sum(problem.jobs[j].weight_kg for j in s.jobs) <= problem.spec.payload_kg


def test_no_sortie_enters_an_avoided_area(problem: DroneProblem) -> None:
    port = problem.ports[0]
    # a no-fly square between the port and the first job: that leg may not be flown
    j = problem.jobs[1]
    mx, my = (port.lon + j.lon) / 2, (port.lat + j.lat) / 2
    area = box(mx - 0.001, my - 0.001, mx + 0.001, my + 0.001)
    air = StraightAir(avoid=(("no-fly", area),))
    plan = plan_drones(problem, air, DronePlanParams(time_limit_s=0.5))
    assert check_drone_plan(problem, plan, avoid=air.avoid) == []
    for s in plan.sorties:
        for path in s.paths:
            assert not LineString(path).intersects(area.buffer(-1e-7))


def test_wind_over_the_maximum_grounds_every_drone(problem: DroneProblem) -> None:
    windy = dataclasses.replace(problem, wind=Wind(speed_mps=12.0, from_deg=0.0))
    plan = plan_drones(windy, StraightAir(), DronePlanParams(time_limit_s=0.2))
    assert not plan.sorties
    assert {r.reason for r in plan.refused} >= {Refusal.WIND}


def test_the_checker_catches_a_broken_plan(problem: DroneProblem) -> None:
    plan = plan_drones(problem, StraightAir(), DronePlanParams(time_limit_s=0.3))
    s0 = plan.sorties[0]
    heavy = dataclasses.replace(problem, jobs=tuple(
        dataclasses.replace(j, weight_kg=6.0) if k == s0.jobs[0] else j
        for k, j in enumerate(problem.jobs)))
    kinds = {v.kind for v in check_drone_plan(heavy, plan)}
    assert DroneViolationKind.PAYLOAD in kinds
    twice = dataclasses.replace(plan, sorties=(*plan.sorties, plan.sorties[0]))
    kinds = {v.kind for v in check_drone_plan(problem, twice)}
    assert DroneViolationKind.DUPLICATE in kinds
    dropped = dataclasses.replace(plan, sorties=plan.sorties[1:])
    kinds = {v.kind for v in check_drone_plan(problem, dropped)}
    assert DroneViolationKind.MISSING in kinds
    late = dataclasses.replace(plan, sorties=(dataclasses.replace(
        s0, drop_s=tuple(t + 12 * H for t in s0.drop_s),
        landing_s=s0.landing_s + 12 * H, takeoff_s=s0.takeoff_s + 12 * H),
        *plan.sorties[1:]))
    assert check_drone_plan(problem, late)
    j = problem.jobs[s0.jobs[0]]
    through = box(j.lon - 0.0005, j.lat - 0.0005, j.lon + 0.0005, j.lat + 0.0005)
    kinds = {v.kind for v in check_drone_plan(problem, plan, avoid=(("nf", through),))}
    assert DroneViolationKind.AIRSPACE in kinds
