"""Errors raised by the maps package."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt


class MapsError(Exception):
    """Base class of every error raised by :mod:`maps`."""


class MapDataError(MapsError, ValueError):
    """An input file (OSM, GTFS, census mesh, GeoJSON) that cannot be read or is empty.

    The message names the file and the problem.
    """


class _PointsError(MapsError, ValueError):
    """Some of the caller's points are unusable; ``indices`` says which.

    Parameters
    ----------
    indices
        Positions (in the caller's input array) of the offending points.
    message
        Human-readable explanation.
    """

    def __init__(self, indices: Iterable[int], message: str) -> None:
        arr: npt.NDArray[np.int64] = np.asarray(list(indices), dtype=np.int64)
        arr.setflags(write=False)
        self.indices = arr
        super().__init__(message)


class UnreachableLocationError(_PointsError):
    """Points that lie farther from the road graph than the allowed snap distance."""


class InvalidLocationError(_PointsError):
    """Points whose coordinates are not finite WGS84 (lon, lat) values."""
