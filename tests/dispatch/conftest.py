"""Shared fixtures for the dispatch tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from dispatch.network import TravelTable, table_from_points
from maps.region import default_region


def _stops_table(seed: int, size: int = 30) -> TravelTable:
    region = default_region()
    stops = region.stops[region.stops["in_area"]]
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(stops), size=size, replace=False))
    return table_from_points(region.road, stops[["lon", "lat"]].to_numpy()[pick])


@pytest.fixture(scope="session")
def stops_table() -> Callable[[int], TravelTable]:
    """Return a builder of real road times between ``size`` seeded in-area stops."""
    return _stops_table
