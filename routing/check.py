"""Independent feasibility checker: every hard-constraint violation of a solution.

Written separately from the solver engines (it shares only the problem model and the
solution types) so that tests can trust it as a referee. It never stops at the first
problem: :func:`check` lists them all.

Rules checked
-------------
- Timing of every visit: ``start >= arrival``, ``departure == start + service``
  (a break's service is its ``duration_s``), ``arrival >= previous departure +
  travel`` with the vehicle's speed factor (:meth:`Problem.travel_s`); legs at or above
  :data:`routing.model.UNREACHABLE` are unreachable.
- Windows on the start of service: the effective pickup window (``max_wait_s``), the
  drop-off window, the job window, the break window.
- Shift: route start at or after the shift start, route end (arrival at the end depot,
  or the last departure of an open route) at or before the shift end; route duration
  within ``max_duration_s``.
- Ride time (Cordeau): drop-off start minus pickup departure, at most
  :meth:`Problem.ride_limit`.
- Load per dimension along the route: requests load at pickup and unload at drop-off;
  delivery jobs are on board from the start, pickup jobs until the end.
- Pickup before drop-off on the same vehicle; every request and job served at most once,
  and either served or unassigned exactly once.
- Skills and allowed vehicles.
- Breaks: each break of a used vehicle is taken exactly once, unless the route is over
  (its end at or before the break window's earliest start), in which case it may be left
  out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from routing.model import UNREACHABLE, ItemKind, JobKind, StopKind

if TYPE_CHECKING:
    from routing.model import Problem, TimeWindow
    from routing.solution import Route, Solution, Visit


class ViolationKind(StrEnum):
    """Closed set of violation kinds reported by :func:`check`."""

    TIME_WINDOW = "time_window"
    RIDE_TIME = "ride_time"
    CAPACITY = "capacity"
    PRECEDENCE = "precedence"
    PAIRING = "pairing"
    DURATION = "duration"
    SKILLS = "skills"
    SHIFT = "shift"
    TRAVEL_TIME = "travel_time"
    TIMING = "timing"
    UNREACHABLE = "unreachable"
    UNKNOWN_VEHICLE = "unknown_vehicle"
    UNKNOWN_REF = "unknown_ref"
    LOCATION = "location"
    DUPLICATE = "duplicate"
    MISSING = "missing"
    BREAK = "break"
    ALLOWED_VEHICLE = "allowed_vehicle"


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    """One broken rule.

    Parameters
    ----------
    kind
        Which rule.
    vehicle
        Index of the vehicle whose route breaks it, ``None`` when it concerns no route
        (e.g. an item neither served nor unassigned).
    ref
        Index of the request, job or break concerned (by ``kind``), ``None`` if none.
    message
        What is wrong, with the numbers.
    """

    kind: ViolationKind
    vehicle: int | None
    ref: int | None
    message: str


@dataclass(slots=True)
class _Served:
    """Where each request end and each job was seen: (vehicle, position, visit)."""

    pickups: dict[int, list[tuple[int, int, Visit]]] = field(
        default_factory=lambda: defaultdict(list))
    dropoffs: dict[int, list[tuple[int, int, Visit]]] = field(
        default_factory=lambda: defaultdict(list))
    jobs: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))


class _Checker:
    """Accumulates violations over one solution."""

    def __init__(self, problem: Problem, solution: Solution) -> None:
        self.p = problem
        self.s = solution
        self.out: list[Violation] = []
        self.served = _Served()

    def add(self, kind: ViolationKind, vehicle: int | None, ref: int | None, msg: str) -> None:
        self.out.append(Violation(kind=kind, vehicle=vehicle, ref=ref, message=msg))

    # --------------------------------------------------------------- routes
    def run(self) -> list[Violation]:
        seen_vehicles: set[int] = set()
        for route in self.s.routes:
            k = route.vehicle
            if not 0 <= k < len(self.p.vehicles):
                msg = f"route for unknown vehicle index {k} (have {len(self.p.vehicles)})"
                self.add(ViolationKind.UNKNOWN_VEHICLE, k, None, msg)
                continue
            if k in seen_vehicles:
                msg = f"vehicle {self.p.vehicles[k].id} has more than one route"
                self.add(ViolationKind.DUPLICATE, k, None, msg)
            seen_vehicles.add(k)
            self.check_route(route)
        self.check_pairs()
        self.check_coverage()
        return self.out

    def check_route(self, route: Route) -> None:
        valid = [self.check_ref(route.vehicle, x) for x in route.visits]
        if not all(valid):
            return  # timing and loads make no sense with unknown stops
        self.check_times(route)
        self.check_loads(route)
        self.check_breaks(route)
        for pos, x in enumerate(route.visits):
            self.record(route.vehicle, pos, x)

    def check_ref(self, k: int, x: Visit) -> bool:
        """Check the visit points at an existing item and at its location."""
        n_items = {
            StopKind.PICKUP: len(self.p.requests),
            StopKind.DROPOFF: len(self.p.requests),
            StopKind.JOB: len(self.p.jobs),
            StopKind.BREAK: len(self.p.vehicles[k].breaks),
        }[x.kind]
        if not 0 <= x.ref < n_items:
            msg = f"{x.kind} visit refers to unknown index {x.ref} (have {n_items})"
            self.add(ViolationKind.UNKNOWN_REF, k, x.ref, msg)
            return False
        if not 0 <= x.location < self.p.n_locations:
            msg = f"{x.kind} visit at unknown location index {x.location}"
            self.add(ViolationKind.LOCATION, k, x.ref, msg)
            return False
        expected = self.expected_location(x)
        if expected is not None and expected != x.location:
            msg = f"{x.kind} {self.item_id(x)} visited at location {x.location}, not {expected}"
            self.add(ViolationKind.LOCATION, k, x.ref, msg)
        return True

    def expected_location(self, x: Visit) -> int | None:
        if x.kind is StopKind.PICKUP:
            return self.p.requests[x.ref].pickup
        if x.kind is StopKind.DROPOFF:
            return self.p.requests[x.ref].dropoff
        if x.kind is StopKind.JOB:
            return self.p.jobs[x.ref].location
        return None  # a break repeats the previous location, checked in check_times

    def item_id(self, x: Visit) -> str:
        if x.kind in (StopKind.PICKUP, StopKind.DROPOFF):
            return f"request {self.p.requests[x.ref].id}"
        if x.kind is StopKind.JOB:
            return f"job {self.p.jobs[x.ref].id}"
        return f"break {x.ref}"

    def service_and_window(self, k: int, x: Visit) -> tuple[int, TimeWindow]:
        if x.kind is StopKind.PICKUP:
            r = self.p.requests[x.ref]
            return r.pickup_service_s, r.effective_pickup_window
        if x.kind is StopKind.DROPOFF:
            r = self.p.requests[x.ref]
            return r.dropoff_service_s, r.dropoff_window
        if x.kind is StopKind.JOB:
            j = self.p.jobs[x.ref]
            return j.service_s, j.window
        b = self.p.vehicles[k].breaks[x.ref]
        return b.duration_s, b.window

    # --------------------------------------------------------------- time
    def leg(self, k: int, a: int, b: int, what: str) -> int:
        """Return the travel time a -> b, reporting an unreachable leg."""
        t = self.p.travel_s(k, a, b)
        dist = self.p.distance_m(k, a, b)
        if t >= UNREACHABLE or dist >= UNREACHABLE:
            self.add(ViolationKind.UNREACHABLE, k, None, f"no path from {a} to {b} ({what})")
        return t

    def check_times(self, route: Route) -> None:
        k = route.vehicle
        v = self.p.vehicles[k]
        if route.start_s < v.shift.earliest:
            msg = f"route starts at {route.start_s}, before shift start {v.shift.earliest}"
            self.add(ViolationKind.SHIFT, k, None, msg)
        loc, dep = v.start, route.start_s
        for x in route.visits:
            what = f"to {self.item_id(x)}"
            if x.kind is StopKind.BREAK and x.location != loc:
                msg = f"break {x.ref} at location {x.location}, not at the previous stop {loc}"
                self.add(ViolationKind.LOCATION, k, x.ref, msg)
            travel = self.leg(k, loc, x.location, what)
            self.check_visit_time(k, x, dep, travel)
            loc, dep = x.location, x.departure
        self.check_end(route, loc, dep)

    def check_visit_time(self, k: int, x: Visit, prev_dep: int, travel: int) -> None:
        name = self.item_id(x)
        kind = ViolationKind.BREAK if x.kind is StopKind.BREAK else ViolationKind.TIME_WINDOW
        if travel < UNREACHABLE and x.arrival < prev_dep + travel:
            msg = (f"{x.kind} {name}: arrival {x.arrival} before previous departure "
                   f"{prev_dep} + travel {travel}")
            self.add(ViolationKind.TRAVEL_TIME, k, x.ref, msg)
        if x.start < x.arrival:
            msg = f"{x.kind} {name}: service starts at {x.start}, before arrival {x.arrival}"
            self.add(ViolationKind.TIMING, k, x.ref, msg)
        service, window = self.service_and_window(k, x)
        if x.departure != x.start + service:
            msg = (f"{x.kind} {name}: departure {x.departure} is not start {x.start} "
                   f"+ service {service}")
            self.add(kind if x.kind is StopKind.BREAK else ViolationKind.TIMING, k, x.ref, msg)
        if not window.contains(x.start):
            msg = (f"{x.kind} {name}: start {x.start} outside window "
                   f"[{window.earliest}, {window.latest}]")
            self.add(kind, k, x.ref, msg)

    def check_end(self, route: Route, loc: int, dep: int) -> None:
        k = route.vehicle
        v = self.p.vehicles[k]
        if v.end is not None:
            travel = self.leg(k, loc, v.end, "to the end depot")
            if travel < UNREACHABLE and route.end_s < dep + travel:
                msg = (f"end depot arrival {route.end_s} before last departure {dep} "
                       f"+ travel {travel}")
                self.add(ViolationKind.TRAVEL_TIME, k, None, msg)
        elif route.end_s < dep:
            msg = f"open route ends at {route.end_s}, before its last departure {dep}"
            self.add(ViolationKind.TRAVEL_TIME, k, None, msg)
        if route.end_s > v.shift.latest:
            msg = f"route ends at {route.end_s}, after shift end {v.shift.latest}"
            self.add(ViolationKind.SHIFT, k, None, msg)
        if v.max_duration_s is not None and route.duration_s > v.max_duration_s:
            msg = f"route lasts {route.duration_s} s, more than {v.max_duration_s} s"
            self.add(ViolationKind.DURATION, k, None, msg)

    # --------------------------------------------------------------- load
    def check_loads(self, route: Route) -> None:
        k = route.vehicle
        cap = self.p.vehicle_type(k).capacity
        d = len(self.p.dimensions)
        load = [0] * d
        for x in route.visits:
            if x.kind is StopKind.JOB and self.p.jobs[x.ref].kind is JobKind.DELIVERY:
                load = [a + b for a, b in zip(load, self.p.jobs[x.ref].load, strict=True)]
        self.check_capacity(k, None, load, cap, "at the start")
        for x in route.visits:
            delta = self.load_change(x)
            if delta is None:
                continue
            load = [a + b for a, b in zip(load, delta, strict=True)]
            self.check_capacity(k, x.ref, load, cap, f"after {x.kind} {self.item_id(x)}")

    def load_change(self, x: Visit) -> tuple[int, ...] | None:
        if x.kind is StopKind.PICKUP:
            return self.p.requests[x.ref].load
        if x.kind is StopKind.DROPOFF:
            return tuple(-q for q in self.p.requests[x.ref].load)
        if x.kind is StopKind.JOB:
            j = self.p.jobs[x.ref]
            return j.load if j.kind is JobKind.PICKUP else tuple(-q for q in j.load)
        return None

    def check_capacity(
        self, k: int, ref: int | None, load: list[int], cap: tuple[int, ...], where: str
    ) -> None:
        for dim, (q, c) in enumerate(zip(load, cap, strict=True)):
            if q > c:
                msg = f"{self.p.dimensions[dim]} load {q} exceeds capacity {c} {where}"
                self.add(ViolationKind.CAPACITY, k, ref, msg)

    # --------------------------------------------------------------- breaks
    def check_breaks(self, route: Route) -> None:
        k = route.vehicle
        taken: dict[int, int] = defaultdict(int)
        for x in route.visits:
            if x.kind is StopKind.BREAK:
                taken[x.ref] += 1
        used = any(x.kind is not StopKind.BREAK for x in route.visits)
        for b, brk in enumerate(self.p.vehicles[k].breaks):
            if taken[b] > 1:
                msg = f"break {b} taken {taken[b]} times"
                self.add(ViolationKind.BREAK, k, b, msg)
            elif taken[b] == 0 and used and route.end_s > brk.window.earliest:
                msg = (f"break {b} (window [{brk.window.earliest}, {brk.window.latest}], "
                       f"{brk.duration_s} s) not taken; the route lasts until {route.end_s}")
                self.add(ViolationKind.BREAK, k, b, msg)

    # --------------------------------------------------------------- items
    def record(self, k: int, pos: int, x: Visit) -> None:
        if x.kind is StopKind.PICKUP:
            self.served.pickups[x.ref].append((k, pos, x))
        elif x.kind is StopKind.DROPOFF:
            self.served.dropoffs[x.ref].append((k, pos, x))
        elif x.kind is StopKind.JOB:
            self.served.jobs[x.ref].append(k)
            self.check_vehicle_allowed(k, x.ref, self.p.jobs[x.ref].skills,
                                       self.p.jobs[x.ref].allowed_vehicles, "job")
        if x.kind is StopKind.PICKUP:
            r = self.p.requests[x.ref]
            self.check_vehicle_allowed(k, x.ref, r.skills, r.allowed_vehicles, "request")

    def check_vehicle_allowed(
        self, k: int, ref: int, skills: frozenset[str], allowed: tuple[int, ...] | None,
        what: str,
    ) -> None:
        item = self.p.requests[ref].id if what == "request" else self.p.jobs[ref].id
        t = self.p.vehicle_type(k)
        missing = skills - t.skills
        if missing:
            msg = f"{what} {item} needs skills {sorted(missing)} that vehicle type {t.name} lacks"
            self.add(ViolationKind.SKILLS, k, ref, msg)
        if allowed is not None and k not in allowed:
            msg = f"{what} {item} may not ride vehicle {self.p.vehicles[k].id}"
            self.add(ViolationKind.ALLOWED_VEHICLE, k, ref, msg)

    def check_pairs(self) -> None:
        for i, r in enumerate(self.p.requests):
            picks, drops = self.served.pickups.get(i, []), self.served.dropoffs.get(i, [])
            if len(picks) > 1 or len(drops) > 1:
                msg = f"request {r.id} picked up {len(picks)} and dropped {len(drops)} times"
                self.add(ViolationKind.DUPLICATE, picks[0][0] if picks else None, i, msg)
                continue
            if len(picks) != len(drops):
                where = picks or drops
                msg = f"request {r.id} has a {'pickup' if picks else 'drop-off'} only"
                self.add(ViolationKind.PAIRING, where[0][0], i, msg)
                continue
            if not picks:
                continue
            (kp, pp, xp), (kd, pd, xd) = picks[0], drops[0]
            if kp != kd:
                msg = f"request {r.id} picked up by vehicle {kp} but dropped by vehicle {kd}"
                self.add(ViolationKind.PAIRING, kp, i, msg)
                continue
            if pd < pp:
                msg = f"request {r.id} dropped off (stop {pd}) before pickup (stop {pp})"
                self.add(ViolationKind.PRECEDENCE, kp, i, msg)
                continue
            limit = self.p.ride_limit(i)
            ride = xd.start - xp.departure
            if limit is not None and ride > limit:
                msg = f"request {r.id} rides {ride} s, more than its limit {limit} s"
                self.add(ViolationKind.RIDE_TIME, kp, i, msg)

    def check_coverage(self) -> None:
        unassigned: dict[tuple[ItemKind, int], int] = defaultdict(int)
        for u in self.s.unassigned:
            n = len(self.p.requests) if u.kind is ItemKind.REQUEST else len(self.p.jobs)
            if not 0 <= u.ref < n:
                msg = f"unassigned {u.kind} refers to unknown index {u.ref} (have {n})"
                self.add(ViolationKind.UNKNOWN_REF, None, u.ref, msg)
            unassigned[(u.kind, u.ref)] += 1
        for i, r in enumerate(self.p.requests):
            served = bool(self.served.pickups.get(i) or self.served.dropoffs.get(i))
            self.check_once(f"request {r.id}", i, served, unassigned[(ItemKind.REQUEST, i)])
        for j, job in enumerate(self.p.jobs):
            visits = self.served.jobs.get(j, [])
            if len(visits) > 1:
                msg = f"job {job.id} served {len(visits)} times"
                self.add(ViolationKind.DUPLICATE, visits[0], j, msg)
            self.check_once(f"job {job.id}", j, bool(visits), unassigned[(ItemKind.JOB, j)])

    def check_once(self, name: str, ref: int, served: bool, n_unassigned: int) -> None:
        if served and n_unassigned:
            self.add(ViolationKind.DUPLICATE, None, ref, f"{name} is served and also unassigned")
        elif n_unassigned > 1:
            msg = f"{name} is listed {n_unassigned} times as unassigned"
            self.add(ViolationKind.DUPLICATE, None, ref, msg)
        elif not served and not n_unassigned:
            self.add(ViolationKind.MISSING, None, ref, f"{name} is neither served nor unassigned")


def check(problem: Problem, solution: Solution) -> list[Violation]:
    """Return every hard-constraint violation of ``solution``.

    Parameters
    ----------
    problem
        The problem the solution claims to solve.
    solution
        Routes with their visit times, and the unassigned items.

    Returns
    -------
    list of Violation
        Empty when the solution is feasible. Ordered by route, then the cross-route
        checks (pairing, ride time, coverage).

    Notes
    -----
    A route whose visits refer to unknown items is only checked for those references;
    its timing and loads are skipped. A mandatory item left unassigned is not a
    violation: it comes back with a reason (DESIGN.md §2).
    """
    return _Checker(problem, solution).run()
