"""Shared fixtures of the service tests: one small service setup on the built-in region."""

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
