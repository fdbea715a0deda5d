"""Regret insertion and large-neighbourhood search (ruin and recreate) over node sequences.

The engine behind dial-a-ride and every problem PyVRP cannot express exactly. A unit of
work is a request (pickup and drop-off nodes inserted together) or a job (one node).
Insertion evaluates all positions of a unit in a route with numpy (arc-cost deltas, a
time-window and capacity screen), then schedules only the cheapest candidates with
:func:`routing.schedule.schedule_times` until one is feasible, so every kept route has a
valid schedule (windows, ride times, shift, duration, breaks).

The search is an LNS after Ropke & Pisinger (2006): random, worst, related (Shaw) and
route removal; greedy and regret-2 insertion; simulated-annealing acceptance on the time
fraction, by one rule in both loops (:func:`temperature`, :func:`routing.kernels.accept`).

When no vehicle has breaks, insertion and the whole search loop run compiled in
:mod:`routing.kernels` (the same rules on flat tables; every screened position is
scheduled up to ``KERNEL_TRIES``); with breaks they run here in Python, placing the
breaks per sequence, and try only the ``MAX_SCHEDULE_TRIES`` cheapest positions.
"""

from __future__ import annotations

import functools
import logging
import math
import random
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from routing import kernels
from routing.schedule import (
    INF,
    CompiledProblem,
    place_breaks,
    schedule_times,
    sequence_load_ok,
)

log = logging.getLogger(__name__)

FloatArr = npt.NDArray[np.float64]
IntArr = npt.NDArray[np.int64]

#: How many of the cheapest screened positions are scheduled before giving up on a route.
MAX_SCHEDULE_TRIES = 4

#: Construction opens every (free) vehicle with one early unit before inserting the rest.
SEED_EMPTY_ROUTES = True

#: Simulated annealing: start and end of the temperature (see :func:`temperature`).
ACCEPT_WORSE = 0.05
COOLING = 0.002
#: A ruin removes between 2 and 4 + this fraction of the assigned units.
REMOVE_FRACTION = 0.25
#: Relative weights of the ruin operators: random, related, worst, whole route.
REMOVAL_WEIGHTS = (3.0, 4.0, 2.0, 0.5)
#: Iterations per compiled chunk at the start (adapted to about 10-40 ms per chunk).
CHUNK = 8

#: Screened positions the compiled insertion schedules before giving up on a route.
KERNEL_TRIES = 32


@dataclass(slots=True)
class LnsResult:
    """Sequences per vehicle, the units left out and search statistics."""

    routes: list[list[int]]
    unassigned: list[int]
    cost: int
    iterations: int
    improvements: int = 0
    construct_s: float = 0.0
    history: list[tuple[float, int]] = field(default_factory=list)


class _Vehicles:
    """Numpy views of matrices per vehicle, with a virtual zero-cost end for open routes."""

    def __init__(self, cp: CompiledProblem) -> None:
        p = cp.problem
        n = p.n_locations
        self.virtual_end = n
        cache: dict[int, tuple[IntArr, IntArr]] = {}
        self.cost: list[IntArr] = []
        self.travel: list[IntArr] = []
        self.end: list[int] = []
        for k, v in enumerate(p.vehicles):
            key = id(cp.cost[k]) * 31 + id(cp.travel[k])
            if key not in cache:
                c = np.zeros((n + 1, n + 1), dtype=np.int64)
                t = np.zeros((n + 1, n + 1), dtype=np.int64)
                c[:n, :n] = np.minimum(np.asarray(cp.cost[k], dtype=np.int64), INF)
                t[:n, :n] = np.minimum(np.asarray(cp.travel[k], dtype=np.int64), INF)
                cache[key] = (c, t)
            self.cost.append(cache[key][0])
            self.travel.append(cache[key][1])
            self.end.append(n if v.end is None else v.end)
        self.fixed = [p.vehicle_type(k).fixed_cost for k in range(len(p.vehicles))]


