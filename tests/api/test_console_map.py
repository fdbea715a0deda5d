"""The console's vehicle layer: a vehicle on its way to its next stop is drawn along the
road path of that leg, in proportion to the time since it left."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.service import ServiceSetup
from api.settings import Settings
from dispatch.store import Store
from maps.region import default_region

DAY = date(2026, 12, 2)


@pytest.fixture()
def client(service_setup: ServiceSetup, tmp_path: object) -> Iterator[tuple[TestClient, str]]:
    store = Store(f"sqlite:///{tmp_path}/console.db")
    app = create_app(Settings(tenant="demo", clock="manual", service_date=DAY),
                     setup=service_setup, store=store, region=default_region())
    with TestClient(app) as c:  # the app creates the tenant on start
        yield c, store.create_key("demo", "dispatcher")
    store.close()


def _vehicles(c: TestClient, h: dict[str, str]) -> dict[str, dict[str, object]]:
    fc = c.get("/v1/map/vehicles", headers=h).json()
    out: dict[str, dict[str, object]] = {}
    for f in fc["features"]:
        v = out.setdefault(f["properties"]["vehicle"], {})
        v[f["properties"]["kind"]] = f
    return out


def test_a_vehicle_moves_along_the_road_towards_its_next_stop(
        client: tuple[TestClient, str]) -> None:
    c, key = client
    h = {"Authorization": f"Bearer {key}"}
    assert c.post("/v1/clock", json={"to": "2026-12-02T08:00:00+09:00"},
                  headers=h).status_code == 200
    ride = {"id": "r1", "rider": "a", "origin": {"stop_id": "stop-3"},
            "destination": {"stop_id": "hospital-0"},
            "pickup_after": "2026-12-02T08:00:00+09:00",
            "pickup_before": "2026-12-02T08:40:00+09:00"}
    res = c.post("/v1/ride-requests", json=ride, headers=h)
    assert res.status_code == 201, res.text
    assert c.post("/v1/ride-requests/r1/confirm", headers=h).status_code == 200
    vid = res.json()["offer"]["vehicle"]
    start = _vehicles(c, h)[vid]
    assert start["vehicle"]["properties"]["moving"] is True  # it leaves at once
    eta = datetime.fromisoformat(start["vehicle"]["properties"]["eta"])
    depot = start["vehicle"]["geometry"]["coordinates"]
    route = shapely.LineString(start["route"]["geometry"]["coordinates"])
    left = datetime(2026, 12, 2, 8, 0, tzinfo=eta.tzinfo)
    seen = []
    for share in (0.3, 0.7):
        at = left + (eta - left) * share
        assert c.post("/v1/clock", json={"to": at.isoformat()}, headers=h).status_code == 200
        now = _vehicles(c, h)[vid]["vehicle"]
        assert now["properties"]["moving"] is True
        assert now["properties"]["heading_to"] == "stop-3"
        pt = shapely.Point(now["geometry"]["coordinates"])
        assert route.distance(pt) < 1e-5  # on the planned road path
        seen.append(route.project(pt))
    assert 0 < seen[0] < seen[1] < route.project(shapely.Point(depot)) + route.length
    assert seen[0] > route.project(shapely.Point(depot))
