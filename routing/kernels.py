"""Compiled (numba) scheduling and insertion for the large-neighbourhood search.

The same rules as :mod:`routing.schedule` and :mod:`routing.construct`, on flat numpy
tables, compiled with numba: the scheduling test is Cordeau & Laporte's eight-step
procedure (forward propagation, depot delay by the forward time slack, pickup delays
while a ride limit is violated), the insertion enumerates every pickup/drop-off slot
pair of a route, screens it (windows, capacity, a ride-time lower bound) and schedules
the candidates from the cheapest until one is feasible. Regret-2 and greedy insertion
of many units run here too, so a ruin-and-recreate iteration costs micro- rather than
milliseconds. Vehicles with breaks stay on the Python path (:mod:`routing.construct`).

This module is the only one that imports numba. Compiled code is cached on disk next
to this file (``cache=True``); the first call in a fresh install compiles for a few
seconds: :func:`warm_up` does it up front.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

IntArr = npt.NDArray[np.int64]
F = TypeVar("F", bound=Callable[..., Any])

#: Matrix entries are clamped to this (unreachable arcs): sums of a few stay in int64.
BIG = 1 << 52
#: "No limit" (ride limit, maximum duration).
NO_LIMIT = 1 << 60

#: Insertion tries found by a linear scan before sorting all candidates.
SCAN_TRIES = 3

# Columns of ``Tables.node``.
LOC, EARLY, LATE, SVC, RIDE, PARTNER, UNIT = range(7)
# Columns of ``Tables.veh``.
MAT, START, END, SH_E, SH_L, MAX_DUR, FIXED = range(7)


def _jit(f: F) -> F:
    return cast(F, numba.njit(cache=True, nogil=True)(f))


class Tables(NamedTuple):
    """Flat tables of one compiled problem (see :func:`routing.construct.kernel_tables`).

    ``node``: per node loc, early, late, service, ride limit (pickups; ``NO_LIMIT``
    otherwise), partner (-1 for jobs), unit. ``veh``: per vehicle matrix id, start location,
    end location (the virtual zero-cost end for open routes), shift earliest, latest,
    maximum duration, fixed cost (plus the per-vehicle cost of the vehicles objective).
    ``tt``/``cc``: travel time and cost matrices per matrix id, with the virtual end as
    the last row and column. ``delta``/``start_load``: load change per node and
    dimension, load a delivery job puts on board at the start depot. ``cap``: capacity per
    vehicle and dimension. ``allowed``: vehicle may serve node. ``unit``: nodes of each
    unit (second -1 for a job). ``penalty``: cost of leaving a unit out. ``sig``:
    vehicles with the same signature are interchangeable when empty.
    """

    node: IntArr
    veh: IntArr
    tt: IntArr
    cc: IntArr
    delta: IntArr
    start_load: IntArr
    cap: IntArr
    allowed: npt.NDArray[np.bool_]
    unit: IntArr
    penalty: IntArr
    sig: IntArr


# --------------------------------------------------------------------------- schedule
@_jit
def _propagate(first: int, t: int, tt: IntArr, early: IntArr, svc: IntArr, times: IntArr,
               tt_end: int) -> int:
    """Set arrival/begin/departure (rows 0-2 of ``times``) from index ``first`` on."""
    n = tt.shape[0]
    for i in range(first, n):
        a = t + tt[i]
        times[0, i] = a
        b = a if a > early[i] else early[i]
        times[1, i] = b
        t = b + svc[i]
        times[2, i] = t
    return t + tt_end


@_jit
def _forward_slack(i: int, times: IntArr, late: IntArr, pick_of: IntArr, limit: IntArr,
                   end: int, room_end: int) -> int:
    """Cordeau's forward time slack at index ``i`` (-1: the depot); see schedule.py."""
    n = late.shape[0]
    best = NO_LIMIT
    waits = 0
    for j in range(max(i, 0), n):
        if j > i:
            waits += times[1, j] - times[0, j]
        room = late[j] - times[1, j]
        k = pick_of[j]
        if 0 <= k < i:
            r = limit[j] - (times[1, j] - times[2, k])
            if r < room:
                room = r
        cand = waits + (room if room > 0 else 0)
        if cand < best:
            best = cand
            if best <= 0:
                return 0
    tail = waits + (room_end if room_end > 0 else 0)
    return best if best < tail else tail


@_jit
def _ride_violated(times: IntArr, pick_of: IntArr, limit: IntArr) -> bool:
    for j in range(pick_of.shape[0]):
        k = pick_of[j]
        if k >= 0 and times[1, j] - times[2, k] > limit[j]:
            return True
    return False


@_jit
def _late_violated(times: IntArr, late: IntArr) -> bool:
    for i in range(late.shape[0]):
        if times[1, i] > late[i]:
            return True
    return False


@_jit
def _delay_pickups(  # noqa: PLR0913
    limited: npt.NDArray[np.bool_], times: IntArr, tt: IntArr, early: IntArr, late: IntArr,
    svc: IntArr, pick_of: IntArr, limit: IntArr, tt_end: int, d0: int, end: int,
    sh_l: int, max_dur: int,
) -> int:
    """Cordeau's step 7: delay the pickups with a ride limit (``limited``), in order, by
    their forward slack until no ride limit is violated; return the new end."""
    n = tt.shape[0]
    for i in range(n):
        if not limited[i]:
            continue
        wait_after = 0
        for j in range(i + 1, n):
            wait_after += times[1, j] - times[0, j]
        if wait_after <= 0:
            continue
        room = max_dur - (end - d0)
        slack = _forward_slack(i, times, late, pick_of, limit, end,
                               min(sh_l - end, room))
        shift = slack if slack < wait_after else wait_after
        if shift > 0:
            times[1, i] += shift
            times[2, i] = times[1, i] + svc[i]
            end = _propagate(i + 1, times[2, i], tt, early, svc, times, tt_end)
            if not _ride_violated(times, pick_of, limit):
                break
    return end


