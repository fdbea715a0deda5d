"""Routes, visits and solutions, with statistics computed from the problem.

Whether a solution is feasible is for the referee, :func:`routing.check.check`, to say:
it reads these types, and nothing here depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

# The kinds live with the problem model; they stay importable from here for the layers
# above (dispatch, api, the literature readers).
from routing.model import ItemKind, StopKind

if TYPE_CHECKING:
    from routing.model import Problem

__all__ = ["ItemKind", "Route", "Solution", "StopKind", "Unassigned", "Visit"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Visit:
    """One stop of a route.

    ``ref`` indexes ``Problem.requests`` (pickup, drop-off), ``Problem.jobs`` (job)
    or the vehicle's ``breaks`` (break). ``arrival`` is when the vehicle gets there,
    ``start`` when service begins (after any wait), ``departure`` when it leaves
    (``start`` plus the service time). A break is taken at the previous stop's
    location: ``location`` repeats that location.
    """

    kind: StopKind
    ref: int
    location: int
    arrival: int
    start: int
    departure: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """The visits of one vehicle, leaving its start at ``start_s``.

    ``end_s`` is the arrival at the end depot, or the last departure for an open
    route.
    """

    vehicle: int
    visits: tuple[Visit, ...]
    start_s: int
    end_s: int

    @property
    def duration_s(self) -> int:
        """Time from leaving the start to reaching the end."""
        return self.end_s - self.start_s

    def locations(self, problem: Problem) -> list[int]:
        """Return the location sequence, start and end depots included."""
        v = problem.vehicles[self.vehicle]
        seq = [v.start, *(x.location for x in self.visits)]
        if v.end is not None:
            seq.append(v.end)
        return seq

    def distance(self, problem: Problem) -> int:
        """Return the distance driven, in the problem's distance unit."""
        seq = self.locations(problem)
        return sum(problem.distance_m(self.vehicle, a, b) for a, b in pairwise(seq))


@dataclass(frozen=True, slots=True, kw_only=True)
class Unassigned:
    """A request or job left out, with the reason."""

    kind: ItemKind
    ref: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Solution:
    """A plan: one route per used vehicle and everything left out."""

    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...] = ()
    engine: str = ""
    runtime_s: float = 0.0

    def distance(self, problem: Problem) -> int:
        """Return the total distance driven."""
        return sum(r.distance(problem) for r in self.routes)

    def duration_s(self) -> int:
        """Return the summed route durations."""
        return sum(r.duration_s for r in self.routes)

    def n_vehicles(self) -> int:
        """Return the number of routes that visit at least one stop."""
        return sum(1 for r in self.routes if r.visits)

    def cost(self, problem: Problem) -> int:
        """Return the objective: vehicle costs plus penalties of optional work left out."""
        total = 0
        for r in self.routes:
            if not r.visits:
                continue
            t = problem.vehicle_type(r.vehicle)
            total += t.fixed_cost + t.distance_cost * r.distance(problem)
            total += t.duration_cost * r.duration_s
        for u in self.unassigned:
            item = problem.requests[u.ref] if u.kind is ItemKind.REQUEST else problem.jobs[u.ref]
            total += item.penalty
        return total
