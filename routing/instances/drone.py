"""Readers for the truck-and-drone literature sets: TSP-D (Agatz et al.) and FSTSP (Murray & Chu).

* :func:`read_tspd` reads an instance file of Agatz, Bouman & Schmidt (2018): comments
  ``/* ... */``, then truck time per distance, drone time per distance, the number of
  nodes ``N`` (depot included), and ``N`` lines ``x y name`` (the depot first). Travel
  times are Euclidean distances times the factors, in double precision.
* :func:`read_tspd_solution` reads their solution files (operations ``start end fly k
  v1 .. vk``, ``fly = -1`` without drone), as published with the optimal values.
* :func:`read_fstsp` reads a folder of Murray & Chu (2015): ``tau.csv`` and
  ``tauprime.csv`` (truck and UAV minutes between nodes ``0 .. c+1``, ``c+1`` = depot
  again), ``Cprime.csv`` (the customers the UAV may serve) and ``nodes.csv`` (checked
  for the node count). Endurance and launch/recovery times are not in the files; the
  defaults are the paper's (20 min, 1 min, 1 min).
* :func:`drone_best_known` reads the optimal (TSP-D) or shipped (FSTSP) value from the
  ``bks.csv`` beside the instance.

Every problem with a file raises :class:`~routing.errors.InstanceFormatError` naming the
file (and line where there is one).
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np

from routing.errors import InstanceFormatError, ProblemError
from routing.instances.common import MAX_ABS_VALUE, fail
from routing.tspd import (
    FSTSP_DEFAULT_ENDURANCE,
    FSTSP_DEFAULT_LAUNCH,
    FSTSP_DEFAULT_RECOVERY,
    DroneInstance,
    DroneSolution,
    Operation,
    makespan,
)

_FSTSP_FILES = ("tau.csv", "tauprime.csv", "Cprime.csv", "nodes.csv", "FSTSP_OFV.csv")
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
#: Largest instance the readers accept (the heuristic's split is cubic in the nodes).
MAX_DRONE_NODES = 1000


def _text(path: Path) -> str:
    if not path.is_file():
        msg = f"{path}: no such file" if not path.exists() else f"{path}: not a file"
        raise InstanceFormatError(msg)
    try:
        return path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        msg = f"{path}: not a text file (byte {exc.start} is not UTF-8)"
        raise InstanceFormatError(msg) from exc
    except OSError as exc:
        msg = f"{path}: cannot read ({exc.strerror or exc})"
        raise InstanceFormatError(msg) from exc


def _number(path: Path, token: str, what: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise fail(path, None, f"{what} must be a number, got {token[:30]!r}") from None
    if not math.isfinite(value) or abs(value) > MAX_ABS_VALUE:
        raise fail(path, None, f"{what} must be a finite number of at most {MAX_ABS_VALUE:g}, "
                               f"got {token[:30]}")
    return value


def read_tspd(path: str | Path) -> DroneInstance:
    """Read a TSP-D instance file (Agatz, Bouman & Schmidt 2018)."""
    path = Path(path)
    tokens = _COMMENT.sub(" ", _text(path)).split()
    if "/*" in tokens or "*/" in tokens:
        raise fail(path, None, "unbalanced comment markers /* */")
    if len(tokens) < 3:
        raise fail(path, None, "expected truck factor, drone factor and node count at the top")
    truck_f = _number(path, tokens[0], "truck factor (first number)")
    drone_f = _number(path, tokens[1], "drone factor (second number)")
    for what, v in (("truck factor", truck_f), ("drone factor", drone_f)):
        if v <= 0:
            raise fail(path, None, f"{what} must be positive, got {v:g}")
    count = _number(path, tokens[2], "node count (third number)")
    if count != int(count) or not 2 <= count <= MAX_DRONE_NODES:
        raise fail(path, None, f"node count must be an integer from 2 to {MAX_DRONE_NODES}, "
                               f"got {tokens[2]}")
    n = int(count)
    body = tokens[3:]
    if len(body) != 3 * n:
        raise fail(path, None, f"expected {n} lines 'x y name' after the node count, got "
                               f"{len(body)} tokens (need {3 * n})")
    xy = np.array([[_number(path, body[3 * i], f"x of node {i}"),
                    _number(path, body[3 * i + 1], f"y of node {i}")] for i in range(n)])
    # nodes 0 .. n-1 as in the file, then the depot again as the end
    pts = np.vstack([xy, xy[:1]])
    dist = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2))
    try:
        return DroneInstance(
            name=path.stem, kind="tspd", truck=truck_f * dist, drone=drone_f * dist,
            drone_ok=(False, *([True] * (n - 1)), False),
            node_ids=(*range(n), 0),
        )
    except ProblemError as exc:
        raise fail(path, None, str(exc)) from None


def read_tspd_solution(path: str | Path, inst: DroneInstance) -> DroneSolution:
    """Read a TSP-D solution file; the depot at the end of the tour becomes the end index.

    The makespan is recomputed from the operations (:func:`routing.tspd.makespan`); the
    file's stated total is returned in ``stats["stated_total"]`` when it has one.
    """
    path = Path(path)
    text = _text(path)
    stated = re.search(r"Total cost\s*:\s*([-+0-9.eE]+)", text)
    tokens = _COMMENT.sub(" ", text).split()
    if not tokens:
        raise fail(path, None, "empty solution file")
    values = []
    for t in tokens:
        v = _number(path, t, "every field")
        if v != int(v):
            raise fail(path, None, f"node numbers must be integers, got {t}")
        values.append(int(v))
    k, pos = values[0], 1
    n = inst.n_customers + 1
    ops: list[Operation] = []
    for row in range(k):
        if pos + 4 > len(values):
            raise fail(path, None, f"operation {row + 1} of {k} is cut short")
        start, end, fly, inner = values[pos:pos + 4]
        truck = tuple(values[pos + 4:pos + 4 + inner])
        pos += 4 + inner
        if len(truck) != inner:
            raise fail(path, None, f"operation {row + 1} lists fewer than {inner} nodes")
        for v in (start, end, *truck, *([fly] if fly >= 0 else [])):
            if not 0 <= v < n:
                raise fail(path, None, f"operation {row + 1}: node {v} is not in 0..{n - 1}")
        ops.append(Operation(start, end, truck, None if fly < 0 else fly))
    if pos != len(values):
        raise fail(path, None, f"{len(values) - pos} numbers after the {k} operations")
    ops = _to_end_depot(ops, inst.end)
    stats = {"stated_total": float(stated.group(1))} if stated else {}
    return DroneSolution(operations=tuple(ops), makespan=makespan(inst, ops), method="file",
                         stats=stats)


def _to_end_depot(ops: list[Operation], end: int) -> list[Operation]:
    """Drop empty operations and let the last one end at the end depot index.

    A return to the depot before the last operation keeps index 0 (TSP-D allows it).
    """
    out = [op for op in ops if op.truck or op.drone is not None or op.start != op.end]
    if out and out[-1].end == 0:
        last = out[-1]
        out[-1] = Operation(last.start, end, last.truck, last.drone)
    return out


def _csv_rows(path: Path) -> list[list[str]]:
    text = _text(path)
    return [[c.strip() for c in row] for row in csv.reader(text.splitlines()) if any(
        c.strip() for c in row)]


def _matrix(path: Path, size: int | None) -> np.ndarray:
    rows = _csv_rows(path)
    if not rows:
        raise fail(path, None, "empty matrix file")
    n = size if size is not None else len(rows)
    if len(rows) != n:
        raise fail(path, None, f"expected {n} rows (nodes 0..{n - 1}), got {len(rows)}")
    out = np.zeros((n, n))
    for r, row in enumerate(rows):
        cells = [c for c in row if c]
        if len(cells) != n:
            raise fail(path, r + 1, f"expected {n} numbers, got {len(cells)}")
        for c, cell in enumerate(cells):
            v = _number(path, cell, f"row {r + 1} column {c + 1}")
            if v < 0:
                raise fail(path, r + 1, f"travel time must not be negative, got {cell}")
            out[r, c] = v
    return out


def read_fstsp(
    folder: str | Path,
    *,
    endurance: float = FSTSP_DEFAULT_ENDURANCE,
    launch_s: float = FSTSP_DEFAULT_LAUNCH,
    recovery_s: float = FSTSP_DEFAULT_RECOVERY,
) -> DroneInstance:
    """Read a Murray & Chu (2015) FSTSP folder (``tau.csv``, ``tauprime.csv``, ``Cprime.csv``).

    ``folder`` may also name one of its files. Times are minutes; ``endurance``,
    ``launch_s`` and ``recovery_s`` are in minutes too (the paper's defaults).
    """
    folder = Path(folder)
    if folder.is_file():
        if folder.name not in _FSTSP_FILES:
            raise InstanceFormatError(f"{folder}: is a file; an FSTSP instance is a folder with "
                                      "tau.csv, tauprime.csv, Cprime.csv, nodes.csv")
        folder = folder.parent
    if not folder.is_dir():
        raise InstanceFormatError(f"{folder}: no such folder (an FSTSP instance is a folder "
                                  "with tau.csv, tauprime.csv, Cprime.csv, nodes.csv)")
    for name in ("tau.csv", "tauprime.csv", "Cprime.csv"):
        if not (folder / name).is_file():
            raise InstanceFormatError(f"{folder}: missing {name} (an FSTSP instance folder has "
                                      "tau.csv, tauprime.csv, Cprime.csv, nodes.csv)")
    for what, v in (("endurance", endurance), ("launch time", launch_s),
                    ("recovery time", recovery_s)):
        if not math.isfinite(v) or v < 0 or (what == "endurance" and v == 0):
            bound = "above" if what == "endurance" else "of at least"
            raise ProblemError(what, f"must be a finite number {bound} 0, got {v:g}")
    truck = _matrix(folder / "tau.csv", None)
    size = truck.shape[0]
    if size < 3:
        raise fail(folder / "tau.csv", None, f"needs at least 3 nodes, got {size}")
    drone = _matrix(folder / "tauprime.csv", size)
    if (folder / "nodes.csv").is_file():
        nodes = _csv_rows(folder / "nodes.csv")
        if len(nodes) != size:
            raise fail(folder / "nodes.csv", None, f"has {len(nodes)} nodes, tau.csv {size}")
    eligible: set[int] = set()
    for row in _csv_rows(folder / "Cprime.csv"):
        for cell in row:
            v = _number(folder / "Cprime.csv", cell, "customer")
            if v != int(v) or not 1 <= v <= size - 2:
                raise fail(folder / "Cprime.csv", None,
                           f"customer {cell} is not one of 1..{size - 2}")
            eligible.add(int(v))
    ok = tuple(i in eligible for i in range(size))
    return DroneInstance(
        name=folder.name, kind="fstsp", truck=truck, drone=drone, drone_ok=ok,
        endurance=endurance, launch_s=launch_s, recovery_s=recovery_s,
        revisits=False, node_ids=tuple(range(size)),
    )


def drone_best_known(path: str | Path) -> float | None:
    """Return the reference makespan from the ``bks.csv`` beside (or above) the instance.

    TSP-D tables give ``objective_completion_time`` (optimal), FSTSP tables
    ``fstsp_objective_reference`` (empty for most problems: then ``None``).
    """
    path = Path(path)
    name = path.name if path.is_dir() else path.stem
    for folder in (path.parent, path.parent.parent):
        table = folder / "bks.csv"
        if table.is_file():
            break
    else:
        return None
    with table.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row.get("instance") == name:
                value = row.get("objective_completion_time") or row.get(
                    "fstsp_objective_reference")
                return float(value) if value else None
    return None
