"""Visit times for a fixed visit sequence: forward propagation plus Cordeau's slack step.

Any engine (OR-Tools, PyVRP, the insertion/LNS heuristic) decides *which* stops a vehicle
visits in *which order*; this module decides *when*. It follows the eight-step scheduling
procedure of Cordeau & Laporte (2003, Transportation Research B 37): propagate the
earliest times forward, delay the departure from the depot by the forward time slack (so
the route duration is minimal), then delay each pickup by its own forward time slack so
the ride times of the passengers shrink without breaking any window.

The live engine times its plans with the same procedure in its *rider-first* mode
(``hold=False, full=False``): the vehicle leaves just in time for its first stop, so no
service starts later than at the earliest schedule, and a pickup is delayed only while a
ride would otherwise exceed its limit. The two modes give the same verdict on every
sequence (property-tested in ``tests/dispatch/test_insertion.py``); they differ in the
times: the solver's mode pushes services later within their windows to shorten the
route, which in live service would make riders wait longer.

Stops are numbered as *nodes* of a :class:`CompiledProblem`: request ``r`` has pickup node
``2r`` and drop-off node ``2r + 1``, job ``j`` has node ``2R + j`` (``R`` requests), and
break ``b`` of the vehicle is node ``-(b + 1)``. The procedure itself runs on flat lists
(:class:`Stops`, :func:`time_stops`), so any representation of a visit sequence can be
timed by the same rule; :func:`schedule_times` is its adapter for node sequences, and
:func:`routing.kernels.schedule_ok` its compiled twin (property-tested to agree).

Notes
-----
Cordeau's procedure is a heuristic for the ride-time constraints: it can (rarely) report
infeasible a sequence that has a feasible schedule. It never reports feasible a schedule
that violates a constraint: every time it returns satisfies windows, ride times, shift and
duration. One call costs O(n) when no ride time binds and O(n²) otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from routing.model import UNREACHABLE, JobKind, Problem, StopKind
from routing.solution import Route, Visit

#: Stand-in for "no limit" in the integer arithmetic below.
INF = 1 << 62


@dataclass(slots=True)
class CompiledProblem:
    """Flat Python lists of a :class:`Problem`, for fast repeated scheduling.

    Built once per solve by :func:`compile_problem`; read-only afterwards.
    """

    problem: Problem
    n_requests: int
    n_nodes: int
    loc: list[int]
    early: list[int]
    late: list[int]
    service: list[int]
    #: Load change per node and dimension (pickup +q, drop-off -q, jobs see ``start_load``).
    delta: list[tuple[int, ...]]
    #: Pickup node -> its drop-off node, drop-off -> pickup, job -> -1.
    partner: list[int]
    #: Ride limit of the request of a pickup node (``INF`` when unlimited).
    ride_limit: list[int]
    #: Load a job of kind delivery puts on board at the start depot.
    start_load: list[tuple[int, ...]]
    travel: list[list[list[int]]]
    cost: list[list[list[int]]]
    capacity: list[tuple[int, ...]]
    #: Per vehicle: the node may be served by it.
    allowed: list[list[bool]]


def node_of_request(r: int, pickup: bool) -> int:
    """Return the node of request ``r``'s pickup (or drop-off)."""
    return 2 * r if pickup else 2 * r + 1


def compile_problem(problem: Problem) -> CompiledProblem:
    """Flatten ``problem`` into lists; shares matrices between identical vehicle types."""
    nr, nj = len(problem.requests), len(problem.jobs)
    d = len(problem.dimensions)
    zero = (0,) * d
    loc, early, late, service, delta, partner, ride, start_load = ([] for _ in range(8))
    for r, req in enumerate(problem.requests):
        w = req.effective_pickup_window
        lim = problem.ride_limit(r)
        neg = tuple(-q for q in req.load)
        loc += [req.pickup, req.dropoff]
        early += [w.earliest, req.dropoff_window.earliest]
        late += [w.latest, req.dropoff_window.latest]
        service += [req.pickup_service_s, req.dropoff_service_s]
        delta += [tuple(req.load), neg]
        partner += [2 * r + 1, 2 * r]
        ride += [INF if lim is None else lim, INF]
        start_load += [zero, zero]
    for job in problem.jobs:
        loc.append(job.location)
        early.append(job.window.earliest)
        late.append(job.window.latest)
        service.append(job.service_s)
        if job.kind is JobKind.DELIVERY:
            delta.append(tuple(-q for q in job.load))
            start_load.append(tuple(job.load))
        else:
            delta.append(tuple(job.load))
            start_load.append(zero)
        partner.append(-1)
        ride.append(INF)
    travel, cost = _vehicle_matrices(problem)
    n_nodes = 2 * nr + nj
    allowed = [_allowed_nodes(problem, k, n_nodes) for k in range(len(problem.vehicles))]
    return CompiledProblem(
        problem=problem, n_requests=nr, n_nodes=n_nodes, loc=loc, early=early, late=late,
        service=service, delta=delta, partner=partner, ride_limit=ride, start_load=start_load,
        travel=travel, cost=cost,
        capacity=[tuple(problem.vehicle_type(k).capacity) for k in range(len(problem.vehicles))],
        allowed=allowed,
    )


