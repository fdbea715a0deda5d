"""Mixed van + drone plans (routing/drone_plan.py ``plan_mixed``) on the built-in region.

Real inputs: the built-in Kumamoto roads (road matrices from ``maps.matrix``), its
airspace (DIDs ``avoid``, Kumamoto Airport), drone paths from ``maps.airspace``. The
droneport and van depot share a site in the pocket of land outside the DIDs south of
the city centre (about 130.730 E, 32.767 N). Points were chosen on the data:

* parcels on roads of that pocket (van and drone both possible);
* a road point in the pocket north-east of the centre that the DIDs enclose on every
  side (a road reaches it, no drone path does), one inside a DID (the city centre),
  one 17 km away by air (over the drone's range), one too heavy for the drone;
* spots south of the road extract, more than 500 m from any road of the map (roadless);
* "across a river": a river without a bridge, modelled by cutting every road of the map
  that crosses the line at 32.7605 N; the parcels south of it keep their roads, which
  no longer connect to the depot.

Every plan is refereed by the independent checkers: ``routing.check`` for the vans,
``routing.check_drone`` for the drones (airspace against the original polygons).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest
import shapely

from maps.airspace import Airspace, airspace_for_region
from maps.matrix import masked_travel_matrices
from maps.region import Region, default_region
from maps.road import RoadGraph
from maps.snap import EdgeIndex, snap_or_mask
from routing.check import check
from routing.check_drone import check_drone_plan
from routing.drone import DroneJob, Droneport, DroneProblem, sortie_profile
from routing.drone_plan import (
    AirspaceAir,
    MixedParams,
    MixedPlan,
    VanFleet,
    drone_points,
    plan_drones,
    plan_mixed,
)
from routing.model import UNREACHABLE, StopKind

SITE = (130.7302793, 32.7673147)  # droneport and van depot, outside every DID
POCKET = [  # road points of the same pocket, 50-550 m from the site
    (130.7303, 32.7678), (130.7297, 32.7672), (130.7307, 32.7664), (130.7290, 32.7668),
    (130.7298, 32.7687), (130.7318, 32.7665), (130.7297, 32.7658), (130.7304, 32.7653),
    (130.7329, 32.7675), (130.7283, 32.7688), (130.7320, 32.7694), (130.7268, 32.7687),
    (130.7337, 32.7665), (130.7298, 32.7706), (130.7344, 32.7682), (130.7340, 32.7698),
    (130.7358, 32.7669), (130.7351, 32.7647),
]
ENCLOSED = (130.7394, 32.8238)  # road point in a non-DID pocket ringed by DIDs
CENTRE = (130.7085, 32.8031)  # inside 熊本市中央区's DID
FAR = (130.6825, 32.7902)  # on a road, 17.6 km by air around the DIDs
ROADLESS = [(130.7400, 32.7500), (130.7500, 32.7600)]  # > 500 m from every road
RIVER_LAT = 32.7605
ACROSS = (130.7343, 32.7567)  # on a road south of the cut line
MAX_SNAP_M = 500.0


# ------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def region() -> Region:
    return default_region()


@pytest.fixture(scope="module")
def airspace(region: Region) -> Airspace:
    return airspace_for_region(region)


def _cut(road: RoadGraph, line: shapely.LineString) -> RoadGraph:
    """The road graph without the edges whose geometry crosses ``line`` (no bridge)."""
    m = road.n_edges
    geoms = shapely.linestrings(road.geom_lonlat, indices=np.repeat(
        np.arange(m), np.diff(road.geom_ptr)))
    keep = ~shapely.intersects(geoms, line)
    new_index = np.full(m, -1, dtype=np.int64)
    new_index[keep] = np.arange(int(keep.sum()))
    rev = road.reverse[keep]
    rev = np.where(rev >= 0, new_index[np.maximum(rev, 0)], -1)
    tail = road.tail[keep]
    counts = np.diff(road.geom_ptr)[keep]
    geom = np.concatenate([road.geom_lonlat[road.geom_ptr[e]:road.geom_ptr[e + 1]]
                           for e in np.flatnonzero(keep)])
    return RoadGraph(
        profile=road.profile, node_id=road.node_id, lon=road.lon, lat=road.lat,
        indptr=np.searchsorted(tail, np.arange(road.n_nodes + 1)), tail=tail,
        head=road.head[keep], travel_s=road.travel_s[keep], length_m=road.length_m[keep],
        reverse=rev, geom_ptr=np.concatenate([[0], np.cumsum(counts)]), geom_lonlat=geom)


def _road(index: EdgeIndex, points: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Road seconds and metres between ``points``; UNREACHABLE for points farther than
    500 m from a road."""
    dur, dist, _ = masked_travel_matrices(index, np.asarray(points, dtype=np.float64),
                                          max_snap_m=MAX_SNAP_M)
    return dur, dist