@_jit
def schedule_ok(seq: IntArr, k: int, tb: Tables) -> bool:
    """Return whether node sequence ``seq`` has a schedule on vehicle ``k``.

    The verdict of :func:`routing.schedule.schedule_times` with ``full=False``; capacity
    is not checked here.
    """
    n = seq.shape[0]
    veh = tb.veh[k]
    mat = tb.tt[veh[MAT]]
    sh_e, sh_l, max_dur = veh[SH_E], veh[SH_L], veh[MAX_DUR]
    tt = np.empty(n, np.int64)
    early = np.empty(n, np.int64)
    late = np.empty(n, np.int64)
    svc = np.empty(n, np.int64)
    prev = veh[START]
    for i in range(n):
        row = tb.node[seq[i]]
        tt[i] = mat[prev, row[LOC]]
        prev = row[LOC]
        early[i] = row[EARLY]
        late[i] = row[LATE]
        svc[i] = row[SVC]
    tt_end = mat[prev, veh[END]]
    times = np.empty((3, n), np.int64)
    end = _propagate(0, sh_e, tt, early, svc, times, tt_end)
    if end > sh_l or _late_violated(times, late):
        return False
    # The ride pairs: index of the pickup of the drop-off at j, and its limit.
    pick_of = np.full(n, -1, np.int64)
    limit = np.full(n, NO_LIMIT, np.int64)
    any_limit = False
    for j in range(n):
        x = seq[j]
        p = tb.node[x, PARTNER]
        if p >= 0 and tb.node[x, RIDE] >= NO_LIMIT and tb.node[p, RIDE] < NO_LIMIT:
            for i in range(j):
                if seq[i] == p:
                    pick_of[j] = i
                    limit[j] = tb.node[p, RIDE]
                    any_limit = True
                    break
    d0 = sh_e
    if n:
        wait_total = 0
        for i in range(n):
            wait_total += times[1, i] - times[0, i]
        slack = _forward_slack(-1, times, late, pick_of, limit, end, sh_l - end)
        shift = slack if slack < wait_total else wait_total
        if shift > 0:
            d0 += shift
            end = _propagate(0, d0, tt, early, svc, times, tt_end)
    else:
        end = d0 + tt_end
    if end - d0 > max_dur:
        return False
    if not any_limit or not _ride_violated(times, pick_of, limit):
        return True
    limited = np.empty(n, np.bool_)
    for i in range(n):
        limited[i] = tb.node[seq[i], RIDE] < NO_LIMIT
    end = _delay_pickups(limited, times, tt, early, late, svc, pick_of, limit, tt_end, d0,
                         end, sh_l, max_dur)
    if _ride_violated(times, pick_of, limit) or _late_violated(times, late):
        return False
    return end <= sh_l and end - d0 <= max_dur


# --------------------------------------------------------------------------- insertion
@_jit
def _route_arrays(seq: IntArr, k: int, tb: Tables) -> tuple[IntArr, IntArr, IntArr, IntArr,
                                                             IntArr]:
    """Slot arrays of a route (slot ``s`` = before ``seq[s]``): previous and next
    location, earliest departure from the previous stop, latest begin at the next stop
    (windows and shift only) and the load on the arc."""
    m = seq.shape[0]
    veh = tb.veh[k]
    mat = tb.tt[veh[MAT]]
    prv = np.empty(m + 1, np.int64)
    nxt = np.empty(m + 1, np.int64)
    prv[0] = veh[START]
    for s in range(m):
        loc = tb.node[seq[s], LOC]
        nxt[s] = loc
        prv[s + 1] = loc
    nxt[m] = veh[END]
    e_dep = np.empty(m + 1, np.int64)
    d = veh[SH_E]
    e_dep[0] = d
    for s in range(m):
        row = tb.node[seq[s]]
        a = d + mat[prv[s], row[LOC]]
        b = a if a > row[EARLY] else row[EARLY]
        d = b + row[SVC]
        e_dep[s + 1] = d
    l_next = np.empty(m + 1, np.int64)
    l_next[m] = veh[SH_L]
    for s in range(m - 1, -1, -1):
        row = tb.node[seq[s]]
        room = l_next[s + 1] - mat[row[LOC], nxt[s + 1]] - row[SVC]
        l_next[s] = row[LATE] if row[LATE] < room else room
    dims = tb.cap.shape[1]
    load = np.zeros((m + 1, dims), np.int64)
    for s in range(m):
        for q in range(dims):
            load[0, q] += tb.start_load[seq[s], q]
    for s in range(m):
        for q in range(dims):
            load[s + 1, q] = load[s, q] + tb.delta[seq[s], q]
    return prv, nxt, e_dep, l_next, load


@_jit
def _fits(load_row: IntArr, add: IntArr, cap_row: IntArr) -> bool:
    for q in range(cap_row.shape[0]):
        if load_row[q] + add[q] > cap_row[q]:
            return False
    return True


@_jit
def _slot_screen(x: int, k: int, tb: Tables, ra: tuple[IntArr, IntArr, IntArr, IntArr, IntArr]
                 ) -> tuple[IntArr, IntArr, npt.NDArray[np.bool_]]:
    """Per slot: cost of putting node ``x`` there alone, its departure, window screen."""
    prv, nxt, e_dep, l_next, _ = ra
    veh = tb.veh[k]
    mat, cost = tb.tt[veh[MAT]], tb.cc[veh[MAT]]
    row = tb.node[x]
    lx = row[LOC]
    m1 = prv.shape[0]
    dcost = np.empty(m1, np.int64)
    dep = np.empty(m1, np.int64)
    ok = np.empty(m1, np.bool_)
    for s in range(m1):
        dcost[s] = cost[prv[s], lx] + cost[lx, nxt[s]] - cost[prv[s], nxt[s]]
        a = e_dep[s] + mat[prv[s], lx]
        b = a if a > row[EARLY] else row[EARLY]
        dep[s] = b + row[SVC]
        ok[s] = b <= row[LATE] and dep[s] + mat[lx, nxt[s]] <= l_next[s]
    return dcost, dep, ok


