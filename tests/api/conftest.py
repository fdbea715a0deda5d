"""Shared fixtures of the service tests: small service setups on the built-in region."""

from __future__ import annotations

from datetime import date

import pytest

from api.service import ServiceSetup, setup_from_region
from maps.region import default_region

#: The service day of the tests.
DAY = date(2026, 12, 2)


@pytest.fixture(scope="session")
def service_setup() -> ServiceSetup:
    """Three minibuses, the 40 busiest stops and the hospitals of the built-in region."""
    return setup_from_region(default_region(), vehicles=3, max_stops=40, service_date=DAY,
                             timezone="Asia/Tokyo")


@pytest.fixture(scope="session")
def drone_service_setup() -> ServiceSetup:
    """Two minibuses and a van, the 40 busiest stops and the hospitals, and 2 drones at a
    droneport at a hospital outside the DIDs (DIDs avoided)."""
    return setup_from_region(default_region(), vehicles=2, vans=1, drones=2, max_stops=40,
                             service_date=DAY, timezone="Asia/Tokyo")


def drone_places(setup: ServiceSetup) -> tuple[str, str, str]:
    """The droneport's hospital, a place its drones reach within 4 km (another hospital
    outside the DIDs) and a boarding point they cannot reach (inside a DID)."""
    fleet = setup.drones
    port = fleet.ports[0]
    reach = [p for p in setup.places if p.kind != "depot" and p.index != port.location
             and fleet.paths[0][p.index] is not None and fleet.length_m[0, p.index] < 4000]
    blocked = [p for p in setup.places if p.kind == "stop" and fleet.paths[0][p.index] is None]
    assert reach and blocked
    return setup.places[port.location].id, reach[0].id, blocked[0].id