@dataclasses.dataclass
class Day:
    problem: DroneProblem
    fleet: VanFleet
    dur: np.ndarray
    dist: np.ndarray
    legs: object
    air: AirspaceAir
    names: dict[str, int]


def _day(region: Region, airspace: Airspace, jobs: Sequence[DroneJob], vans: int = 1,
         drones: int = 2, *, river: bool = False) -> Day:
    problem = DroneProblem(jobs=tuple(jobs), ports=(Droneport(
        id="site", lon=SITE[0], lat=SITE[1], drones=drones),))
    fleet = VanFleet(depots=(SITE,), vans=(vans,))
    road = region.road
    if river:
        road = _cut(road, shapely.LineString([(130.60, RIVER_LAT), (130.85, RIVER_LAT)]))
    pts = [SITE, *((j.lon, j.lat) for j in jobs)]
    dur, dist = _road(EdgeIndex.build(road), pts)
    air = AirspaceAir(airspace=airspace, cache_dir=False)
    legs = air.legs(drone_points(problem))
    return Day(problem, fleet, dur, dist, legs, air, {j.id: k for k, j in enumerate(jobs)})


def _mixed(day: Day, **kw: object) -> MixedPlan:
    params = MixedParams(drone_time_limit_s=0.5, van_time_limit_s=1.0, **kw)  # type: ignore[arg-type]
    return plan_mixed(day.problem, day.legs, day.fleet, day.dur, day.dist, params)  # type: ignore[arg-type]


def _van_jobs(plan: MixedPlan) -> set[str]:
    if plan.van is None or plan.van_problem is None:
        return set()
    vp = plan.van_problem
    return {vp.jobs[v.ref].id for r in plan.van.routes for v in r.visits
            if v.kind == StopKind.JOB}


def _refereed(day: Day, plan: MixedPlan) -> dict[str, tuple[str, str]]:
    """Check the plan with both checkers and the one-mode-per-job rule; return the
    ``id -> (mode, reason)`` of every delivery."""
    jobs = day.problem.jobs
    modes = {jobs[m.job].id: (m.mode, m.reason) for m in plan.modes}
    assert [m.job for m in plan.modes] == list(range(len(jobs)))
    assert all(m.mode in ("van", "drone", "none") and m.reason for m in plan.modes)
    flown = {jobs[j].id for j in plan.drone.served()}
    driven = _van_jobs(plan)
    assert not flown & driven
    assert flown == {k for k, (m, _) in modes.items() if m == "drone"}
    assert driven == {k for k, (m, _) in modes.items() if m == "van"}
    if plan.van is not None:
        assert plan.van_problem is not None
        assert check(plan.van_problem, plan.van) == []
        # ... and that van problem drives on the road matrices it was given
        vp = plan.van_problem
        nd = len(day.fleet.depots)
        sel = [*range(nd), *(nd + day.names[j.id] for j in vp.jobs)]
        assert np.array_equal(vp.durations["car"], day.dur[np.ix_(sel, sel)])
        assert np.array_equal(vp.distances["car"], day.dist[np.ix_(sel, sel)])
        assert all(vp.jobs[k].load == (round(jobs[day.names[j.id]].weight_kg * 1000),)
                   for k, j in enumerate(vp.jobs))
    decided = {j for s in plan.drone.sorties for j in s.jobs} | {
        r.job for r in plan.drone.refused}
    assert check_drone_plan(day.problem, plan.drone, avoid=day.air.named("avoid"),
                            permit=day.air.named("permit"), jobs=decided) == []
    # nothing flies through avoided airspace: shapely on the original polygons
    avoided = [a.geometry for a in day.air.airspace.active(day.air.cruise_altitude_m, "avoid")]
    for s in plan.drone.sorties:
        for path in s.paths:
            line = shapely.LineString(path)
            assert not any(line.intersects(p) for p in avoided)
    return modes