@_jit
def _new_seq(seq: IntArr, a: int, i: int, b: int, j: int) -> IntArr:
    """``seq`` with node ``a`` before index ``i`` and (if ``b >= 0``) ``b`` before ``j``."""
    m = seq.shape[0]
    out = np.empty(m + (2 if b >= 0 else 1), np.int64)
    w = 0
    for s in range(m + 1):
        if s == i:
            out[w] = a
            w += 1
        if b >= 0 and s == j:
            out[w] = b
            w += 1
        if s < m:
            out[w] = seq[s]
            w += 1
    return out


@_jit
def _pair_candidates(p: int, d: int, k: int, tb: Tables,
                     ra: tuple[IntArr, IntArr, IntArr, IntArr, IntArr]
                     ) -> tuple[IntArr, IntArr, IntArr]:
    """Screened (cost, i, j) of request (``p``, ``d``) in a route, unsorted."""
    prv, nxt, e_dep, l_next, load = ra
    veh = tb.veh[k]
    mat, cost = tb.tt[veh[MAT]], tb.cc[veh[MAT]]
    m1 = prv.shape[0]
    cost_p, dep_p, ok_p = _slot_screen(p, k, tb, ra)
    cost_d, _, ok_d = _slot_screen(d, k, tb, ra)
    cap_ok = np.empty(m1, np.bool_)
    for s in range(m1):
        cap_ok[s] = _fits(load[s], tb.delta[p], tb.cap[k])
    rp, rd = tb.node[p], tb.node[d]
    lp, ld, lim = rp[LOC], rd[LOC], rp[RIDE]
    n_max = m1 * (m1 + 1) // 2
    c_out = np.empty(n_max, np.int64)
    i_out = np.empty(n_max, np.int64)
    j_out = np.empty(n_max, np.int64)
    w = 0
    for i in range(m1):
        if not (ok_p[i] and cap_ok[i]):
            continue
        lat_p = min(rp[LATE], l_next[i] - mat[lp, nxt[i]] - rp[SVC]) + rp[SVC]
        # Same slot: pickup directly followed by its drop-off.
        beg_d = max(dep_p[i] + mat[lp, ld], rd[EARLY])
        if beg_d <= rd[LATE] and beg_d + rd[SVC] + mat[ld, nxt[i]] <= l_next[i]:
            c_out[w] = (cost[prv[i], lp] + cost[lp, ld] + cost[ld, nxt[i]]
                        - cost[prv[i], nxt[i]])
            i_out[w] = i
            j_out[w] = i
            w += 1
        for j in range(i + 1, m1):
            if not cap_ok[j]:
                break
            if not ok_d[j]:
                continue
            if lim < NO_LIMIT:
                beg_lb = max(e_dep[j] + mat[prv[j], ld], rd[EARLY])
                if beg_lb - lat_p > lim:
                    continue
            c_out[w] = cost_p[i] + cost_d[j]
            i_out[w] = i
            j_out[w] = j
            w += 1
    return c_out[:w], i_out[:w], j_out[:w]


@_jit
def _single_candidates(x: int, k: int, tb: Tables,
                       ra: tuple[IntArr, IntArr, IntArr, IntArr, IntArr]
                       ) -> tuple[IntArr, IntArr, IntArr]:
    """Screened (cost, i, i) of job node ``x`` in a route, unsorted."""
    load = ra[4]
    cost_x, _, ok = _slot_screen(x, k, tb, ra)
    m1 = ok.shape[0]
    delivery = False
    for q in range(tb.cap.shape[1]):
        if tb.start_load[x, q] != 0:
            delivery = True
    if delivery:
        # Its load rides on every arc from the start depot to the job.
        for s in range(m1):
            if not _fits(load[s], tb.start_load[x], tb.cap[k]):
                for r in range(s, m1):
                    ok[r] = False
                break
    else:
        # A pickup job's load rides on every arc from the job to the end.
        for s in range(m1 - 1, -1, -1):
            if not _fits(load[s], tb.delta[x], tb.cap[k]):
                for r in range(s + 1):
                    ok[r] = False
                break
    idx = np.nonzero(ok)[0]
    return cost_x[idx], idx.astype(np.int64), idx.astype(np.int64)


@_jit
def best_insertion(u: int, k: int, seq: IntArr, tb: Tables, max_tries: int
                   ) -> tuple[int, int, int]:
    """Cheapest feasible insertion of unit ``u`` in route ``k``: (cost delta, i, j).

    ``i`` and ``j`` are the slots of the pickup and drop-off (equal for a job and for a
    drop-off right after its pickup); cost -1 with i = -1 when none of the ``max_tries``
    cheapest screened positions schedules. The cost is the change of the route's cost,
    fixed cost included when the route was empty.
    """
    if not tb.allowed[k, tb.unit[u, 0]]:
        return -1, -1, -1
    return _evaluate(u, k, seq, tb, _route_arrays(seq, k, tb), max_tries)


@_jit
def _evaluate(u: int, k: int, seq: IntArr, tb: Tables,
              ra: tuple[IntArr, IntArr, IntArr, IntArr, IntArr], max_tries: int
              ) -> tuple[int, int, int]:
    """:func:`best_insertion` on precomputed slot arrays ``ra`` of the route."""
    a, b = tb.unit[u, 0], tb.unit[u, 1]
    if b >= 0:
        costs, ii, jj = _pair_candidates(a, b, k, tb, ra)
    else:
        costs, ii, jj = _single_candidates(a, k, tb, ra)
    base = 0
    if seq.shape[0] == 0:  # an empty route costs nothing, not even its depot arc
        veh = tb.veh[k]
        base = veh[FIXED] + tb.cc[veh[MAT], veh[START], veh[END]]
    n = costs.shape[0]
    used = np.zeros(n, np.bool_)
    order = np.empty(0, np.int64)
    for t in range(min(max_tries, n)):
        if t < SCAN_TRIES:
            # The first tries pick the cheapest by a scan (most succeed at once); the same
            # order as the stable sort used after them.
            o = -1
            for c in range(n):
                if not used[c] and (o < 0 or costs[c] < costs[o]):
                    o = c
            used[o] = True
        else:
            if t == SCAN_TRIES:
                order = np.argsort(costs, kind="mergesort")
            o = order[t]
        new = _new_seq(seq, a, ii[o], b, jj[o])
        if schedule_ok(new, k, tb):
            return costs[o] + base, ii[o], jj[o]
    return -1, -1, -1


