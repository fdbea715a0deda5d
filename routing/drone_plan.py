"""Drone sortie plans and mixed van + drone plans.

Drone plans (:func:`plan_drones`): every drone belongs to a droneport; it flies several
sorties a day, each from its port over one or more customers (as payload and energy
allow) and back, with ``DroneSpec.swap_s`` of battery swap or charge between sorties.
The optimizer is a priority-ordered cheapest insertion (into any position of any
sortie, or as a new sortie at any position of a drone's day) followed by ruin and
recreate local search until the time limit (random, whole-sortie and related removal;
a plan is kept when it serves more priority-weighted jobs, or as many at a lower cost).
Objectives: ``time`` (earliest deliveries, then the day's last landing) or ``cost``
(energy used). Every sortie is timed and charged by :mod:`routing.drone`.

Air legs come from an :class:`AirNetwork`: :class:`StraightAir` flies straight and
refuses a leg through an avoided polygon (for tests and for regions without an
airspace layer); :class:`AirspaceAir` wraps :mod:`maps.airspace` (paths around avoided
areas, permit areas crossed).

Mixed plans (:func:`plan_mixed`): for every delivery, van, drone or neither, with the
reason. Too heavy, out of range or unreachable by air goes by van; a spot the roads do
not reach goes by drone; the van part is solved by :func:`routing.solve.solve` (and
refereed by :func:`routing.check.check` there), the drone part by :func:`plan_drones`.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from routing.drone import (
    DAY_HOURS,
    DroneJob,
    DronePlan,
    DroneProblem,
    LonLat,
    Refusal,
    Refused,
    Sortie,
    SortieProfile,
    segments_m,
    sortie_profile,
    takeoff_range,
)
from routing.errors import ProblemError
from routing.model import (
    UNREACHABLE,
    Job,
    Location,
    Problem,
    TimeWindow,
    Vehicle,
    VehicleType,
)
from routing.solution import Solution

if TYPE_CHECKING:
    from maps.airspace import Airspace, DroneMatrix

FloatArray = npt.NDArray[np.float64]
IntMatrix = npt.NDArray[np.int64]
OBJECTIVES = ("time", "cost")
#: Order in which single-sortie refusals are reported (the first that applies).
_REASON_ORDER = (Refusal.PAYLOAD, Refusal.WIND, Refusal.UNREACHABLE, Refusal.ENERGY_RESERVE,
                 Refusal.WINDOW)


# ------------------------------------------------------------------------- air legs
class AirLegs(Protocol):
    """Drone legs between the points given to :meth:`AirNetwork.legs` (by index)."""

    def distance_m(self, i: int, j: int) -> int:
        """Metres from point ``i`` to ``j``, :data:`UNREACHABLE` when no path."""
        ...

    def path(self, i: int, j: int) -> tuple[LonLat, ...]:
        """The lon/lat polyline from ``i`` to ``j`` (only for reachable pairs)."""
        ...

    def permits(self, i: int, j: int) -> tuple[str, ...]:
        """Names of the permit areas the path from ``i`` to ``j`` crosses."""
        ...


class AirNetwork(Protocol):
    """Anything that gives drone legs between lon/lat points."""

    def legs(self, points: FloatArray) -> AirLegs:
        """Return the legs between every pair of ``points`` (``(n, 2)`` lon/lat)."""
        ...


def _shrunk(polys: Sequence[BaseGeometry]) -> list[BaseGeometry]:
    # a path may run along an edge or touch a vertex; only the interior is forbidden
    return [p.buffer(-1e-7) for p in polys]


@dataclass(slots=True)
class _StraightLegs:
    pts: FloatArray
    dist: IntMatrix
    permit_names: list[list[tuple[str, ...]]]

    def distance_m(self, i: int, j: int) -> int:
        return int(self.dist[i, j])

    def path(self, i: int, j: int) -> tuple[LonLat, ...]:
        a, b = self.pts[i], self.pts[j]
        return ((float(a[0]), float(a[1])), (float(b[0]), float(b[1])))

    def permits(self, i: int, j: int) -> tuple[str, ...]:
        return self.permit_names[i][j]


@dataclass(frozen=True, slots=True, kw_only=True)
class StraightAir:
    """Straight legs; a leg through (or a point inside) an ``avoid`` polygon is unreachable.

    ``avoid`` and ``permit`` are ``(name, polygon)`` pairs in lon/lat (EPSG:4326).
    """

    avoid: tuple[tuple[str, BaseGeometry], ...] = ()
    permit: tuple[tuple[str, BaseGeometry], ...] = ()

    def legs(self, points: FloatArray) -> AirLegs:
        """Return straight legs between ``points`` (vectorised with an STRtree)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        n = len(pts)
        dist = np.zeros((n, n), dtype=np.int64)
        ii, jj = np.triu_indices(n, k=1)
        lines = shapely.linestrings(np.stack([pts[ii], pts[jj]], axis=1)) if len(ii) else (
            np.array([], dtype=object))
        east, north = segments_m(np.stack([pts[ii], pts[jj]], axis=1).reshape(-1, 2))
        d = np.ceil(np.hypot(east, north)[::2]).astype(np.int64)
        dist[ii, jj] = d
        dist[jj, ii] = d
        if self.avoid and len(ii):
            tree = shapely.STRtree(_shrunk([p for _, p in self.avoid]))
            hit, _ = tree.query(lines, predicate="intersects")
            bad = np.unique(hit)
            dist[ii[bad], jj[bad]] = UNREACHABLE
            dist[jj[bad], ii[bad]] = UNREACHABLE
            inside, _ = tree.query(shapely.points(pts), predicate="intersects")
            dist[np.unique(inside), :] = UNREACHABLE
            dist[:, np.unique(inside)] = UNREACHABLE
            np.fill_diagonal(dist, 0)
        names: list[list[tuple[str, ...]]] = [[() for _ in range(n)] for _ in range(n)]
        if self.permit and len(ii):
            ptree = shapely.STRtree(_shrunk([p for _, p in self.permit]))
            li, pi = ptree.query(lines, predicate="intersects")
            found: dict[int, list[str]] = {}
            for line_k, poly_k in zip(li, pi, strict=True):
                found.setdefault(int(line_k), []).append(self.permit[int(poly_k)][0])
            for line_k, nm in found.items():
                a, b = int(ii[line_k]), int(jj[line_k])
                names[a][b] = names[b][a] = tuple(sorted(set(nm)))
        return _StraightLegs(pts, dist, names)


