"""Reachability: which requests and jobs no allowed vehicle can reach at all.

A location is reachable from another when a chain of finite matrix entries joins them
(the route may pass other locations on the way). The solver names such work
``unreachable`` rather than calling it a missed time window.
"""

from __future__ import annotations

import itertools

from routing.model import UNREACHABLE, Problem


def unreachable_items(problem: Problem) -> dict[tuple[str, int], str]:
    """Find the requests and jobs that no allowed vehicle can reach at all.

    A location is reachable from another when a chain of finite matrix entries joins
    them (the route may pass other locations on the way).

    Returns
    -------
    dict
        ``(kind, index) -> reason`` with ``kind`` ``"request"`` or ``"job"``; the reason
        names two locations with no path between them (from the vehicle's start, between
        pickup and drop-off, or to its end) on every allowed vehicle's profile.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import breadth_first_order

    graphs = {p: csr_matrix(m < UNREACHABLE) for p, m in problem.durations.items()}
    seen: dict[tuple[str, int], set[int]] = {}

    def reaches(profile: str, a: int, b: int) -> bool:
        if (profile, a) not in seen:
            order = breadth_first_order(graphs[profile], a, return_predecessors=False)
            seen[profile, a] = {int(x) for x in order}
        return b in seen[profile, a]

    def gap(k: int, stops: tuple[int, ...]) -> tuple[int, int] | None:
        v = problem.vehicles[k]
        profile = str(problem.vehicle_type(k).profile)
        path = (v.start, *stops) + (() if v.end is None else (v.end,))
        return next(((a, b) for a, b in itertools.pairwise(path)
                     if not reaches(profile, a, b)), None)

    def name(i: int) -> str:
        return problem.locations[i].name or str(i)

    items: list[tuple[str, int, tuple[int, ...], tuple[int, ...] | None]] = [
        ("request", i, (r.pickup, r.dropoff), r.allowed_vehicles)
        for i, r in enumerate(problem.requests)]
    items += [("job", j, (x.location,), x.allowed_vehicles) for j, x in enumerate(problem.jobs)]
    out: dict[tuple[str, int], str] = {}
    for kind, i, stops, allowed in items:
        gaps = [gap(k, stops) for k in (range(len(problem.vehicles)) if allowed is None
                                         else allowed)]
        found = [g for g in gaps if g is not None]
        if gaps and len(found) == len(gaps):
            a, b = found[0]
            out[kind, i] = f"unreachable: no path from {name(a)} to {name(b)}"
    return out