@_jit
def _new_cache(width: int, n_k: int, dims: int
               ) -> tuple[IntArr, IntArr, IntArr, IntArr, IntArr, npt.NDArray[np.bool_]]:
    """Buffers of the slot arrays of every route, and which rows are up to date."""
    return (np.zeros((n_k, width), np.int64), np.zeros((n_k, width), np.int64),
            np.zeros((n_k, width), np.int64), np.zeros((n_k, width), np.int64),
            np.zeros((n_k, width, dims), np.int64), np.zeros(n_k, np.bool_))


@_jit
def _cached_arrays(seq: IntArr, k: int, tb: Tables,
                   cache: tuple[IntArr, IntArr, IntArr, IntArr, IntArr, npt.NDArray[np.bool_]]
                   ) -> tuple[IntArr, IntArr, IntArr, IntArr, IntArr]:
    """The slot arrays of route ``k``, recomputed only after the route changed."""
    prv, nxt, e_dep, l_next, load, valid = cache
    m1 = seq.shape[0] + 1
    if not valid[k]:
        a, b, c, d, e = _route_arrays(seq, k, tb)
        prv[k, :m1] = a
        nxt[k, :m1] = b
        e_dep[k, :m1] = c
        l_next[k, :m1] = d
        load[k, :m1] = e
        valid[k] = True
    return prv[k, :m1], nxt[k, :m1], e_dep[k, :m1], l_next[k, :m1], load[k, :m1]


@_jit
def _apply(routes: IntArr, lens: IntArr, k: int, u: int, i: int, j: int, tb: Tables) -> None:
    new = _new_seq(routes[k, :lens[k]], tb.unit[u, 0], i, tb.unit[u, 1], j)
    routes[k, :new.shape[0]] = new
    lens[k] = new.shape[0]


@_jit
def _candidate_routes(lens: IntArr, tb: Tables) -> IntArr:
    """Every used route plus the first empty vehicle of each signature."""
    n_k = lens.shape[0]
    seen = np.zeros(tb.sig.max() + 1 if n_k else 1, np.bool_)
    out = np.empty(n_k, np.int64)
    w = 0
    for k in range(n_k):
        if lens[k] > 0:
            out[w] = k
            w += 1
        elif not seen[tb.sig[k]]:
            seen[tb.sig[k]] = True
            out[w] = k
            w += 1
    return out[:w]


@_jit
def insert_units(routes: IntArr, lens: IntArr, units: IntArr, tb: Tables,
                 regret: bool, noise: float, max_tries: int) -> IntArr:
    """Insert ``units`` (in place) by regret-2 or greedy insertion; return those left.

    Each round inserts the unit with the largest regret (second-best minus best cost,
    the penalty standing in for a missing second option) or, greedy, the cheapest; costs
    are multiplied by ``1 + noise * U(0, 1)`` when ``noise`` > 0. Insertions are cached
    per (unit, route) and recomputed only for the route that changed.
    """
    n_u = units.shape[0]
    n_k = lens.shape[0]
    c_cost = np.zeros((n_u, n_k), np.int64)
    c_i = np.full((n_u, n_k), -2, np.int64)  # -2: not computed, -1: infeasible
    c_j = np.zeros((n_u, n_k), np.int64)
    pending = np.ones(n_u, np.bool_)
    left = n_u
    cache = _new_cache(routes.shape[1] + 3, n_k, tb.cap.shape[1])
    while left > 0:
        cands = _candidate_routes(lens, tb)
        best_u, best_k = -1, -1
        best_score = -np.inf
        for x in range(n_u):
            if not pending[x]:
                continue
            u = units[x]
            v1 = np.inf
            v2 = np.inf
            k1 = -1
            for k in cands:
                if c_i[x, k] == -2:
                    if tb.allowed[k, tb.unit[u, 0]]:
                        seq = routes[k, :lens[k]]
                        c, i, j = _evaluate(u, k, seq, tb, _cached_arrays(seq, k, tb, cache),
                                          max_tries)
                    else:
                        c, i, j = -1, -1, -1
                    c_cost[x, k], c_i[x, k], c_j[x, k] = c, i, j
                if c_i[x, k] < 0:
                    continue
                val = float(c_cost[x, k])
                if noise > 0.0:
                    val *= 1.0 + noise * np.random.random()
                if val < v1:
                    v2 = v1
                    v1 = val
                    k1 = k
                elif val < v2:
                    v2 = val
            if k1 < 0:
                continue
            second = v2 if v2 < np.inf else float(tb.penalty[u])
            score = second - v1 if regret else -v1
            if score > best_score:
                best_score, best_u, best_k = score, x, k1
        if best_u < 0:
            break
        _apply(routes, lens, best_k, units[best_u], c_i[best_u, best_k], c_j[best_u, best_k],
               tb)
        pending[best_u] = False
        left -= 1
        c_i[:, best_k] = -2
        cache[5][best_k] = False
    return units[pending]