class _RouteInfo:
    """Per-route arrays used to screen insertion positions (slot ``i`` = before ``seq[i]``)."""

    __slots__ = ("e_dep", "l_next", "load", "nxt", "prv")

    def __init__(self, lns: Lns, k: int, seq: list[int]) -> None:
        cp, veh = lns.cp, lns.veh
        v = cp.problem.vehicles[k]
        locs = [cp.loc[x] for x in seq]
        self.prv = np.array([v.start, *locs], dtype=np.int64)
        self.nxt = np.array([*locs, veh.end[k]], dtype=np.int64)
        t = cp.travel[k]
        m = len(seq)
        e_dep = [0] * (m + 1)
        d = v.shift.earliest
        e_dep[0] = d
        prev = v.start
        for i, x in enumerate(seq):
            a = d + t[prev][cp.loc[x]]
            b = a if a > cp.early[x] else cp.early[x]
            d = b + cp.service[x]
            e_dep[i + 1] = d
            prev = cp.loc[x]
        late = [0] * (m + 1)
        late[m] = v.shift.latest
        for i in range(m - 1, -1, -1):
            x = seq[i]
            nxt_loc = cp.loc[seq[i + 1]] if i + 1 < m else v.end
            room = late[i + 1] - (t[cp.loc[x]][nxt_loc] if nxt_loc is not None else 0)
            late[i] = min(cp.late[x], room - cp.service[x])
        self.e_dep = np.array(e_dep, dtype=np.int64)
        self.l_next = np.array(late, dtype=np.int64)
        dims = len(cp.capacity[k])
        load = np.zeros((m + 1, dims), dtype=np.int64)
        cur = np.zeros(dims, dtype=np.int64)
        for x in seq:
            cur += np.asarray(cp.start_load[x], dtype=np.int64)
        load[0] = cur
        for i, x in enumerate(seq):
            cur = cur + np.asarray(cp.delta[x], dtype=np.int64)
            load[i + 1] = cur
        self.load = load


