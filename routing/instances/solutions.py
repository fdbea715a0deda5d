"""Best-known tables (``bks.csv``) and published solution files.

Solution files list routes of node numbers, one route per line (``Route 1 : 5 3 7`` in
the SINTEF format, ``Route #1: 5 3 7`` in the CVRPLIB ``.sol`` format); in both the
numbers are location indices counted from the depot as 0 (for VRPLIB files, whose
nodes are numbered from 1, that is the file id minus one). The routes are timed by a
plain earliest-start forward pass, which is exact for instances without ride-time or
route-duration limits (Li & Lim, Solomon, CVRP).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from routing.instances.common import BestKnown, Instance, fail
from routing.model import Problem, TimeWindow
from routing.solution import ItemKind, Route, Solution, StopKind, Unassigned, Visit

_ROUTE = re.compile(r"^\s*Route\s*#?\s*\d+\s*:(.*)$", re.IGNORECASE)


def best_known(path: str | Path, fmt: str) -> BestKnown | None:
    """Return the best-known solution of an instance from its folder's ``bks.csv``.

    The table is looked up in the instance's folder and, when that is ``instances/``,
    its parent. Returns ``None`` when there is no table or no row for the instance.
    """
    path = Path(path)
    for folder in (path.parent, path.parent.parent):
        table = folder / "bks.csv"
        if table.is_file():
            break
    else:
        return None
    with table.open(newline="", encoding="utf-8") as fh:
        rows = {row["instance"]: row for row in csv.DictReader(fh)}
    row = rows.get(path.stem)
    if row is None:
        return None
    if fmt == "cordeau":
        return BestKnown(cost=float(row["bks_cost"]), vehicles=None)
    if fmt == "vrplib":
        return BestKnown(cost=float(row["cost"]), vehicles=_int(row.get("routes_in_bks_solution")),
                         solution_file=_file(folder, row.get("solution_file")))
    only = row.get("mindist_distance")
    return BestKnown(
        cost=float(row["distance"]), vehicles=_int(row.get("vehicles")),
        distance_only_cost=float(only) if only else None,
        distance_only_vehicles=_int(row.get("mindist_vehicles")),
        solution_file=_file(folder, row.get("solution_file")),
    )


def _int(value: str | None) -> int | None:
    return int(value) if value else None


def _file(folder: Path, name: str | None) -> Path | None:
    return folder / name if name else None


def read_solution_routes(path: str | Path) -> list[list[int]]:
    """Return the routes of a SINTEF or CVRPLIB solution file as lists of numbers.

    Raises
    ------
    InstanceFormatError
        When the file cannot be read, has no route line, or a route has a non-number.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(path, None, f"cannot read ({exc})") from exc
    routes = []
    for lineno, line in enumerate(lines, start=1):
        m = _ROUTE.match(line)
        if not m:
            continue
        try:
            routes.append([int(t) for t in m.group(1).split()])
        except ValueError as exc:
            raise fail(path, lineno, f"route holds a non-integer ({exc})") from exc
    if not routes:
        raise fail(path, None, "no 'Route ...:' line")
    return routes


def read_solution(path: str | Path, instance: Instance) -> Solution:
    """Read a published solution file into a timed :class:`Solution` of ``instance``.

    Route ``r`` is given to vehicle ``r``; items on no route are unassigned.

    Raises
    ------
    InstanceFormatError
        When a number is no stop of the instance, or there are more routes than vehicles.
    """
    path = Path(path)
    routes = read_solution_routes(path)
    if len(routes) > len(instance.problem.vehicles):
        msg = f"{len(routes)} routes for {len(instance.problem.vehicles)} vehicles"
        raise fail(path, None, msg)
    stops = stops_by_location(instance.problem)
    seqs = []
    for route in routes:
        bad = [loc for loc in route if loc not in stops]
        if bad:
            raise fail(path, None, f"numbers {bad} are no stops of {instance.name}")
        seqs.append([stops[loc] for loc in route])
    return earliest_schedule(instance.problem, seqs)


def stops_by_location(problem: Problem) -> dict[int, tuple[StopKind, int]]:
    """Map each location with exactly one stop to that stop."""
    out: dict[int, tuple[StopKind, int]] = {}
    shared: set[int] = set()
    items = [(r.pickup, (StopKind.PICKUP, i)) for i, r in enumerate(problem.requests)]
    items += [(r.dropoff, (StopKind.DROPOFF, i)) for i, r in enumerate(problem.requests)]
    items += [(j.location, (StopKind.JOB, i)) for i, j in enumerate(problem.jobs)]
    for loc, stop in items:
        if loc in out:
            shared.add(loc)
        out[loc] = stop
    return {loc: s for loc, s in out.items() if loc not in shared}


def earliest_schedule(problem: Problem, seqs: list[list[tuple[StopKind, int]]]) -> Solution:
    """Time each sequence (sequence ``k`` on vehicle ``k``) by earliest service start.

    Breaks are not supported. Feasibility is not checked here: use
    :func:`routing.check.check`.
    """
    routes = []
    served: set[tuple[ItemKind, int]] = set()
    for k, seq in enumerate(seqs):
        v = problem.vehicles[k]
        loc, t = v.start, v.shift.earliest
        visits = []
        for kind, ref in seq:
            target, service, window = _stop(problem, kind, ref)
            arrival = t + problem.travel_s(k, loc, target)
            start = max(arrival, window.earliest)
            visits.append(Visit(kind=kind, ref=ref, location=target, arrival=arrival,
                                start=start, departure=start + service))
            loc, t = target, start + service
            served.add((ItemKind.JOB if kind is StopKind.JOB else ItemKind.REQUEST, ref))
        end = t if v.end is None else t + problem.travel_s(k, loc, v.end)
        routes.append(Route(vehicle=k, visits=tuple(visits), start_s=v.shift.earliest,
                            end_s=end))
    unassigned = [Unassigned(kind=ItemKind.REQUEST, ref=i, reason="not in the solution file")
                  for i in range(len(problem.requests)) if (ItemKind.REQUEST, i) not in served]
    unassigned += [Unassigned(kind=ItemKind.JOB, ref=j, reason="not in the solution file")
                   for j in range(len(problem.jobs)) if (ItemKind.JOB, j) not in served]
    return Solution(routes=tuple(routes), unassigned=tuple(unassigned), engine="file")


def _stop(problem: Problem, kind: StopKind, ref: int) -> tuple[int, int, TimeWindow]:
    if kind is StopKind.JOB:
        j = problem.jobs[ref]
        return j.location, j.service_s, j.window
    r = problem.requests[ref]
    if kind is StopKind.PICKUP:
        return r.pickup, r.pickup_service_s, r.effective_pickup_window
    return r.dropoff, r.dropoff_service_s, r.dropoff_window