@_jit
def insert_sequential(routes: IntArr, lens: IntArr, units: IntArr, tb: Tables,
                      max_tries: int) -> IntArr:
    """Insert ``units`` one by one, in the given order, each at its cheapest feasible
    position over all routes; return those that fit nowhere."""
    left = np.ones(units.shape[0], np.bool_)
    for x in range(units.shape[0]):
        u = units[x]
        best_c, best_k, best_i, best_j = -1, -1, -1, -1
        for k in _candidate_routes(lens, tb):
            c, i, j = best_insertion(u, k, routes[k, :lens[k]], tb, max_tries)
            if i >= 0 and (best_k < 0 or c < best_c):
                best_c, best_k, best_i, best_j = c, k, i, j
        if best_k >= 0:
            _apply(routes, lens, best_k, u, best_i, best_j, tb)
            left[x] = False
    return units[left]


@_jit
def seed_rng(seed: int) -> None:
    """Seed numba's own random generator (used for insertion noise)."""
    np.random.seed(seed)


_READY: list[bool] = []


def warm_up() -> None:
    """Compile every kernel (or load it from the on-disk cache), once per process.

    All tables have the same numba types whatever the problem, so a tiny dummy problem
    compiles them for every later call; :func:`routing.solve.solve` calls this before
    its clock starts.
    """
    if _READY:
        return
    one = np.zeros((1, 1), np.int64)
    tb = Tables(node=np.array([[0, 0, 10, 0, NO_LIMIT, -1, 0]], np.int64),
                veh=np.array([[0, 0, 0, 0, 100, NO_LIMIT, 0]], np.int64),
                tt=np.zeros((1, 1, 1), np.int64), cc=np.zeros((1, 1, 1), np.int64),
                delta=one, start_load=one, cap=np.ones((1, 1), np.int64),
                allowed=np.ones((1, 1), np.bool_), unit=np.array([[0, -1]], np.int64),
                penalty=np.ones(1, np.int64), sig=np.zeros(1, np.int64))
    routes = np.zeros((1, 2), np.int64)
    lens = np.zeros(1, np.int64)
    units = np.zeros(1, np.int64)
    insert_units(routes, lens, units, tb, True, 0.1, 4)
    lens[0] = 0
    insert_sequential(routes, lens, units, tb, 4)
    removal_savings(routes, lens, tb)
    schedule_ok(routes[0, :1], 0, tb)
    out = np.zeros(1, np.bool_)
    st = SearchState(routes, lens, out, routes.copy(), lens.copy(), out.copy(),
                     np.zeros(3, np.int64), np.ones(4, np.float64))
    plan_cost(routes, lens, out, tb)
    lns_chunk(st, tb, 4, 1.0, 2, 4)
    _READY.append(True)


@_jit
def removal_savings(routes: IntArr, lens: IntArr, tb: Tables) -> IntArr:
    """Per unit: the route cost saved by taking it out of its route (-1 if unrouted)."""
    out = np.full(tb.unit.shape[0], -1, np.int64)
    for k in range(lens.shape[0]):
        m = lens[k]
        if m == 0:
            continue
        veh = tb.veh[k]
        cost = tb.cc[veh[MAT]]
        seq = routes[k, :m]
        full = _arc_cost(seq, -1, veh, cost, tb)
        for s in range(m):
            u = tb.node[seq[s], UNIT]
            if out[u] < 0:
                if _only_unit(seq, u, tb):  # an emptied route costs nothing
                    out[u] = full + veh[FIXED]
                else:
                    out[u] = full - _arc_cost(seq, u, veh, cost, tb)
    return out


@_jit
def _arc_cost(seq: IntArr, skip: int, veh: IntArr, cost: IntArr, tb: Tables) -> int:
    """Arc cost of ``seq`` leaving out the nodes of unit ``skip`` (-1: none)."""
    total = 0
    prev = veh[START]
    for s in range(seq.shape[0]):
        if tb.node[seq[s], UNIT] == skip:
            continue
        loc = tb.node[seq[s], LOC]
        total += cost[prev, loc]
        prev = loc
    return total + cost[prev, veh[END]]


@_jit
def _only_unit(seq: IntArr, u: int, tb: Tables) -> bool:
    for s in range(seq.shape[0]):
        if tb.node[seq[s], UNIT] != u:
            return False
    return True


# --------------------------------------------------------------------------- search
@_jit
def accept(delta: float, temp: float, u: float) -> bool:
    """Return whether simulated annealing accepts a plan ``delta`` costlier than the
    current one at temperature ``temp``, given a uniform draw ``u`` in [0, 1).

    The acceptance rule of both LNS loops: :func:`lns_chunk` calls it compiled, the
    Python loop of :meth:`routing.construct.Lns.run` through numba's dispatcher. A better
    plan (``delta < 0``) is always accepted and needs no draw (callers pass 0.0); an
    equal one is accepted whenever ``temp > 0``.
    """
    return delta < 0 or (temp > 0 and u < np.exp(-delta / temp))


class SearchState(NamedTuple):
    """Current and best plans of :func:`lns_chunk` (routes, lengths, unit left out)."""

    cur_routes: IntArr
    cur_lens: IntArr
    cur_out: npt.NDArray[np.bool_]
    best_routes: IntArr
    best_lens: IntArr
    best_out: npt.NDArray[np.bool_]
    #: current cost, best cost, improvements of the best so far
    counters: IntArr
    #: operator weights: random, related, worst, route removal
    weights: npt.NDArray[np.float64]


@_jit
def plan_cost(routes: IntArr, lens: IntArr, out: npt.NDArray[np.bool_], tb: Tables) -> int:
    """Arc and fixed costs of the used routes plus the penalties of the units left out."""
    total = 0
    for k in range(lens.shape[0]):
        if lens[k] > 0:
            veh = tb.veh[k]
            total += veh[FIXED] + _arc_cost(routes[k, :lens[k]], -1, veh, tb.cc[veh[MAT]],
                                            tb)
    for u in range(out.shape[0]):
        if out[u]:
            total += tb.penalty[u]
    return total