@dataclass(slots=True)
class _AirspaceLegs:
    matrix: DroneMatrix
    airspace: Airspace
    altitude_m: float
    _permits: dict[tuple[int, int], tuple[str, ...]] = field(default_factory=dict)

    def distance_m(self, i: int, j: int) -> int:
        return int(self.matrix.distance_m[i, j])

    def path(self, i: int, j: int) -> tuple[LonLat, ...]:
        pts = self.matrix.path(i, j)
        return tuple((float(x), float(y)) for x, y in pts)

    def permits(self, i: int, j: int) -> tuple[str, ...]:
        key = (i, j)
        if key not in self._permits:
            got = self.airspace.crossings(np.asarray(self.path(i, j)), self.altitude_m)
            self._permits[key] = tuple(sorted({c.name for c in got if c.policy == "permit"}))
        return self._permits[key]


@dataclass(frozen=True, slots=True, kw_only=True)
class AirspaceAir:
    """Drone legs from :func:`maps.airspace.drone_matrix`: around every avoided area.

    ``airspace`` is a :class:`maps.airspace.Airspace`; paths keep ``margin_m`` from
    avoided areas at ``cruise_altitude_m`` and list the permit areas they cross.
    """

    airspace: Airspace
    cruise_altitude_m: float = 60.0
    margin_m: float = 30.0
    cache_dir: str | bool | None = None

    def legs(self, points: FloatArray) -> AirLegs:
        """Return the legs between ``points`` (cached on disk by :mod:`maps.airspace`)."""
        from maps.airspace import drone_matrix

        m = drone_matrix(self.airspace, points,
                         cruise_altitude_m=self.cruise_altitude_m, margin_m=self.margin_m,
                         cache_dir=self.cache_dir)
        return _AirspaceLegs(m, self.airspace, self.cruise_altitude_m)

    def named(self, policy: str) -> list[tuple[str, BaseGeometry]]:
        """``(name, polygon)`` of the original areas of ``policy`` at the cruise altitude
        (for :func:`routing.check_drone.check_drone_plan`)."""
        areas = self.airspace.active(self.cruise_altitude_m, policy)
        return [(a.name, a.geometry) for a in areas]


# ------------------------------------------------------------------------- drone plans
@dataclass(frozen=True, slots=True, kw_only=True)
class DronePlanParams:
    """Options of :func:`plan_drones`: objective, time limit, seed.

    ``max_iterations`` bounds the improvement search (the time limit is then only a cap),
    so the same seed gives the same plan on any machine.
    """

    objective: str = "time"
    time_limit_s: float = 2.0
    seed: int = 0
    max_stops: int = 4
    max_iterations: int | None = None

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            msg = f"objective must be one of {OBJECTIVES}, got {self.objective!r}"
            raise ProblemError("objective", msg)
        if not self.time_limit_s > 0:
            raise ProblemError("time_limit_s", "must be positive")
        if self.max_stops < 1:
            raise ProblemError("max_stops", "must be at least 1")
        if self.max_iterations is not None and self.max_iterations < 0:
            raise ProblemError("max_iterations", "must be None or >= 0")


