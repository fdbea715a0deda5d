"""Cordeau's dial-a-ride (DARP) format: the a/b sets of Cordeau (2006) and Ropke et al.

See ``benchmarks/darp_cordeau/FORMAT.md`` in the shared data. Header ``m n T Q L``; nodes
``id x y s q e l``: ``0`` start depot, ``1..n`` pickups, ``n+i`` the drop-off of pickup
``i``, ``2n+1`` end depot. Travel time = distance = unrounded Euclidean; ride time from
the end of pickup service to the start of drop-off service, at most ``L``; route
duration at most ``T``; capacity ``Q``; ``m`` identical vehicles, not all need be used.
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
from routing.model import Location, Problem, Request, TimeWindow, Vehicle, VehicleType


def read_cordeau(path: str | Path, *, scale: int = DEFAULT_SCALE) -> Instance:
    """Read a Cordeau DARP instance.

    Parameters
    ----------
    path
        The ``.txt`` instance file.
    scale
        Factor from minutes (and distance units) to problem integers.

    Raises
    ------
    InstanceFormatError
        When the file is not in the format; the message names the file and line.
    """
    path = Path(path)
    rows = numeric_rows(path, 5)
    if not rows:
        raise fail(path, None, "no header line 'm n T Q L'")
    (hline, header), nodes = rows[0], rows[1:]
    if len(header) != 5:
        raise fail(path, hline, f"header needs 5 fields 'm n T Q L', got {len(header)}")
    m, n, q_cap = (as_int(path, hline, header[i], f) for i, f in ((0, "m"), (1, "n"), (3, "Q")))
    t_max, l_ride = header[2], header[4]
    if len(nodes) != 2 * n + 2:
        raise fail(path, hline, f"expected {2 * n + 2} node lines for n={n}, got {len(nodes)}")
    for i, (lineno, row) in enumerate(nodes):
        if len(row) != 7:
            raise fail(path, lineno, f"node line needs 7 fields 'id x y s q e l', got {len(row)}")
        if as_int(path, lineno, row[0], "id") != i:
            raise fail(path, lineno, f"node id {row[0]:g} where {i} was expected")
    xy = np.array([row[1:3] for _, row in nodes], dtype=np.float64)
    dist = euclidean(xy)
    durs, dists = scaled_travel(dist, scale)
    requests = []
    for i in range(1, n + 1):
        (pl, p), (dl, d) = nodes[i], nodes[n + i]
        load = as_int(path, pl, p[4], "q")
        if as_int(path, dl, d[4], "q") != -load:
            raise fail(path, dl, f"drop-off load {d[4]:g} does not undo pickup load {load}")
        requests.append(Request(
            id=str(i), pickup=i, dropoff=n + i, load=(load,),
            pickup_window=_window(p, scale), dropoff_window=_window(d, scale),
            pickup_service_s=scale_up(p[3], scale), dropoff_service_s=scale_up(d[3], scale),
            max_ride_s=scale_down(l_ride, scale),
        ))
    depot_window = _window(nodes[0][1], scale).intersect(_window(nodes[-1][1], scale))
    if depot_window is None:
        raise fail(path, nodes[0][0], "start and end depot windows do not overlap")
    vehicles = tuple(
        Vehicle(id=str(k), type=0, start=0, end=2 * n + 1, shift=depot_window,
                max_duration_s=scale_down(t_max, scale))
        for k in range(m)
    )
    problem = Problem(
        name=path.stem,
        locations=tuple(Location(lon=float(x), lat=float(y)) for x, y in xy),
        dimensions=("seats",),
        durations={"car": durs}, distances={"car": dists},
        vehicle_types=(VehicleType(name="bus", capacity=(q_cap,)),),
        vehicles=vehicles, requests=tuple(requests),
    )
    return Instance(name=path.stem, format="cordeau", problem=problem,
                    node_ids=tuple(range(2 * n + 2)), cost_matrix=read_only(dist),
                    scale=scale, depots=frozenset({0, 2 * n + 1}))


def _window(row: list[float], scale: int) -> TimeWindow:
    return TimeWindow(earliest=scale_up(row[5], scale), latest=scale_down(row[6], scale))
