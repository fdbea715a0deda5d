"""OR-Tools routing engine: the only module that imports ortools.

The model registers whole matrices (``RegisterTransitMatrix``, one per distinct vehicle
profile and cost), never per-arc Python callbacks, so building it stays far below the
search time. It has a time dimension with waiting slack (windows, shifts, maximum route
duration), one capacity dimension per load dimension, pickup-and-delivery pairs (same
vehicle, pickup first), maximum ride times as solver constraints on the time cumuls,
disjunctions (optional work at its penalty, mandatory work at a large penalty so that
unservable work comes back unassigned), allowed vehicles and skills through
``VehicleVar``, fixed vehicle costs and per-type arc costs.

Driver breaks are break intervals of the time dimension (``SetBreakIntervalsOfVehicle``,
start within the break's window, service times not interruptible). OR-Tools may put a
break before the route starts or after it ends; the caller re-times every route with
our own scheduler (breaks placed by :func:`routing.schedule.place_breaks`) and keeps a
route only if that schedule is feasible.

A first solution can be given as node sequences (our own insertion heuristic): OR-Tools
alone finds none on many tight-window instances. OR-Tools has no random seed for its
local search; the seed only changes the first solution passed in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routing.model import Problem
from routing.schedule import INF, CompiledProblem

#: OR-Tools local search metaheuristic (a ``LocalSearchMetaheuristic`` name).
METAHEURISTIC = "GUIDED_LOCAL_SEARCH"

#: Integer standing for "no path" inside OR-Tools.
NO_PATH = 1 << 40


@dataclass(slots=True)
class OrToolsRun:
    """Node sequences per vehicle and timings of one OR-Tools run."""

    sequences: list[list[int]]
    build_s: float
    search_s: float
    found: bool


class _Model:
    def __init__(
        self, problem: Problem, cp: CompiledProblem, vehicle_cost: int, hard: bool
    ) -> None:
        self.problem, self.cp = problem, cp
        self.hard = hard
        self.vehicle_cost = vehicle_cost
        nv = len(problem.vehicles)
        depot_locs = sorted({v.start for v in problem.vehicles} | {
            v.end for v in problem.vehicles if v.end is not None})
        self.n_work = cp.n_nodes
        # Node layout: work nodes, then one node per depot location, then an open end.
        has_open = any(v.end is None for v in problem.vehicles)
        self.node_loc = [*cp.loc, *depot_locs, *([-1] if has_open else [])]
        dep_node = {loc: self.n_work + i for i, loc in enumerate(depot_locs)}
        self.open_end = len(self.node_loc) - 1
        starts = [dep_node[v.start] for v in problem.vehicles]
        ends = [self.open_end if v.end is None else dep_node[v.end] for v in problem.vehicles]
        self.manager = pywrapcp.RoutingIndexManager(len(self.node_loc), nv, starts, ends)
        self.routing = pywrapcp.RoutingModel(self.manager)
        self.horizon = max([v.shift.latest for v in problem.vehicles] + cp.late)
        self._arc_costs(vehicle_cost)
        self._time_dimension()
        self._breaks()
        self._capacity_dimensions()
        self._pairs_and_disjunctions()

    def _node_matrix(self, mat: list[list[int]], service: bool) -> list[list[int]]:
        """Expand a location matrix to the node layout (service time added when asked)."""
        locs = np.array(self.node_loc, dtype=np.int64)
        real = locs >= 0
        full = np.minimum(np.asarray(mat, dtype=np.int64), NO_PATH)
        out = np.zeros((len(locs), len(locs)), dtype=np.int64)
        idx = np.nonzero(real)[0]
        out[np.ix_(idx, idx)] = full[np.ix_(locs[idx], locs[idx])]
        if service:
            svc = np.zeros(len(locs), dtype=np.int64)
            svc[: self.n_work] = self.cp.service
            out[idx] += svc[idx, None]
        return out.tolist()

    def _arc_costs(self, vehicle_cost: int) -> None:
        cache: dict[int, int] = {}
        for k in range(len(self.problem.vehicles)):
            key = id(self.cp.cost[k])
            if key not in cache:
                cache[key] = self.routing.RegisterTransitMatrix(
                    self._node_matrix(self.cp.cost[k], service=False))
            self.routing.SetArcCostEvaluatorOfVehicle(cache[key], k)
            self.routing.SetFixedCostOfVehicle(
                self.problem.vehicle_type(k).fixed_cost + vehicle_cost, k)

    def _time_dimension(self) -> None:
        cache: dict[int, int] = {}
        transits = []
        for k in range(len(self.problem.vehicles)):
            key = id(self.cp.travel[k])
            if key not in cache:
                cache[key] = self.routing.RegisterTransitMatrix(
                    self._node_matrix(self.cp.travel[k], service=True))
            transits.append(cache[key])
        self.routing.AddDimensionWithVehicleTransits(
            transits, self.horizon, self.horizon, False, "time")
        self.time = self.routing.GetDimensionOrDie("time")
        cp, mgr = self.cp, self.manager
        for x in range(self.n_work):
            self.time.CumulVar(mgr.NodeToIndex(x)).SetRange(cp.early[x], cp.late[x])
        for k, v in enumerate(self.problem.vehicles):
            start, end = self.routing.Start(k), self.routing.End(k)
            self.time.CumulVar(start).SetRange(v.shift.earliest, v.shift.latest)
            self.time.CumulVar(end).SetRange(v.shift.earliest, v.shift.latest)
            if v.max_duration_s is not None:
                self.time.SetSpanUpperBoundForVehicle(v.max_duration_s, k)
            self.routing.AddVariableMinimizedByFinalizer(self.time.CumulVar(end))
            self.routing.AddVariableMaximizedByFinalizer(self.time.CumulVar(start))

    def _breaks(self) -> None:
        if not any(v.breaks for v in self.problem.vehicles):
            return
        solver, mgr = self.routing.solver(), self.manager
        visit = [0] * self.routing.Size()
        for index in range(self.routing.Size()):
            node = mgr.IndexToNode(index)
            visit[index] = self.cp.service[node] if node < self.n_work else 0
        for k, v in enumerate(self.problem.vehicles):
            if v.breaks:
                intervals = [
                    solver.FixedDurationIntervalVar(
                        b.window.earliest, b.window.latest, b.duration_s, False,
                        f"break {k}.{i}")
                    for i, b in enumerate(v.breaks)
                ]
                self.time.SetBreakIntervalsOfVehicle(intervals, k, visit)

    def _capacity_dimensions(self) -> None:
        cp = self.cp
        n_extra = len(self.node_loc) - self.n_work
        for dim in range(len(self.problem.dimensions)):
            demand = [cp.delta[x][dim] for x in range(self.n_work)] + [0] * n_extra
            if not any(demand):
                continue
            cb = self.routing.RegisterUnaryTransitVector(demand)
            caps = [cp.capacity[k][dim] for k in range(len(self.problem.vehicles))]
            self.routing.AddDimensionWithVehicleCapacity(cb, 0, caps, False, f"load{dim}")

    def _pairs_and_disjunctions(self) -> None:
        cp, mgr, routing, solver = self.cp, self.manager, self.routing, self.routing.solver()
        big = self._drop_penalty()
        nv = len(self.problem.vehicles)
        for r, req in enumerate(self.problem.requests):
            p, d = mgr.NodeToIndex(2 * r), mgr.NodeToIndex(2 * r + 1)
            routing.AddPickupAndDelivery(p, d)
            solver.Add(routing.VehicleVar(p) == routing.VehicleVar(d))
            solver.Add(self.time.CumulVar(p) <= self.time.CumulVar(d))
            lim = cp.ride_limit[2 * r]
            if lim < INF:
                solver.Add(self.time.CumulVar(d) - self.time.CumulVar(p)
                           - cp.service[2 * r] <= lim)
            if req.optional or not self.hard:
                routing.AddDisjunction([p, d], req.penalty if req.optional else big, 2)
        for j, job in enumerate(self.problem.jobs):
            x = mgr.NodeToIndex(2 * cp.n_requests + j)
            if job.optional or not self.hard:
                routing.AddDisjunction([x], job.penalty if job.optional else big)
        for x in range(self.n_work):
            allowed = [k for k in range(nv) if cp.allowed[k][x]]
            if len(allowed) < nv:
                routing.VehicleVar(mgr.NodeToIndex(x)).SetValues([-1, *allowed])


    def _drop_penalty(self) -> int:
        """A penalty above any plan's cost, so mandatory work is only dropped when it
        cannot be served (kept below 2**60 to stay clear of int64 overflow)."""
        worst = 1
        for mat in {id(m): m for m in self.cp.cost}.values():
            arr = np.asarray(mat, dtype=np.int64)
            finite = arr[arr < NO_PATH]
            if finite.size:
                worst = max(worst, int(finite.max()))
        fixed = max(t.fixed_cost for t in self.problem.vehicle_types)
        return min(1 << 60, (worst * 4 * (self.n_work + 2) + fixed + self.vehicle_cost) * 2)


def solve_ortools(
    problem: Problem, cp: CompiledProblem, *, time_limit_s: float,
    initial: list[list[int]] | None = None, vehicle_cost: int = 0,
    hard_mandatory: bool = False,
) -> OrToolsRun:
    """Solve with OR-Tools guided local search, optionally from given node sequences.

    Without ``initial`` the first solution is path-cheapest-arc (plain OR-Tools).
    ``hard_mandatory`` drops the disjunctions of mandatory work (the plain OR-Tools
    model of the benchmark peers): then no solution at all may be found.
    Returns the node sequences of the best assignment; the caller re-times them.
    """
    t0 = time.perf_counter()
    model = _Model(problem, cp, vehicle_cost, hard_mandatory)
    routing = model.routing
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = getattr(
        routing_enums_pb2.LocalSearchMetaheuristic, METAHEURISTIC)
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    routing.CloseModelWithParameters(params)
    build_s = time.perf_counter() - t0
    start = None
    if initial is not None:
        idx_routes = [[model.manager.NodeToIndex(x) for x in seq if x >= 0] for seq in initial]
        start = routing.ReadAssignmentFromRoutes(idx_routes, True)
    if start is not None:
        sol = routing.SolveFromAssignmentWithParameters(start, params)
    else:
        sol = routing.SolveWithParameters(params)
    search_s = time.perf_counter() - t0 - build_s
    if sol is None:
        return OrToolsRun(sequences=[[] for _ in problem.vehicles], build_s=build_s,
                          search_s=search_s, found=False)
    seqs = []
    for k in range(len(problem.vehicles)):
        seq = []
        idx = sol.Value(routing.NextVar(routing.Start(k)))
        while not routing.IsEnd(idx):
            seq.append(model.manager.IndexToNode(idx))
            idx = sol.Value(routing.NextVar(idx))
        seqs.append(seq)
    return OrToolsRun(sequences=seqs, build_s=build_s, search_s=search_s, found=True)
