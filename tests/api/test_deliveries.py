"""Deliveries over HTTP (``/v1/deliveries``) by van and by drone, on the built-in region:
its boarding points and hospitals, 2 minibuses and a van, 2 drones at a droneport at a
hospital outside the DIDs (DIDs avoided), against SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from api.service import ServiceSetup
from tests.api.conftest import drone_places
from tests.api.test_service import Api, _start

T = "2026-12-02T{}:00+09:00"


@pytest.fixture(scope="module")
def setup(drone_service_setup: ServiceSetup) -> ServiceSetup:
    return drone_service_setup


@pytest.fixture()
def api(setup: ServiceSetup, database_url: str) -> Iterator[Api]:
    client, store = _start(setup, database_url)
    with client:
        a = Api(client, store)
        assert a.post("/v1/clock", json={"to": T.format("08:00")}).status_code == 200
        yield a
    store.close()


_places = drone_places


def _delivery(did: str, shop: str, to: str, mode: str = "van", **kw: Any) -> dict[str, Any]:
    return {"id": did, "customer": f"c-{did}", "shop": {"stop_id": shop},
            "to": {"stop_id": to}, "ready": T.format("09:00"),
            "deliver_after": T.format("10:00"), "deliver_before": T.format("12:00"),
            "mode": mode, **kw}


def test_a_van_delivery_is_booked_read_and_listed(api: Api, setup: ServiceSetup) -> None:
    shop, near, _ = _places(setup)
    r = api.post("/v1/deliveries", who="app1", json=_delivery("d1", shop, near))
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["status"] == "assigned" and d["carrier"] == "van-1"
    assert T.format("10:00") <= d["delivery_window"]["earliest"] <= T.format("12:00")
    assert api.get("/v1/deliveries/d1", who="app1").json()["id"] == "d1"
    assert api.get("/v1/deliveries/d1", who="app2").status_code == 404  # not its own
    assert [x["id"] for x in api.get("/v1/deliveries").json()["items"]] == ["d1"]
    assert api.get("/v1/deliveries", who="app2").json()["total"] == 0
    # a ride id is not a delivery
    assert api.get("/v1/deliveries/nope").status_code == 404


def test_a_drone_delivery_flies_and_keeps_its_promise(api: Api, setup: ServiceSetup) -> None:
    shop, near, blocked = _places(setup)
    r = api.post("/v1/deliveries", json=_delivery("d2", shop, near, "drone"))
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["status"] == "assigned" and d["carrier"].startswith(f"port-{shop}/d")
    refused = api.post("/v1/deliveries", json=_delivery("d3", shop, blocked, "drone")).json()
    assert refused["status"] == "rejected" and refused["rejection_reason"] == "no_drone"
    assert "unreachable" in refused["rejection_detail"]
    auto = api.post("/v1/deliveries", json=_delivery("d4", shop, blocked, "auto")).json()
    assert auto["status"] == "assigned" and auto["carrier"] == "van-1"
    assert api.post("/v1/clock", json={"to": T.format("13:00")}).status_code == 200
    done = api.get("/v1/deliveries/d2").json()
    assert done["status"] == "dropped_off"
    w = done["delivery_window"]
    assert w["earliest"] <= done["delivered"] <= w["latest"]


def test_bad_deliveries_get_422_naming_the_field(api: Api, setup: ServiceSetup) -> None:
    shop, near, _ = _places(setup)
    for body, where in (
        (_delivery("x", shop, near, deliver_before=T.format("09:30")), "deliver_before"),
        (_delivery("x", shop, near, mode="plane"), "mode"),
        (_delivery("x", "nowhere", near), "shop.stop_id: unknown boarding point"),
        (_delivery("x", shop, near, weight_kg=-1), "weight_kg"),
        (_delivery("x", shop, near, parcels=0), "parcels"),
        ({**_delivery("x", shop, near), "colour": "red"}, "colour"),
    ):
        r = api.post("/v1/deliveries", json=body)
        assert r.status_code == 422 and where in r.json()["detail"], (where, r.text)
    assert api.get("/v1/deliveries").json()["total"] == 0


def test_drone_deliveries_survive_a_restart(setup: ServiceSetup, database_url: str) -> None:
    shop, near, _ = _places(setup)
    client, store = _start(setup, database_url)
    with client:
        a = Api(client, store)
        a.post("/v1/clock", json={"to": T.format("08:00")})
        first = a.post("/v1/deliveries", json=_delivery("d5", shop, near, "drone")).json()
    store.close()
    client, store = _start(setup, database_url)
    with client:
        a = Api(client, store)
        again = a.get("/v1/deliveries/d5").json()
        assert again == first
        a.post("/v1/clock", json={"to": T.format("13:00")})
        assert a.get("/v1/deliveries/d5").json()["status"] == "dropped_off"
    store.close()
    assert np.isfinite(setup.drones.length_m).any()


def test_the_openapi_example_delivery_succeeds(api: Api) -> None:
    spec = api.c.get("/openapi.json").json()
    example = spec["components"]["schemas"]["DeliveryIn"]["examples"][0]
    r = api.post("/v1/deliveries", json=example)
    assert r.status_code == 201 and r.json()["status"] == "assigned", r.text
    ops = {op["operationId"] for p in spec["paths"].values() for op in p.values()}
    assert {"create_delivery", "get_delivery", "list_deliveries"} <= ops


def test_the_console_map_shows_drones_and_their_flights(api: Api, setup: ServiceSetup) -> None:
    shop, near, _ = _places(setup)
    assert api.post("/v1/deliveries", json=_delivery("d6", shop, near, "drone",
                                                     deliver_after=T.format("09:00"))
                    ).status_code == 201
    flight = next(f for f in api.get("/v1/map/vehicles").json()["features"]
                  if f["properties"]["kind"] == "flight")
    assert flight["properties"]["delivery"] == "d6"
    line = flight["geometry"]["coordinates"]
    assert line[0] == line[-1]  # out and back to the droneport
    d = api.get("/v1/deliveries/d6").json()
    # Half way between take-off and drop, the drone is in the air on its way out.
    takeoff = flight["properties"]["takeoff"]
    from datetime import datetime

    t0, t1 = datetime.fromisoformat(takeoff), datetime.fromisoformat(d["planned_delivery"])
    mid = t0 + (t1 - t0) / 2
    assert api.post("/v1/clock", json={"to": mid.isoformat()}).status_code == 200
    drones = [f for f in api.get("/v1/map/vehicles").json()["features"]
              if f["properties"]["kind"] == "drone"]
    flying = [f for f in drones if f["properties"]["moving"]]
    assert len(drones) == 2 and len(flying) == 1
    assert flying[0]["properties"]["heading_to"] == near
    assert flying[0]["geometry"]["coordinates"] not in (line[0], line[len(line) // 2])