# ------------------------------------------------------------------------- tests
def test_each_delivery_goes_by_the_mode_that_can_take_it(
        region: Region, airspace: Airspace) -> None:
    jobs = [DroneJob(id=f"p{k}", lon=x, lat=y, weight_kg=1.0 + 0.25 * (k % 4),
                     priority=1 if k % 3 == 0 else 0) for k, (x, y) in enumerate(POCKET[:8])]
    jobs += [
        DroneJob(id="heavy", lon=POCKET[9][0], lat=POCKET[9][1], weight_kg=7.0),
        DroneJob(id="far", lon=FAR[0], lat=FAR[1], weight_kg=1.0),
        DroneJob(id="enclosed", lon=ENCLOSED[0], lat=ENCLOSED[1], weight_kg=1.0),
        DroneJob(id="did", lon=CENTRE[0], lat=CENTRE[1], weight_kg=1.0),
        DroneJob(id="roadless", lon=ROADLESS[0][0], lat=ROADLESS[0][1], weight_kg=2.0),
        DroneJob(id="roadless2", lon=ROADLESS[1][0], lat=ROADLESS[1][1], weight_kg=0.5,
                 priority=2),
        DroneJob(id="nowhere", lon=ROADLESS[1][0] + 0.002, lat=ROADLESS[1][1], weight_kg=8.0),
    ]
    day = _day(region, airspace, jobs)
    # the setting is what the module docstring says
    nd = 1
    i = day.names
    assert day.dur[0, nd + i["roadless"]] == UNREACHABLE
    assert day.dur[0, nd + i["enclosed"]] < UNREACHABLE
    assert day.legs.distance_m(0, 1 + i["enclosed"]) == UNREACHABLE  # type: ignore[attr-defined]
    plan = _mixed(day)
    modes = _refereed(day, plan)
    assert modes["heavy"][0] == "van" and modes["heavy"][1].startswith("drone: payload")
    assert modes["far"][0] == "van" and modes["far"][1].startswith("drone: energy_reserve")
    for k in ("enclosed", "did"):
        assert modes[k][0] == "van" and modes[k][1].startswith("drone: unreachable"), modes[k]
    for k in ("roadless", "roadless2"):
        assert modes[k] == ("drone", "van: no road reaches it from a depot with vans")
    mode, reason = modes["nowhere"]
    assert mode == "none"
    assert "drone: payload" in reason and "van: no road reaches it" in reason
    assert all(modes[f"p{k}"][0] in ("van", "drone") for k in range(8))


def test_across_a_river_without_a_bridge_the_drone_delivers(
        region: Region, airspace: Airspace) -> None:
    jobs = [DroneJob(id="across", lon=ACROSS[0], lat=ACROSS[1], weight_kg=2.0),
            DroneJob(id="near", lon=POCKET[0][0], lat=POCKET[0][1], weight_kg=2.0),
            DroneJob(id="across-heavy", lon=ACROSS[0] + 0.0005, lat=ACROSS[1],
                     weight_kg=6.0)]
    whole = _day(region, airspace, jobs)
    assert whole.dur[0, 1] < UNREACHABLE  # with its bridges, a road reaches it
    day = _day(region, airspace, jobs, river=True)
    # the river cuts the roads: the parcel still lies on a road, but not the depot's
    _, ok = snap_or_mask(region.edge_index(), [ACROSS], max_distance_m=MAX_SNAP_M)
    assert ok.all()
    assert day.dur[0, 1] == UNREACHABLE and day.dur[1, 0] == UNREACHABLE
    assert day.dur[0, 2] < UNREACHABLE
    plan = _mixed(day)
    modes = _refereed(day, plan)
    assert modes["across"] == ("drone", "van: no road reaches it from a depot with vans")
    assert modes["across-heavy"][0] == "none"
    (s,) = [s for s in plan.drone.sorties if 0 in s.jobs]
    assert s.paths[0][0] == SITE


