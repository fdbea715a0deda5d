"""Schemathesis against the service's own OpenAPI schema: no 5xx, every response
conforms to its schema (generated requests with a dispatcher key)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from api.app import create_app  # noqa: E402
from api.service import ServiceSetup  # noqa: E402
from api.settings import Settings  # noqa: E402
from dispatch.store import Store  # noqa: E402
from maps.region import default_region  # noqa: E402

DAY = date(2026, 12, 2)



@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, service_setup: ServiceSetup
            ) -> Iterator[tuple[TestClient, str]]:
    """The app with its lifespan run, a dispatcher key, the clock at 08:00."""
    region = default_region()
    setup = service_setup
    store = Store(f"sqlite:///{Path(tmp_path_factory.mktemp('schema')) / 'h.db'}")
    app = create_app(Settings(tenant="demo", clock="manual", service_date=DAY,
                              reopt_every_s=0), setup=setup, store=store, region=region)
    with TestClient(app, raise_server_exceptions=False) as client:
        key = store.create_key("demo", "dispatcher")
        client.post("/v1/clock", json={"to": "2026-12-02T08:00:00+09:00"},
                    headers={"Authorization": f"Bearer {key}"})
        yield client, key
    store.close()


def _schema() -> Any:
    app = create_app(Settings(tenant="demo", clock="manual", service_date=DAY),
                     setup=None, store=None)
    return schemathesis.openapi.from_dict(app.openapi())


schema = _schema()


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_responses_match_the_schema(
    case: Any, running: tuple[TestClient, str]
) -> None:
    client, key = running
    if case.path == "/v1/events":
        case.query = {**(case.query or {}), "follow": "false"}  # a finite stream
    if case.path == "/v1/plans" and isinstance(case.query, dict):
        case.query["time_limit_s"] = 0.2  # a short solve per generated problem
    kwargs = case.as_transport_kwargs(base_url="http://testserver",
                                      headers={"Authorization": f"Bearer {key}"})
    kwargs.pop("timeout", None)
    response = client.request(**kwargs)
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
    # A schema-valid body can still be refused with 422 for what a schema cannot say
    # (an arrive-by before the pickup window, an unknown stop id, a point far from every
    # boarding point); those answers name the field and are tested in test_service.py.
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
