"""A drone riding on each van (flying sidekick): launched and recovered at van stops.

After :func:`routing.drone_plan.plan_mixed` has routed the vans, :func:`plan_sidekicks`
gives every van route one drone on board and splits the route, in its planned order,
into operations with the exact split of Agatz, Bouman & Schmidt
(:func:`routing.tspd.split_tour`, FSTSP rules of Murray & Chu): from a van stop the
drone is launched (``launch_s``), serves one delivery and is recovered at a later van stop
(``recovery_s``) while the van drives on and serves the stops in between; launch to the
end of the recovery stays within the drone's endurance with that parcel
(:func:`routing.drone.endurance_s`: level cruise with the heaviest parcel of the route
on the battery less its reserve; the energy of climbs and landings is not counted, an
approximation). A delivery may go on the sidekick only when it weighs no more than the
drone's payload and its flight legs stay outside the avoided airspace (drone legs around
it between the depot and the route's stops). The new route is then timed from the van's
departure: the van waits for a delivery window to open and for its drone; a drop by
drone must fall inside the delivery's window (the drone does not hover for it: the van
waits with it at the launch stop when the drop would come before the window opens). A
split that breaks a window, keeps the drone out longer than its endurance or ends later
than the van alone is not used: the route keeps its van-only plan, and the result says
why.

Times are the road durations of the van plan plus its service time at each stop; the
drone flies at its cruise speed along the drone legs' lengths in still air.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from routing.drone import endurance_s
from routing.model import UNREACHABLE
from routing.tspd import DroneInstance, Operation, makespan, split_tour

if TYPE_CHECKING:
    from routing.drone import DroneProblem
    from routing.drone_plan import AirNetwork, MixedPlan, VanFleet

#: Launch and recovery of the sidekick at a van stop (about 1 min each, SCENARIOS.md).
LAUNCH_S = 60
RECOVERY_S = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class SidekickRoute:
    """One van route with its drone: the operations and what they change.

    ``operations`` index ``stops`` (0: the depot left, ``len(stops) - 1``: the depot
    returned to; the others are job indices of the drone problem). ``used`` is False
    (with ``reason``) when the van keeps its plan without the drone.
    """

    van: str
    stops: tuple[int, ...]
    operations: tuple[Operation, ...]
    van_only_s: int
    with_drone_s: int
    drone_jobs: tuple[int, ...]
    drops_s: tuple[int, ...]
    used: bool
    reason: str = ""
    van_only_m: int = 0
    with_drone_m: int = 0
    instance: DroneInstance | None = None


def _instance(mixed: MixedPlan, problem: DroneProblem, air: AirNetwork, fleet: VanFleet,
              dur: np.ndarray, r: int) -> tuple[DroneInstance, list[int], int]:
    vp, vsol = mixed.van_problem, mixed.van
    assert vp is not None and vsol is not None
    route = vsol.routes[r]
    depot = vp.vehicles[route.vehicle].start
    nd = len(fleet.depots)
    jobs = [mixed.van_jobs[v.ref] for v in route.visits]
    # Road indices (depots, then jobs) and drone-leg indices (ports, then jobs).
    road = [depot, *(nd + j for j in jobs), depot]
    n = len(road)
    truck = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            if a != b:
                truck[a, b] = float(dur[road[a], road[b]]) + (
                    fleet.service_s if 0 < b < n - 1 else 0)
    spec = problem.spec
    # Drone legs between the depot and the route's stops, around the avoided airspace.
    legs = air.legs(np.asarray([fleet.depots[depot], *((problem.jobs[j].lon,
                                                         problem.jobs[j].lat) for j in jobs)]))
    at = [0, *range(1, n - 1), 0]
    drone = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            if a != b:
                d = legs.distance_m(at[a], at[b])
                drone[a, b] = d / spec.cruise_mps if d < UNREACHABLE else math.inf
    ok = [False] + [problem.jobs[j].weight_kg <= spec.payload_kg for j in jobs] + [False]
    # FSTSP wants finite times: a leg the drone cannot fly is made longer than any
    # endurance, and the job is not eligible when one of its legs is missing.
    endurance = min((endurance_s(spec, problem.jobs[j].weight_kg) for j in jobs
                     if problem.jobs[j].weight_kg <= spec.payload_kg), default=1.0)
    big = 10 * (endurance + float(truck.max()) + 1)
    for k in range(1, n - 1):
        if not np.isfinite(drone[k]).all() or not np.isfinite(drone[:, k]).all():
            ok[k] = ok[k] and bool(np.isfinite(drone[k, [0, n - 1]]).all())
    drone = np.where(np.isfinite(drone), drone, big)
    inst = DroneInstance(name=f"van {vp.vehicles[route.vehicle].id}", kind="fstsp",
                         truck=truck, drone=drone, drone_ok=tuple(ok),
                         endurance=max(endurance, 1.0), launch_s=LAUNCH_S,
                         recovery_s=RECOVERY_S, revisits=False)
    return inst, jobs, route.start_s


def _timeline(inst: DroneInstance, ops: list[Operation], jobs: list[int],
              problem: DroneProblem, start_s: int, service_s: int
              ) -> tuple[int, dict[int, int], str]:
    """Time the operations from ``start_s``: (end, drop time per stop index, problem).

    ``inst.truck`` holds the road time plus the service at the stop driven to; the van
    serves a stop on arrival or when its window opens.
    """
    t = float(start_s)
    drops: dict[int, int] = {}
    for op in ops:
        launch = t + (inst.launch_s if op.drone is not None and op.start != 0 else 0.0)
        drop = 0.0
        if op.drone is not None:
            # A drop before its window opens waits at the launch stop instead (the van
            # waits there with its drone); one after the window closes breaks the split.
            job = problem.jobs[jobs[op.drone - 1]]
            drop = launch + float(inst.drone[op.start, op.drone])
            if drop < job.window.earliest:
                launch += job.window.earliest - drop
                drop = float(job.window.earliest)
            if drop > job.window.latest:
                return 0, drops, f"the drone's drop falls after the window of {job.id}"
            drops[op.drone] = math.ceil(drop)
        van_t, prev = launch, op.start
        for x in (*op.truck, op.end):
            if 0 < x < inst.end:
                job = problem.jobs[jobs[x - 1]]
                arrive = van_t + float(inst.truck[prev, x]) - service_s
                begin = max(arrive, float(job.window.earliest))
                if begin > job.window.latest:
                    return 0, drops, f"the van would be late at {job.id}"
                drops[x] = math.ceil(begin)
                van_t = begin + service_s
            else:
                van_t += float(inst.truck[prev, x])
            prev = x
        end = van_t
        if op.drone is not None:
            back = drop + float(inst.drone[op.drone, op.end])
            end = max(end, back) + inst.recovery_s
            if end - launch > inst.endurance:
                return 0, drops, "the drone would wait for its van beyond its endurance"
        t = end
    return math.ceil(t), drops, ""


def plan_sidekicks(mixed: MixedPlan, problem: DroneProblem, air: AirNetwork, fleet: VanFleet,
                   road_durations: npt.ArrayLike, road_distances: npt.ArrayLike
                   ) -> tuple[SidekickRoute, ...]:
    """One drone (``problem.spec``) on every van route of ``mixed`` (see the module
    docstring); ``air`` gives the drone legs, ``road_durations`` and ``road_distances``
    are the road seconds and metres over ``fleet.depots`` then ``problem.jobs`` (as for
    :func:`~routing.drone_plan.plan_mixed`)."""
    if mixed.van is None or mixed.van_problem is None:
        return ()
    dur = np.asarray(road_durations, dtype=np.int64)
    dist = np.asarray(road_distances, dtype=np.int64)
    nd = len(fleet.depots)
    out: list[SidekickRoute] = []
    for r, route in enumerate(mixed.van.routes):
        if not route.visits:
            continue
        inst, jobs, start = _instance(mixed, problem, air, fleet, dur, r)
        name = mixed.van_problem.vehicles[route.vehicle].id
        tour = list(range(inst.end + 1))
        alone_ops = [Operation(0, inst.end, tuple(range(1, inst.end)))]
        alone_end, alone_drops, _ = _timeline(inst, alone_ops, jobs, problem, start,
                                              fleet.service_s)
        _, ops = split_tour(inst, tour)
        end, drops, why = _timeline(inst, ops, jobs, problem, start, fleet.service_s)
        flown = [o.drone for o in ops if o.drone is not None]
        used = not why and bool(flown) and end < alone_end
        if not used:
            why = why or ("no delivery is better flown from the van" if not flown else
                          "no earlier than the van alone once the windows are kept")
            ops, end, drops = alone_ops, alone_end, alone_drops
        depot = mixed.van_problem.vehicles[route.vehicle].start
        road = [depot, *(nd + j for j in jobs), depot]

        def metres(path: list[Operation], road: list[int] = road) -> int:
            seq = [0] + [x for o in path for x in (*o.truck, o.end)]
            return int(sum(dist[road[a], road[b]] for a, b in pairwise(seq)))

        out.append(SidekickRoute(
            van=name, stops=(-1, *jobs, -1), operations=tuple(ops),
            van_only_s=alone_end - start, with_drone_s=end - start,
            drone_jobs=tuple(jobs[d - 1] for d in flown) if used else (),
            drops_s=tuple(drops.get(k, -1) for k in range(1, inst.end)), used=used,
            reason="" if used else why, van_only_m=metres(alone_ops),
            with_drone_m=metres(list(ops)), instance=inst))
    return tuple(out)


def sidekick_makespan(route: SidekickRoute) -> float:
    """The route's makespan without windows (the split's objective), for checks."""
    assert route.instance is not None
    return makespan(route.instance, list(route.operations))
