"""VRPLIB (TSPLIB-style) CVRP instances, read with the ``vrplib`` package.

The CVRPLIB X set uses ``EDGE_WEIGHT_TYPE : EUC_2D``: arc lengths are Euclidean
distances rounded to the nearest integer (TSPLIB ``nint``), and the literature cost is
the sum of those rounded lengths. They are integers already, so the scale is 1 and
travel time = arc length. Optional ``TIME_WINDOW_SECTION`` / ``SERVICE_TIME_SECTION``
are honoured (scaled like the rest). The number of routes is free in this convention:
unless the file has a ``VEHICLES`` entry, the fleet has one vehicle per customer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import vrplib

from routing.instances.common import (
    Instance,
    euclidean,
    fail,
    read_only,
    scale_down,
    scale_up,
    scaled_travel,
)
from routing.model import Job, JobKind, Location, Problem, TimeWindow, Vehicle, VehicleType


def read_vrplib(path: str | Path, *, scale: int = 1) -> Instance:
    """Read a VRPLIB CVRP (or VRPTW) instance.

    Parameters
    ----------
    path
        The ``.vrp`` file.
    scale
        Factor from arc lengths to problem integers (1: EUC_2D lengths are integers).

    Raises
    ------
    InstanceFormatError
        When the file cannot be parsed or lacks a section the problem needs.
    """
    path = Path(path)
    data = _parse(path)
    n = int(data.get("dimension", 0))
    for key in ("node_coord", "demand", "capacity", "depot"):
        if key not in data:
            raise fail(path, None, f"missing {key.upper()} entry")
    xy = np.asarray(data["node_coord"], dtype=np.float64)
    if xy.shape != (n, 2):
        raise fail(path, None, f"NODE_COORD_SECTION has shape {xy.shape}, DIMENSION is {n}")
    dist = _arc_lengths(path, data, xy)
    durs, dists = scaled_travel(dist, scale)
    depots = [int(d) for d in np.atleast_1d(data["depot"])]
    if len(depots) != 1 or not 0 <= depots[0] < n:
        raise fail(path, None, f"exactly one depot expected, got {depots}")
    depot = depots[0]
    windows = np.asarray(data.get("time_window", [[0, 0]] * n), dtype=np.float64)
    has_tw = "time_window" in data
    service = np.asarray(data.get("service_time", np.zeros(n)), dtype=np.float64)
    service = np.broadcast_to(service, (n,))
    demand = np.asarray(data["demand"], dtype=np.int64)
    jobs = tuple(
        Job(id=str(i + 1), location=i, load=(int(demand[i]),), kind=JobKind.DELIVERY,
            window=_window(windows[i], scale) if has_tw else TimeWindow(),
            service_s=scale_up(float(service[i]), scale))
        for i in range(n) if i != depot
    )
    n_vehicles = int(data.get("vehicles", len(jobs)))
    shift = _window(windows[depot], scale) if has_tw else TimeWindow()
    problem = Problem(
        name=str(data.get("name", path.stem)),
        locations=tuple(Location(lon=float(x), lat=float(y)) for x, y in xy),
        dimensions=("load",),
        durations={"car": durs}, distances={"car": dists},
        vehicle_types=(VehicleType(name="truck", capacity=(int(data["capacity"]),)),),
        vehicles=tuple(Vehicle(id=str(v), type=0, start=depot, end=depot, shift=shift)
                       for v in range(max(n_vehicles, 1))),
        jobs=jobs,
    )
    return Instance(name=path.stem, format="vrplib", problem=problem,
                    node_ids=tuple(range(1, n + 1)), cost_matrix=read_only(dist),
                    scale=scale, depots=frozenset({depot}))


def _parse(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = vrplib.read_instance(str(path), compute_edge_weights=False)
    except FileNotFoundError as exc:
        raise fail(path, None, "no such file") from exc
    except (ValueError, IndexError, KeyError, UnicodeDecodeError, RuntimeError) as exc:
        # vrplib raises RuntimeError("Instance does not conform to the VRPLIB format.")
        reason = " ".join(str(exc).split()).rstrip(".")
        raise fail(path, None, f"not a VRPLIB file ({reason})") from exc
    return data


def _arc_lengths(path: Path, data: dict[str, Any], xy: np.ndarray) -> np.ndarray:
    kind = str(data.get("edge_weight_type", "")).upper()
    if kind == "EUC_2D":
        return np.floor(euclidean(xy) + 0.5)  # TSPLIB nint
    if kind == "EXACT_2D":
        return euclidean(xy)
    if kind == "EXPLICIT" and "edge_weight" in data:
        return np.asarray(data["edge_weight"], dtype=np.float64)
    raise fail(path, None, f"EDGE_WEIGHT_TYPE {kind or '(none)'} is not supported")


def _window(row: np.ndarray, scale: int) -> TimeWindow:
    return TimeWindow(earliest=scale_up(float(row[0]), scale),
                      latest=scale_down(float(row[1]), scale))
