"""Solomon's VRPTW text format (100-customer C, R and RC sets).

A name line, ``VEHICLE / NUMBER CAPACITY / K Q``, then ``CUST NO. XCOORD. YCOORD. DEMAND
READY TIME DUE DATE SERVICE TIME`` rows; customer 0 is the depot. Travel time =
distance = unrounded Euclidean. Customers become delivery jobs loaded at the depot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from routing.instances.common import (
    DEFAULT_SCALE,
    Instance,
    as_int,
    euclidean,
    fail,
    numeric_rows,
    read_only,
    scale_down,
    scale_up,
    scaled_travel,
)
from routing.model import Job, JobKind, Location, Problem, TimeWindow, Vehicle, VehicleType


def read_solomon(
    path: str | Path, *, scale: int = DEFAULT_SCALE, arc_decimals: int | None = None
) -> Instance:
    """Read a Solomon VRPTW instance.

    Parameters
    ----------
    path
        The ``.txt`` instance file.
    scale
        Factor from instance time/distance units to problem integers.
    arc_decimals
        ``None`` (default) for unrounded Euclidean arcs, the hierarchical-objective
        convention. ``1`` truncates every arc to one decimal, the CVRPLIB/DIMACS
        distance-only convention of the ``mindist`` optima; travel times and the
        literature cost then use the truncated arcs.

    Raises
    ------
    InstanceFormatError
        When the file is not in the format; the message names the file and line.
    """
    path = Path(path)
    rows = numeric_rows(path, 2)
    fleet = [(ln, r) for ln, r in rows if len(r) == 2]
    nodes = [(ln, r) for ln, r in rows if len(r) == 7]
    odd = [(ln, r) for ln, r in rows if len(r) not in (2, 7)]
    if odd:
        raise fail(path, odd[0][0], f"expected 7 numbers per customer, got {len(odd[0][1])}")
    if len(fleet) != 1:
        raise fail(path, fleet[1][0] if fleet else None, "expected one 'NUMBER CAPACITY' line")
    fline, (k_f, q_f) = fleet[0]
    k, q_cap = as_int(path, fline, k_f, "vehicle number"), as_int(path, fline, q_f, "capacity")
    if not nodes:
        raise fail(path, None, "no customer lines")
    for i, (lineno, row) in enumerate(nodes):
        if as_int(path, lineno, row[0], "customer number") != i:
            raise fail(path, lineno, f"customer number {row[0]:g} where {i} was expected")
    xy = np.array([row[1:3] for _, row in nodes], dtype=np.float64)
    dist = euclidean(xy)
    if arc_decimals is not None:
        dist = np.floor(np.round(dist * 10**arc_decimals, 6)) / 10**arc_decimals
    durs, dists = scaled_travel(dist, scale)
    jobs = tuple(
        Job(id=str(i), location=i, load=(as_int(path, ln, row[3], "demand"),),
            kind=JobKind.DELIVERY, window=_window(row, scale),
            service_s=scale_up(row[6], scale))
        for i, (ln, row) in enumerate(nodes) if i > 0
    )
    problem = Problem(
        name=path.stem,
        locations=tuple(Location(lon=float(x), lat=float(y)) for x, y in xy),
        dimensions=("load",),
        durations={"car": durs}, distances={"car": dists},
        vehicle_types=(VehicleType(name="truck", capacity=(q_cap,)),),
        vehicles=tuple(Vehicle(id=str(v), type=0, start=0, end=0,
                               shift=_window(nodes[0][1], scale)) for v in range(k)),
        jobs=jobs,
    )
    return Instance(name=path.stem, format="solomon", problem=problem,
                    node_ids=tuple(range(len(nodes))), cost_matrix=read_only(dist),
                    scale=scale, depots=frozenset({0}))


def _window(row: list[float], scale: int) -> TimeWindow:
    return TimeWindow(earliest=scale_up(row[4], scale), latest=scale_down(row[5], scale))
