"""PyVRP engine for the problems PyVRP expresses exactly (VRPTW, deliveries, PDPTW).

PyVRP 0.14 models single-stop clients (delivery or pickup amounts) and shipments
(pickup-and-delivery pairs) with time windows, capacities per dimension, heterogeneous
vehicle types, fixed and per-unit costs, shifts and a maximum shift duration. It has no
maximum ride time, no driver breaks, no skills and no per-item vehicle restriction:
:func:`pyvrp_unsupported` names the first feature a problem uses that PyVRP cannot
express, and the engine refuses such problems instead of dropping the constraint.
The visit orders PyVRP returns are re-timed by :mod:`routing.schedule`, so the
:class:`~routing.solution.Solution` carries our own schedule; the checker decides.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyvrp
from pyvrp.stop import MaxRuntime

from routing.model import JobKind, Problem
from routing.schedule import CompiledProblem, route_from_sequence
from routing.solution import ItemKind, Route, Unassigned

#: Matrix value standing for "no path" inside PyVRP (large, far from overflow).
PYVRP_NO_PATH = 1 << 40


@dataclass(slots=True)
class PyVrpRun:
    """Routes, left-out items and timings of one PyVRP run."""

    routes: list[Route]
    unassigned: list[Unassigned]
    build_s: float
    search_s: float
    feasible: bool


def pyvrp_unsupported(problem: Problem) -> str | None:
    """Return why PyVRP cannot express ``problem`` exactly, or ``None`` when it can."""
    for r, req in enumerate(problem.requests):
        if problem.ride_limit(r) is not None:
            return f"request {req.id} has a maximum ride time"
        if req.skills or req.allowed_vehicles is not None:
            return f"request {req.id} has skills or allowed vehicles"
        if req.dropoff_window.latest < req.effective_pickup_window.earliest:
            # PyVRP refuses such a shipment outright; the other engines report it unassigned.
            return f"request {req.id} must be dropped off before its pickup window opens"
    for job in problem.jobs:
        if job.skills or job.allowed_vehicles is not None:
            return f"job {job.id} has skills or allowed vehicles"
    for v in problem.vehicles:
        if v.breaks:
            return f"vehicle {v.id} has breaks"
        if v.end is None:
            return f"vehicle {v.id} has an open route"
    return None


def _type_key(problem: Problem, k: int) -> tuple[object, ...]:
    v = problem.vehicles[k]
    return (v.type, v.start, v.end, v.shift, v.max_duration_s)


def _build(problem: Problem, vehicle_cost: int) -> tuple[pyvrp.ProblemData, list[list[int]]]:
    """Return PyVRP data and, per PyVRP vehicle type, the pool of our vehicle indices."""
    n = problem.n_locations
    locations = [pyvrp.Location(x=float(loc.lon), y=float(loc.lat)) for loc in problem.locations]
    depot_locs = sorted({v.start for v in problem.vehicles} | {
        v.end for v in problem.vehicles if v.end is not None})
    depot_index = {loc: i for i, loc in enumerate(depot_locs)}
    depots = [pyvrp.Depot(location=loc) for loc in depot_locs]
    clients = []
    for job in problem.jobs:
        amount = list(job.load)
        zero = [0] * len(amount)
        clients.append(pyvrp.Client(
            location=job.location,
            delivery=amount if job.kind is JobKind.DELIVERY else zero,
            pickup=amount if job.kind is JobKind.PICKUP else zero,
            service_duration=job.service_s, tw_early=job.window.earliest,
            tw_late=job.window.latest, prize=job.penalty if job.optional else 0,
            required=not job.optional, name=job.id))
    shipments = []
    for req in problem.requests:
        pw, dw = req.effective_pickup_window, req.dropoff_window
        shipments.append(pyvrp.Shipment(
            pickup_location=req.pickup, delivery_location=req.dropoff,
            pickup_tw_early=pw.earliest, pickup_tw_late=pw.latest,
            pickup_service_duration=req.pickup_service_s,
            delivery_tw_early=dw.earliest, delivery_tw_late=dw.latest,
            delivery_service_duration=req.dropoff_service_s, amount=list(req.load),
            prize=req.penalty if req.optional else 0, required=not req.optional,
            name=req.id))
    profiles: dict[tuple[str, float], int] = {}
    dist_m, dur_m = [], []
    groups: dict[tuple[object, ...], list[int]] = {}
    for k in range(len(problem.vehicles)):
        groups.setdefault(_type_key(problem, k), []).append(k)
    vtypes, pools = [], []
    for ks in groups.values():
        k = ks[0]
        v, t = problem.vehicles[k], problem.vehicle_type(k)
        pkey = (str(t.profile), t.speed_factor)
        if pkey not in profiles:
            profiles[pkey] = len(profiles)
            dist_m.append(np.minimum(problem.distances[pkey[0]], PYVRP_NO_PATH))
            dur_m.append(np.minimum(problem.travel_matrix(k), PYVRP_NO_PATH))
        assert v.end is not None
        vtypes.append(pyvrp.VehicleType(
            num_available=len(ks), capacity=list(t.capacity), start_depot=depot_index[v.start],
            end_depot=depot_index[v.end], fixed_cost=t.fixed_cost + vehicle_cost,
            tw_early=v.shift.earliest, tw_late=v.shift.latest,
            shift_duration=v.max_duration_s if v.max_duration_s is not None else 2**62,
            unit_distance_cost=t.distance_cost, unit_duration_cost=t.duration_cost,
            profile=profiles[pkey], name=v.id))
        pools.append(list(ks))
    assert all(m.shape == (n, n) for m in dist_m)
    data = pyvrp.ProblemData(locations=locations, clients=clients, depots=depots,
                             vehicle_types=vtypes,
                             distance_matrices=dist_m,  # type: ignore[arg-type]
                             duration_matrices=dur_m,  # type: ignore[arg-type]
                             shipments=shipments)
    return data, pools


def solve_pyvrp(
    problem: Problem, cp: CompiledProblem, *, time_limit_s: float, seed: int = 0,
    vehicle_cost: int = 0,
) -> PyVrpRun:
    """Solve with PyVRP's iterated local search and re-time the routes.

    Parameters
    ----------
    problem, cp
        The problem and its compiled form.
    time_limit_s
        Wall-clock limit of PyVRP's search (model building is not counted).
    seed
        PyVRP's random seed (PyVRP is deterministic for a seed and an iteration count).
    vehicle_cost
        Extra fixed cost per used vehicle (large for the fewest-vehicles objective).

    Notes
    -----
    Raises nothing for infeasible work: PyVRP's unplanned items become unassigned and a
    solution PyVRP itself marks infeasible comes back with ``feasible=False``.
    """
    why = pyvrp_unsupported(problem)
    if why is not None:
        msg = f"PyVRP cannot express this problem exactly: {why}"
        raise ValueError(msg)
    t0 = time.perf_counter()
    data, pools = _build(problem, vehicle_cost)
    build_s = time.perf_counter() - t0
    result = pyvrp.solve(data, stop=MaxRuntime(max(0.05, time_limit_s)), seed=seed,
                         collect_stats=False, display=False)
    search_s = time.perf_counter() - t0 - build_s
    sol = result.best
    nr2 = 2 * cp.n_requests
    free = [list(p) for p in pools]
    routes: list[Route] = []
    ok = bool(sol.is_feasible())
    for pr in sol.routes():
        seq: list[int] = []
        for act in pr.schedule():
            kind = act.type
            if kind == pyvrp.ActivityType.PICKUP:
                seq.append(2 * act.idx)
            elif kind == pyvrp.ActivityType.DELIVERY:
                seq.append(2 * act.idx + 1)
            elif kind == pyvrp.ActivityType.CLIENT:
                seq.append(nr2 + act.idx)
        k = free[pr.vehicle_type()].pop(0)
        route = route_from_sequence(cp, k, seq)
        if route is None:
            ok = False
            continue
        routes.append(route)
    served_r = {v.ref for r in routes for v in r.visits if v.kind.value == "pickup"}
    served_j = {v.ref for r in routes for v in r.visits if v.kind.value == "job"}
    reason = "not served by PyVRP within the time limit (no feasible insertion found)"
    unassigned = [Unassigned(kind=ItemKind.REQUEST, ref=i, reason=reason)
                  for i in range(len(problem.requests)) if i not in served_r]
    unassigned += [Unassigned(kind=ItemKind.JOB, ref=i, reason=reason)
                   for i in range(len(problem.jobs)) if i not in served_j]
    return PyVrpRun(routes=routes, unassigned=unassigned, build_s=build_s, search_s=search_s,
                    feasible=ok)


__all__ = ["PyVrpRun", "pyvrp_unsupported", "solve_pyvrp"]