@dataclass(slots=True)
class _Tour:
    jobs: list[int]
    takeoff: int = 0


@dataclass(slots=True)
class _State:
    tours: list[list[_Tour]]  # per drone, in flying order
    unserved: set[int] = field(default_factory=set)

    def copy(self) -> _State:
        return _State([[_Tour(list(t.jobs), t.takeoff) for t in d] for d in self.tours],
                      set(self.unserved))


class _Planner:
    """Search state shared by construction and local search."""

    def __init__(self, problem: DroneProblem, legs: AirLegs, params: DronePlanParams,
                 priority_boost: Callable[[int], int] | None = None) -> None:
        self.p = problem
        self.legs = legs
        self.params = params
        self.n_ports = len(problem.ports)
        self.drones = problem.drones()
        self.cache: dict[tuple[int, tuple[int, ...]], tuple[SortieProfile, float, float]] = {}
        boost = priority_boost or (lambda _j: 0)
        self.rank = [boost(j) * 100 + job.priority for j, job in enumerate(problem.jobs)]
        self.alone: dict[int, list[int]] = {}  # job -> ports that can serve it alone
        self.why: dict[int, Refused] = {}

    # --- evaluation
    def node(self, job: int) -> int:
        return self.n_ports + job

    def profile(self, port: int, jobs: tuple[int, ...]) -> tuple[SortieProfile, float, float]:
        """Profile of a sortie and its take-off range; cached."""
        key = (port, jobs)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        nodes = [port, *(self.node(j) for j in jobs), port]
        if any(self.legs.distance_m(a, b) >= UNREACHABLE for a, b in pairwise(nodes)):
            prof = SortieProfile(ok=False, reason=Refusal.UNREACHABLE,
                                 detail="no path outside avoided airspace")
            out = (prof, math.inf, -math.inf)
        else:
            paths = [self.legs.path(a, b) for a, b in pairwise(nodes)]
            js = [self.p.jobs[j] for j in jobs]
            prof = sortie_profile(self.p.spec, self.p.wind, self.p.ports[port].lonlat,
                                  [(j.lon, j.lat) for j in js], [j.weight_kg for j in js],
                                  paths)
            lo, hi = (takeoff_range(prof.drop_offsets_s, [j.window for j in js]) if prof.ok
                      else (math.inf, -math.inf))
            lo = max(lo, float(self.p.hours.earliest))
            hi = min(hi, float(self.p.hours.latest) - math.ceil(prof.duration_s))
            out = (prof, lo, hi)
        self.cache[key] = out
        return out

    def retime(self, port: int, tours: list[_Tour]) -> list[int] | None:
        """Earliest take-off of each tour in order, or ``None`` when the day fails."""
        t = self.p.hours.earliest
        out = []
        for tour in tours:
            prof, lo, hi = self.profile(port, tuple(tour.jobs))
            if not prof.ok:
                return None
            t0 = max(int(lo), t)
            if t0 > hi:
                return None
            out.append(t0)
            t = t0 + math.ceil(prof.duration_s) + self.p.spec.swap_s
        return out

    # --- single-job feasibility
    def screen(self) -> None:
        """Find, for each job, the ports whose drones could serve it alone."""
        for j in range(len(self.p.jobs)):
            ports, reasons = [], []
            for k, port in enumerate(self.p.ports):
                if port.drones == 0:
                    continue
                prof, lo, hi = self.profile(k, (j,))
                if prof.ok and lo <= hi:
                    ports.append(k)
                else:
                    reason = prof.reason if not prof.ok else Refusal.WINDOW
                    detail = prof.detail if not prof.ok else (
                        "no take-off time within the operating hours reaches it inside "
                        "its window")
                    reasons.append((_REASON_ORDER.index(reason), reason, detail))
            self.alone[j] = ports
            if not ports:
                if not reasons:
                    reasons.append((0, Refusal.UNREACHABLE, "no droneport has a drone"))
                _, reason, detail = min(reasons, key=lambda r: r[0])
                self.why[j] = Refused(job=j, reason=str(reason), detail=detail)

    # --- insertion
    def _cost(self, port: int, tours: list[_Tour], times: list[int], job: int) -> float:
        if self.params.objective == "cost":
            return sum(self.profile(port, tuple(t.jobs))[0].energy_wh for t in tours)
        for tour, t0 in zip(tours, times, strict=True):
            if job in tour.jobs:
                prof = self.profile(port, tuple(tour.jobs))[0]
                return t0 + prof.drop_offsets_s[tour.jobs.index(job)]
        return math.inf

    def best_insertion(self, st: _State, job: int, rng: random.Random | None
                       ) -> tuple[float, int, list[_Tour], list[int]] | None:
        """Cheapest feasible insertion of ``job`` (``(cost, drone, tours, times)``)."""
        best: tuple[float, int, list[_Tour], list[int]] | None = None
        allowed = set(self.alone.get(job, ()))
        for d, (_, port) in enumerate(self.drones):
            if port not in allowed:
                continue
            tours = st.tours[d]
            base = (self._cost(port, tours, self.retime(port, tours) or [], -1)
                    if self.params.objective == "cost" else 0.0)
            for cand in self._candidates(tours, job):
                times = self.retime(port, cand)
                if times is None:
                    continue
                c = self._cost(port, cand, times, job) - base
                if rng is not None:
                    c *= 1.0 + 0.1 * rng.random()
                if best is None or c < best[0]:
                    best = (c, d, cand, times)
        return best

    def _candidates(self, tours: list[_Tour], job: int) -> list[list[_Tour]]:
        out = []
        w = self.p.jobs[job].weight_kg
        for s, tour in enumerate(tours):
            load = sum(self.p.jobs[j].weight_kg for j in tour.jobs)
            if load + w > self.p.spec.payload_kg or len(tour.jobs) >= self.params.max_stops:
                continue
            for pos in range(len(tour.jobs) + 1):
                jobs = [*tour.jobs[:pos], job, *tour.jobs[pos:]]
                out.append([*tours[:s], _Tour(jobs), *tours[s + 1:]])
        for pos in range(len(tours) + 1):
            out.append([*tours[:pos], _Tour([job]), *tours[pos:]])
        return out

    def insert_all(self, st: _State, jobs: list[int], rng: random.Random | None) -> None:
        """Insert ``jobs`` in order (skipping those that fit nowhere)."""
        for j in jobs:
            found = self.best_insertion(st, j, rng)
            if found is None:
                st.unserved.add(j)
                continue
            _, d, tours, times = found
            for tour, t0 in zip(tours, times, strict=True):
                tour.takeoff = t0
            st.tours[d] = tours
            st.unserved.discard(j)

    def order(self, jobs: Sequence[int], rng: random.Random | None = None) -> list[int]:
        """Priority first, then the earliest latest-time; shuffled a little by ``rng``."""
        def key(j: int) -> tuple[int, float]:
            w = self.p.jobs[j].window
            noise = rng.random() * 1800 if rng is not None else 0.0
            return (-self.rank[j], w.latest + noise)
        return sorted(jobs, key=key)

    # --- scoring
    def score(self, st: _State) -> tuple[float, float]:
        """(priority-weighted unserved, objective); lower is better."""
        lost = sum(1 + 10 * max(0, self.rank[j]) for j in st.unserved)
        total = 0.0
        for d, (_, port) in enumerate(self.drones):
            for tour in st.tours[d]:
                prof = self.profile(port, tuple(tour.jobs))[0]
                if self.params.objective == "cost":
                    total += prof.energy_wh
                else:
                    total += sum(tour.takeoff + o for o in prof.drop_offsets_s)
        return (float(lost), total)