def _vehicle_matrices(problem: Problem) -> tuple[list[list[list[int]]], list[list[list[int]]]]:
    travel_cache: dict[tuple[str, float], list[list[int]]] = {}
    cost_cache: dict[tuple[str, float, int, int], list[list[int]]] = {}
    travel, cost = [], []
    for k, v in enumerate(problem.vehicles):
        t = problem.vehicle_types[v.type]
        key = (str(t.profile), t.speed_factor)
        if key not in travel_cache:
            travel_cache[key] = problem.travel_matrix(k).tolist()
        ckey = (*key, t.distance_cost, t.duration_cost)
        if ckey not in cost_cache:
            dist = problem.distances[str(t.profile)]
            mat = dist * t.distance_cost
            if t.duration_cost:
                mat = mat + problem.travel_matrix(k) * t.duration_cost
            cost_cache[ckey] = mat.tolist()
        travel.append(travel_cache[key])
        cost.append(cost_cache[ckey])
    return travel, cost


def _allowed_nodes(problem: Problem, k: int, n_nodes: int) -> list[bool]:
    vt = problem.vehicles[k].type
    out: list[bool] = []
    for req in problem.requests:
        ok = problem.can_carry(vt, req.load, req.skills) and (
            req.allowed_vehicles is None or k in req.allowed_vehicles)
        out += [ok, ok]
    for job in problem.jobs:
        out.append(problem.can_carry(vt, job.load, job.skills) and (
            job.allowed_vehicles is None or k in job.allowed_vehicles))
    assert len(out) == n_nodes
    return out


@dataclass(slots=True)
class Times:
    """Times of one scheduled sequence (lists aligned with the sequence)."""

    depart: int
    end: int
    arrival: list[int]
    begin: list[int]
    leave: list[int]


@dataclass(slots=True)
class Stops:
    """A visit sequence as flat lists: everything :func:`time_stops` needs to time it.

    Built from a node sequence of a :class:`CompiledProblem` by :func:`stops_of`, or by
    any caller with its own representation of stops (lists aligned with the sequence).

    Parameters
    ----------
    travel
        Travel time into each stop from the previous one (the first from the start).
        A stop served where the vehicle is (a break) has travel 0 and repeats the
        previous location.
    early, late
        Window on the start of service.
    service
        Service duration.
    pickup_limit
        At a pickup whose ride is limited: that limit; ``INF`` elsewhere. Only these
        stops are delayed by Cordeau's step 7.
    pick_of, limit
        At a drop-off whose pickup is earlier in the sequence: the index of that pickup
        and the ride limit (``-1`` and ``INF`` elsewhere).
    travel_end
        From the last stop (or the start, when empty) to the end depot; 0 for an open
        route, which ends at its last departure.
    """

    travel: list[int]
    early: list[int]
    late: list[int]
    service: list[int]
    pickup_limit: list[int]
    pick_of: list[int]
    limit: list[int]
    travel_end: int


class _Route:
    """Scratch arrays of one sequence being scheduled."""

    __slots__ = ("arr", "beg", "dep", "early", "late", "pairs", "plim", "svc", "tt", "tt_end")

    def __init__(self, stops: Stops) -> None:
        self.tt, self.early, self.late = stops.travel, stops.early, stops.late
        self.svc, self.plim, self.tt_end = stops.service, stops.pickup_limit, stops.travel_end
        self.pairs = (stops.pick_of, stops.limit)
        n = len(stops.travel)
        self.arr = [0] * n
        self.beg = [0] * n
        self.dep = [0] * n

    def propagate(self, first: int, t: int) -> int:
        """Set times from sequence index ``first`` on, leaving the previous stop at ``t``."""
        tt, early, svc, arr, beg, dep = self.tt, self.early, self.svc, self.arr, self.beg, self.dep
        for i in range(first, len(tt)):
            a = t + tt[i]
            arr[i] = a
            e = early[i]
            b = a if a > e else e
            beg[i] = b
            t = b + svc[i]
            dep[i] = t
        return t + self.tt_end