class Lns:
    """Ruin-and-recreate search on one compiled problem (see the module docstring)."""

    def __init__(
        self, cp: CompiledProblem, *, seed: int = 0, vehicle_cost: int = 0,
    ) -> None:
        self.cp = cp
        self.veh = _Vehicles(cp)
        self.rng = random.Random(seed)
        nr = cp.n_requests
        self.n_units = nr + (cp.n_nodes - 2 * nr)
        self.vehicle_cost = vehicle_cost
        p = cp.problem
        self.penalty = [0] * self.n_units
        big = self._big_penalty()
        for u in range(self.n_units):
            item = p.requests[u] if u < nr else p.jobs[u - nr]
            self.penalty[u] = item.penalty if item.optional else big
        self.loc_arr = np.array(cp.loc, dtype=np.int64)
        self.has_breaks = [bool(v.breaks) for v in p.vehicles]
        self.empty_key = [
            (v.type, v.start, v.end, v.shift, v.max_duration_s, v.breaks,
             tuple(cp.allowed[k])) for k, v in enumerate(p.vehicles)
        ]
        #: Without breaks, scheduling, insertion and the search run compiled (:attr:`tb`).
        self.compiled = not any(self.has_breaks)
        if self.compiled:
            kernels.seed_rng(seed)

    @functools.cached_property
    def tb(self) -> kernels.Tables:
        """The tables of the compiled kernels, built on first use: an ``Lns`` that never
        schedules (one explaining a plan that leaves nothing out) copies no matrices."""
        return kernel_tables(self)

    @functools.cached_property
    def unit_ends(self) -> tuple[IntArr, IntArr, IntArr, IntArr]:
        """Per unit: first and last location, earliest start, latest end (relatedness)."""
        cp, n = self.cp, self.n_units
        firsts = [self.nodes(u)[0] for u in range(n)]
        lasts = [self.nodes(u)[-1] for u in range(n)]
        return (
            np.array([cp.loc[x] for x in firsts], dtype=np.int64).reshape(n),
            np.array([cp.loc[x] for x in lasts], dtype=np.int64).reshape(n),
            np.array([cp.early[x] for x in firsts], dtype=np.int64).reshape(n),
            np.array([cp.late[x] for x in lasts], dtype=np.int64).reshape(n),
        )

    def _big_penalty(self) -> int:
        worst = max((int(c.max()) for c in self.veh.cost), default=1)
        return max(1, worst) * (self.cp.n_nodes + 2) * 4 + self.vehicle_cost * len(
            self.cp.problem.vehicles) + 1

    # ------------------------------------------------------------------ units
    def nodes(self, u: int) -> tuple[int, ...]:
        """Return the nodes of unit ``u``."""
        nr = self.cp.n_requests
        return (2 * u, 2 * u + 1) if u < nr else (nr + u,)

    def unit_of(self, node: int) -> int:
        """Return the unit of ``node``."""
        nr = self.cp.n_requests
        return node // 2 if node < 2 * nr else node - nr

    # ------------------------------------------------------------------ costs
    def route_cost(self, k: int, seq: list[int]) -> int:
        """Return the arc cost plus fixed cost of a route (0 when empty)."""
        if not seq:
            return 0
        c = self.cp.cost[k]
        v = self.cp.problem.vehicles[k]
        prev = v.start
        total = self.veh.fixed[k] + self.vehicle_cost
        loc = self.cp.loc
        for x in seq:
            total += c[prev][loc[x]]
            prev = loc[x]
        if v.end is not None:
            total += c[prev][v.end]
        return total

    def feasible(self, k: int, seq: list[int], *, load_checked: bool = False) -> bool:
        """Return whether ``seq`` has a valid schedule and load profile on vehicle ``k``."""
        if not load_checked and not sequence_load_ok(self.cp, k, seq):
            return False
        if self.has_breaks[k]:
            full = place_breaks(self.cp, k, seq)
            return full is not None and schedule_times(self.cp, k, full) is not None
        if self.compiled:
            return bool(kernels.schedule_ok(np.asarray(seq, dtype=np.int64), k, self.tb))
        return schedule_times(self.cp, k, seq, full=False) is not None

    # ------------------------------------------------------------------ insertion
    def best_insertion(
        self, u: int, k: int, seq: list[int], info: _RouteInfo
    ) -> tuple[int, list[int]] | None:
        """Return the cheapest feasible (cost delta, new sequence) of unit ``u`` in route ``k``."""
        nodes = self.nodes(u)
        if not self.cp.allowed[k][nodes[0]]:
            return None
        if len(nodes) == 2:
            cands = self._pair_candidates(nodes[0], nodes[1], k, info)
        else:
            cands = self._single_candidates(nodes[0], k, info)
        base = 0
        if not seq:  # an empty route costs nothing, not even its depot arc
            base = self.veh.fixed[k] + self.vehicle_cost + int(
                self.veh.cost[k][self.cp.problem.vehicles[k].start, self.veh.end[k]])
        for delta, i, j in cands[:MAX_SCHEDULE_TRIES]:
            if len(nodes) == 2:
                new = [*seq[:i], nodes[0], *seq[i:j], nodes[1], *seq[j:]]
            else:
                new = [*seq[:i], nodes[0], *seq[i:]]
            if self.feasible(k, new, load_checked=True):
                return delta + base, new
        return None

    def _screen(self, x: int, k: int, info: _RouteInfo) -> tuple[IntArr, IntArr, IntArr]:
        """Return insertion cost per slot, earliest departure after ``x`` and a mask."""
        cp = self.cp
        c, t = self.veh.cost[k], self.veh.travel[k]
        lx = cp.loc[x]
        prv, nxt = info.prv, info.nxt
        dcost = c[prv, lx] + c[lx, nxt] - c[prv, nxt]
        arr = info.e_dep + t[prv, lx]
        beg = np.maximum(arr, cp.early[x])
        dep = beg + cp.service[x]
        ok = (beg <= cp.late[x]) & (dep + t[lx, nxt] <= info.l_next)
        return dcost, dep, ok

    def _cap_ok(self, x: int, k: int, info: _RouteInfo) -> npt.NDArray[np.bool_]:
        q = np.asarray(self.cp.delta[x], dtype=np.int64)
        cap = np.asarray(self.cp.capacity[k], dtype=np.int64)
        return np.all(info.load + q <= cap, axis=1)

    def _pair_candidates(
        self, p: int, d: int, k: int, info: _RouteInfo
    ) -> list[tuple[int, int, int]]:
        cp = self.cp
        c, t = self.veh.cost[k], self.veh.travel[k]
        cost_p, dep_p, ok_p = self._screen(p, k, info)
        cost_d, _, ok_d = self._screen(d, k, info)
        ok_p &= self._cap_ok(p, k, info)
        if not ok_p.any():
            return []
        m1 = len(info.prv)
        # Capacity: the load on every arc from slot i to slot j grows by the request's load.
        bad = ~self._cap_ok(p, k, info)
        idx = np.where(bad, np.arange(m1), m1)
        next_bad = np.minimum.accumulate(idx[::-1])[::-1]
        mat = cost_p[:, None] + cost_d[None, :]
        jj = np.arange(m1)
        mask = ok_p[:, None] & ok_d[None, :] & (jj[None, :] > jj[:, None])
        mask &= jj[None, :] < next_bad[:, None]
        lim = cp.ride_limit[p]
        if lim < INF:
            # The drop-off cannot start before its screened earliest time, the pickup
            # cannot end after its latest departure: a lower bound on the ride.
            beg_d_lb = np.maximum(info.e_dep + t[info.prv, cp.loc[d]], cp.early[d])
            lat_p = np.minimum(cp.late[p], info.l_next - t[cp.loc[p], info.nxt]
                               - cp.service[p]) + cp.service[p]
            mask &= (beg_d_lb[None, :] - lat_p[:, None]) <= lim
        # Same slot: pickup directly followed by its drop-off.
        lp, ld = cp.loc[p], cp.loc[d]
        prv, nxt = info.prv, info.nxt
        same = c[prv, lp] + c[lp, ld] + c[ld, nxt] - c[prv, nxt]
        beg_d = np.maximum(dep_p + t[lp, ld], cp.early[d])
        ok_same = ok_p & (beg_d <= cp.late[d])
        ok_same &= beg_d + cp.service[d] + t[ld, nxt] <= info.l_next
        diag = np.arange(m1)
        mat[diag, diag] = same
        mask[diag, diag] = ok_same
        ii, jx = np.nonzero(mask)
        if not len(ii):
            return []
        vals = mat[ii, jx]
        n_take = min(MAX_SCHEDULE_TRIES, len(vals))
        order = np.argpartition(vals, n_take - 1)[:n_take] if len(vals) > n_take else np.arange(
            len(vals))
        order = order[np.argsort(vals[order], kind="stable")]
        return [(int(vals[o]), int(ii[o]), int(jx[o])) for o in order]

    def _single_candidates(self, x: int, k: int, info: _RouteInfo) -> list[tuple[int, int, int]]:
        cost_x, _, ok = self._screen(x, k, info)
        q = np.asarray(self.cp.start_load[x], dtype=np.int64)
        cap = np.asarray(self.cp.capacity[k], dtype=np.int64)
        m1 = len(info.prv)
        if q.any():
            # A delivery job's load rides on every arc from the start depot to the job.
            fits = np.all(info.load + q <= cap, axis=1)
            first_bad = int(np.argmin(fits)) if not fits.all() else m1
            ok &= np.arange(m1) < first_bad
        else:
            # A pickup job's load rides on every arc from the job to the end depot.
            fits = np.all(info.load + np.asarray(self.cp.delta[x], dtype=np.int64) <= cap, axis=1)
            bad = np.nonzero(~fits)[0]
            if len(bad):
                ok &= np.arange(m1) > int(bad.max())
        idx = np.nonzero(ok)[0]
        order = idx[np.argsort(cost_x[idx], kind="stable")][:MAX_SCHEDULE_TRIES]
        return [(int(cost_x[i]), int(i), int(i)) for i in order]

    # ------------------------------------------------------------------ recreate
    def insert_all(
        self, routes: list[list[int]], units: list[int], *, regret: bool, noise: float = 0.0,
    ) -> list[int]:
        """Insert ``units`` into ``routes`` (in place); return those that fit nowhere."""
        if self.compiled:
            pending = list(units)
            self.rng.shuffle(pending)
            arr, lens = self._to_arrays(routes)
            left = kernels.insert_units(arr, lens, np.asarray(pending, dtype=np.int64), self.tb,
                                        regret, noise, KERNEL_TRIES)
            self._from_arrays(routes, arr, lens)
            return [int(u) for u in left]
        infos: dict[int, _RouteInfo] = {}
        cache: dict[tuple[int, int], tuple[int, list[int]] | None] = {}
        pending = list(units)
        self.rng.shuffle(pending)
        while pending:
            cand_routes = self._candidate_routes(routes)
            best_u, best_val, best_ins = -1, -math.inf, None
            for u in pending:
                options: list[tuple[float, int]] = []
                first: tuple[int, list[int], int] | None = None
                for k in cand_routes:
                    key = (u, k)
                    if key not in cache:
                        if k not in infos:
                            infos[k] = _RouteInfo(self, k, routes[k])
                        cache[key] = self.best_insertion(u, k, routes[k], infos[k])
                    res = cache[key]
                    if res is None:
                        continue
                    val = res[0] * (1.0 + noise * self.rng.random()) if noise else res[0]
                    options.append((val, k))
                    if first is None or val < options[0][0] or val <= min(o[0] for o in options):
                        first = (res[0], res[1], k)
                if first is None:
                    continue
                options.sort()
                if regret:
                    second = options[1][0] if len(options) > 1 else self.penalty[u]
                    score = second - options[0][0]
                else:
                    score = -options[0][0]
                if score > best_val:
                    best_u, best_val, best_ins = u, score, first
            if best_ins is None:
                break
            _, new_seq, k = best_ins
            routes[k] = new_seq
            pending.remove(best_u)
            infos.pop(k, None)
            for key in [key for key in cache if key[1] == k]:
                del cache[key]
        return pending

    def construct(self, routes: list[list[int]], units: list[int]) -> list[int]:
        """Insert ``units`` one by one in order of their earliest time, each at its
        cheapest feasible position over all routes; return those that fit nowhere.

        One pass costs units x routes insertion evaluations (regret insertion costs
        about units² x routes), which matters on 100-request instances.
        """
        cp = self.cp

        def key(u: int) -> tuple[int, int]:
            nodes = self.nodes(u)
            # A drop-off window (outbound trip) implies a pickup time: latest minus direct.
            direct = cp.travel[0][cp.loc[nodes[0]]][cp.loc[nodes[-1]]]
            t = max(cp.early[nodes[0]], cp.early[nodes[-1]] - direct - cp.service[nodes[0]])
            return t, u

        left: list[int] = []
        infos: dict[int, _RouteInfo] = {}
        order = sorted(units, key=key)
        if SEED_EMPTY_ROUTES:
            order = self._seed_routes(routes, order)
        if self.compiled:
            arr, lens = self._to_arrays(routes)
            rest = kernels.insert_sequential(arr, lens, np.asarray(order, dtype=np.int64),
                                             self.tb, KERNEL_TRIES)
            self._from_arrays(routes, arr, lens)
            left = [int(u) for u in rest]
            return self.insert_all(routes, left, regret=True) if left else left
        for u in order:
            best: tuple[int, list[int], int] | None = None
            for k in self._candidate_routes(routes):
                if k not in infos:
                    infos[k] = _RouteInfo(self, k, routes[k])
                res = self.best_insertion(u, k, routes[k], infos[k])
                if res is not None and (best is None or res[0] < best[0]):
                    best = (res[0], res[1], k)
            if best is None:
                left.append(u)
                continue
            routes[best[2]] = best[1]
            infos.pop(best[2], None)
        return self.insert_all(routes, left, regret=True) if left else left

    def _to_arrays(self, routes: list[list[int]]) -> tuple[IntArr, IntArr]:
        width = max(1, self.cp.n_nodes)
        arr = np.zeros((len(routes), width), dtype=np.int64)
        lens = np.zeros(len(routes), dtype=np.int64)
        for k, seq in enumerate(routes):
            arr[k, :len(seq)] = seq
            lens[k] = len(seq)
        return arr, lens

    @staticmethod
    def _from_arrays(routes: list[list[int]], arr: IntArr, lens: IntArr) -> None:
        for k in range(len(routes)):
            routes[k] = arr[k, :lens[k]].tolist()

    def _seed_routes(self, routes: list[list[int]], order: list[int]) -> list[int]:
        """Start each empty vehicle with one of the earliest units (spreads the work over
        the fleet, which shortens distance when vehicles cost nothing); return the rest."""
        if self.vehicle_cost or any(self.veh.fixed):
            return order
        rest: list[int] = []
        empty = [k for k, seq in enumerate(routes) if not seq]
        for idx, u in enumerate(order):
            if not empty:
                rest.extend(order[idx:])
                break
            seq = list(self.nodes(u))
            k = next((k for k in empty if self.cp.allowed[k][seq[0]] and self.feasible(k, seq)),
                     None)
            if k is None:
                rest.append(u)
            else:
                routes[k] = seq
                empty.remove(k)
        return rest

    def _candidate_routes(self, routes: list[list[int]]) -> list[int]:
        """Every used route plus one empty vehicle per distinct vehicle signature."""
        out: list[int] = []
        seen: set[object] = set()
        for k, seq in enumerate(routes):
            if seq:
                out.append(k)
            elif self.empty_key[k] not in seen:
                seen.add(self.empty_key[k])
                out.append(k)
        return out

    # ------------------------------------------------------------------ ruin
    def remove_random(self, routes: list[list[int]], q: int) -> list[int]:
        """Remove ``q`` random units."""
        assigned = [self.unit_of(x) for seq in routes for x in seq if self._is_first(x)]
        chosen = self.rng.sample(assigned, min(q, len(assigned)))
        self._strip(routes, set(chosen))
        return chosen

    def remove_related(self, routes: list[list[int]], q: int) -> list[int]:
        """Remove a seed unit and the ``q - 1`` units closest to it in space and time."""
        assigned = [self.unit_of(x) for seq in routes for x in seq if self._is_first(x)]
        if not assigned:
            return []
        seed = self.rng.choice(assigned)
        cand = np.array(assigned, dtype=np.int64)
        rel = self._relatedness(seed, cand)
        chosen: list[int] = []
        pool = cand[np.lexsort((cand, rel))].tolist()
        while pool and len(chosen) < q:
            i = int(len(pool) * self.rng.random() ** 4)
            chosen.append(pool.pop(i))
        self._strip(routes, set(chosen))
        return chosen

    def remove_worst(self, routes: list[list[int]], q: int) -> list[int]:
        """Remove ``q`` units with the largest cost saving (randomised)."""
        if self.compiled:
            arr, lens = self._to_arrays(routes)
            sav = kernels.removal_savings(arr, lens, self.tb)
            savings = [(int(sav[u]), u) for u in np.nonzero(sav >= 0)[0].tolist()]
        else:
            savings = self._savings(routes)
        savings.sort(reverse=True)
        pool = [u for _, u in savings]
        chosen: list[int] = []
        while pool and len(chosen) < q:
            i = int(len(pool) * self.rng.random() ** 3)
            chosen.append(pool.pop(i))
        self._strip(routes, set(chosen))
        return chosen

    def _savings(self, routes: list[list[int]]) -> list[tuple[int, int]]:
        savings: list[tuple[int, int]] = []
        for k, seq in enumerate(routes):
            base = self.route_cost(k, seq)
            for x in seq:
                if self._is_first(x):
                    u = self.unit_of(x)
                    nodes = set(self.nodes(u))
                    savings.append((base - self.route_cost(k, [y for y in seq if y not in nodes]),
                                    u))
        return savings

    def remove_route(self, routes: list[list[int]], q: int) -> list[int]:
        """Empty a random route (the shortest with some probability)."""
        used = [k for k, seq in enumerate(routes) if seq]
        if not used:
            return []
        if self.rng.random() < 0.5:
            k = min(used, key=lambda r: len(routes[r]))
        else:
            k = self.rng.choice(used)
        chosen = [self.unit_of(x) for x in routes[k] if self._is_first(x)]
        routes[k] = []
        return chosen

    def _is_first(self, x: int) -> bool:
        return x >= 2 * self.cp.n_requests or x % 2 == 0

    def _relatedness(self, a: int, others: IntArr) -> FloatArr:
        """Distance in space (pickups and drop-offs) plus half the distance in time."""
        first, last, early, late = self.unit_ends
        c = self.veh.cost[0]
        space = c[first[a], first[others]] + c[last[a], last[others]]
        tm = np.abs(early[a] - early[others]) + np.abs(late[a] - late[others])
        return space.astype(np.float64) + 0.5 * np.minimum(tm, INF).astype(np.float64)

    def _strip(self, routes: list[list[int]], units: set[int]) -> None:
        for k, seq in enumerate(routes):
            if seq:
                routes[k] = [x for x in seq if self.unit_of(x) not in units]

    # ------------------------------------------------------------------ search
    def total_cost(self, routes: list[list[int]], unassigned: list[int]) -> int:
        """Return arc and fixed costs plus the penalties of units left out."""
        return sum(self.route_cost(k, s) for k, s in enumerate(routes)) + sum(
            self.penalty[u] for u in unassigned)

    def repair_initial(self, routes: list[list[int]]) -> tuple[list[list[int]], list[int]]:
        """Keep the feasible routes of a warm start; return them and the units to insert."""
        out = [list(s) for s in routes]
        placed: set[int] = set()
        for k, seq in enumerate(out):
            seq = [x for x in seq if x >= 0]
            units = [self.unit_of(x) for x in seq]
            ok = all(units.count(u) == len(self.nodes(u)) for u in units)
            ok = ok and all(u not in placed for u in units)
            ok = ok and all(self.cp.allowed[k][x] for x in seq)
            ok = ok and _pairs_ordered(self.cp, seq)
            if not (ok and self.feasible(k, seq)):
                seq = []
            out[k] = seq
            placed.update(self.unit_of(x) for x in seq)
        return out, [u for u in range(self.n_units) if u not in placed]

    def run(
        self, time_limit_s: float, *, initial: list[list[int]] | None = None,
        max_iterations: int | None = None,
    ) -> LnsResult:
        """Construct a solution (or repair ``initial``) and improve it until the time limit."""
        t0 = time.perf_counter()
        nv = len(self.cp.problem.vehicles)
        routes, todo = self.repair_initial(initial) if initial else ([[] for _ in range(nv)],
                                                                      list(range(self.n_units)))
        left = self.construct(routes, todo)
        if self.compiled:
            return self._run_compiled(routes, left, t0, time_limit_s, max_iterations)
        cur_cost = self.total_cost(routes, left)
        best = ([list(s) for s in routes], list(left), cur_cost)
        cur = best
        n_assigned = self.n_units - len(left)
        arc0 = self._arc_total(routes)
        it = improvements = 0
        history = [(time.perf_counter() - t0, cur_cost)]
        ops = (self.remove_random, self.remove_related, self.remove_worst, self.remove_route)
        weights = REMOVAL_WEIGHTS
        while n_assigned > 0:
            frac = _progress(t0, time_limit_s, it, max_iterations)
            if frac is None:
                break
            temp = temperature(arc0, frac)
            it += 1
            routes = [list(s) for s in cur[0]]
            q = self.rng.randint(min(2, n_assigned), _ruin_max(n_assigned))
            op = self.rng.choices(ops, weights)[0]
            removed = op(routes, q)
            left = self.insert_all(routes, list(cur[1]) + removed, regret=self.rng.random() < 0.5,
                                   noise=0.05 if self.rng.random() < 0.3 else 0.0)
            cost = self.total_cost(routes, left)
            delta = float(cost - cur[2])
            # Improvements draw no random number, in both loops.
            if kernels.accept(delta, temp, self.rng.random() if delta >= 0 else 0.0):
                cur = (routes, left, cost)
                if cost < best[2]:
                    best = ([list(s) for s in routes], list(left), cost)
                    improvements += 1
                    history.append((time.perf_counter() - t0, cost))
        log.debug("LNS: %d iterations, %d improvements, cost %d", it, improvements, best[2])
        return LnsResult(routes=best[0], unassigned=sorted(best[1]), cost=best[2], iterations=it,
                         improvements=improvements, history=history,
                         construct_s=history[0][0])

    def _arc_total(self, routes: list[list[int]]) -> int:
        """Arc costs of the routes (no fixed or per-vehicle costs, no penalties)."""
        return sum(self.route_cost(k, s) - self.veh.fixed[k] - self.vehicle_cost
                   for k, s in enumerate(routes) if s)

    def _run_compiled(
        self, routes: list[list[int]], left: list[int], t0: float, time_limit_s: float,
        max_iterations: int | None,
    ) -> LnsResult:
        """The search loop of :meth:`run` in :func:`routing.kernels.lns_chunk`, called in
        chunks of iterations between which the wall clock and temperature are updated."""
        tb = self.tb
        arr, lens = self._to_arrays(routes)
        out = np.zeros(self.n_units, dtype=np.bool_)
        out[left] = True
        cost = int(kernels.plan_cost(arr, lens, out, tb))
        st = kernels.SearchState(arr, lens, out, arr.copy(), lens.copy(), out.copy(),
                                 np.array([cost, cost, 0], dtype=np.int64),
                                 np.array(REMOVAL_WEIGHTS, dtype=np.float64))
        n_assigned = self.n_units - len(left)
        arc0 = self._arc_total(routes)
        q_max = _ruin_max(n_assigned)
        history = [(time.perf_counter() - t0, cost)]
        it = improvements = 0
        chunk = CHUNK
        while n_assigned > 0:
            frac = _progress(t0, time_limit_s, it, max_iterations)
            if frac is None:
                break
            n = chunk if max_iterations is None else min(CHUNK, max_iterations - it)
            tc = time.perf_counter()
            found = kernels.lns_chunk(st, tb, n, temperature(arc0, frac), q_max, KERNEL_TRIES)
            it += n
            if found:
                improvements += found
                history.append((time.perf_counter() - t0, int(st.counters[1])))
            dt = time.perf_counter() - tc
            chunk = chunk * 2 if dt < 0.01 else max(1, chunk // 2) if dt > 0.04 else chunk
        best = [st.best_routes[k, :st.best_lens[k]].tolist() for k in range(len(routes))]
        unassigned = np.nonzero(st.best_out)[0].tolist()
        log.debug("LNS: %d iterations, %d improvements, cost %d", it, improvements,
                  st.counters[1])
        return LnsResult(routes=best, unassigned=unassigned, cost=int(st.counters[1]),
                         iterations=it, improvements=improvements, history=history,
                         construct_s=history[0][0])


def temperature(arc_cost: int, frac: float) -> float:
    """Return the annealing temperature after share ``frac`` of the search.

    The one rule of both LNS loops (Python and compiled): at the start, a plan worse by
    ``ACCEPT_WORSE`` times ``arc_cost`` (the arc cost of the constructed plan, without
    fixed costs or the penalties of units left out) is accepted with probability 1/2
    (:func:`routing.kernels.accept`); the temperature then falls geometrically to
    ``COOLING`` times its start. The compiled loop takes it once per chunk of iterations.
    """
    return max(1.0, ACCEPT_WORSE * arc_cost / math.log(2)) * COOLING ** frac


def _progress(t0: float, time_limit_s: float, it: int, max_iterations: int | None
              ) -> float | None:
    """Share of the search done (of the time, or of the iterations when capped), or
    ``None`` when the search is over."""
    elapsed = time.perf_counter() - t0
    if elapsed >= time_limit_s or (max_iterations is not None and it >= max_iterations):
        return None
    return elapsed / time_limit_s if max_iterations is None else it / max_iterations


def _ruin_max(n_assigned: int) -> int:
    """The largest number of units one ruin removes."""
    return max(2, min(n_assigned, 4 + int(n_assigned * REMOVE_FRACTION)))


def _pairs_ordered(cp: CompiledProblem, seq: list[int]) -> bool:
    seen: set[int] = set()
    nr2 = 2 * cp.n_requests
    for x in seq:
        if x < nr2 and x % 2 == 1 and x - 1 not in seen:
            return False
        seen.add(x)
    return True


def kernel_tables(lns: Lns) -> kernels.Tables:
    """Flatten the compiled problem of ``lns`` into :class:`routing.kernels.Tables`."""
    cp, veh = lns.cp, lns.veh
    p = cp.problem
    big, nolim = kernels.BIG, kernels.NO_LIMIT
    node = np.zeros((cp.n_nodes, 7), dtype=np.int64)
    for x in range(cp.n_nodes):
        node[x] = (cp.loc[x], cp.early[x], cp.late[x], cp.service[x],
                   min(cp.ride_limit[x], nolim), cp.partner[x], lns.unit_of(x))
    mats: dict[int, int] = {}
    tts: list[IntArr] = []
    ccs: list[IntArr] = []
    vrow = np.zeros((len(p.vehicles), 7), dtype=np.int64)
    sig_of: dict[object, int] = {}
    sig = np.zeros(len(p.vehicles), dtype=np.int64)
    for k, v in enumerate(p.vehicles):
        key = id(veh.cost[k]) * 31 + id(veh.travel[k])
        if key not in mats:
            mats[key] = len(tts)
            tts.append(np.minimum(veh.travel[k], big))
            ccs.append(np.minimum(veh.cost[k], big))
        dur = nolim if v.max_duration_s is None else v.max_duration_s
        vrow[k] = (mats[key], v.start, veh.end[k], v.shift.earliest, v.shift.latest, dur,
                   veh.fixed[k] + lns.vehicle_cost)
        sig[k] = sig_of.setdefault(lns.empty_key[k], len(sig_of))
    units = np.full((lns.n_units, 2), -1, dtype=np.int64)
    for u in range(lns.n_units):
        nodes = lns.nodes(u)
        units[u, :len(nodes)] = nodes
    dims = max(1, len(cp.capacity[0]) if cp.capacity else 1)

    def table(rows: list[tuple[int, ...]], n: int) -> IntArr:
        out = np.zeros((n, dims), dtype=np.int64)
        for i, r in enumerate(rows):
            out[i, :len(r)] = r
        return out

    return kernels.Tables(
        node=node, veh=vrow, tt=np.stack(tts) if tts else np.zeros((1, 1, 1), np.int64),
        cc=np.stack(ccs) if ccs else np.zeros((1, 1, 1), np.int64),
        delta=table(cp.delta, cp.n_nodes), start_load=table(cp.start_load, cp.n_nodes),
        cap=table(cp.capacity, len(p.vehicles)),
        allowed=np.array(cp.allowed, dtype=np.bool_).reshape(len(p.vehicles), cp.n_nodes),
        unit=units,
        penalty=np.array([min(x, nolim) for x in lns.penalty], dtype=np.int64).reshape(
            lns.n_units),
        sig=sig,
    )