def _ruin(planner: _Planner, st: _State, rng: random.Random) -> list[int]:
    served = [(d, s, j) for d, tours in enumerate(st.tours) for s, t in enumerate(tours)
              for j in t.jobs]
    if not served:
        return []
    mode = rng.random()
    removed: set[int] = set()
    if mode < 0.3:  # a whole sortie
        d, s, _ = rng.choice(served)
        removed.update(st.tours[d][s].jobs)
    elif mode < 0.6:  # related: the jobs nearest a random served one
        _, _, j0 = rng.choice(served)
        a = planner.p.jobs[j0]
        near = sorted(served, key=lambda x: (planner.p.jobs[x[2]].lon - a.lon) ** 2
                      + (planner.p.jobs[x[2]].lat - a.lat) ** 2)
        removed.update(x[2] for x in near[:rng.randint(2, 6)])
    else:  # random
        k = max(1, int(len(served) * rng.uniform(0.05, 0.2)))
        removed.update(x[2] for x in rng.sample(served, min(k, len(served))))
    for d, tours in enumerate(st.tours):
        kept = []
        for t in tours:
            t.jobs = [j for j in t.jobs if j not in removed]
            if t.jobs:
                kept.append(t)
        st.tours[d] = kept
    for d, (_, port) in enumerate(planner.drones):
        times = planner.retime(port, st.tours[d])
        for t, t0 in zip(st.tours[d], times or [], strict=False):
            t.takeoff = t0
    return sorted(removed)


