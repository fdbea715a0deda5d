"""The travel-time table the dispatch engine works on.

Dispatch refers to every place (depots, stops, homes, hospitals, shops) by its integer
index into one :class:`TravelTable`: the locations as (lon, lat) and the integer
duration (seconds) and distance (metres) matrices between them. Whoever builds the
service day puts all its places into one point list, computes the table once with
:func:`table_from_points` (road travel times from :mod:`maps.matrix`) and keeps the
index of each place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dispatch.errors import DispatchError

IntMatrix = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class TravelTableError(DispatchError, ValueError):
    """Inconsistent travel table: the message names the field."""


def _frozen(a: npt.ArrayLike, dtype: type, name: str) -> Any:
    arr: Any = np.array(a, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, slots=True, kw_only=True)
class TravelTable:
    """Locations and the travel matrices between them.

    Parameters
    ----------
    locations
        ``(n, 2)`` array of lon, lat.
    durations
        ``(n, n)`` travel times in seconds; entries at or above
        :data:`routing.model.UNREACHABLE` mean no path.
    distances
        ``(n, n)`` distances in metres.
    names
        Optional label per location (``"depot"``, ``"stop:12"``...), empty or ``n`` long.

    Raises
    ------
    TravelTableError
        When shapes disagree or a matrix holds negative values.
    """

    locations: FloatArray
    durations: IntMatrix
    distances: IntMatrix
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        loc = _frozen(self.locations, np.float64, "locations").reshape(-1, 2)
        n = loc.shape[0]
        object.__setattr__(self, "locations", loc)
        for name in ("durations", "distances"):
            m = _frozen(getattr(self, name), np.int64, name)
            if m.shape != (n, n):
                msg = f"{name} must be {n}x{n} like the locations, got {m.shape}"
                raise TravelTableError(msg)
            if (m < 0).any():
                msg = f"{name} must not hold negative values"
                raise TravelTableError(msg)
            if n and (np.diagonal(m) != 0).any():
                msg = f"{name} must have a zero diagonal"
                raise TravelTableError(msg)
            object.__setattr__(self, name, m)
        if self.names and len(self.names) != n:
            msg = f"names has {len(self.names)} entries for {n} locations"
            raise TravelTableError(msg)

    @property
    def n(self) -> int:
        """Number of locations."""
        return int(self.locations.shape[0])

    def travel_s(self, a: int, b: int) -> int:
        """Return the travel time from location ``a`` to ``b``."""
        return int(self.durations[a, b])

    def distance_m(self, a: int, b: int) -> int:
        """Return the distance from location ``a`` to ``b``."""
        return int(self.distances[a, b])

    def subset(self, indices: Sequence[int]) -> TravelTable:
        """Return the table restricted to ``indices``, re-indexed ``0..k-1``."""
        idx = np.asarray(indices, dtype=np.int64)
        names = tuple(self.names[i] for i in idx.tolist()) if self.names else ()
        return TravelTable(locations=self.locations[idx],
                           durations=self.durations[np.ix_(idx, idx)],
                           distances=self.distances[np.ix_(idx, idx)], names=names)


def table_from_points(
    road: Any, points_lonlat: npt.ArrayLike, *, names: Sequence[str] = ()
) -> TravelTable:
    """Compute the travel table between points on a road network.

    Parameters
    ----------
    road
        The road network of :mod:`maps` (e.g. ``maps.region.default_region()``'s road).
    points_lonlat
        ``(n, 2)`` lon, lat.
    names
        Optional label per point.

    Returns
    -------
    TravelTable
    """
    from maps.matrix import travel_matrices  # type: ignore[import-not-found, unused-ignore]

    pts = np.asarray(points_lonlat, dtype=np.float64).reshape(-1, 2)
    res = travel_matrices(road, pts)
    durations, distances = _unpack(res)
    return TravelTable(locations=pts, durations=durations, distances=distances,
                       names=tuple(names))


def _unpack(res: Any) -> tuple[IntMatrix, IntMatrix]:
    if isinstance(res, tuple):
        return np.asarray(res[0], dtype=np.int64), np.asarray(res[1], dtype=np.int64)
    return (np.asarray(res.duration_s, dtype=np.int64),
            np.asarray(res.distance_m, dtype=np.int64))


def table_from_matrices(
    durations: npt.ArrayLike, distances: npt.ArrayLike | None = None,
    *, locations: npt.ArrayLike | None = None,
) -> TravelTable:
    """Build a table from matrices alone (tests, literature data); distances default
    to the durations and locations to zeros."""
    dur = np.asarray(durations, dtype=np.int64)
    dist = dur if distances is None else np.asarray(distances, dtype=np.int64)
    loc = np.zeros((dur.shape[0], 2)) if locations is None else np.asarray(locations)
    return TravelTable(locations=loc, durations=dur, distances=dist)
