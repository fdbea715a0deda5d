"""Fixtures for the maps tests: the built-in Kumamoto region (loaded once) and shared data."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from maps.osm import graph_from_file
from maps.region import DEFAULT_DATA_DIR, Region, default_region

SHARED_DATA = Path(__file__).parents[2].parent / "shared" / "data"
KUMAMOTO_OSM = DEFAULT_DATA_DIR / "kumamoto_chuo_highways_2023-01.osm.bz2"


@pytest.fixture(scope="session")
def region_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh region cache folder shared by the session."""
    return tmp_path_factory.mktemp("hakobu-cache")


@pytest.fixture(scope="session")
def kumamoto(region_cache: Path) -> Region:
    """The built-in region, built once per session into a fresh cache folder."""
    return default_region(cache_dir=region_cache)


@pytest.fixture(scope="session")
def kumamoto_raw() -> nx.MultiDiGraph:
    """The unsimplified osmnx graph of the built-in Kumamoto roads."""
    return graph_from_file(KUMAMOTO_OSM)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository; skips when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not available")
    return SHARED_DATA
