"""Li & Lim's pickup-and-delivery with time windows (PDPTW) format.

First line ``K Q S`` (vehicles, capacity, speed); then ``id x y demand e l service
p_index d_index``: a pickup has ``p_index = 0`` and ``d_index`` its delivery, a delivery
has ``p_index`` its pickup and ``d_index = 0``; node 0 is the depot. Travel time =
distance, unrounded Euclidean; the literature objective is vehicles first, then total
distance. The speed field ``S`` is ignored, as in the literature (it is 0 in 10 of the
40 files, 1 in the others).
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
from routing.model import (
    Location,
    Problem,
    Request,
    RequestKind,
    TimeWindow,
    Vehicle,
    VehicleType,
)


def read_lilim(path: str | Path, *, scale: int = DEFAULT_SCALE) -> Instance:
    """Read a Li & Lim PDPTW instance.

    Parameters
    ----------
    path
        The ``.txt`` instance file.
    scale
        Factor from instance time/distance units to problem integers.

    Raises
    ------
    InstanceFormatError
        When the file is not in the format; the message names the file and line.
    """
    path = Path(path)
    rows = numeric_rows(path, 3)
    if not rows or len(rows[0][1]) != 3:
        raise fail(path, rows[0][0] if rows else None, "first line must be 'K Q S'")
    (hline, (k_f, q_f, _speed)), nodes = rows[0], rows[1:]
    k, q_cap = as_int(path, hline, k_f, "K"), as_int(path, hline, q_f, "Q")
    for i, (lineno, row) in enumerate(nodes):
        if len(row) != 9:
            raise fail(path, lineno, f"node line needs 9 fields, got {len(row)}")
        if as_int(path, lineno, row[0], "id") != i:
            raise fail(path, lineno, f"node id {row[0]:g} where {i} was expected")
    if not nodes:
        raise fail(path, hline, "no node lines")
    xy = np.array([row[1:3] for _, row in nodes], dtype=np.float64)
    dist = euclidean(xy)
    durs, dists = scaled_travel(dist, scale)
    requests = [_request(path, nodes, i, scale) for i, (_, row) in enumerate(nodes)
                if i > 0 and row[7] == 0]
    n_deliveries = sum(1 for i, (_, row) in enumerate(nodes) if i > 0 and row[8] == 0)
    if n_deliveries != len(requests):
        raise fail(path, None, f"{len(requests)} pickups but {n_deliveries} deliveries")
    depot = nodes[0][1]
    shift = TimeWindow(earliest=scale_up(depot[4], scale), latest=scale_down(depot[5], scale))
    problem = Problem(
        name=path.stem,
        locations=tuple(Location(lon=float(x), lat=float(y)) for x, y in xy),
        dimensions=("load",),
        durations={"car": durs}, distances={"car": dists},
        vehicle_types=(VehicleType(name="truck", capacity=(q_cap,)),),
        vehicles=tuple(Vehicle(id=str(v), type=0, start=0, end=0, shift=shift)
                       for v in range(k)),
        requests=tuple(requests),
    )
    return Instance(name=path.stem, format="lilim", problem=problem,
                    node_ids=tuple(range(len(nodes))), cost_matrix=read_only(dist),
                    scale=scale, depots=frozenset({0}))


def _request(
    path: Path, nodes: list[tuple[int, list[float]]], i: int, scale: int
) -> Request:
    lineno, p = nodes[i]
    d_index = as_int(path, lineno, p[8], "d_index")
    if not 0 < d_index < len(nodes):
        raise fail(path, lineno, f"pickup {i} names unknown delivery {d_index}")
    dline, d = nodes[d_index]
    if as_int(path, dline, d[7], "p_index") != i:
        raise fail(path, dline, f"delivery {d_index} does not name pickup {i} back")
    load = as_int(path, lineno, p[3], "demand")
    if as_int(path, dline, d[3], "demand") != -load:
        raise fail(path, dline, f"delivery demand {d[3]:g} does not undo pickup demand {load}")
    if load < 0:
        raise fail(path, lineno, f"pickup demand must not be negative, got {load}")
    return Request(
        id=str(i), pickup=i, dropoff=d_index, load=(load,), kind=RequestKind.DELIVERY,
        pickup_window=TimeWindow(earliest=scale_up(p[4], scale), latest=scale_down(p[5], scale)),
        dropoff_window=TimeWindow(earliest=scale_up(d[4], scale),
                                  latest=scale_down(d[5], scale)),
        pickup_service_s=scale_up(p[6], scale), dropoff_service_s=scale_up(d[6], scale),
    )
