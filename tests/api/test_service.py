"""The dispatch API on the built-in Kumamoto region, on SQLite and on PostgreSQL:
booking with offers, confirmation, the driver's manifest, keys and roles, tenancy,
idempotent retries, problem-details errors and durable state across a restart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.service import ServiceSetup
from api.settings import Settings
from dispatch.store import Store
from maps.region import default_region

DAY = date(2026, 12, 2)


@pytest.fixture(scope="module")
def setup(service_setup: ServiceSetup) -> ServiceSetup:
    """The shared small service setup (tests/api/conftest.py)."""
    return service_setup


class Api:
    """A client of one running app with keys of every role."""

    def __init__(self, client: TestClient, store: Store) -> None:
        self.c, self.store = client, store
        self.keys = {r: store.create_key("demo", r) for r in ("admin", "dispatcher")}
        self.keys["driver0"] = store.create_key("demo", "driver", vehicle=0)
        self.keys["driver1"] = store.create_key("demo", "driver", vehicle=1)
        self.keys["app1"] = store.create_key("demo", "booking_client")
        self.keys["app2"] = store.create_key("demo", "booking_client")

    def h(self, who: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}", **extra}

    def post(self, path: str, who: str = "dispatcher", **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        return self.c.post(path, headers={**self.h(who), **headers}, **kw)

    def get(self, path: str, who: str = "dispatcher", **kw: Any) -> Any:
        return self.c.get(path, headers=self.h(who), **kw)


def _start(setup: ServiceSetup, url: str) -> tuple[TestClient, Store]:
    store = Store(url)
    app = create_app(Settings(tenant="demo", clock="manual", service_date=DAY), setup=setup,
                     store=store, region=default_region())
    return TestClient(app), store


@pytest.fixture()
def api(setup: ServiceSetup, database_url: str) -> Iterator[Api]:
    client, store = _start(setup, database_url)
    with client:
        a = Api(client, store)
        assert a.post("/v1/clock", json={"to": "2026-12-02T08:00:00+09:00"}).status_code == 200
        yield a
    store.close()


def _ride(rid: str, a: str = "stop-0", b: str = "hospital-0", at: str = "10:00",
          **kw: Any) -> dict[str, Any]:
    h, m = at.split(":")
    late = f"{h}:{int(m) + 30:02d}" if int(m) < 30 else f"{int(h) + 1:02d}:{int(m) - 30:02d}"
    return {"id": rid, "rider": f"rider-{rid}", "origin": {"stop_id": a},
            "destination": {"stop_id": b}, "pickup_after": f"2026-12-02T{at}:00+09:00",
            "pickup_before": f"2026-12-02T{late}:00+09:00", **kw}


def test_health_ready_and_a_stable_openapi(api: Api) -> None:
    assert api.c.get("/healthz").json() == {"status": "ok"}
    ready = api.c.get("/readyz").json()
    assert ready["status"] == "ready" and ready["tenants"] == ["demo"]
    spec = api.c.get("/openapi.json").json()
    ops = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {"create_ride", "confirm_ride", "cancel_ride", "get_ride", "list_rides",
            "get_manifest", "post_vehicle_event", "set_clock", "get_kpis"} <= ops


def test_every_post_example_succeeds_on_the_built_in_region(api: Api) -> None:
    spec = api.c.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    example = schemas["RideRequestIn"]["examples"][0]
    r = api.post("/v1/ride-requests", json=example)
    assert r.status_code == 201, r.json()
    assert r.json()["status"] == "offered"
    event = schemas["VehicleEventIn"]["examples"][0]
    assert api.post("/v1/vehicles/0/events", json=event).status_code == 200
    clock = schemas["ClockIn"]["examples"][0]
    assert api.post("/v1/clock", json=clock).status_code == 200
    body = spec["paths"]["/v1/plans"]["post"]["requestBody"]["content"]["application/json"]
    plan = api.post("/v1/plans?time_limit_s=2", json=body["schema"]["examples"][0])
    assert plan.status_code == 200, plan.json()
    assert plan.json()["summary"]["feasible"] is True
    assert [s["id"] for s in plan.json()["routes"][0]["steps"] if s["type"] != "start"
            and s["type"] != "end"] == ["ride-tanaka", "ride-tanaka"]


def test_a_bad_problem_is_422_naming_its_field(api: Api) -> None:
    from api.routes.plans import EXAMPLE_PROBLEM

    bad = {**EXAMPLE_PROBLEM, "requests": [{**EXAMPLE_PROBLEM["requests"][0],
                                            "pickup": "nowhere"}]}
    r = api.post("/v1/plans", json=bad)
    assert r.status_code == 422 and "requests[0].pickup" in r.json()["detail"], r.json()
    assert api.post("/v1/plans?time_limit_s=0", json=EXAMPLE_PROBLEM).status_code == 422
    assert api.post("/v1/plans", "app1", json=EXAMPLE_PROBLEM).status_code == 403


def test_book_confirm_and_the_drivers_manifest(api: Api) -> None:
    r = api.post("/v1/ride-requests", "app1", json=_ride("r1"))
    assert r.status_code == 201
    offer = r.json()["offer"]
    assert offer["pickup_stop"] == "stop-0" and offer["dropoff_stop"] == "hospital-0"
    assert offer["pickup_window"]["earliest"] >= "2026-12-02T10:00:00+09:00"
    assert offer["pickup_window"]["latest"] <= "2026-12-02T10:30:00+09:00"
    conf = api.post("/v1/ride-requests/r1/confirm", "app1")
    assert conf.status_code == 200 and conf.json()["status"] == "assigned"
    k = int(offer["vehicle"].split("-")[1]) - 1
    mine = api.get(f"/v1/vehicles/{k}/manifest", f"driver{k}" if k < 2 else "dispatcher")
    assert [s["request_id"] for s in mine.json()] == ["r1", "r1"]
    assert mine.json()[0]["rider"] == "rider-r1"
    other = 1 - k if k < 2 else 0
    assert api.get(f"/v1/vehicles/{k}/manifest", f"driver{other}").status_code == 404
    again = api.post("/v1/ride-requests/r1/confirm", "app1")
    assert again.status_code == 409 and again.headers["content-type"].startswith(
        "application/problem+json")


def test_booking_clients_see_only_their_own_requests(api: Api) -> None:
    api.post("/v1/ride-requests", "app1", json=_ride("a1"))
    api.post("/v1/ride-requests", "app2", json=_ride("b1", at="11:00"))
    assert api.get("/v1/ride-requests/b1", "app1").status_code == 404
    assert api.post("/v1/ride-requests/b1/cancel", "app1").status_code == 404
    assert [x["id"] for x in api.get("/v1/ride-requests", "app1").json()["items"]] == ["a1"]
    assert api.get("/v1/ride-requests", "dispatcher").json()["total"] == 2
    assert api.get("/v1/vehicles", "app1").status_code == 403
    assert api.get("/v1/ride-requests", "driver0").status_code == 403


def test_keys_are_checked(api: Api, database_url: str) -> None:
    assert api.c.get("/v1/stops").status_code == 401
    bad = api.c.get("/v1/stops", headers={"Authorization": "Bearer hk_nope_nope"})
    assert bad.status_code == 401
    api.store.create_tenant("other-town")  # a tenant this process does not serve
    foreign = api.store.create_key("other-town", "admin")
    r = api.c.get("/v1/ride-requests", headers={"Authorization": f"Bearer {foreign}"})
    assert r.status_code == 401


def test_an_idempotent_retry_books_once(api: Api) -> None:
    body = _ride("r7")
    first = api.post("/v1/ride-requests", json=body, headers={"Idempotency-Key": "abc"})
    n = len(api.store.commands("demo"))
    retry = api.post("/v1/ride-requests", json=body, headers={"Idempotency-Key": "abc"})
    assert retry.status_code == first.status_code == 201
    assert retry.json() == first.json()
    assert len(api.store.commands("demo")) == n  # nothing booked twice
    other = api.post("/v1/ride-requests", json=_ride("r8"), headers={"Idempotency-Key": "abc"})
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]


@pytest.mark.parametrize(("body", "field"), [
    (_ride("x", extra=1), "extra"),
    (_ride("x", seats=-1), "seats"),
    ({**_ride("x"), "pickup_before": "2026-12-02T09:00:00+09:00"}, "pickup_before"),
    ({**_ride("x"), "pickup_after": "2026-12-02T10:00:00"}, "pickup_after"),
    ({**_ride("x"), "origin": {"lon": 139.76, "lat": 35.68}}, "origin"),
    ({**_ride("x"), "origin": {"stop_id": "nowhere"}}, "origin.stop_id"),
    ({**_ride("x"), "origin": {"lon": 200, "lat": 32.8}}, "origin.lon"),
    ({**_ride("x"), "id": "bad id!"}, "id"),
])
def test_bad_input_is_422_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    r = api.post("/v1/ride-requests", json=body)
    assert r.status_code == 422, r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.json()["detail"], r.json()
    assert api.get("/v1/kpis").json()["requests"] == 0  # nothing stored


def test_bodies_and_routes_that_do_not_fit(api: Api) -> None:
    big = api.post("/v1/ride-requests", content=b"{" + b" " * 2_000_000 + b"}",
                   headers={"Content-Type": "application/json"})
    assert big.status_code == 413
    text = api.post("/v1/ride-requests", content=b"id=1",
                    headers={"Content-Type": "text/plain"})
    assert 400 <= text.status_code < 500
    assert api.get("/v1/vehicles/9/manifest").status_code == 404
    assert api.get("/v1/ride-requests/none").status_code == 404
    ev = api.post("/v1/vehicles/0/events", json={"kind": "delay"})
    assert ev.status_code == 422 and "seconds" in ev.json()["detail"]


def test_state_survives_a_restart(setup: ServiceSetup, database_url: str) -> None:
    client, store = _start(setup, database_url)
    with client:
        a = Api(client, store)
        a.post("/v1/clock", json={"to": "2026-12-02T08:00:00+09:00"})
        offer = a.post("/v1/ride-requests", json=_ride("keep")).json()["offer"]
        a.post("/v1/ride-requests/keep/confirm")
        key = a.keys["dispatcher"]
    store.close()
    client, store = _start(setup, database_url)  # a new process on the same database
    with client:
        r = client.get("/v1/ride-requests/keep", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200
        assert r.json()["status"] == "assigned" and r.json()["offer"] == offer
    store.close()


def test_keys_create_prints_the_key_alone(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    url = f"sqlite:///{tmp_path / 'k.db'}"
    res = CliRunner().invoke(app, ["keys", "create", "--tenant", "fuso", "--role",
                                   "dispatcher", "--database-url", url])
    assert res.exit_code == 0, res.output
    key = res.stdout.strip()
    assert key.startswith("hk_") and "\n" not in key
    found = Store(url).key(key)
    assert found is not None and (found.tenant, found.role) == ("fuso", "dispatcher")
    bad = CliRunner().invoke(app, ["keys", "create", "--tenant", "fuso", "--role", "chef",
                                   "--database-url", url])
    assert bad.exit_code == 2 and "--role" in bad.output and "Traceback" not in bad.output
    drv = CliRunner().invoke(app, ["keys", "create", "--tenant", "fuso", "--role", "driver",
                                   "--database-url", url])
    assert drv.exit_code == 2 and "--vehicle" in drv.output


def test_live_updates_stream_the_engines_events(api: Api) -> None:
    api.post("/v1/ride-requests", json=_ride("s1"))
    api.post("/v1/ride-requests/s1/confirm")
    r = api.get("/v1/events?follow=false")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in r.text.split("\n\n") if b.strip()]
    statuses = [json.loads(b.split("data: ", 1)[1])["status"] for b in blocks
                if "data: " in b and '"request_id": "s1"' in b]
    assert statuses == ["requested", "offered", "confirmed", "assigned"]
    ids = [int(b.split("\n")[0].removeprefix("id: ")) for b in blocks]
    assert ids == list(range(1, len(ids) + 1))
    rest = api.get(f"/v1/events?follow=false&after={ids[-2]}")
    assert rest.text.startswith(f"id: {ids[-1]}\n")
    assert api.get("/v1/events?follow=false", "app1").status_code == 403


def test_concurrent_bookings_and_confirmations_never_overbook(api: Api) -> None:
    """Forty riders want the same bus at the same time; every call races the others."""
    from concurrent.futures import ThreadPoolExecutor

    from routing.insertion import schedule

    def book_and_confirm(n: int) -> tuple[int, int]:
        r = api.post("/v1/ride-requests", "app1", json=_ride(f"c{n}", at="10:00"))
        c = api.post(f"/v1/ride-requests/c{n}/confirm", "app1")
        return r.status_code, c.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(book_and_confirm, range(40)))
    assert all(b == 201 and c in (200, 409) for b, c in codes), codes
    eng = api.c.app.state.services["demo"].engine  # type: ignore[attr-defined]
    for k in range(eng.n_vehicles):
        sch = schedule(eng.vehicle_plan(k), eng.table.durations, eng.table.distances)
        assert sch.feasible, sch.violations  # capacity, windows and rides all kept
    confirmed = sum(1 for _, c in codes if c == 200)
    assert confirmed == sum(1 for r in eng.records() if r.status.value == "assigned")
    assert 0 < confirmed <= 3 * 8 * 4  # three buses of 8 seats, a few rounds at most


@pytest.mark.slow
def test_reoptimization_runs_off_the_request_path(setup: ServiceSetup, tmp_path: Any) -> None:
    """A worker process re-optimizes on its cadence while bookings go on; its results are
    merged by the service and reported in the KPIs."""
    import time

    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    app = create_app(Settings(tenant="demo", clock="manual", service_date=DAY,
                              reopt_every_s=0.5, reopt_time_limit_s=0.5),
                     setup=setup, store=store, region=default_region())
    with TestClient(app) as client:
        a = Api(client, store)
        a.post("/v1/clock", json={"to": "2026-12-02T08:00:00+09:00"})
        for n, (o, d) in enumerate([("stop-0", "hospital-0"), ("stop-5", "hospital-3"),
                                    ("stop-9", "stop-2"), ("stop-12", "hospital-7")]):
            a.post("/v1/ride-requests", json=_ride(f"q{n}", o, d, at=f"1{n}:00"))
            a.post(f"/v1/ride-requests/q{n}/confirm")
        deadline = time.monotonic() + 120  # the worker is a fresh interpreter: it imports
        kpis = a.get("/v1/kpis").json()
        while kpis["reoptimizations"] == 0 and time.monotonic() < deadline:
            assert a.post("/v1/ride-requests", json=_ride(f"w{int(time.monotonic() * 10)}",
                                                          at="15:00")).status_code == 201
            time.sleep(0.5)
            kpis = a.get("/v1/kpis").json()
        assert kpis["reoptimizations"] >= 1, kpis
        assert kpis["last_reoptimization"]["reason"]
        assert kpis["by_status"]["assigned"] >= 4  # every confirmed ride still planned
    store.close()