def stops_of(cp: CompiledProblem, vehicle: int, seq: Sequence[int]) -> Stops:
    """Return the flat :class:`Stops` of node sequence ``seq`` on ``vehicle``."""
    v = cp.problem.vehicles[vehicle]
    mat = cp.travel[vehicle]
    breaks = v.breaks
    ride, partner = cp.ride_limit, cp.partner
    n = len(seq)
    travel: list[int] = []
    early: list[int] = []
    late: list[int] = []
    svc: list[int] = []
    plim: list[int] = []
    pick_of = [-1] * n
    limit = [INF] * n
    pos: dict[int, int] = {}
    prev = v.start
    for i, x in enumerate(seq):
        if x >= 0:
            loc = cp.loc[x]
            travel.append(mat[prev][loc])
            prev = loc
            early.append(cp.early[x])
            late.append(cp.late[x])
            svc.append(cp.service[x])
            lim = ride[x]
            plim.append(lim)
            if lim < INF:
                pos[partner[x]] = i
            elif x in pos:
                pick_of[i] = pos[x]
                limit[i] = ride[partner[x]]
        else:
            b = breaks[-x - 1]
            travel.append(mat[prev][prev])
            early.append(b.window.earliest)
            late.append(b.window.latest)
            svc.append(b.duration_s)
            plim.append(INF)
    tt_end = 0 if v.end is None else mat[prev][v.end]
    return Stops(travel=travel, early=early, late=late, service=svc, pickup_limit=plim,
                 pick_of=pick_of, limit=limit, travel_end=tt_end)


def schedule_times(
    cp: CompiledProblem, vehicle: int, seq: Sequence[int], *, full: bool = True
) -> Times | None:
    """Return the times of ``seq`` on ``vehicle``, or ``None`` when no schedule was found.

    Parameters
    ----------
    cp
        The compiled problem.
    vehicle
        Vehicle index.
    seq
        Node sequence (see the module docstring); breaks appear as negative nodes.

    full
        Run Cordeau's step 7 over every pickup (ride times minimised). With ``False``
        it stops as soon as no ride limit is violated: the same verdict on feasibility,
        faster, used by the search.

    Notes
    -----
    Capacity and pairing are not checked here (see :func:`sequence_load_ok`). The
    times are those of :func:`time_stops` on the vehicle's shift.
    """
    v = cp.problem.vehicles[vehicle]
    max_dur = INF if v.max_duration_s is None else v.max_duration_s
    return time_stops(stops_of(cp, vehicle, seq), start_s=v.shift.earliest,
                      latest_end=v.shift.latest, max_duration_s=max_dur, full=full)


