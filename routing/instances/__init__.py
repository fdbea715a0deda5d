"""Readers for literature benchmark instances, their best-known values and solutions.

>>> inst = read_instance("a2-16.txt", "cordeau")          # doctest: +SKIP
>>> inst.problem, inst.scale, best_known("a2-16.txt", "cordeau")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from routing.errors import InstanceFormatError, ProblemError
from routing.instances.common import (
    DEFAULT_SCALE,
    FORMATS,
    BestKnown,
    Instance,
    literature_cost,
    route_node_ids,
)
from routing.instances.cordeau import read_cordeau
from routing.instances.lilim import read_lilim
from routing.instances.solomon import read_solomon
from routing.instances.solutions import (
    best_known,
    earliest_schedule,
    read_solution,
    read_solution_routes,
)
from routing.instances.vrplib_reader import read_vrplib

__all__ = [
    "DEFAULT_SCALE",
    "FORMATS",
    "BestKnown",
    "Instance",
    "best_known",
    "earliest_schedule",
    "literature_cost",
    "read_cordeau",
    "read_instance",
    "read_lilim",
    "read_solomon",
    "read_solution",
    "read_solution_routes",
    "read_vrplib",
    "route_node_ids",
]

_READERS: dict[str, Callable[[Path], Instance]] = {
    "cordeau": read_cordeau,
    "lilim": read_lilim,
    "solomon": read_solomon,
    "vrplib": read_vrplib,
}


def read_instance(path: str | Path, fmt: str) -> Instance:
    """Read a literature instance in format ``fmt`` (one of :data:`FORMATS`).

    Raises
    ------
    InstanceFormatError
        For an unknown format, a missing file, or a file not in the format (the
        message names the file and, where it can, the line, and says which other
        format reads the file, if one does).
    """
    reader = _READERS.get(fmt)
    if reader is None:
        msg = f"unknown instance format {fmt!r} (known: {', '.join(FORMATS)})"
        raise InstanceFormatError(msg)
    path = Path(path)
    if not path.is_file():
        msg = f"{path}: no such file" if not path.exists() else f"{path}: not a file"
        raise InstanceFormatError(msg)
    try:
        return reader(path)
    except ProblemError as exc:  # numbers that parse but make no problem (no vehicles...)
        msg = f"{path}: {exc}"
        raise InstanceFormatError(msg) from exc
    except InstanceFormatError as exc:
        other = _readable_as(path, fmt)
        if other is None:
            raise
        msg = f"{exc} (the file reads as --format {other})"
        raise InstanceFormatError(msg) from exc


def _readable_as(path: Path, fmt: str) -> str | None:
    """Return the first other format that reads ``path``, if any."""
    for name, reader in _READERS.items():
        if name == fmt:
            continue
        try:
            reader(path)
        except (InstanceFormatError, ValueError):
            continue
        return name
    return None