@_jit
def _routed_units(routes: IntArr, lens: IntArr, tb: Tables) -> IntArr:
    out = np.empty(tb.unit.shape[0], np.int64)
    w = 0
    for k in range(lens.shape[0]):
        for s in range(lens[k]):
            x = routes[k, s]
            u = tb.node[x, UNIT]
            if tb.unit[u, 0] == x:
                out[w] = u
                w += 1
    return out[:w]


@_jit
def _strip(routes: IntArr, lens: IntArr, gone: npt.NDArray[np.bool_], tb: Tables) -> None:
    for k in range(lens.shape[0]):
        w = 0
        for s in range(lens[k]):
            x = routes[k, s]
            if not gone[tb.node[x, UNIT]]:
                routes[k, w] = x
                w += 1
        lens[k] = w


@_jit
def _draw_biased(order: IntArr, q: int, power: float) -> IntArr:
    """Draw ``q`` items of ``order``, favouring the front (index = n * U^power)."""
    pool = order.copy()
    n = pool.shape[0]
    q = min(q, n)
    out = np.empty(q, np.int64)
    for t in range(q):
        i = int(n * np.random.random() ** power)
        out[t] = pool[i]
        pool[i:n - 1] = pool[i + 1:n]
        n -= 1
    return out


@_jit
def _relatedness(a: int, units: IntArr, tb: Tables) -> npt.NDArray[np.float64]:
    """Distance in space (pickups and drop-offs) plus half the distance in time."""
    c = tb.cc[tb.veh[0, MAT]]
    fa = tb.unit[a, 0]
    la = tb.unit[a, 1] if tb.unit[a, 1] >= 0 else fa
    out = np.empty(units.shape[0], np.float64)
    for t in range(units.shape[0]):
        b = units[t]
        fb = tb.unit[b, 0]
        lb = tb.unit[b, 1] if tb.unit[b, 1] >= 0 else fb
        space = c[tb.node[fa, LOC], tb.node[fb, LOC]] + c[tb.node[la, LOC], tb.node[lb, LOC]]
        tm = (abs(tb.node[fa, EARLY] - tb.node[fb, EARLY])
              + abs(tb.node[la, LATE] - tb.node[lb, LATE]))
        out[t] = float(space) + 0.5 * float(min(tm, NO_LIMIT))
    return out


@_jit
def _remove(op: int, routes: IntArr, lens: IntArr, q: int, tb: Tables) -> IntArr:
    """Ruin: remove ``q`` units by operator ``op`` (random, related, worst, route)."""
    routed = _routed_units(routes, lens, tb)
    if routed.shape[0] == 0:
        return routed
    if op == 0:
        chosen = _draw_biased(np.random.permutation(routed), q, 1.0)
    elif op == 1:
        seed = routed[np.random.randint(routed.shape[0])]
        rel = _relatedness(seed, routed, tb)
        chosen = _draw_biased(routed[np.argsort(rel, kind="mergesort")], q, 4.0)
    elif op == 2:
        sav = removal_savings(routes, lens, tb)
        chosen = _draw_biased(routed[np.argsort(-sav[routed], kind="mergesort")], q, 3.0)
    else:
        used = np.nonzero(lens > 0)[0]
        k = used[np.random.randint(used.shape[0])]
        if np.random.random() < 0.5:
            k = used[np.argmin(lens[used])]
        mine = np.zeros(tb.unit.shape[0], np.bool_)
        for s in range(lens[k]):
            mine[tb.node[routes[k, s], UNIT]] = True
        chosen = np.nonzero(mine)[0].astype(np.int64)
    gone = np.zeros(tb.unit.shape[0], np.bool_)
    gone[chosen] = True
    _strip(routes, lens, gone, tb)
    return chosen


@_jit
def lns_chunk(st: SearchState, tb: Tables, n_iter: int, temp: float, q_max: int,
              max_tries: int) -> int:
    """Run ``n_iter`` ruin-and-recreate iterations at temperature ``temp`` (in place on
    ``st``); return the number of improvements of the best plan.

    Each iteration removes between 2 and ``q_max`` units with an operator drawn by
    ``st.weights``, reinserts them (and those left out) by regret-2 or greedy insertion
    (random noise on the costs 30 % of the time) and accepts the result by simulated
    annealing.
    """
    n_units = tb.unit.shape[0]
    all_units = np.arange(n_units)
    cum = np.cumsum(st.weights)
    improvements = 0
    for _ in range(n_iter):
        routes = st.cur_routes.copy()
        lens = st.cur_lens.copy()
        q = np.random.randint(min(2, q_max), q_max + 1)
        op = int(np.searchsorted(cum, np.random.random() * cum[-1], side="right"))
        removed = _remove(min(op, 3), routes, lens, q, tb)
        todo_mask = st.cur_out.copy()
        todo_mask[removed] = True
        todo = np.random.permutation(all_units[todo_mask])
        regret = np.random.random() < 0.5
        noise = 0.05 if np.random.random() < 0.3 else 0.0
        left = insert_units(routes, lens, todo, tb, regret, noise, max_tries)
        out = np.zeros(n_units, np.bool_)
        out[left] = True
        cost = plan_cost(routes, lens, out, tb)
        delta = float(cost - st.counters[0])
        # Improvements draw no random number, in both loops.
        if accept(delta, temp, np.random.random() if delta >= 0 else 0.0):
            st.cur_routes[:] = routes
            st.cur_lens[:] = lens
            st.cur_out[:] = out
            st.counters[0] = cost
            if cost < st.counters[1]:
                st.best_routes[:] = routes
                st.best_lens[:] = lens
                st.best_out[:] = out
                st.counters[1] = cost
                st.counters[2] += 1
                improvements += 1
    return improvements


