"""A drone riding on the van (flying sidekick, ``routing.sidekick``) on the built-in
Kumamoto roads and airspace: one van from the depot south of the centre (outside every
DID) with parcels on the roads of that pocket and a few farther out; the vans' plan from
``plan_mixed`` (its depot droneport's one drone takes little: objective ``cost``)."""

from __future__ import annotations

import numpy as np
import pytest

from maps.airspace import airspace_for_region
from maps.matrix import masked_travel_matrices
from maps.region import default_region
from routing.check_tspd import check_tspd
from routing.drone import DroneJob, Droneport, DroneProblem, DroneSpec, endurance_s
from routing.drone_plan import AirspaceAir, MixedParams, VanFleet, plan_mixed
from routing.model import TimeWindow
from routing.sidekick import plan_sidekicks, sidekick_makespan
from routing.tspd import DroneSolution
from tests.routing.test_drone_mixed import POCKET, SITE

FARTHER = [(130.745, 32.775), (130.71, 32.76), (130.75, 32.76), (130.72, 32.745)]
DAY = TimeWindow(earliest=9 * 3600, latest=15 * 3600)


def _day(kg: float | None = None, spec: DroneSpec | None = None):  # type: ignore[no-untyped-def]
    region = default_region()
    air = AirspaceAir(airspace=airspace_for_region(region))
    jobs = tuple(DroneJob(id=f"j{k}", lon=x, lat=y, window=DAY,
                          weight_kg=kg if kg is not None else 1.0 + k % 3)
                 for k, (x, y) in enumerate(POCKET + FARTHER))
    problem = DroneProblem(jobs=jobs, ports=(Droneport(id="p", lon=SITE[0], lat=SITE[1],
                                                       drones=1),), spec=spec or DroneSpec())
    fleet = VanFleet(depots=(SITE,), vans=(1,))
    pts = np.asarray([SITE, *((j.lon, j.lat) for j in jobs)])
    dur, dist, _ = masked_travel_matrices(region.edge_index(), pts, max_snap_m=500.0,
                                          access_kmh=20.0)
    mixed = plan_mixed(problem, air, fleet, dur, dist, MixedParams(objective="cost"))
    return problem, mixed, plan_sidekicks(mixed, problem, air, fleet, dur, dist)


@pytest.fixture(scope="module")
def day():  # type: ignore[no-untyped-def]
    return _day()


def test_the_sidekick_shortens_the_route_and_passes_the_fstsp_checker(day) -> None:  # type: ignore[no-untyped-def]
    _, mixed, routes = day
    (r,) = routes
    assert r.used and r.drone_jobs
    assert r.with_drone_s < r.van_only_s and r.with_drone_m < r.van_only_m
    sol = DroneSolution(operations=r.operations, makespan=sidekick_makespan(r))
    assert check_tspd(r.instance, sol) == []
    # Every parcel of the route is served once: by the van or by its drone.
    route_jobs = [j for j in r.stops if j >= 0]
    assert sorted(route_jobs) == sorted(mixed.van_jobs[v.ref] for v in mixed.van.routes[0].visits)
    end = r.instance.end
    by_van = [route_jobs[x - 1] for o in r.operations for x in (*o.truck, o.end)
              if 0 < x < end]
    assert sorted(by_van + list(r.drone_jobs)) == sorted(route_jobs)


@pytest.mark.parametrize("battery_wh", [1000.0, 60.0])
def test_sidekick_drops_keep_windows_payload_and_endurance(day, battery_wh: float) -> None:  # type: ignore[no-untyped-def]
    # A small battery (under 2 min of cruise) makes the endurance bind.
    problem, _, (r,) = day if battery_wh == 1000.0 else _day(spec=DroneSpec(
        battery_wh=battery_wh))
    assert r.used
    route_jobs = [j for j in r.stops if j >= 0]
    for k, j in enumerate(route_jobs):
        w = problem.jobs[j].window
        assert w.earliest <= r.drops_s[k] <= w.latest
    spec = problem.spec
    inst = r.instance
    for o in r.operations:
        if o.drone is None:
            continue
        job = problem.jobs[route_jobs[o.drone - 1]]
        assert job.weight_kg <= spec.payload_kg
        flight = inst.drone[o.start, o.drone] + inst.drone[o.drone, o.end]
        assert flight + inst.recovery_s <= endurance_s(spec, job.weight_kg)


def test_parcels_too_heavy_for_the_drone_stay_on_the_van() -> None:
    _, _, (r,) = _day(kg=6.0)
    assert not r.used and r.reason == "no delivery is better flown from the van"
    assert r.with_drone_s == r.van_only_s and r.drone_jobs == ()