def _to_plan(planner: _Planner, st: _State, runtime: float) -> DronePlan:
    sorties: list[Sortie] = []
    for d, (drone_id, port) in enumerate(planner.drones):
        for tour in st.tours[d]:
            prof = planner.profile(port, tuple(tour.jobs))[0]
            nodes = [port, *(planner.node(j) for j in tour.jobs), port]
            pairs = list(pairwise(nodes))
            permits = sorted({n for a, b in pairs for n in planner.legs.permits(a, b)})
            sorties.append(Sortie(
                drone=drone_id, port=port, jobs=tuple(tour.jobs), takeoff_s=tour.takeoff,
                drop_s=tuple(math.ceil(tour.takeoff + o) for o in prof.drop_offsets_s),
                landing_s=tour.takeoff + math.ceil(prof.duration_s), energy_wh=prof.energy_wh,
                paths=tuple(planner.legs.path(a, b) for a, b in pairs),
                permits=tuple(permits)))
    refused = [planner.why[j] for j in sorted(planner.why)]
    busy = sorted(j for j in st.unserved if j not in planner.why)
    refused += [Refused(job=j, reason=str(Refusal.WINDOW), detail=(
        "no drone is free to reach it inside its window (every fitting drone is busy)"))
        for j in busy]
    return DronePlan(sorties=tuple(sorties), refused=tuple(sorted(refused, key=lambda r: r.job)),
                     runtime_s=runtime)


def plan_drones(problem: DroneProblem, air: AirNetwork | AirLegs,
                params: DronePlanParams | None = None, *,
                jobs: Sequence[int] | None = None,
                priority_boost: Callable[[int], int] | None = None) -> DronePlan:
    """Plan the drones' sorties for ``problem``.

    Parameters
    ----------
    problem
        Jobs, droneports (with their drones), drone model, wind, operating hours.
    air
        An :class:`AirNetwork` (legs are computed for ports then jobs, in that order) or
        legs already computed for those points.
    params
        Objective, time limit, seed and the most stops per sortie.
    jobs
        Only these job indices (the others are left out of the plan entirely).
    priority_boost
        Extra rank per job (e.g. jobs no van can reach go first).

    Returns
    -------
    DronePlan
        Sorties and refusals (each job considered is in exactly one of them).
    """
    params = params or DronePlanParams()
    t0 = time.perf_counter()
    legs = _as_legs(air, problem)
    planner = _Planner(problem, legs, params, priority_boost)
    wanted = list(range(len(problem.jobs))) if jobs is None else sorted(set(jobs))
    planner.screen()
    for j in list(planner.why):
        if j not in wanted:
            del planner.why[j]
    todo = [j for j in wanted if j not in planner.why]
    best = _State([[] for _ in planner.drones])
    planner.insert_all(best, planner.order(todo), None)
    best_score = planner.score(best)
    rng = random.Random(params.seed)
    deadline = t0 + params.time_limit_s
    cap = params.max_iterations
    it = 0
    while time.perf_counter() < deadline and todo and (cap is None or it < cap):
        it += 1
        cand = best.copy()
        removed = _ruin(planner, cand, rng)
        planner.insert_all(cand, planner.order([*removed, *cand.unserved], rng), rng)
        sc = planner.score(cand)
        if sc <= best_score:
            best, best_score = cand, sc
    return _to_plan(planner, best, time.perf_counter() - t0)


def _as_legs(air: AirNetwork | AirLegs, problem: DroneProblem) -> AirLegs:
    make = getattr(air, "legs", None)
    if callable(make):
        legs: AirLegs = make(_points(problem))
        return legs
    return air  # type: ignore[return-value]


def _points(problem: DroneProblem) -> FloatArray:
    pts = [(p.lon, p.lat) for p in problem.ports] + [(j.lon, j.lat) for j in problem.jobs]
    return np.asarray(pts, dtype=np.float64).reshape(-1, 2)


def drone_points(problem: DroneProblem) -> FloatArray:
    """Return the points an :class:`AirNetwork` is asked about: ports, then jobs."""
    return _points(problem)


# ------------------------------------------------------------------------- mixed plans
@dataclass(frozen=True, slots=True, kw_only=True)
class VanFleet:
    """Vans for the mixed plan: ``vans`` per depot (index into the depot list)."""

    depots: tuple[LonLat, ...]
    vans: tuple[int, ...]
    capacity_kg: float = 300.0
    service_s: int = 120
    shift: TimeWindow = DAY_HOURS
    yen_per_km: float = 40.0

    def __post_init__(self) -> None:
        if len(self.vans) != len(self.depots):
            raise ProblemError("vans", "need one van count per depot")
        if any(v < 0 for v in self.vans):
            raise ProblemError("vans", "must not be negative")


