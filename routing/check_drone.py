"""Independent checker of drone plans: payload, energy, wind, windows, airspace, turnaround.

:func:`check_drone_plan` recomputes every sortie from the published energy model
(:mod:`routing.drone`) and the flown paths, and tests the paths against the **original**
avoided polygons with shapely (interior of the path against the interior of the
polygon: running along an edge or touching a vertex is allowed). It imports only the
drone model and the plan types, never the planner (:mod:`routing.drone_plan`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from itertools import pairwise

import shapely
from shapely.geometry.base import BaseGeometry

from routing.drone import DronePlan, DroneProblem, Sortie, path_length_m, sortie_profile

#: Seconds by which reported times may differ from the recomputed ones (rounding).
TIME_TOL_S = 1
#: Watt-hours by which the reported energy may differ from the recomputed one.
ENERGY_TOL_WH = 0.5
#: Metres by which consecutive paths may fail to join.
JOIN_TOL_M = 1.0


class DroneViolationKind(StrEnum):
    """What a drone plan breaks."""

    PAYLOAD = "payload"
    ENERGY_RESERVE = "energy_reserve"
    ENERGY_REPORTED = "energy_reported"
    WIND = "wind"
    UNREACHABLE = "unreachable"
    WINDOW = "window"
    HOURS = "hours"
    TIMING = "timing"
    TURNAROUND = "turnaround"
    AIRSPACE = "airspace"
    PERMIT = "permit"
    PATH = "path"
    UNKNOWN = "unknown"
    DUPLICATE = "duplicate"
    MISSING = "missing"


@dataclass(frozen=True, slots=True, kw_only=True)
class DroneViolation:
    """One broken rule: the kind, the sortie index (``-1`` for none), and a message."""

    kind: DroneViolationKind
    sortie: int
    message: str


Named = Sequence[tuple[str, BaseGeometry]]


def check_drone_plan(
    problem: DroneProblem, plan: DronePlan, *, avoid: Named = (), permit: Named = (),
    jobs: Iterable[int] | None = None,
) -> list[DroneViolation]:
    """Return every violation of ``plan`` (empty when feasible).

    Parameters
    ----------
    problem
        Jobs, droneports, drone model, wind and operating hours.
    plan
        The sorties and refusals to check.
    avoid, permit
        ``(name, polygon)`` pairs in lon/lat: no path may enter an avoided polygon (and
        no take-off point lie in one); every permit area a path enters must be listed in
        the sortie's ``permits``.
    jobs
        The jobs the plan had to decide (served or refused exactly once); all by default.
    """
    out: list[DroneViolation] = []
    drones = dict(problem.drones())
    for k, s in enumerate(plan.sorties):
        out += _check_sortie(problem, drones, k, s, avoid, permit)
    out += _check_turnaround(problem, plan)
    out += _check_cover(problem, plan, jobs)
    return out


def _v(kind: DroneViolationKind, k: int, msg: str) -> DroneViolation:
    return DroneViolation(kind=kind, sortie=k, message=msg)


def _check_sortie(problem: DroneProblem, drones: dict[str, int], k: int, s: Sortie,
                  avoid: Named, permit: Named) -> list[DroneViolation]:
    K = DroneViolationKind
    if drones.get(s.drone) != s.port:
        return [_v(K.UNKNOWN, k, f"drone {s.drone!r} is not based at port {s.port}")]
    if any(not 0 <= j < len(problem.jobs) for j in s.jobs) or not s.jobs:
        return [_v(K.UNKNOWN, k, f"sortie lists unknown or no jobs {s.jobs}")]
    out = _check_paths(problem, k, s)
    if out:
        return out
    spec, wind = problem.spec, problem.wind
    jobs = [problem.jobs[j] for j in s.jobs]
    load = sum(j.weight_kg for j in jobs)
    if load > spec.payload_kg + 1e-9:
        out.append(_v(K.PAYLOAD, k, f"{load:.2f} kg over the {spec.payload_kg:g} kg limit"))
    if wind.speed_mps > spec.max_wind_mps:
        out.append(_v(K.WIND, k, f"wind {wind.speed_mps:g} m/s over {spec.max_wind_mps:g}"))
    out += _check_airspace(problem, k, s, avoid, permit)
    # recompute the energy even past the payload or wind limit (already reported above)
    lenient = replace(spec, payload_kg=max(spec.payload_kg, load),
                      max_wind_mps=max(spec.max_wind_mps, wind.speed_mps))
    prof = sortie_profile(lenient, wind, problem.ports[s.port].lonlat,
                          [(j.lon, j.lat) for j in jobs], [j.weight_kg for j in jobs], s.paths)
    if not prof.ok and prof.reason is not None and prof.reason.value == "unreachable":
        return [*out, _v(K.UNREACHABLE, k, prof.detail)]
    if prof.energy_wh > spec.usable_wh + 1e-9:
        out.append(_v(K.ENERGY_RESERVE, k, f"needs {prof.energy_wh:.1f} Wh, more than the "
                      f"{spec.usable_wh:.1f} Wh above the reserve"))
    if abs(prof.energy_wh - s.energy_wh) > ENERGY_TOL_WH:
        out.append(_v(K.ENERGY_REPORTED, k, f"reports {s.energy_wh:.1f} Wh, the model gives "
                      f"{prof.energy_wh:.1f} Wh"))
    out += _check_times(problem, k, s, prof.drop_offsets_s, prof.duration_s)
    return out


def _check_paths(problem: DroneProblem, k: int, s: Sortie) -> list[DroneViolation]:
    K = DroneViolationKind
    if len(s.paths) != len(s.jobs) + 1:
        return [_v(K.PATH, k, f"{len(s.paths)} paths for {len(s.jobs) + 1} legs")]
    port = problem.ports[s.port].lonlat
    stops = [port, *((problem.jobs[j].lon, problem.jobs[j].lat) for j in s.jobs), port]
    for n, leg in enumerate(s.paths):
        if len(leg) < 2:
            return [_v(K.PATH, k, f"path {n + 1} has fewer than 2 points")]
        a, b = stops[n], stops[n + 1]
        first = (float(leg[0][0]), float(leg[0][1]))
        last = (float(leg[-1][0]), float(leg[-1][1]))
        if path_length_m([a, first]) > JOIN_TOL_M or path_length_m([last, b]) > JOIN_TOL_M:
            return [_v(K.PATH, k, f"path {n + 1} does not join its two stops")]
    return []


def _check_airspace(problem: DroneProblem, k: int, s: Sortie, avoid: Named,
                    permit: Named) -> list[DroneViolation]:
    K = DroneViolationKind
    out = []
    port = shapely.Point(problem.ports[s.port].lonlat)
    lines = [shapely.LineString(leg) for leg in s.paths]
    for name, poly in avoid:
        if poly.contains(port):
            out.append(_v(K.AIRSPACE, k, f"take-off point inside avoided area {name!r}"))
            continue
        for n, line in enumerate(lines):
            if shapely.relate_pattern(line, poly, "T********"):
                out.append(_v(K.AIRSPACE, k, f"path {n + 1} enters avoided area {name!r}"))
    listed = set(s.permits)
    for name, poly in permit:
        if name in listed:
            continue
        if any(shapely.relate_pattern(line, poly, "T********") for line in lines):
            out.append(_v(K.PERMIT, k, f"crosses permit area {name!r} but does not list it"))
    return out


def _check_times(problem: DroneProblem, k: int, s: Sortie, offsets: Sequence[float],
                 duration: float) -> list[DroneViolation]:
    K = DroneViolationKind
    out = []
    if len(s.drop_s) != len(s.jobs):
        return [_v(K.TIMING, k, f"{len(s.drop_s)} drop times for {len(s.jobs)} jobs")]
    for j, t, off in zip(s.jobs, s.drop_s, offsets, strict=True):
        if abs(t - (s.takeoff_s + off)) > TIME_TOL_S:
            out.append(_v(K.TIMING, k, f"job {problem.jobs[j].id}: drop at {t}, the model "
                          f"gives {s.takeoff_s + off:.0f}"))
        w = problem.jobs[j].window
        if not w.earliest <= t <= w.latest:
            out.append(_v(K.WINDOW, k, f"job {problem.jobs[j].id}: drop at {t} outside "
                          f"[{w.earliest}, {w.latest}]"))
    if abs(s.landing_s - (s.takeoff_s + duration)) > TIME_TOL_S:
        out.append(_v(K.TIMING, k, f"lands at {s.landing_s}, the model gives "
                      f"{s.takeoff_s + duration:.0f}"))
    h = problem.hours
    if s.takeoff_s < h.earliest or s.landing_s > h.latest:
        out.append(_v(K.HOURS, k, f"flies {s.takeoff_s}-{s.landing_s} outside operating "
                      f"hours [{h.earliest}, {h.latest}]"))
    return out


def _check_turnaround(problem: DroneProblem, plan: DronePlan) -> list[DroneViolation]:
    by_drone: dict[str, list[tuple[int, Sortie]]] = {}
    for k, s in enumerate(plan.sorties):
        by_drone.setdefault(s.drone, []).append((k, s))
    out = []
    swap = problem.spec.swap_s
    for flights in by_drone.values():
        flights.sort(key=lambda x: x[1].takeoff_s)
        for (_, a), (k, b) in pairwise(flights):
            if b.takeoff_s < a.landing_s + swap:
                out.append(_v(DroneViolationKind.TURNAROUND, k, (
                    f"{b.drone} takes off at {b.takeoff_s}, {a.landing_s + swap - b.takeoff_s}"
                    f" s before its {swap} s turnaround after landing at {a.landing_s}")))
    return out


def _check_cover(problem: DroneProblem, plan: DronePlan, jobs: Iterable[int] | None
                 ) -> list[DroneViolation]:
    K = DroneViolationKind
    need = set(range(len(problem.jobs))) if jobs is None else set(jobs)
    seen: dict[int, int] = {}
    for s in plan.sorties:
        for j in s.jobs:
            seen[j] = seen.get(j, 0) + 1
    for r in plan.refused:
        seen[r.job] = seen.get(r.job, 0) + 1
    out = [_v(K.DUPLICATE, -1, f"job {problem.jobs[j].id} served or refused {c} times")
           for j, c in sorted(seen.items()) if c > 1 and 0 <= j < len(problem.jobs)]
    out += [_v(K.MISSING, -1, f"job {problem.jobs[j].id} neither served nor refused")
            for j in sorted(need - set(seen))]
    return out


def is_feasible(problem: DroneProblem, plan: DronePlan, **kwargs: object) -> bool:
    """Return whether :func:`check_drone_plan` finds nothing."""
    return not check_drone_plan(problem, plan, **kwargs)  # type: ignore[arg-type]


__all__ = ["DroneViolation", "DroneViolationKind", "check_drone_plan", "is_feasible"]
