"""The `Instance` type, the one rounding step, and the literature cost.

Literature instances speak real numbers (Euclidean distances in double precision);
the solvers speak integers. The single rounding step is :func:`scaled_travel`: every
coordinate-based distance is multiplied by the instance's integer ``scale`` and travel
times are rounded **up** (ceil), windows and limits are scaled by the same factor and
rounded inwards (earliest up, latest and limits down, service times up). Hence a plan
that is feasible in integers is feasible in the real-valued original: divide its times
by ``scale``. The converse may fail by at most one unit per leg, i.e. ``1 / scale``
time units; the default scale 1000 keeps that far below the precision the literature
reports (two decimals). Integer distances are rounded to the nearest unit; the
literature cost is computed from the float matrix, never from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from routing.errors import InstanceFormatError
from routing.solution import StopKind

if TYPE_CHECKING:
    from routing.model import Problem
    from routing.solution import Solution

#: Default factor from instance time/distance units to solver integers.
DEFAULT_SCALE = 1000

#: Format names understood by :func:`routing.instances.read_instance`.
FORMATS = ("cordeau", "lilim", "solomon", "vrplib")

FloatMatrix = npt.NDArray[np.float64]
#: Largest absolute number accepted in an instance file (coordinates, times, demands):
#: scaled by 1000 it stays far below the 64-bit integer range of the solvers.
MAX_ABS_VALUE = 1e9


@dataclass(frozen=True, slots=True, kw_only=True)
class Instance:
    """A literature instance turned into a :class:`~routing.model.Problem`.

    Parameters
    ----------
    name
        Instance name (file stem).
    format
        One of :data:`FORMATS`.
    problem
        The integer problem handed to the solvers (times and distances times ``scale``).
    node_ids
        File node id of each location index (``node_ids[loc]``).
    cost_matrix
        Arc costs between locations in the literature's own convention (unrounded
        Euclidean for Cordeau, Li & Lim and Solomon; rounded EUC_2D for VRPLIB X).
    scale
        Integer factor from instance units to problem units.
    depots
        Location indices of the depots (excluded from printed routes).
    """

    name: str
    format: str
    problem: Problem
    node_ids: tuple[int, ...]
    cost_matrix: FloatMatrix
    scale: int
    depots: frozenset[int]


@dataclass(frozen=True, slots=True, kw_only=True)
class BestKnown:
    """A best-known solution value from a ``bks.csv`` table.

    ``cost`` is in the literature convention of the instance (for Li & Lim and Solomon
    the distance of the hierarchical objective: fewest vehicles first). ``vehicles`` is
    the number of routes of that solution, ``None`` where the table does not say
    (Cordeau's column holds the fleet size, not the routes used). Solomon also has the
    distance-only optimum with arcs truncated to one decimal (CVRPLIB convention).
    """

    cost: float
    vehicles: int | None
    distance_only_cost: float | None = None
    distance_only_vehicles: int | None = None
    solution_file: Path | None = None


def euclidean(xy: FloatMatrix) -> FloatMatrix:
    """Return the unrounded Euclidean distance matrix of ``(n, 2)`` coordinates."""
    diff = xy[:, None, :] - xy[None, :, :]
    out: FloatMatrix = np.sqrt((diff**2).sum(axis=2))
    return out


def scaled_travel(
    dist: FloatMatrix, scale: int, *, speed: float = 1.0
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return integer (durations, distances): the one rounding step.

    Durations are ``ceil(dist / speed * scale)``; distances ``round(dist * scale)``.
    The product is first rounded to 6 decimals so float noise (``5.0 * 1000 =
    5000.0000000001``) does not push an exact value up by one.
    """
    times = np.ceil(np.round(dist / speed * scale, 6)).astype(np.int64)
    dists = np.rint(dist * scale).astype(np.int64)
    return times, dists


def scale_up(value: float, scale: int) -> int:
    """Scale and round up (earliest times, service times)."""
    return math.ceil(round(value * scale, 6))


def scale_down(value: float, scale: int) -> int:
    """Scale and round down (latest times, limits)."""
    return math.floor(round(value * scale, 6))


def read_only(a: npt.ArrayLike) -> FloatMatrix:
    """Return a read-only float64 copy."""
    out = np.array(a, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


def numeric_rows(path: Path, min_fields: int) -> list[tuple[int, list[float]]]:
    """Return ``(line number, numbers)`` of every line that is all numbers.

    Raises
    ------
    InstanceFormatError
        When the file cannot be read, is not text, or a number is not finite or beyond
        :data:`MAX_ABS_VALUE` (the message names the line).
    """
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        msg = f"{path}: not a text file (byte {exc.start} is not UTF-8)"
        raise InstanceFormatError(msg) from exc
    except OSError as exc:
        msg = f"{path}: cannot read ({exc.strerror or exc})"
        raise InstanceFormatError(msg) from exc
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if len(tokens) < min_fields:
            continue
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            continue
        bad = next((t for t, v in zip(tokens, values, strict=True)
                    if not math.isfinite(v) or abs(v) > MAX_ABS_VALUE), None)
        if bad is not None:
            raise fail(path, lineno, f"{bad} is not a finite number of at most {MAX_ABS_VALUE:g}")
        rows.append((lineno, values))
    return rows


def fail(path: Path, lineno: int | None, problem: str) -> InstanceFormatError:
    """Return an :class:`InstanceFormatError` naming the file and line."""
    where = f"{path}:{lineno}" if lineno is not None else str(path)
    return InstanceFormatError(f"{where}: {problem}")


def as_int(path: Path, lineno: int, value: float, what: str) -> int:
    """Return ``value`` as an int, failing when it has a fractional part."""
    if value != int(value):
        raise fail(path, lineno, f"{what} must be an integer, got {value}")
    return int(value)


def literature_cost(instance: Instance, solution: Solution) -> float:
    """Return the solution's cost in the instance's literature convention.

    The sum of ``instance.cost_matrix`` over every route's location sequence, depots
    included (unrounded Euclidean for Cordeau, Li & Lim and Solomon).
    """
    total = 0.0
    for route in solution.routes:
        if not route.visits:
            continue
        seq = route.locations(instance.problem)
        total += float(instance.cost_matrix[seq[:-1], seq[1:]].sum())
    return total


def route_node_ids(instance: Instance, solution: Solution) -> list[list[int]]:
    """Return each non-empty route as file node ids, depots and breaks excluded."""
    out = []
    for route in solution.routes:
        ids = [instance.node_ids[x.location] for x in route.visits
               if x.kind is not StopKind.BREAK and x.location not in instance.depots]
        if ids:
            out.append(ids)
    return out