@dataclass(frozen=True, slots=True, kw_only=True)
class MixedParams:
    """Options of :func:`plan_mixed`.

    ``objective``: ``time`` (drones take what they can, then the latest third, two
    thirds or all of the drone deliveries after the vans' last one that a van could make
    move to the vans when that leaves no more work out and finishes the day sooner,
    repeated up to three rounds) or ``cost`` (a delivery flies only when its drone cost,
    ``yen_per_wh`` x energy of the single-parcel sortie + ``yen_per_sortie``, is below an
    estimate of its van cost: ``2 x`` the road distance to its nearest van neighbour or
    depot at ``VanFleet.yen_per_km``; deliveries kept for the vans that the vans cannot
    fit are then offered to the drones). Jobs no road reaches always fly first.
    """

    objective: str = "time"
    drone_time_limit_s: float = 2.0
    van_time_limit_s: float = 5.0
    seed: int = 0
    yen_per_wh: float = 0.03
    yen_per_sortie: float = 150.0

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            msg = f"objective must be one of {OBJECTIVES}, got {self.objective!r}"
            raise ProblemError("objective", msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModeChoice:
    """How one delivery goes: ``van``, ``drone`` or ``none``, and why."""

    job: int
    mode: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MixedPlan:
    """A drone plan, a van plan (with its problem) and the mode of every delivery."""

    drone: DronePlan
    van_problem: Problem | None
    van: Solution | None
    van_jobs: tuple[int, ...]
    modes: tuple[ModeChoice, ...]

    def van_km(self) -> float:
        """Kilometres the vans drive."""
        if self.van is None or self.van_problem is None:
            return 0.0
        return sum(r.distance(self.van_problem) for r in self.van.routes) / 1000

    def completion_s(self) -> int | None:
        """Time of the last delivery, by van or drone."""
        times = [self.drone.completion_s()]
        if self.van is not None:
            times += [v.start for r in self.van.routes for v in r.visits]
        vals = [t for t in times if t is not None]
        return max(vals) if vals else None


def _van_problem(jobs: Sequence[DroneJob], idx: Sequence[int], fleet: VanFleet,
                 dur: IntMatrix, dist: IntMatrix) -> Problem:
    nd = len(fleet.depots)
    sel = [*range(nd), *(nd + j for j in idx)]
    d = dur[np.ix_(sel, sel)]
    m = dist[np.ix_(sel, sel)]
    locs = tuple([Location(lon=x, lat=y, name=f"depot-{k}") for k, (x, y) in
                  enumerate(fleet.depots)] + [Location(lon=jobs[j].lon, lat=jobs[j].lat,
                                                       name=jobs[j].id) for j in idx])
    vt = VehicleType(name="van", capacity=(round(fleet.capacity_kg * 1000),), profile="car",
                     distance_cost=1)
    vehicles = tuple(Vehicle(id=f"van-{k}-{n + 1}", type=0, start=k, end=k, shift=fleet.shift)
                     for k, count in enumerate(fleet.vans) for n in range(count))
    work = tuple(Job(id=jobs[j].id, location=nd + i, load=(round(jobs[j].weight_kg * 1000),),
                     window=jobs[j].window, service_s=fleet.service_s,
                     priority=jobs[j].priority)
                 for i, j in enumerate(idx))
    return Problem(locations=locs, dimensions=("grams",), durations={"car": d},
                   distances={"car": m}, vehicle_types=(vt,), vehicles=vehicles, jobs=work)


def _solve_vans(problem: DroneProblem, idx: list[int], fleet: VanFleet, dur: IntMatrix,
                dist: IntMatrix, params: MixedParams) -> tuple[Problem | None, Solution | None]:
    from routing.solve import SolveParams, solve

    if not idx or not sum(fleet.vans):
        return None, None
    vp = _van_problem(problem.jobs, idx, fleet, dur, dist)
    return vp, solve(vp, SolveParams(time_limit_s=params.van_time_limit_s, seed=params.seed))


def _van_reach(fleet: VanFleet, dur: IntMatrix, n_jobs: int) -> npt.NDArray[np.bool_]:
    nd = len(fleet.depots)
    ok = np.zeros(n_jobs, dtype=bool)
    for k in range(nd):
        if fleet.vans[k] > 0:
            ok |= (dur[k, nd:] < UNREACHABLE) & (dur[nd:, k] < UNREACHABLE)
    return ok


@dataclass(slots=True)
class _Mix:
    """What the mixed planner knows about the day."""

    problem: DroneProblem
    legs: AirLegs
    fleet: VanFleet
    dur: IntMatrix
    dist: IntMatrix
    params: MixedParams
    dparams: DronePlanParams
    van_ok: npt.NDArray[np.bool_]
    probe: _Planner
    wanted: list[int]
    road_ok: npt.NDArray[np.bool_]

    def boost(self, j: int) -> int:
        """Jobs no van can reach fly first."""
        return 0 if self.van_ok[j] else 1

    def drones(self, jobs: list[int]) -> DronePlan:
        """Plan the drones for ``jobs``."""
        return plan_drones(self.problem, self.legs, self.dparams, jobs=jobs,
                           priority_boost=self.boost)

    def vans(self, idx: list[int]) -> tuple[Problem | None, Solution | None]:
        """Solve the vans for ``idx``."""
        return _solve_vans(self.problem, idx, self.fleet, self.dur, self.dist, self.params)

    def split(self, drone_jobs: list[int], extra_vans: Sequence[int] = ()) -> _Split:
        """Fly ``drone_jobs`` where the drones can; drive the rest a van can reach (and
        ``extra_vans``)."""
        dplan = self.drones(drone_jobs)
        flown = dplan.served()
        idx = sorted({*extra_vans, *(j for j in range(len(self.problem.jobs))
                                     if j not in flown and self.van_ok[j])})
        return _Split(dplan, idx, *self.vans(idx), drone_jobs=list(drone_jobs))


@dataclass(slots=True)
class _Split:
    dplan: DronePlan
    van_idx: list[int]
    vp: Problem | None
    vsol: Solution | None
    drone_jobs: list[int] = field(default_factory=list)  # the jobs the drones were given

    def van_end(self, default: int) -> int:
        return max((v.start for r in (self.vsol.routes if self.vsol else ()) for v in r.visits),
                   default=default)

    def end(self) -> int:
        return max(self.dplan.completion_s() or 0, self.van_end(0))

    def van_left(self) -> set[str]:
        """Ids of the jobs the vans were given but left out."""
        if self.vp is None or self.vsol is None:
            return set()
        return {self.vp.jobs[u.ref].id for u in self.vsol.unassigned}

    def lost(self, mix: _Mix) -> int:
        """Priority-weighted count of the jobs neither fleet delivers."""
        done = self.dplan.served()
        left = self.van_left()
        done |= {j for j in self.van_idx if mix.problem.jobs[j].id not in left}
        return sum(1 + 10 * max(0, mix.problem.jobs[j].priority)
                   for j in range(len(mix.problem.jobs)) if j not in done)


def plan_mixed(problem: DroneProblem, air: AirNetwork | AirLegs, fleet: VanFleet,
               road_durations: npt.ArrayLike, road_distances: npt.ArrayLike,
               params: MixedParams | None = None) -> MixedPlan:
    """Decide van, drone or neither for every job, and plan both fleets.

    Parameters
    ----------
    problem
        The deliveries, droneports, drone model, wind and hours.
    air
        Drone legs (see :func:`plan_drones`).
    fleet
        Depots and vans.
    road_durations, road_distances
        Road seconds / metres over ``fleet.depots`` then ``problem.jobs`` (square;
        :data:`~routing.model.UNREACHABLE` where no road reaches).
    params
        Objective and time limits.

    Raises
    ------
    ProblemError
        When the road matrices do not match the depots and jobs.
    """
    params = params or MixedParams()
    dur = np.asarray(road_durations, dtype=np.int64)
    dist = np.asarray(road_distances, dtype=np.int64)
    n = len(problem.jobs)
    if dur.shape != (len(fleet.depots) + n,) * 2 or dist.shape != dur.shape:
        raise ProblemError("road_durations", "must be square over the depots then the jobs")
    legs = _as_legs(air, problem)
    road_ok = _van_reach(fleet, dur, n)
    heavy = np.array([j.weight_kg > fleet.capacity_kg for j in problem.jobs], dtype=bool)
    van_ok = road_ok & ~heavy.reshape(n)
    dparams = DronePlanParams(objective=params.objective,
                              time_limit_s=params.drone_time_limit_s, seed=params.seed)
    probe = _Planner(problem, legs, dparams)
    probe.screen()
    mix = _Mix(problem=problem, legs=legs, fleet=fleet, dur=dur, dist=dist, params=params,
               dparams=dparams, van_ok=van_ok, probe=probe,
               wanted=[j for j in range(n) if j not in probe.why], road_ok=road_ok)
    if params.objective == "cost":
        mix.wanted = [j for j in mix.wanted if not van_ok[j] or _drone_cheaper(mix, j)]
    split = mix.split(mix.wanted)
    if params.objective == "time" and sum(fleet.vans) > 0:
        split = _rebalance(mix, split)
    else:
        split = _fly_van_leftovers(mix, split)
    return MixedPlan(drone=split.dplan, van_problem=split.vp, van=split.vsol,
                     van_jobs=tuple(split.van_idx), modes=tuple(_modes(mix, split)))


def _drone_cheaper(mix: _Mix, j: int) -> bool:
    """Whether flying ``j`` costs less than an estimate of driving it."""
    fleet, nd = mix.fleet, len(mix.fleet.depots)
    prof = min((mix.probe.profile(k, (j,))[0] for k in mix.probe.alone[j]),
               key=lambda p: p.energy_wh)
    drone = prof.energy_wh * mix.params.yen_per_wh + mix.params.yen_per_sortie
    row = mix.dist[nd + j]
    others = [row[k] for k in range(nd) if fleet.vans[k] > 0]
    others += [row[nd + i] for i in range(len(mix.van_ok)) if i != j and mix.van_ok[i]]
    near = min((int(x) for x in others if x < UNREACHABLE), default=0)
    return bool(drone < 2 * near / 1000 * fleet.yen_per_km)


def _fly_van_leftovers(mix: _Mix, split: _Split) -> _Split:
    """Give the drones the jobs kept for the vans (cheaper by van) that the vans left out."""
    left = split.van_left()
    extra = [j for j in split.van_idx if mix.problem.jobs[j].id in left
             and j not in mix.probe.why and j not in split.drone_jobs]
    if not extra:
        return split
    other = mix.split(sorted({*split.drone_jobs, *extra}))
    return other if other.lost(mix) < split.lost(mix) else split


def _rebalance(mix: _Mix, split: _Split) -> _Split:
    """Move late drone deliveries that a van could make to the vans when that is sooner.

    The late deliveries are those after the vans' last one (after the day's start when
    the vans have none); the latest third, two thirds and all of them are tried, the best
    split (fewest priority-weighted jobs left out, then the earliest completion) is kept,
    and the move is repeated from it while it helps (at most three rounds).
    """
    best = split
    for _ in range(3):
        van_end = best.van_end(mix.problem.hours.earliest)
        late = sorted(((t, j) for s in best.dplan.sorties
                       for j, t in zip(s.jobs, s.drop_s, strict=True)
                       if t > van_end and mix.van_ok[j]), reverse=True)
        if not late:
            break
        sizes = sorted({max(1, round(len(late) * f)) for f in (1 / 3, 2 / 3, 1.0)})
        improved = False
        for size in sizes:
            moved = {j for _, j in late[:size]}
            keep = [j for j in best.drone_jobs if j not in moved]
            other = mix.split(keep, extra_vans=[*best.van_idx, *moved])
            if (other.lost(mix), other.end()) < (best.lost(mix), best.end()):
                best, improved = other, True
        if not improved:
            break
    return best


def _road_text(mix: _Mix, j: int) -> str:
    if not mix.road_ok[j]:
        return "van: no road reaches it from a depot with vans"
    return f"van: too heavy for a van ({mix.fleet.capacity_kg:g} kg)"


def _modes(mix: _Mix, split: _Split) -> list[ModeChoice]:
    flown = split.dplan.served()
    vp, vsol = split.vp, split.vsol
    van_left = ({vp.jobs[u.ref].id: u.reason for u in vsol.unassigned}
                if vp is not None and vsol is not None else {})
    drone_left = {r.job: r for r in split.dplan.refused}
    in_vans = set(split.van_idx)
    out = []
    for j, job in enumerate(mix.problem.jobs):
        air = mix.probe.why.get(j) or drone_left.get(j)
        air_txt = f"drone: {air.reason} ({air.detail})" if air else ""
        if j in flown:
            why = _road_text(mix, j) if not mix.van_ok[j] else (
                "drone: cheaper by drone than by van" if mix.params.objective == "cost"
                else "drone: fits a sortie")
            out.append(ModeChoice(job=j, mode="drone", reason=why))
        elif j in in_vans and job.id not in van_left:
            if air_txt:
                reason = air_txt
            elif j not in mix.wanted:
                reason = "cheaper by van than by drone"
            else:
                reason = "the vans finish the day sooner with it"
            out.append(ModeChoice(job=j, mode="van", reason=reason))
        else:
            parts = [air_txt] if air_txt else []
            if j not in mix.wanted and not air_txt:
                parts.append("drone: not flown (cheaper by van)")
            parts.append(f"van: {van_left[job.id]}" if job.id in van_left
                         else _road_text(mix, j))
            out.append(ModeChoice(job=j, mode="none", reason="; ".join(parts)))
    return out