def test_time_objective_puts_the_vans_to_work(region: Region, airspace: Airspace) -> None:
    # 18 parcels of 4 kg (one a sortie) a van or the one drone can take: the drone alone
    # flies until late morning
    jobs = [DroneJob(id=f"p{k}", lon=x, lat=y, weight_kg=4.0)
            for k, (x, y) in enumerate(POCKET)]
    day = _day(region, airspace, jobs, vans=1, drones=1)
    alone = plan_drones(day.problem, day.legs)  # type: ignore[arg-type]
    assert len(alone.served()) == len(jobs)
    assert (alone.completion_s() or 0) > 10 * 3600
    timed = _mixed(day, objective="time")
    modes = _refereed(day, timed)
    assert {m for m, _ in modes.values()} == {"van", "drone"}
    end = timed.completion_s()
    assert end is not None and end < (alone.completion_s() or 0)
    assert any(r == "the vans finish the day sooner with it" for _, r in modes.values())
    # with free drone flights, "cost" flies everything that fits: later than "time"
    cheap = _mixed(day, objective="cost", yen_per_wh=0.0, yen_per_sortie=0.0)
    cmodes = _refereed(day, cheap)
    assert {m for m, _ in cmodes.values()} == {"drone"}
    assert (cheap.completion_s() or 0) > end
    assert cheap.van_km() == 0.0 < timed.van_km()


def _drone_cost(day: Day, j: int, params: MixedParams) -> float:
    job = day.problem.jobs[j]
    legs = day.legs
    paths = [legs.path(0, 1 + j), legs.path(1 + j, 0)]  # type: ignore[attr-defined]
    prof = sortie_profile(day.problem.spec, day.problem.wind, SITE, [(job.lon, job.lat)],
                          [job.weight_kg], paths)
    assert prof.ok
    return prof.energy_wh * params.yen_per_wh + params.yen_per_sortie


def test_cost_objective_flies_only_where_cheaper(region: Region, airspace: Airspace) -> None:
    # a cluster of close parcels (cheap by van) and lone roadless / far-off-road spots
    jobs = [DroneJob(id=f"p{k}", lon=x, lat=y, weight_kg=1.0)
            for k, (x, y) in enumerate(POCKET[:6])]
    jobs += [DroneJob(id="lone", lon=130.7343, lat=32.7567, weight_kg=1.0),
             DroneJob(id="lone2", lon=130.7434, lat=32.7658, weight_kg=1.0),
             DroneJob(id="roadless", lon=ROADLESS[0][0], lat=ROADLESS[0][1], weight_kg=1.0)]
    day = _day(region, airspace, jobs)
    params = MixedParams(objective="cost", yen_per_sortie=60.0)
    plan = _mixed(day, objective="cost", yen_per_sortie=60.0)
    modes = _refereed(day, plan)
    nd = 1
    for j, job in enumerate(jobs):
        if day.dur[0, nd + j] >= UNREACHABLE:
            assert modes[job.id][0] == "drone"
            continue
        # the documented estimate: 2 x road metres to the nearest depot or other parcel
        row = day.dist[nd + j]
        near = min(int(x) for k, x in enumerate(row) if k != nd + j and x < UNREACHABLE)
        van = 2 * near / 1000 * day.fleet.yen_per_km
        cheaper = _drone_cost(day, j, params) < van
        assert modes[job.id][0] == ("drone" if cheaper else "van"), (job.id, van)
    assert {modes[f"p{k}"][0] for k in range(6)} == {"van"}
    assert modes["lone"][0] == "drone"
    # an expensive sortie sends every parcel a road reaches to the vans
    dear = _mixed(day, objective="cost", yen_per_sortie=10_000.0)
    dmodes = _refereed(day, dear)
    assert dmodes["roadless"][0] == "drone"
    assert all(dmodes[j.id][0] == "van" for j in jobs if j.id != "roadless")
    assert dear.van_km() > plan.van_km()


def test_cost_objective_flies_what_the_vans_cannot_fit(
        region: Region, airspace: Airspace) -> None:
    # every parcel is cheaper by van, but the one van's shift is too short for all
    jobs = [DroneJob(id=f"p{k}", lon=x, lat=y, weight_kg=1.0)
            for k, (x, y) in enumerate(POCKET)]
    day = _day(region, airspace, jobs)
    short = dataclasses.replace(day.fleet, shift=dataclasses.replace(
        day.fleet.shift, latest=day.fleet.shift.earliest + 15 * 60))
    day = dataclasses.replace(day, fleet=short)
    plan = _mixed(day, objective="cost", yen_per_sortie=10_000.0)
    modes = _refereed(day, plan)
    assert "van" in {m for m, _ in modes.values()}
    assert "none" not in {m for m, _ in modes.values()}, modes
    assert "drone" in {m for m, _ in modes.values()}
    assert math.isfinite(plan.van_km())