def time_stops(
    stops: Stops, *, start_s: int, latest_end: int, max_duration_s: int = INF,
    full: bool = True, hold: bool = True,
) -> Times | None:
    """Return the times of a flat stop sequence, or ``None`` when no schedule was found.

    Cordeau & Laporte's procedure (see the module docstring): the vehicle may leave
    its start at ``start_s`` or later (the departure is delayed by the forward time
    slack, so the route is as short as the windows allow), must end by ``latest_end``
    (arrival at the end depot, or the last departure of an open route) and may last at
    most ``max_duration_s``; pickups are delayed while a ride is too long.

    Parameters
    ----------
    stops
        The sequence.
    start_s
        Earliest departure from the start.
    latest_end
        Latest end of the route.
    max_duration_s
        Longest route (``INF`` for none).
    full
        As in :func:`schedule_times`.
    hold
        Delay the departure by the forward time slack (Cordeau's steps 3-5, the
        default: the shortest route, services may move later within their windows).
        ``False`` leaves just in time for the first stop and moves no service (the
        live engine's rider-first mode).
    """
    sh_e, sh_l, max_dur = start_s, latest_end, max_duration_s
    rt = _Route(stops)
    end = rt.propagate(0, sh_e)
    late, beg = rt.late, rt.beg
    n = len(beg)
    if end > sh_l or any(beg[i] > late[i] for i in range(n)):
        return None
    if end > UNREACHABLE:
        return None
    # Step 3-5: delay the departure by the forward time slack of the depot (rider-first:
    # only by the wait at the first stop, which moves no service).
    d0 = sh_e
    if n:
        wait_total = sum(beg[i] - rt.arr[i] for i in range(n))
        slack = _forward_slack(rt, ([-1] * n, [INF] * n), -1, end, sh_l, INF)
        shift = min(slack, wait_total if hold else beg[0] - rt.arr[0])
        if shift > 0:
            d0 += shift
            end = rt.propagate(0, d0)
    if not n:
        end = d0 + rt.tt_end
    if end - d0 > max_dur:
        return None
    # Step 6-7: delay pickups whose passengers ride too long.
    pairs = rt.pairs
    if _ride_violated(pairs, rt):
        end = _delay_pickups(rt, d0, end, (sh_l, max_dur), full)
        if _ride_violated(pairs, rt) or any(beg[i] > late[i] for i in range(n)):
            return None
        if end > sh_l or end - d0 > max_dur:
            return None
    return Times(depart=d0, end=end, arrival=rt.arr, begin=rt.beg, leave=rt.dep)


def _ride_violated(pairs: tuple[list[int], list[int]], rt: _Route) -> bool:
    pick_of, limit = pairs
    beg, dep = rt.beg, rt.dep
    return any(k >= 0 and beg[j] - dep[k] > limit[j] for j, k in enumerate(pick_of))


def _forward_slack(
    rt: _Route, pairs: tuple[list[int], list[int]], i: int, end: int, sh_l: int, dur_room: int
) -> int:
    """Return Cordeau's forward time slack at sequence index ``i`` (``-1`` for the depot).

    The ride-time term only counts passengers picked up before ``i`` (a delay at ``i``
    lengthens their ride); ``dur_room`` bounds a delay that reaches the end depot.
    """
    beg, arr, late, dep = rt.beg, rt.arr, rt.late, rt.dep
    pick_of, limit = pairs
    best = INF
    waits = 0
    for j in range(i if i >= 0 else 0, len(beg)):
        if j > i:
            waits += beg[j] - arr[j]
        room = late[j] - beg[j]
        k = pick_of[j]
        if 0 <= k < i:
            r = limit[j] - (beg[j] - dep[k])
            if r < room:
                room = r
        cand = waits + (room if room > 0 else 0)
        if cand < best:
            best = cand
            if best <= 0:
                return 0
    return min(best, waits + max(min(sh_l - end, dur_room), 0))


def _delay_pickups(rt: _Route, d0: int, end: int, limits: tuple[int, int], full: bool) -> int:
    """Cordeau's step 7: delay, in sequence order, every pickup by its forward time slack.

    A delay never makes a ride exceed its limit (the slack accounts for the riders on
    board), so without ``full`` the pass stops once no ride limit is violated.
    """
    sh_l, max_dur = limits
    beg, dep, svc, plim = rt.beg, rt.dep, rt.svc, rt.plim
    pairs = rt.pairs
    n = len(beg)
    suffix = _suffix_waits(rt)
    for i in range(n):
        if plim[i] >= INF:
            continue
        wait_after = suffix[i + 1]
        if wait_after <= 0:
            continue
        room = max_dur - (end - d0)
        slack = _forward_slack(rt, pairs, i, end, sh_l, room)
        shift = min(slack, wait_after)
        if shift > 0:
            beg[i] += shift
            dep[i] = beg[i] + svc[i]
            end = rt.propagate(i + 1, dep[i])
            if not full and not _ride_violated(pairs, rt):
                break
            suffix = _suffix_waits(rt)
    return end


def _suffix_waits(rt: _Route) -> list[int]:
    """Return ``out[i]`` = total waiting at sequence indices ``i`` and later."""
    beg, arr = rt.beg, rt.arr
    n = len(beg)
    out = [0] * (n + 1)
    acc = 0
    for p in range(n - 1, -1, -1):
        acc += beg[p] - arr[p]
        out[p] = acc
    return out


