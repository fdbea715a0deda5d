"""One truck with one drone: the TSP with Drone (TSP-D) and the Flying Sidekick TSP (FSTSP).

Both literature problems share one structure. The truck leaves the depot, visits
customers and returns; it carries one drone that may be launched at a node, serve one
customer, and be picked up again by the truck at a later node. A solution is a sequence
of *operations*: from node ``start`` to node ``end`` the truck drives through ``truck``
(its internal nodes), while the drone, if the operation has one, flies
``start -> drone -> end``. Truck and drone wait for each other at ``end``. The objective
is the makespan, the time both are back at the depot.

* **TSP-D** (Agatz, Bouman & Schmidt 2018, Transportation Science 52(4)): the cost of an
  operation is ``max(truck time, drone time)``; every customer may go by drone; no
  endurance. As in the published optimal solutions, truck and drone may meet again at a
  node visited before (the depot included), and an operation may start and end at the
  same node (the drone flies a round trip while the truck waits or drives a loop).
* **FSTSP** (Murray & Chu 2015, Transportation Research C 54): the drone may serve only
  the eligible customers; launching takes ``launch_s`` (not at the depot at time 0, as
  in Murray & Chu's formulation) and recovering ``recovery_s``; the drone never comes
  back to its launch node and the truck visits every node once; the time from launch to
  the end of the recovery, hovering while it waits for the truck included, is at most
  ``endurance``. An operation with a sortie costs
  ``launch (unless at the depot) + max(truck time, drone time) + recovery``. The sortie's
  launch happens after the previous recovery (one drone cannot be recovered and launched
  at once), which is stricter than the big-M formulation of the paper, where the launch
  time at a node can overlap the wait for the drone.

The makespan is the sum of the operation costs, which makes two solvers possible:

* :func:`solve_exact`: the dynamic program of Bouman, Agatz & Schmidt (2018, Networks
  72) over (served set, rendezvous node) with operations built from exact shortest truck
  paths (Held-Karp); exact for both problems, ``O(3^n n^2)``: under a second up to 8
  customers, about 2 s at 10 on one core, roughly three times more per extra customer
  (:func:`solve` uses it up to :data:`EXACT_MAX_CUSTOMERS`).
* :func:`solve_heuristic`: Agatz et al.'s idea of an optimal *split* of a TSP tour into
  operations (:func:`split_tour`, ``O(n^3)``, vectorized) inside a local search over tours
  (2-opt, relocation of segments, swaps; every neighbour is evaluated by its optimal
  split), restarted from perturbed best tours until the time limit. For TSP-D the split
  also places drone round trips from a truck stop; it does not represent a truck that
  comes back to a node it visited before, which the exact program does.

:func:`solve` picks the exact program when the instance is small enough and the
heuristic otherwise. Times are whatever unit the instance uses (distance units for
TSP-D, minutes for FSTSP). The independent checker is :mod:`routing.check_tspd`.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from itertools import combinations, pairwise

import numpy as np
import numpy.typing as npt

from routing.errors import ProblemError

FloatMatrix = npt.NDArray[np.float64]

#: Largest number of customers :func:`solve` hands to the exact program.
EXACT_MAX_CUSTOMERS = 10
#: Largest number of customers :func:`solve_exact` accepts at all (memory and time).
EXACT_HARD_LIMIT = 12
#: The heuristic stops early after this many restarts in a row that found nothing better.
STALE_RESTARTS = 300
#: Murray & Chu's (2015) settings: endurance 20 or 40 minutes, launch and recovery 1 minute.
FSTSP_DEFAULT_ENDURANCE = 20.0
FSTSP_DEFAULT_LAUNCH = 1.0
FSTSP_DEFAULT_RECOVERY = 1.0

_INF = math.inf
_EPS = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class DroneInstance:
    """A truck-and-drone instance (TSP-D or FSTSP).

    Node indices: ``0`` is the depot the truck leaves, ``1 .. n_customers`` the
    customers, ``n_customers + 1`` the depot it returns to (the same place as ``0``).

    Parameters
    ----------
    name, kind
        Instance name and ``"tspd"`` or ``"fstsp"``.
    truck, drone
        ``(n+2) x (n+2)`` travel times of the truck and the drone.
    drone_ok
        Per node: may the drone serve it (only customers matter).
    endurance
        Longest time from launch to the end of recovery (``math.inf``: no limit).
    launch_s, recovery_s
        Launch and recovery times (0 for TSP-D).
    revisits
        TSP-D rules: an operation may end where it started and truck and drone may meet
        at a node visited before (FSTSP: no, every node is visited once).
    node_ids
        File node id of each index (for printing).
    """

    name: str
    kind: str
    truck: FloatMatrix
    drone: FloatMatrix
    drone_ok: tuple[bool, ...]
    endurance: float = _INF
    launch_s: float = 0.0
    recovery_s: float = 0.0
    revisits: bool = True
    node_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        n = self.truck.shape[0]
        if n < 3 or self.truck.shape != (n, n) or self.drone.shape != (n, n):
            raise ProblemError("truck", f"travel matrices must be square and equal, at least "
                                        f"3 x 3, got {self.truck.shape} and {self.drone.shape}")
        if len(self.drone_ok) != n:
            raise ProblemError("drone_ok", f"needs {n} entries, got {len(self.drone_ok)}")
        for what, m in (("truck", self.truck), ("drone", self.drone)):
            if not np.all(np.isfinite(m)) or np.any(m < 0):
                raise ProblemError(what, "travel times must be finite and not negative")
        if not self.endurance > 0:
            raise ProblemError("endurance", f"must be positive, got {self.endurance}")
        for what, v in (("launch_s", self.launch_s), ("recovery_s", self.recovery_s)):
            if not (math.isfinite(v) and v >= 0):
                raise ProblemError(what, f"must be a finite number of at least 0, got {v}")

    @property
    def n_customers(self) -> int:
        """Number of customers."""
        return int(self.truck.shape[0]) - 2

    @property
    def end(self) -> int:
        """Index of the depot the truck returns to."""
        return int(self.truck.shape[0]) - 1

    def node_id(self, index: int) -> int:
        """File node id of ``index`` (the index itself when no ids are given)."""
        return self.node_ids[index] if self.node_ids else index


@dataclass(frozen=True, slots=True)
class Operation:
    """From ``start`` to ``end`` the truck visits ``truck``; the drone serves ``drone``."""

    start: int
    end: int
    truck: tuple[int, ...] = ()
    drone: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DroneSolution:
    """A solution: operations in order from the depot (index 0) to the depot (end index)."""

    operations: tuple[Operation, ...]
    makespan: float
    method: str = ""
    runtime_s: float = 0.0
    evaluations: int = 0
    stats: dict[str, float] = field(default_factory=dict)

    def truck_route(self) -> list[int]:
        """Node indices the truck passes, depot to depot."""
        route = [self.operations[0].start] if self.operations else []
        for op in self.operations:
            route.extend(op.truck)
            if op.end != route[-1]:
                route.append(op.end)
        return route

    def sorties(self) -> list[tuple[int, int, int]]:
        """``(launch, customer, recovery)`` node indices of every drone sortie."""
        return [(op.start, op.drone, op.end) for op in self.operations if op.drone is not None]


# ------------------------------------------------------------------ operation costs


def operation_cost(inst: DroneInstance, op: Operation) -> float:
    """Return the time ``op`` takes, ``math.inf`` when it breaks a drone rule."""
    path = (op.start, *op.truck, op.end)
    truck = float(sum(inst.truck[a, b] for a, b in pairwise(path)))
    if op.drone is None:
        return truck
    d = op.drone
    if not inst.drone_ok[d] or (op.start == op.end and not inst.revisits):
        return _INF
    flight = float(inst.drone[op.start, d] + inst.drone[d, op.end])
    busy = max(truck, flight) + inst.recovery_s
    if busy > inst.endurance + _EPS:
        return _INF
    return busy + (inst.launch_s if op.start != 0 else 0.0)


def makespan(inst: DroneInstance, operations: tuple[Operation, ...] | list[Operation]) -> float:
    """Return the sum of the operation costs (``math.inf`` if one is infeasible)."""
    return float(sum(operation_cost(inst, op) for op in operations))


# ------------------------------------------------------------------ split of a tour


#: Most drone round trips in a row from one truck stop that the split considers (TSP-D).
SPLIT_MAX_LOOPS = 2


def _op_tables(inst: DroneInstance, tour: list[int],
               shift: int = 0) -> tuple[FloatMatrix, npt.NDArray[np.int64]]:
    """Best sortie operation from every tour position ``i`` to every later one ``k``.

    The vehicles stand at ``tour[i - shift]`` (``shift`` > 0: the positions after it up
    to ``i`` were served by drone round trips from there). Returns ``(cost[i, k],
    drone_pos[i, k])``: the cheapest operation from there to ``tour[k]`` whose drone
    serves one ``tour[j]``, ``i < j < k``, while the truck drives ``tour[i+1 .. k]``
    in order without ``tour[j]``; ``inf`` where no such operation is legal.
    """
    t = np.asarray(tour)
    n = len(t)
    idx = np.arange(n)
    here = t[np.clip(idx - shift, 0, n - 1)]           # where the vehicles stand at i
    T = inst.truck[np.ix_(t, t)]
    Ts = inst.truck[np.ix_(here, t)]                   # from the stand at i to tour[x]
    D = inst.drone[np.ix_(t, t)]
    Ds = inst.drone[np.ix_(here, t)]
    step = np.diag(T, 1)
    prefix = np.concatenate(([0.0], np.cumsum(step)))
    i = idx[:, None, None]
    j = idx[None, :, None]
    k = idx[None, None, :]
    valid = (i < j) & (j < k) & (i >= shift)
    nxt = np.clip(idx + 1, 0, n - 1)
    nxt2 = np.clip(idx + 2, 0, n - 1)
    # truck: stand(i) -> tour[i+1] -> ... -> tour[k], leaving out tour[j]
    first = Ts[idx, nxt][:, None, None]                 # stand(i) -> tour[i+1]
    along = prefix[None, None, :] - prefix[nxt][:, None, None]
    left = np.concatenate(([0.0], step))[idx]           # tour[j-1] -> tour[j]
    right = np.concatenate((step, [0.0]))[idx]          # tour[j] -> tour[j+1]
    short = T[np.clip(idx - 1, 0, n - 1), nxt]          # tour[j-1] -> tour[j+1]
    general = first + along - (left + right - short)[None, :, None]
    # j = i + 1: the truck goes from its stand straight to tour[i+2]
    skip_first = (Ts[idx, nxt2][:, None, None] + prefix[None, None, :]
                  - prefix[nxt2][:, None, None])
    truck_len = np.where(j == i + 1, skip_first, general)
    flight = Ds[:, :, None] + D[None, :, :]             # stand(i) -> tour[j] -> tour[k]
    busy = np.maximum(truck_len, flight) + inst.recovery_s
    ok = valid & np.asarray(inst.drone_ok)[t][None, :, None]
    if math.isfinite(inst.endurance):
        ok &= busy <= inst.endurance + _EPS
    launch = np.where(here == 0, 0.0, inst.launch_s)[:, None, None]
    cost = np.where(ok, busy + launch, _INF)
    best_j = np.argmin(cost, axis=1)
    best = np.take_along_axis(cost, best_j[:, None, :], axis=1)[:, 0, :]
    return best, best_j.astype(np.int64)


def split_tour(inst: DroneInstance, tour: list[int]) -> tuple[float, list[Operation]]:
    """Return the optimal makespan of ``tour`` and its operations (Agatz et al.'s split).

    ``tour`` lists node indices from ``0`` to ``inst.end``. Every node is served by the
    truck in tour order or by the drone from truck stops around it; the dynamic program
    over tour positions chooses which, exactly for the given order. For TSP-D it also
    considers up to :data:`SPLIT_MAX_LOOPS` drone round trips in a row from one truck
    stop while the truck waits (operations ``v -> v``).
    """
    n = len(tour)
    loops = SPLIT_MAX_LOOPS if inst.revisits else 0
    tables = [_op_tables(inst, tour, r) for r in range(loops + 1)]
    # value[r][p]: positions <= p served, vehicles at tour[p - r]
    value = np.full((loops + 1, n), _INF)
    value[0, 0] = 0.0
    parent: dict[tuple[int, int], tuple[int, int, int]] = {}
    tt = inst.truck
    dd = inst.drone
    for p in range(n - 1):
        for r in range(loops + 1):
            v = float(value[r, p])
            if not math.isfinite(v):
                continue
            stand = tour[p - r]
            nxt = tour[p + 1]
            c = v + float(tt[stand, nxt])
            if c < value[0, p + 1] - 1e-12:
                value[0, p + 1] = c
                parent[(0, p + 1)] = (r, p, -1)
            if r < loops and p + 1 < n - 1 and inst.drone_ok[nxt]:
                busy = float(dd[stand, nxt] + dd[nxt, stand]) + inst.recovery_s
                c = v + busy + (inst.launch_s if stand != 0 else 0.0)
                if busy <= inst.endurance + _EPS and c < value[r + 1, p + 1] - 1e-12:
                    value[r + 1, p + 1] = c
                    parent[(r + 1, p + 1)] = (r, p, -2)
            if p + 2 < n:
                cost = tables[r][0][p, p + 2:] + v
                better = np.flatnonzero(cost < value[0, p + 2:] - 1e-12)
                for b in better:
                    kk = p + 2 + int(b)
                    value[0, kk] = cost[b]
                    parent[(0, kk)] = (r, p, int(tables[r][1][p, kk]))
    ops: list[Operation] = []
    state = (0, n - 1)
    while state != (0, 0):
        r, p, j = parent[state]
        stand = tour[p - r]
        k = state[1]
        if j == -1:
            ops.append(Operation(stand, tour[k]))
        elif j == -2:
            ops.append(Operation(stand, stand, (), tour[k]))
        else:
            ops.append(Operation(stand, tour[k],
                                 tuple(tour[x] for x in range(p + 1, k) if x != j), tour[j]))
        state = (r, p)
    ops.reverse()
    return float(value[0, n - 1]), _merge_truck_legs(ops)


def _merge_truck_legs(ops: list[Operation]) -> list[Operation]:
    """Join consecutive truck-only legs into one operation (same cost, fewer rows)."""
    out: list[Operation] = []
    for op in ops:
        if op.drone is None and out and out[-1].drone is None:
            last = out[-1]
            out[-1] = Operation(last.start, op.end, (*last.truck, last.end, *op.truck))
        else:
            out.append(op)
    return out


# ------------------------------------------------------------------ exact program


def solve_exact(inst: DroneInstance) -> DroneSolution:
    """Return an optimal solution by the dynamic program of Bouman, Agatz & Schmidt (2018).

    States are (set of served customers, node where truck and drone meet); a transition
    is one operation: a truck leg, or a sortie whose truck path through a set of
    customers is the shortest one (Held-Karp), including (TSP-D) operations that end
    where they started.

    Raises
    ------
    ProblemError
        When the instance has more than :data:`EXACT_HARD_LIMIT` customers, or has no
        solution.
    """
    t0 = time.perf_counter()
    m = inst.n_customers
    if m > EXACT_HARD_LIMIT:
        raise ProblemError("customers", f"the exact program takes at most {EXACT_HARD_LIMIT} "
                                        f"customers, got {m}; use the heuristic")
    paths = _truck_paths(inst)
    G, Gd, Gdiag = _operation_table(inst, paths)
    D, parent = _exact_program(inst, G, Gd, Gdiag)
    full = (1 << m) - 1
    end = inst.end
    last = end if D[full, end] <= D[full, 0] else 0
    total = float(D[full, last])
    if not math.isfinite(total):
        raise ProblemError("drone", "no solution: a customer the drone cannot serve is "
                                    "unreachable by truck (check the travel times)")
    ops: list[Operation] = []
    state = (full, last)
    while state != (0, 0):
        S, v, U, d = parent[state]
        w = state[1]
        if U == 0:
            ops.append(Operation(v, w))
        else:
            truck_set = U & ~(1 << (d - 1))
            ops.append(Operation(v, w, _held_karp_path(inst, v, w, truck_set), d))
        state = (S, v)
    ops.reverse()
    if ops[-1].end == 0:  # the last loop from the depot is the return to it
        ops[-1] = Operation(ops[-1].start, end, ops[-1].truck, ops[-1].drone)
    ops = _merge_truck_legs(ops)
    return DroneSolution(operations=tuple(ops), makespan=total, method="exact",
                         runtime_s=time.perf_counter() - t0)


def _truck_paths(inst: DroneInstance) -> FloatMatrix:
    """``H[P][v, w]``: shortest truck path ``v -> w`` through exactly the customers in ``P``.

    Customer ``c`` is bit ``c - 1``; ``v`` and ``w`` range over all nodes.
    """
    m = inst.n_customers
    nodes = m + 2
    tt = inst.truck
    H = np.full((1 << m, nodes, nodes), _INF)
    H[0] = tt
    # F[P][v, x]: shortest path from v through P ending at customer x + 1 in P.
    F = np.full((1 << m, nodes, m), _INF)
    for c in range(m):
        F[1 << c][:, c] = tt[:, c + 1]
    from_customer = tt[1:m + 1, :]
    for P in range(1, 1 << m):
        members = [c for c in range(m) if P >> c & 1]
        if len(members) > 1:
            for c in members:
                rest = P & ~(1 << c)
                rm = [x for x in members if x != c]
                F[P][:, c] = np.min(F[rest][:, rm] + tt[np.asarray(rm) + 1, c + 1][None, :],
                                    axis=1)
        sub = F[P][:, members]
        H[P] = np.min(sub[:, :, None] + from_customer[members][None, :, :], axis=1)
    return H


def _operation_table(
    inst: DroneInstance, H: FloatMatrix
) -> tuple[FloatMatrix, npt.NDArray[np.int64], FloatMatrix]:
    """Best operation ``v -> w`` serving exactly the customers ``U`` (``U = 0``: truck leg).

    Returns ``(G[U][v, w], drone[U][v, w], G_same[U][v])``: cost with ``v != w``, the
    drone's customer, and the cost of operations ``v -> v`` (TSP-D only, else ``inf``).
    """
    m = inst.n_customers
    nodes = m + 2
    end = inst.end
    dd = inst.drone
    G = np.full((1 << m, nodes, nodes), _INF)
    Gd = np.full((1 << m, nodes, nodes), -1, dtype=np.int64)
    G[0] = inst.truck
    launch = np.where(np.arange(nodes) == 0, 0.0, inst.launch_s)[:, None]
    for U in range(1, 1 << m):
        for c in range(m):
            if not U >> c & 1 or not inst.drone_ok[c + 1]:
                continue
            d = c + 1
            flight = dd[:, d][:, None] + dd[d, :][None, :]
            busy = np.maximum(H[U & ~(1 << c)], flight) + inst.recovery_s
            cost = busy + launch
            if math.isfinite(inst.endurance):
                cost = np.where(busy <= inst.endurance + _EPS, cost, _INF)
            better = cost < G[U]
            G[U] = np.where(better, cost, G[U])
            Gd[U] = np.where(better, d, Gd[U])
    diag = np.arange(nodes)
    for U in range(1, 1 << m):
        inside = [c + 1 for c in range(m) if U >> c & 1]
        G[U][inside, :] = _INF  # v and w lie outside U
        G[U][:, inside] = _INF
    G[0][diag, diag] = _INF
    if not inst.revisits:
        G[:, diag, diag] = _INF
        G[:, :, 0] = _INF  # FSTSP: never back to the start depot
    G[:, end, :] = _INF  # nothing leaves the end depot
    same = G[:, diag, diag].copy()
    G[:, diag, diag] = _INF
    return G, Gd, same


def _exact_program(
    inst: DroneInstance, G: FloatMatrix, Gd: npt.NDArray[np.int64], same: FloatMatrix
) -> tuple[FloatMatrix, dict[tuple[int, int], tuple[int, int, int, int]]]:
    """``D[S][w]``: least time with the customers ``S`` served and both vehicles at ``w``."""
    m = inst.n_customers
    nodes = m + 2
    end = inst.end
    full = (1 << m) - 1
    revisits = inst.revisits
    D = np.full((1 << m, nodes), _INF)
    D[0, 0] = 0.0
    parent: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    columns = np.arange(nodes)
    for S in range(1 << m):
        row = D[S]
        free = full & ~S
        U = free
        while np.isfinite(row).any():
            cand = row[:, None] + G[U]
            best_v = np.argmin(cand, axis=0)
            best = cand[best_v, columns]
            for w in (int(x) for x in np.flatnonzero(np.isfinite(best))):
                v = int(best_v[w])
                T = S | U
                if w == end:
                    if full != T:
                        continue
                elif w != 0:
                    bit = 1 << (w - 1)
                    if S & bit and not revisits:
                        continue
                    T |= bit  # TSP-D may meet again at a served node (then T is S | U)
                if best[w] < D[T, w] - 1e-12:
                    D[T, w] = best[w]
                    parent[(T, w)] = (S, v, U, int(Gd[U][v, w]))
            if U and revisits:
                here = row + same[U]
                T = S | U
                for v in (int(x) for x in np.flatnonzero(here < D[T] - 1e-12)):
                    D[T, v] = here[v]
                    parent[(T, v)] = (S, v, U, int(Gd[U][v, v]))
            if U == 0:
                break
            U = (U - 1) & free
    return D, parent


def _held_karp_path(inst: DroneInstance, v: int, w: int, P: int) -> tuple[int, ...]:
    """Shortest truck path ``v -> w`` through the customer set ``P`` (internal nodes)."""
    members = [c + 1 for c in range(inst.n_customers) if P >> c & 1]
    if not members:
        return ()
    tt = inst.truck
    best: dict[tuple[int, int], tuple[float, int]] = {}
    for x in members:
        best[(1 << (x - 1), x)] = (float(tt[v, x]), -1)
    for size in range(2, len(members) + 1):
        for combo in _subsets(members, size):
            mask = sum(1 << (x - 1) for x in combo)
            for x in combo:
                rest = mask & ~(1 << (x - 1))
                opts = [(best[(rest, y)][0] + float(tt[y, x]), y) for y in combo if y != x]
                best[(mask, x)] = min(opts)
    mask = P
    last = min(members, key=lambda x: best[(mask, x)][0] + float(tt[x, w]))
    path = []
    while last != -1:
        path.append(last)
        _, prev = best[(mask, last)]
        mask &= ~(1 << (last - 1))
        last = prev
    return tuple(reversed(path))


def _subsets(items: list[int], size: int) -> list[tuple[int, ...]]:
    return list(combinations(items, size))


# ------------------------------------------------------------------ heuristic


def _tsp_tour(inst: DroneInstance, rng: random.Random | None = None) -> list[int]:
    """A truck tour by nearest neighbour (randomized among the 3 nearest with ``rng``)."""
    m = inst.n_customers
    left = set(range(1, m + 1))
    tour = [0]
    while left:
        here = tour[-1]
        near = sorted(left, key=lambda x: inst.truck[here, x])
        pick = near[0] if rng is None else near[min(len(near) - 1, int(rng.random() ** 2 * 3))]
        tour.append(pick)
        left.discard(pick)
    tour.append(inst.end)
    return _two_opt_truck(inst, tour)


def _two_opt_truck(inst: DroneInstance, tour: list[int]) -> list[int]:
    """Plain 2-opt on the truck distance (a good TSP tour to split)."""
    tt = inst.truck
    improved = True
    while improved:
        improved = False
        for a in range(0, len(tour) - 3):
            for b in range(a + 2, len(tour) - 1):
                delta = (tt[tour[a], tour[b]] + tt[tour[a + 1], tour[b + 1]]
                         - tt[tour[a], tour[a + 1]] - tt[tour[b], tour[b + 1]])
                if delta < -1e-10:
                    tour[a + 1:b + 1] = reversed(tour[a + 1:b + 1])
                    improved = True
    return tour


def _neighbours(tour: list[int], rng: random.Random) -> list[list[int]]:
    """2-opt reversals, relocations of segments of 1-3 nodes, and swaps, shuffled."""
    n = len(tour)
    out: list[list[int]] = []
    for a in range(1, n - 2):
        for b in range(a + 1, n - 1):
            out.append(tour[:a] + tour[a:b + 1][::-1] + tour[b + 1:])
            out.append([*tour[:a], tour[b], *tour[a + 1:b], tour[a], *tour[b + 1:]])
    for length in (1, 2, 3):
        for a in range(1, n - 1 - length + 1):
            seg = tour[a:a + length]
            rest = tour[:a] + tour[a + length:]
            for pos in range(1, len(rest)):
                if pos == a:
                    continue
                out.append(rest[:pos] + seg + rest[pos:])
    rng.shuffle(out)
    return out


def _perturb(tour: list[int], rng: random.Random) -> list[int]:
    """Double-bridge move on the customers (keeps both depots in place)."""
    inner = tour[1:-1]
    if len(inner) < 8:
        for _ in range(2):
            a, b = rng.sample(range(len(inner)), 2)
            inner[a], inner[b] = inner[b], inner[a]
        return [tour[0], *inner, tour[-1]]
    a, b, c = sorted(rng.sample(range(1, len(inner)), 3))
    inner = inner[:a] + inner[c:] + inner[b:c] + inner[a:b]
    return [tour[0], *inner, tour[-1]]


def solve_heuristic(inst: DroneInstance, time_limit_s: float, seed: int = 0) -> DroneSolution:
    """Return the best solution found by local search over tours with the optimal split.

    Starts from a 2-opt truck tour, moves to the first improving neighbour (each one
    evaluated by :func:`split_tour`), and when no neighbour improves, restarts from a
    perturbation of the best tour (every fourth restart from a new randomized tour),
    until ``time_limit_s`` has passed or :data:`STALE_RESTARTS` restarts in a row found
    nothing better.
    """
    if not time_limit_s > 0:
        raise ProblemError("time_limit_s", f"must be positive, got {time_limit_s}")
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s
    rng = random.Random(seed)
    evaluations = 0
    cache: dict[tuple[int, ...], float] = {}

    def value(tour: list[int]) -> float:
        nonlocal evaluations
        key = tuple(tour)
        got = cache.get(key)
        if got is None:
            evaluations += 1
            got = split_tour(inst, tour)[0]
            if len(cache) < 200_000:
                cache[key] = got
        return got

    best_tour = _tsp_tour(inst)
    best_val = value(best_tour)
    current, cur_val = list(best_tour), best_val
    restarts = stale = 0
    while time.perf_counter() < deadline:
        improved = False
        for cand in _neighbours(current, rng):
            if time.perf_counter() >= deadline:
                break
            v = value(cand)
            if v < cur_val - 1e-9:
                current, cur_val = cand, v
                improved = True
                break
        if improved:
            if cur_val < best_val - 1e-9:
                best_tour, best_val = list(current), cur_val
                stale = 0
            continue
        if len(current) <= 4 or stale >= STALE_RESTARTS:
            break  # nothing else to try, or the search has stopped finding anything
        restarts += 1
        stale += 1
        base = best_tour if restarts % 4 else _tsp_tour(inst, rng)
        current = _perturb(base, rng)
        cur_val = value(current)
    total, ops = split_tour(inst, best_tour)
    return DroneSolution(operations=tuple(ops), makespan=total, method="heuristic",
                         runtime_s=time.perf_counter() - t0, evaluations=evaluations,
                         stats={"restarts": float(restarts)})


def solve(inst: DroneInstance, time_limit_s: float, seed: int = 0,
          method: str = "auto") -> DroneSolution:
    """Solve a TSP-D or FSTSP instance: ``method`` is ``auto``, ``exact`` or ``heuristic``.

    ``auto`` runs :func:`solve_exact` up to :data:`EXACT_MAX_CUSTOMERS` customers when
    its estimated run time (:func:`exact_seconds`) fits in ``time_limit_s``, and
    :func:`solve_heuristic` otherwise.
    """
    if method not in ("auto", "exact", "heuristic"):
        raise ProblemError("method", f"must be auto, exact or heuristic, got {method!r}")
    m = inst.n_customers
    if method == "exact" or (method == "auto" and m <= EXACT_MAX_CUSTOMERS
                             and exact_seconds(m) <= time_limit_s):
        return solve_exact(inst)
    return solve_heuristic(inst, time_limit_s, seed)


def exact_seconds(customers: int) -> float:
    """Rough run time of :func:`solve_exact` on one core (measured: 0.25 s at 8 customers,
    about 2 s at 10; the program grows about threefold per customer)."""
    return 0.25 * 3.0 ** (customers - 8)
