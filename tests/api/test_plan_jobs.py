"""Plan jobs to poll: ``POST /v1/plan-jobs`` answers 202 at once, a worker process
solves off the request path, ``GET /v1/plan-jobs/{id}`` shows queued, running, done
(with a checked plan) or failed; tenancy, roles, bad input, idempotency, a full queue."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routes.plans import EXAMPLE_PROBLEM
from api.service import ServiceSetup
from api.settings import Settings
from dispatch.store import Store
from maps.region import default_region

DAY = date(2026, 12, 2)


def _app(setup: ServiceSetup, tmp: Path, **kw: Any) -> tuple[TestClient, Store]:
    store = Store(f"sqlite:///{tmp / 'h.db'}")
    app = create_app(Settings(tenant="demo", clock="manual", service_date=DAY,
                              reopt_every_s=0, **kw),
                     setup=setup, store=store, region=default_region())
    return TestClient(app), store


@pytest.fixture()
def client(service_setup: ServiceSetup, tmp_path: Path) -> Iterator[tuple[TestClient, Store]]:
    c, store = _app(service_setup, tmp_path)
    with c:
        yield c, store
    store.close()


def _poll(c: TestClient, url: str, h: dict[str, str], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        job: dict[str, Any] = c.get(url, headers=h).json()
        seen.append(job["status"])
        if job["status"] in ("done", "failed"):
            job["seen"] = seen
            return job
        time.sleep(0.2)
    raise AssertionError(f"job not finished in {timeout} s: {seen[-1]}")


def test_a_job_is_accepted_at_once_solved_off_the_request_path_and_polled(
    client: tuple[TestClient, Store]
) -> None:
    c, store = client
    h = {"Authorization": f"Bearer {store.create_key('demo', 'dispatcher')}"}
    t0 = time.perf_counter()
    r = c.post("/v1/plan-jobs?time_limit_s=1", json=EXAMPLE_PROBLEM,
               headers={**h, "Idempotency-Key": "plan-1"})
    assert time.perf_counter() - t0 < 2.0  # answered before the solve
    assert r.status_code == 202, r.json()
    job = r.json()
    assert job["status"] in ("queued", "running") and job["plan"] is None
    assert r.headers["location"] == f"/v1/plan-jobs/{job['id']}"
    again = c.post("/v1/plan-jobs?time_limit_s=1", json=EXAMPLE_PROBLEM,
                   headers={**h, "Idempotency-Key": "plan-1"})
    assert again.status_code == 202 and again.json()["id"] == job["id"]  # not queued twice
    other = {**EXAMPLE_PROBLEM, "name": "another"}
    assert c.post("/v1/plan-jobs", json=other, headers={**h, "Idempotency-Key": "plan-1"}
                  ).status_code == 422
    # bookings go on while the job runs
    assert c.get("/v1/stops", headers=h).status_code == 200
    done = _poll(c, r.headers["location"], h)
    assert done["status"] == "done", done
    assert "running" in done["seen"] or done["seen"][0] == "done"
    assert done["plan"]["summary"]["feasible"] is True
    steps = [s["id"] for s in done["plan"]["routes"][0]["steps"]
             if s["type"] not in ("start", "end")]
    assert steps == ["ride-tanaka", "ride-tanaka"]
    assert done["started"] is not None and done["finished"] >= done["started"]


def test_bad_jobs_roles_and_unknown_ids(client: tuple[TestClient, Store]) -> None:
    c, store = client
    h = {"Authorization": f"Bearer {store.create_key('demo', 'dispatcher')}"}
    bad = {**EXAMPLE_PROBLEM, "requests": [{**EXAMPLE_PROBLEM["requests"][0],
                                            "pickup": "nowhere"}]}
    r = c.post("/v1/plan-jobs", json=bad, headers=h)
    assert r.status_code == 422 and "requests[0].pickup" in r.json()["detail"], r.json()
    assert c.post("/v1/plan-jobs?time_limit_s=601", json=EXAMPLE_PROBLEM,
                  headers=h).status_code == 422
    app = {"Authorization": f"Bearer {store.create_key('demo', 'booking_client')}"}
    assert c.post("/v1/plan-jobs", json=EXAMPLE_PROBLEM, headers=app).status_code == 403
    assert c.get("/v1/plan-jobs/job-unknown", headers=h).status_code == 404
    # a job of another tenant is not visible (jobs are scoped by tenant)
    jobs = c.app.state.jobs  # type: ignore[attr-defined]
    theirs = jobs.submit("elsewhere", {}, 1.0, 0)
    assert c.get(f"/v1/plan-jobs/{theirs.id}", headers=h).status_code == 404


def test_a_full_queue_is_503_and_a_failed_job_says_why(
    service_setup: ServiceSetup, tmp_path: Path
) -> None:
    c, store = _app(service_setup, tmp_path, plan_queue=0)
    with c:
        h = {"Authorization": f"Bearer {store.create_key('demo', 'dispatcher')}"}
        r = c.post("/v1/plan-jobs", json=EXAMPLE_PROBLEM, headers=h)
        assert r.status_code == 503 and "waiting" in r.json()["detail"]
        assert r.headers["retry-after"] == "5"
    store.close()
    c, store = _app(service_setup, tmp_path)
    with c:
        h = {"Authorization": f"Bearer {store.create_key('demo', 'dispatcher')}"}
        walk = {**EXAMPLE_PROBLEM, "vehicle_types": [{"id": "minibus", "capacity": [8, 1, 0],
                                                      "profile": "foot"}]}
        r = c.post("/v1/plan-jobs?time_limit_s=1", json=walk, headers=h)
        if r.status_code == 422:  # the profile is refused up front: also one clear line
            assert "profile" in r.json()["detail"]
        else:
            failed = _poll(c, r.headers["location"], h)
            assert failed["status"] == "failed" and "durations" in failed["error"], failed
    store.close()
