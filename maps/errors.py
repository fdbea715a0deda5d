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


class GraphTooLargeError(MapsError, NotImplementedError):
    """A road graph too large for exact point-to-point matrices.

    The searches add ``travel_s * BIG + length_m`` in float64, exact only below 2**53;
    beyond that (a graph roughly 100 times the built-in Kumamoto one) point matrices are
    refused. :func:`maps.matrix.node_matrices` still works on such graphs, and a road
    extract cut to the service area avoids the limit.
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
