"""Drone benchmarks on the built-in Kumamoto region: the drone matrix against pyvisgraph,
and a day of van + drone deliveries against vans only.

Run: ``nice -n 5 python benchmarks/drones.py [--quick] [--json PATH]`` (default JSON:
``benchmarks/results/drones.json``, ``drones_quick.json`` with ``--quick``).

(a) **Drone matrix.** The built-in airspace with the defaults (18 DID polygons
``avoid``, Kumamoto Airport's grounds closed and its approximated horizontal surface
above 45 m; cruise 60 m, margin 30 m). 20 droneports x 2,000 points (``--quick``: 5 x
200), drawn uniformly (seeded) over the region's bounds among the places a drone may
take off (outside every avoided area grown by the margin). Hakobu's
``maps.airspace.drone_matrix`` is timed cold (no cache; the obstacles, their visibility
graph and every path are built in the call). pyvisgraph 0.2.1 gets **the same
obstacles** (the grown, simplified polygons Hakobu's paths stay outside, as their outer
rings: pyvisgraph has no holes) in the same local UTM plane scaled to km (it has
float-precision trouble with metres). Its visibility graph is built once (timed), then
``shortest_path`` is timed on a seeded sample of pairs (``--pairs``, default 300; pairs
with a point inside a hole of the obstacles are left out since pyvisgraph cannot model
holes). pyvisgraph's full-matrix time is extrapolated as build + mean per-pair time x
all pairs, and stated as such. Lengths: the largest relative difference on the sample.

(b) **TSP-D / FSTSP** (one truck + one drone against the published optima):
``benchmarks/tspd.py`` (not repeated here).

(c) **Kumamoto day.** 300 seeded deliveries (``--quick``: 60) from 3 sites that are
depots and droneports (in the three pockets of land outside the DIDs that the roads
reach: south of the centre, west, and north-east, the last one ringed by DIDs), 4 vans
(2, 1, 1) and 6 drones (2 a site). Deliveries: 40 % medical (0.1-2 kg, priority 1,
a 4-hour window 08-12 or 12-16), 60 % grocery (1-10 kg, so some exceed the 5 kg drone
payload of the SCENARIOS.md typical drone, priority 0, 10-14 or 14-18). 85 % of the
addresses are near road nodes of the map (about 40 m of jitter), 15 % on the rural
fringe: anywhere in the region's bounds outside the DIDs (mostly beyond the road
extract, so no road reaches them). ``plan_mixed`` (objective ``time``) against the
vans alone (``routing.solve`` on the same jobs, the same road matrices, the same vans):
completion time, van-km, deliveries by drone, refused and why. Every plan is checked by
``routing.check`` (vans) and ``routing.check_drone`` (drones, airspace against the
original polygons).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path: its coverage.py and dispatch.py
# would shadow the coverage package (numba imports it) and the dispatch package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import collections
import itertools
import json
import os
import platform
import time
from typing import Any

import numpy as np
import shapely

from maps.airspace import Airspace, _obstacles, _Projection, airspace_for_region, drone_matrix
from maps.matrix import masked_travel_matrices
from maps.region import Region, default_region
from routing.check import check
from routing.check_drone import check_drone_plan
from routing.drone import DroneJob, Droneport, DroneProblem
from routing.drone_plan import (
    AirspaceAir,
    MixedParams,
    VanFleet,
    _van_problem,
    drone_points,
    plan_mixed,
)
from routing.model import UNREACHABLE, StopKind, TimeWindow
from routing.solve import SolveParams, solve

RESULTS = Path(__file__).resolve().parent / "results"
ALT, MARGIN = 60.0, 30.0
H = 3600
#: Depot + droneport sites (lon, lat) outside the DIDs, within 500 m of a road.
SITES = ((130.7302793, 32.7673147), (130.6834, 32.7949), (130.7394, 32.8238))
VANS = (2, 1, 1)
DRONES = (2, 2, 2)


# ------------------------------------------------------------------------- (a) matrix
def free_points(air: Airspace, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform points in the airspace's bounds outside the grown avoided areas."""
    b = air.bounds()
    assert b is not None
    proj = _Projection.for_centre((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    grown = shapely.transform(_obstacles(air, ALT, MARGIN, proj).grown, proj.to_lonlat)
    shapely.prepare(grown)
    out: list[np.ndarray] = []
    while sum(len(o) for o in out) < n:
        p = np.column_stack([rng.uniform(b[0], b[2], 4 * n), rng.uniform(b[1], b[3], 4 * n)])
        out.append(p[~shapely.intersects(shapely.points(p), grown)])
    return np.concatenate(out)[:n]


def bench_matrix(air: Airspace, n_ports: int, n_points: int, n_pairs: int,
                 seed: int) -> dict[str, Any]:
    import pyvisgraph as vg  # type: ignore[import-untyped]

    rng = np.random.default_rng(seed)
    ports = free_points(air, n_ports, rng)
    pts = free_points(air, n_points, rng)
    t0 = time.perf_counter()
    m = drone_matrix(air, ports, pts, cruise_altitude_m=ALT, margin_m=MARGIN, cache_dir=False)
    hakobu_s = time.perf_counter() - t0
    # pyvisgraph on the same obstacles, same plane, in km
    b = air.bounds()
    assert b is not None
    proj = _Projection.for_centre((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    obs = _obstacles(air, ALT, MARGIN, proj)
    polys = list(getattr(obs.grown, "geoms", [obs.grown]))
    filled = shapely.union_all([shapely.Polygon(p.exterior) for p in polys])
    rings = [[vg.Point(x / 1000, y / 1000) for x, y in list(p.exterior.coords)[:-1]]
             for p in polys]
    t0 = time.perf_counter()
    g = vg.VisGraph()
    g.build(rings, workers=1, status=False)
    build_s = time.perf_counter() - t0
    pxy, qxy = proj.to_xy(ports), proj.to_xy(pts)
    out_p = ~shapely.intersects(shapely.points(pxy), filled)
    out_q = ~shapely.intersects(shapely.points(qxy), filled)
    ii, jj = np.nonzero(out_p[:, None] & out_q[None, :] & m.reachable)
    pick = rng.choice(len(ii), size=min(n_pairs, len(ii)), replace=False)
    diffs, times, detours = [], [], 0
    for k in pick:
        i, j = int(ii[k]), int(jj[k])
        a = vg.Point(pxy[i, 0] / 1000, pxy[i, 1] / 1000)
        c = vg.Point(qxy[j, 0] / 1000, qxy[j, 1] / 1000)
        t0 = time.perf_counter()
        path = g.shortest_path(a, c)
        times.append(time.perf_counter() - t0)
        km = sum(np.hypot(p.x - q.x, p.y - q.y) for p, q in itertools.pairwise(path))
        ours = m.length_m[i, j]
        diffs.append(abs(km * 1000 - ours) / max(ours, 1.0))
        detours += bool(m.detour[i, j])
    per_pair = float(np.mean(times))
    pairs = n_ports * n_points
    extrapolated = build_s + per_pair * pairs
    reach = m.reachable
    return {
        "ports": n_ports, "points": n_points, "pairs": pairs,
        "obstacle_vertices": int(sum(len(r) for r in rings)),
        "obstacle_holes": int(sum(len(p.interiors) for p in polys)),
        "hakobu_cold_s": round(hakobu_s, 3),
        "hakobu_per_pair_us": round(hakobu_s / pairs * 1e6, 2),
        "reachable_share": round(float(reach.mean()), 4),
        "detour_share_of_reachable": round(float(m.detour[reach].mean()), 4),
        "pyvisgraph_build_s": round(build_s, 2),
        "pyvisgraph_sampled_pairs": len(pick),
        "pyvisgraph_sampled_detours": detours,
        "pyvisgraph_per_pair_ms": round(per_pair * 1000, 2),
        "pyvisgraph_extrapolated_s": round(extrapolated, 1),
        "speedup_extrapolated": round(extrapolated / hakobu_s, 1),
        "speedup_without_pyvisgraph_build": round(per_pair * pairs / hakobu_s, 1),
        "max_length_diff_pct": round(100 * float(np.max(diffs)), 5) if diffs else None,
        "mean_length_diff_pct": round(100 * float(np.mean(diffs)), 6) if diffs else None,
        "pairs_left_out_holes": int(reach.sum() - len(ii)),
    }


# ------------------------------------------------------------------------- (c) day
def day_jobs(region: Region, air: Airspace, n: int, rng: np.random.Generator
             ) -> list[DroneJob]:
    road = region.road
    n_fringe = round(0.15 * n)
    nodes = rng.choice(road.n_nodes, size=n - n_fringe, replace=False)
    near = road.lonlat[nodes] + rng.normal(0.0, 0.0004, size=(len(nodes), 2))
    dids = shapely.union_all([a.geometry for a in air.areas if a.kind == "did"])
    b = region.bounds
    fringe: list[tuple[float, float]] = []
    while len(fringe) < n_fringe:
        p = (float(rng.uniform(b[0], b[2])), float(rng.uniform(b[1], b[3])))
        if not dids.intersects(shapely.Point(p)):
            fringe.append(p)
    where = np.vstack([near, np.asarray(fringe).reshape(-1, 2)])
    where = where[rng.permutation(len(where))]
    jobs = []
    for k, (x, y) in enumerate(where):
        if rng.random() < 0.4:
            start = int(rng.choice([8, 12]))
            jobs.append(DroneJob(id=f"med-{k:03d}", lon=float(x), lat=float(y),
                                 weight_kg=round(float(rng.uniform(0.1, 2.0)), 2), priority=1,
                                 window=TimeWindow(earliest=start * H, latest=(start + 4) * H)))
        else:
            start = int(rng.choice([10, 14]))
            jobs.append(DroneJob(id=f"gro-{k:03d}", lon=float(x), lat=float(y),
                                 weight_kg=round(float(rng.uniform(1.0, 10.0)), 2), priority=0,
                                 window=TimeWindow(earliest=start * H, latest=(start + 4) * H)))
    return jobs


def road_matrices(region: Region, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Road seconds / metres; UNREACHABLE for points farther than 500 m from a road."""
    dur, dist, _ = masked_travel_matrices(region.edge_index(), points)
    return dur, dist


def _short(reason: str) -> str:
    parts = []
    for p in reason.split("; "):
        head = p.split(" (")[0]
        parts.append(head.split(":")[0] + ":" + head.split(":")[1] if ":" in head else head)
    return "; ".join(parts)


def bench_day(region: Region, air: Airspace, n_jobs: int, seed: int, drone_tl: float,
              van_tl: float) -> dict[str, Any]:
    rng = np.random.default_rng(seed + 1)
    jobs = day_jobs(region, air, n_jobs, rng)
    ports = tuple(Droneport(id=f"site{k}", lon=x, lat=y, drones=d)
                  for k, ((x, y), d) in enumerate(zip(SITES, DRONES, strict=True)))
    problem = DroneProblem(jobs=tuple(jobs), ports=ports)
    fleet = VanFleet(depots=SITES, vans=VANS)
    pts = np.asarray([*SITES, *((j.lon, j.lat) for j in jobs)])
    dur, dist = road_matrices(region, pts)
    aair = AirspaceAir(airspace=air, cruise_altitude_m=ALT, margin_m=MARGIN, cache_dir=False)
    t0 = time.perf_counter()
    legs = aair.legs(drone_points(problem))
    legs_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    mixed = plan_mixed(problem, legs, fleet, dur, dist, MixedParams(
        objective="time", drone_time_limit_s=drone_tl, van_time_limit_s=van_tl, seed=seed))
    mixed_s = time.perf_counter() - t0
    van_violations = (len(check(mixed.van_problem, mixed.van))
                      if mixed.van is not None and mixed.van_problem is not None else 0)
    decided = mixed.drone.served() | {r.job for r in mixed.drone.refused}
    drone_violations = len(check_drone_plan(problem, mixed.drone, avoid=aair.named("avoid"),
                                            permit=aair.named("permit"), jobs=decided))
    counts = collections.Counter(m.mode for m in mixed.modes)
    refused = collections.Counter(_short(m.reason) for m in mixed.modes if m.mode == "none")
    by_drone = collections.Counter(_short(m.reason) for m in mixed.modes if m.mode == "van")
    # vans only: the same jobs, matrices and vans
    t0 = time.perf_counter()
    vp = _van_problem(jobs, list(range(len(jobs))), fleet, dur, dist)
    vsol = solve(vp, SolveParams(time_limit_s=van_tl, seed=seed))
    vans_s = time.perf_counter() - t0
    vans_violations = len(check(vp, vsol))
    vans_end = max((v.start for r in vsol.routes for v in r.visits
                    if v.kind == StopKind.JOB), default=None)
    vans_refused = collections.Counter(u.reason.split(" (")[0].split(" from ")[0]
                                       for u in vsol.unassigned)
    vans_km = vsol.distance(vp) / 1000
    med = [k for k, j in enumerate(jobs) if j.priority > 0]
    mixed_med = sum(1 for k in med if mixed.modes[k].mode != "none")
    vans_med_left = {vp.jobs[u.ref].id for u in vsol.unassigned}

    def clock(t: int | None) -> str | None:
        return None if t is None else f"{t // H:02d}:{t % H // 60:02d}"

    return {
        "jobs": len(jobs), "medical": len(med), "sites": len(SITES), "vans": sum(VANS),
        "drones": sum(DRONES), "off_road_jobs": int((dur[0, len(SITES):] >= UNREACHABLE).sum()),
        "drone_time_limit_s": drone_tl, "van_time_limit_s": van_tl,
        "air_legs_s": round(legs_s, 2),
        "mixed": {
            "runtime_s": round(mixed_s, 1), "completion": clock(mixed.completion_s()),
            "van_km": round(mixed.van_km(), 1), "by_drone": counts.get("drone", 0),
            "by_van": counts.get("van", 0), "refused": counts.get("none", 0),
            "drone_share": round(counts.get("drone", 0) / len(jobs), 3),
            "medical_delivered": mixed_med, "refused_why": dict(refused.most_common()),
            "van_because": dict(by_drone.most_common()),
            "sorties": len(mixed.drone.sorties),
            "van_violations": van_violations, "drone_violations": drone_violations,
        },
        "vans_only": {
            "runtime_s": round(vans_s, 1), "completion": clock(vans_end),
            "van_km": round(vans_km, 1), "delivered": len(jobs) - len(vsol.unassigned),
            "refused": len(vsol.unassigned), "refused_why": dict(vans_refused.most_common()),
            "medical_delivered": sum(1 for k in med if jobs[k].id not in vans_med_left),
            "violations": vans_violations,
        },
        "van_km_saved": round(vans_km - mixed.van_km(), 1),
    }


# ------------------------------------------------------------------------- main
def print_tables(res: dict[str, Any]) -> None:
    a = res.get("matrix")
    if a:
        print(f"\n(a) drone matrix, {a['ports']} droneports x {a['points']:,} points "
              f"({a['obstacle_vertices']} obstacle vertices, DID + airport avoided)")
        print(f"{'':34s}{'Hakobu':>14s}{'pyvisgraph':>16s}")
        print(f"{'wall time, all pairs (s)':34s}{a['hakobu_cold_s']:>14.2f}"
              f"{a['pyvisgraph_extrapolated_s']:>15.0f}*")
        print(f"{'per pair':34s}{a['hakobu_per_pair_us']:>11.1f} us"
              f"{a['pyvisgraph_per_pair_ms']:>13.1f} ms")
        print(f"{'graph build (s)':34s}{'(in the above)':>14s}{a['pyvisgraph_build_s']:>16.1f}")
        print(f"  * extrapolated: build + {a['pyvisgraph_sampled_pairs']} sampled pairs' mean "
              f"x {a['pairs']:,} pairs; speed-up {a['speedup_extrapolated']:.0f}x "
              f"({a['speedup_without_pyvisgraph_build']:.0f}x without pyvisgraph's build)")
        print(f"  reachable {100 * a['reachable_share']:.1f} % of pairs; of those "
              f"{100 * a['detour_share_of_reachable']:.1f} % need a detour; lengths on the "
              f"sample: max diff {a['max_length_diff_pct']} %, mean "
              f"{a['mean_length_diff_pct']} %")
    print("\n(b) TSP-D / FSTSP: see python benchmarks/tspd.py")
    d = res.get("day")
    if d:
        mx, vo = d["mixed"], d["vans_only"]
        print(f"\n(c) Kumamoto day: {d['jobs']} deliveries ({d['medical']} medical, "
              f"{d['off_road_jobs']} off the roads), {d['sites']} sites, {d['vans']} vans, "
              f"{d['drones']} drones")
        print(f"{'':30s}{'vans + drones':>16s}{'vans only':>12s}")
        print(f"{'last delivery':30s}{mx['completion']:>16s}{vo['completion']:>12s}")
        print(f"{'van-km':30s}{mx['van_km']:>16.1f}{vo['van_km']:>12.1f}")
        print(f"{'delivered by drone':30s}{mx['by_drone']:>16d}{0:>12d}")
        print(f"{'delivered by van':30s}{mx['by_van']:>16d}{vo['delivered']:>12d}")
        print(f"{'medical delivered':30s}{mx['medical_delivered']:>16d}"
              f"{vo['medical_delivered']:>12d}")
        print(f"{'refused':30s}{mx['refused']:>16d}{vo['refused']:>12d}")
        print(f"{'planner wall time (s)':30s}{mx['runtime_s']:>16.1f}{vo['runtime_s']:>12.1f}")
        print(f"{'checker violations':30s}{mx['van_violations'] + mx['drone_violations']:>16d}"
              f"{vo['violations']:>12d}")
        print(f"  van-km saved {d['van_km_saved']:.1f}; drone share "
              f"{100 * mx['drone_share']:.1f} %")
        print(f"  refused (mixed): {mx['refused_why']}")
        print(f"  refused (vans only): {vo['refused_why']}")
        print(f"  by van rather than drone: {mx['van_because']}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the tables and write JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="5 x 200 matrix, 40 pyvisgraph pairs, a 60-delivery day")
    ap.add_argument("--pairs", type=int, default=None, help="pyvisgraph pairs (default 300)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-matrix", action="store_true")
    ap.add_argument("--no-day", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    region = default_region()
    air = airspace_for_region(region)
    res: dict[str, Any] = {}
    if not args.no_matrix:
        if args.quick:
            res["matrix"] = bench_matrix(air, 5, 200, args.pairs or 40, args.seed)
        else:
            res["matrix"] = bench_matrix(air, 20, 2000, args.pairs or 300, args.seed)
    if not args.no_day:
        if args.quick:
            res["day"] = bench_day(region, air, 60, args.seed, 1.0, 3.0)
        else:
            res["day"] = bench_day(region, air, 300, args.seed, 5.0, 15.0)
    print_tables(res)
    wall = time.perf_counter() - t0
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores "
               f"(shared with other work while measured), Python {platform.python_version()}")
    print(f"\nmachine: {machine}; wall time {wall:.0f} s")
    out = args.json or RESULTS / ("drones_quick.json" if args.quick else "drones.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine, "seed": args.seed, "quick": args.quick,
                               "command": "python benchmarks/drones.py"
                               + (" --quick" if args.quick else ""),
                               "tspd": "see benchmarks/tspd.py", **res,
                               "wall_s": round(wall, 1)}, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