# --------------------------------------------------------------------------- live plans
@_jit
def live_insertion_rows(  # noqa: PLR0913, C901
    rows: IntArr, offsets: IntArr, plan_tab: IntArr, cap: IntArr, onboard: IntArr,
    pool_tab: IntArr, pool_delta: IntArr, cand_off: int, extra_cost: IntArr,
    durations: IntArr, distances: IntArr, open_: int,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.bool_], IntArr,
           IntArr, IntArr]:
    """Drive every insertion row of :func:`routing.insertion._evaluate` at the earliest
    schedule: the same arithmetic as its vectorized loop, one row at a time.

    ``rows``: per row plan, candidate, i, j. ``plan_tab``: per plan origin, origin time,
    end (-1 open), shift end, distance cost, duration cost, current cost, number of
    stops. ``offsets``: first pool row of each plan's stops. ``pool_tab``: per stop
    location (-1 stay), earliest, latest, service, ride limit (``open_`` none), ride
    start (-1 none), local index of its pickup (-1 none, -2 the candidate's own);
    ``pool_delta``: its load change. Candidate ``c``'s pickup and drop-off are pool rows
    ``cand_off + 2c`` and ``+ 1``.

    Returns ``ok`` (windows, capacity, deadlines of riders on board, shift end),
    ``ride_ok`` (rides that start in the plan keep their limits), ``fixable`` (no ride
    too long by more than the waiting between its pickup and drop-off), cost, pickup
    and drop-off start. A row stops as soon as it can be neither accepted nor fixed by
    a delay: it is then reported not ``ok`` and its other values are meaningless.
    """
    r = rows.shape[0]
    n_dim = cap.shape[1]
    ok = np.ones(r, np.bool_)
    ride_ok = np.ones(r, np.bool_)
    fixable = np.ones(r, np.bool_)
    cost = np.zeros(r, np.int64)
    p_start = np.zeros(r, np.int64)
    d_start = np.zeros(r, np.int64)
    width = 2
    for k in range(plan_tab.shape[0]):
        if plan_tab[k, 7] + 2 > width:
            width = plan_tab[k, 7] + 2
    deps = np.zeros(width, np.int64)
    cum_waits = np.zeros(width, np.int64)
    load = np.zeros(n_dim, np.int64)
    for q in range(r):
        k, c, i, j = rows[q, 0], rows[q, 1], rows[q, 2], rows[q, 3]
        m = plan_tab[k, 7]
        off = offsets[k]
        cur, time, origin_s = plan_tab[k, 0], plan_tab[k, 1], plan_tab[k, 1]
        for d in range(n_dim):
            load[d] = onboard[k, d]
        dist = 0
        waits = 0
        alive = True
        for t in range(m + 2):
            if t == i:
                sid = cand_off + 2 * c
            elif t == j + 1:
                sid = cand_off + 2 * c + 1
            elif t < i:
                sid = off + t
            elif t <= j:
                sid = off + t - 1
            else:
                sid = off + t - 2
            loc = pool_tab[sid, 0]
            nxt = cur if loc < 0 else loc
            dur = durations[cur, nxt]
            arrive = time + (dur if dur < open_ else open_)
            start = arrive if arrive > pool_tab[sid, 1] else pool_tab[sid, 1]
            waits += start - arrive
            if start > pool_tab[sid, 2]:
                alive = False
            for d in range(n_dim):
                load[d] += pool_delta[sid, d]
                if load[d] > cap[k, d]:
                    alive = False
            lim = pool_tab[sid, 4]
            if alive and lim < open_:
                pl = pool_tab[sid, 6]
                if pl == -2:
                    ppos = i
                elif pl < i:
                    ppos = pl
                elif pl < j:
                    ppos = pl + 1
                else:
                    ppos = pl + 2
                ppos = min(max(ppos, 0), width - 1)
                pdep = pool_tab[sid, 5] if pl == -1 else deps[ppos]
                over = start - pdep - lim
                fine = pdep < 0 or over <= 0
                if pl == -1:
                    if not fine:
                        alive = False
                elif not fine:
                    ride_ok[q] = False
                    if over > waits - cum_waits[ppos]:
                        fixable[q] = False
                        alive = False
            if not alive:
                break
            dep = start + pool_tab[sid, 3]
            deps[t] = dep
            cum_waits[t] = waits
            if t == i:
                p_start[q] = start
            elif t == j + 1:
                d_start[q] = start
            dist += distances[cur, nxt]
            cur, time = nxt, dep
        if not alive:
            ok[q] = False
            continue
        end = plan_tab[k, 2]
        end_loc = end if end >= 0 else cur
        dur = durations[cur, end_loc]
        end_s = time + (dur if dur < open_ else open_)
        dist += distances[cur, end_loc]
        if end_s > plan_tab[k, 3]:
            ok[q] = False
            continue
        cost[q] = (plan_tab[k, 4] * dist + plan_tab[k, 5] * (end_s - origin_s)
                   - plan_tab[k, 6] + extra_cost[c])
    return ok, ride_ok, fixable, cost, p_start, d_start


@_jit
def live_times(  # noqa: PLR0913
    travel: IntArr, early: IntArr, late: IntArr, svc: IntArr, plim: IntArr, pick_of: IntArr,
    limit: IntArr, tt_end: int, start_s: int, latest_end: int, inf: int, unreachable: int,
) -> tuple[bool, IntArr]:
    """The live engine's timing rule, compiled: :func:`routing.schedule.time_stops` with
    ``hold=False, full=False`` and no maximum duration, on the arrays of a
    :class:`routing.schedule.Stops` (``inf`` is its "no limit").

    Returns whether a schedule was found and the arrival, begin and departure per stop
    (rows 0-2); property-tested to agree with the Python procedure.
    """
    n = travel.shape[0]
    times = np.empty((3, n), np.int64)
    end = _propagate(0, start_s, travel, early, svc, times, tt_end)
    if end > latest_end or _late_violated(times, late) or end > unreachable:
        return False, times
    d0 = start_s
    if n:
        # rider-first: leave later only by the wait at the first stop (moves no service)
        slack = _forward_slack(-1, times, late, pick_of, limit, end, latest_end - end)
        first_wait = times[1, 0] - times[0, 0]
        shift = slack if slack < first_wait else first_wait
        if shift > 0:
            d0 += shift
            end = _propagate(0, d0, travel, early, svc, times, tt_end)
    if not _ride_violated(times, pick_of, limit):
        return True, times
    end = _delay_pickups(plim < inf, times, travel, early, late, svc, pick_of, limit, tt_end,
                         d0, end, latest_end, inf)
    if _ride_violated(times, pick_of, limit) or _late_violated(times, late):
        return False, times
    return end <= latest_end, times