def sequence_load_ok(cp: CompiledProblem, vehicle: int, seq: Sequence[int]) -> bool:
    """Return whether the load on board stays within the vehicle capacity."""
    cap = cp.capacity[vehicle]
    load = [0] * len(cap)
    for x in seq:
        if x >= 0:
            for dim, q in enumerate(cp.start_load[x]):
                load[dim] += q
    if any(q > c for q, c in zip(load, cap, strict=True)):
        return False
    for x in seq:
        if x < 0:
            continue
        for dim, q in enumerate(cp.delta[x]):
            load[dim] += q
            if load[dim] > cap[dim]:
                return False
    return True


def place_breaks(cp: CompiledProblem, vehicle: int, seq: Sequence[int]) -> list[int] | None:
    """Insert the vehicle's breaks (if missing) where the sequence stays feasible.

    Each missing break goes to the earliest position with a feasible schedule; a break
    whose window opens only after the route is over is left out (the checker allows it).
    Returns the full sequence, or ``None`` when some break fits nowhere.
    """
    breaks = cp.problem.vehicles[vehicle].breaks
    out = list(seq)
    # Two passes: a break placed late can push the end past a skipped break's window.
    for _ in range(2):
        for b, brk in enumerate(breaks):
            node = -(b + 1)
            if node in out:
                continue
            without = schedule_times(cp, vehicle, out)
            if without is not None and without.end <= brk.window.earliest:
                continue
            placed = _place_one(cp, vehicle, out, node)
            if placed is None:
                return None
            out = placed
    return out


def _place_one(cp: CompiledProblem, vehicle: int, seq: list[int], node: int) -> list[int] | None:
    for pos in range(len(seq) + 1):
        cand = [*seq[:pos], node, *seq[pos:]]
        if schedule_times(cp, vehicle, cand) is not None:
            return cand
    return None


def route_from_sequence(cp: CompiledProblem, vehicle: int, seq: Sequence[int]) -> Route | None:
    """Return a timed :class:`Route` for a node sequence, or ``None`` when infeasible.

    Breaks of the vehicle missing from ``seq`` are placed automatically.
    """
    if not sequence_load_ok(cp, vehicle, seq):
        return None
    full = place_breaks(cp, vehicle, seq) if seq else list(seq)
    if full is None:
        return None
    times = schedule_times(cp, vehicle, full)
    if times is None:
        return None
    visits: list[Visit] = []
    prev_loc = cp.problem.vehicles[vehicle].start
    for i, x in enumerate(full):
        if x < 0:
            kind, ref, loc = StopKind.BREAK, -x - 1, prev_loc
        elif x < 2 * cp.n_requests:
            kind = StopKind.PICKUP if x % 2 == 0 else StopKind.DROPOFF
            ref, loc = x // 2, cp.loc[x]
        else:
            kind, ref, loc = StopKind.JOB, x - 2 * cp.n_requests, cp.loc[x]
        visits.append(Visit(kind=kind, ref=ref, location=loc, arrival=times.arrival[i],
                            start=times.begin[i], departure=times.leave[i]))
        prev_loc = loc
    return Route(vehicle=vehicle, visits=tuple(visits), start_s=times.depart, end_s=times.end)


def sequence_from_route(cp: CompiledProblem, route: Route) -> list[int]:
    """Return the node sequence of a route (breaks included as negative nodes)."""
    out: list[int] = []
    for vis in route.visits:
        if vis.kind is StopKind.PICKUP:
            out.append(2 * vis.ref)
        elif vis.kind is StopKind.DROPOFF:
            out.append(2 * vis.ref + 1)
        elif vis.kind is StopKind.JOB:
            out.append(2 * cp.n_requests + vis.ref)
        else:
            out.append(-(vis.ref + 1))
    return out


def schedule_route(problem: Problem, vehicle: int, stops: Sequence[tuple[StopKind, int]]) -> (
        Route | None):
    """Return a timed route for a sequence of ``(kind, ref)`` stops, or ``None``.

    Convenience wrapper that compiles the problem; engines that schedule many routes
    compile once with :func:`compile_problem` and call :func:`route_from_sequence`.
    """
    cp = compile_problem(problem)
    seq: list[int] = []
    for kind, ref in stops:
        if kind is StopKind.PICKUP:
            seq.append(2 * ref)
        elif kind is StopKind.DROPOFF:
            seq.append(2 * ref + 1)
        elif kind is StopKind.JOB:
            seq.append(2 * cp.n_requests + ref)
        else:
            seq.append(-(ref + 1))
    return route_from_sequence(cp, vehicle, seq)