@_jit
def _delay_fits(g: int, leave: int, at: int, loc_at: IntArr, arr_at: IntArr, slack: IntArr,
                durations: IntArr, open_: int) -> bool:
    """Whether leaving ``at`` at ``leave`` still reaches the stop at ``g`` within its slack."""
    nxt = loc_at[g]
    if nxt < 0:
        return True
    dur = durations[at, nxt]
    return leave + (dur if dur < open_ else open_) - arr_at[g] <= slack[g]


@_jit
def live_insertion_pairs(
    pos_tab: IntArr, load_before: IntArr, cap: IntArr, cand_tab: IntArr, cand_delta: IntArr,
    allowed: npt.NDArray[np.bool_], durations: IntArr, open_: int,
) -> IntArr:
    """The insertion rows of :func:`routing.insertion._search` that pass its necessary
    conditions: per row plan, candidate, i, j (local positions), candidates in order,
    then ``i``, then ``j``.

    ``pos_tab``: per global position of the concatenated active plans, its plan, first
    and last position of the plan, locked (1/0), departure and location before it,
    arrival at and location of its stop (-1 stay) and that stop's forward slack;
    ``load_before``/``cap``: the load before it and the plan's capacity. ``cand_tab``:
    per candidate pickup location, earliest, latest, service, then the same of the
    drop-off; ``cand_delta``: its load; ``allowed``: candidate may go into plan.
    """
    n_pos = pos_tab.shape[0]
    n_dim = cap.shape[1]
    out = np.empty((max(64, 4 * n_pos), 4), np.int64)
    n_out = 0
    ok_j = np.zeros(n_pos, np.bool_)
    fits = np.zeros(n_pos, np.bool_)
    for c in range(cand_tab.shape[0]):
        pl, pe, plat, ps = cand_tab[c, 0], cand_tab[c, 1], cand_tab[c, 2], cand_tab[c, 3]
        dl, de, dlat, dsv = cand_tab[c, 4], cand_tab[c, 5], cand_tab[c, 6], cand_tab[c, 7]
        direct_pd = durations[pl, dl]
        if direct_pd > open_:
            direct_pd = open_
        for g in range(n_pos):
            f = True
            for d in range(n_dim):
                if load_before[g, d] + cand_delta[c, d] > cap[g, d]:
                    f = False
            fits[g] = f
            dur = durations[pos_tab[g, 5], dl]
            start_d = pos_tab[g, 4] + (dur if dur < open_ else open_)
            start_d = start_d if start_d > de else de
            ok_j[g] = start_d <= dlat and _delay_fits(g, start_d + dsv, dl, pos_tab[:, 6],
                                                      pos_tab[:, 7], pos_tab[:, 8],
                                                      durations, open_)
        for g in range(n_pos):
            k = pos_tab[g, 0]
            if not fits[g] or pos_tab[g, 3] or not allowed[c, k]:
                continue
            dur = durations[pos_tab[g, 5], pl]
            start_p = pos_tab[g, 4] + (dur if dur < open_ else open_)
            start_p = start_p if start_p > pe else pe
            if start_p > plat or not _delay_fits(g, start_p + ps, pl, pos_tab[:, 6],
                                                 pos_tab[:, 7], pos_tab[:, 8], durations,
                                                 open_):
                continue
            direct = start_p + ps + direct_pd
            direct = direct if direct > de else de
            ok_direct = direct <= dlat and _delay_fits(g, direct + dsv, dl, pos_tab[:, 6],
                                                       pos_tab[:, 7], pos_tab[:, 8],
                                                       durations, open_)
            first, last = pos_tab[g, 1], pos_tab[g, 2]
            jj = g
            while jj <= last and fits[jj]:  # the load fits on every stop in between
                if ok_direct if jj == g else ok_j[jj]:
                    if n_out == out.shape[0]:
                        bigger = np.empty((2 * n_out, 4), np.int64)
                        bigger[:n_out] = out
                        out = bigger
                    out[n_out, 0] = k
                    out[n_out, 1] = c
                    out[n_out, 2] = g - first
                    out[n_out, 3] = jj - first
                    n_out += 1
                jj += 1
    return out[:n_out]


_LIVE_READY: list[bool] = []


def warm_up_live() -> None:
    """Compile the live engine's kernels (or load them from the on-disk cache), once per
    process, so that a service's first booking is not slowed by it."""
    if _LIVE_READY:
        return
    z = np.zeros(1, np.int64)
    one = np.zeros((1, 1), np.int64)
    mat = one.copy()
    mat.flags.writeable = False  # the engine's travel tables are read-only
    live_times(z, z, z + 10, z, z + NO_LIMIT, z - 1, z + NO_LIMIT, 0, 0, 100, NO_LIMIT,
               NO_LIMIT)
    pos = np.zeros((1, 9), np.int64)
    pos[0, 6] = -1
    cand = np.array([[0, 0, 10, 0, 0, 0, 10, 0]], np.int64)
    rows = live_insertion_pairs(pos, one, one + 1, cand, one, np.ones((1, 1), np.bool_),
                                mat, NO_LIMIT)
    pool = np.array([[0, 0, 10, 0, NO_LIMIT, -1, -1]] * 2, np.int64)
    live_insertion_rows(rows, z, np.array([[0, 0, -1, 100, 1, 1, 0, 0]], np.int64),
                        one + 1, one, pool, np.zeros((2, 1), np.int64), 0, z, mat, mat,
                        NO_LIMIT)
    _LIVE_READY.append(True)
