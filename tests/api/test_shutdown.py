"""Graceful shutdown of ``hakobu serve``: SIGTERM while bookings are in flight.

Every request answered 2xx is in the store after a restart with its promise; every
other request got an answer (503) or a refused connection, never a half-done booking;
the server shuts down within its grace period and its re-optimization worker is gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from services import free_port

CLIENTS = 12
HAKOBU = Path(sys.executable).with_name("hakobu")
#: The service day ``hakobu serve`` runs (today in its time zone).
DAY = datetime.now(ZoneInfo("Asia/Tokyo")).date().isoformat()


def _children(pid: int) -> set[int]:
    """Return the ids of the live child processes of ``pid`` but multiprocessing's
    resource tracker (bookkeeping that ends by itself once its parent has gone)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmd = (stat.parent / "cmdline").read_bytes()
            if int(fields[1]) == pid and fields[0] != "Z" and b"resource_tracker" not in cmd:
                out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


@contextlib.contextmanager
def _serve(url: str, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "HAKOBU_CACHE_DIR": os.environ.get("HAKOBU_CACHE_DIR",
                                                          "/tmp/hakobu-cache")}
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [str(HAKOBU), "serve", "--port", str(port), "--database-url", url,
             "--vehicles", "6", "--max-stops", "40", "--clock", "manual",
             "--reopt-every", "1", "--reopt-limit", "1"],
            stdout=subprocess.DEVNULL, stderr=err, env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            assert proc.poll() is None, log.read_text()[-2000:]
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def _ride(rid: str, n: int) -> dict[str, Any]:
    minute = 9 * 60 + (n * 7) % 420
    hm, late = divmod(minute, 60), divmod(minute + 30, 60)
    return {"id": rid, "rider": f"m{n}", "origin": {"stop_id": f"stop-{n % 20}"},
            "destination": {"stop_id": f"stop-{20 + n % 19}"},
            "pickup_after": f"{DAY}T{hm[0]:02d}:{hm[1]:02d}:00+09:00",
            "pickup_before": f"{DAY}T{late[0]:02d}:{late[1]:02d}:00+09:00"}


@pytest.mark.slow
def test_sigterm_finishes_in_flight_requests_and_loses_nothing_answered(
    database_url: str, tmp_path: Path
) -> None:
    key = subprocess.run([str(HAKOBU), "keys", "create", "--tenant", "demo", "--role",
                          "dispatcher", "--database-url", database_url],
                         check=True, capture_output=True, text=True).stdout.strip()
    port, log = free_port(), tmp_path / "serve.log"
    base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}
    answered: dict[str, dict[str, Any]] = {}  # confirmed with 200: the promise
    booked: set[str] = set()  # answered 201
    answered_at: list[float] = []
    others: list[str] = []  # what every other request got
    stop = threading.Event()
    lock = threading.Lock()

    def client(w: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
            for n in range(w, 10_000, CLIENTS):
                if stop.is_set():
                    return
                rid = f"g{n}"
                try:
                    r = c.post("/v1/ride-requests", json=_ride(rid, n))
                    if r.status_code != 201:
                        others.append(f"book {r.status_code}")
                        continue
                    with lock:
                        booked.add(rid)
                    if r.json()["status"] != "offered":
                        continue
                    cf = c.post(f"/v1/ride-requests/{rid}/confirm")
                    if cf.status_code == 200:
                        with lock:
                            answered[rid] = cf.json()["offer"]
                            answered_at.append(time.monotonic())
                    else:
                        others.append(f"confirm {cf.status_code}")
                except httpx.TransportError as exc:  # refused or closed: never answered
                    others.append(type(exc).__name__)
                    return

    with _serve(database_url, port, log) as proc:
        assert httpx.post(f"{base}/v1/clock", headers=headers, timeout=30,
                          json={"to": f"{DAY}T08:00:00+09:00"}).status_code == 200
        threads = [threading.Thread(target=client, args=(w,)) for w in range(CLIENTS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while time.monotonic() < deadline and (len(answered) < 60 or not workers):
            workers = _children(proc.pid)  # the re-optimization worker (spawned)
            time.sleep(0.1)
        assert workers, "the re-optimization worker never started"
        proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        code = proc.wait(timeout=60)
        shutdown_s = time.monotonic() - t0
        stop.set()
        for t in threads:
            t.join(timeout=60)
    text = log.read_text()
    # uvicorn re-raises the signal once its shutdown is complete
    assert code in (0, -signal.SIGTERM), text[-2000:]
    assert "Application shutdown complete" in text
    assert shutdown_s < 30
    # requests in flight at the signal were finished and answered, not dropped
    assert any(t > t0 for t in answered_at), "no request in flight was answered"
    assert not any(_alive(p) for p in workers), "the re-optimization worker outlived serve"
    # every answer was whole: a 2xx, a 503, or a connection that was refused or closed
    assert all(o in ("book 503", "confirm 503") or not o[0].islower() for o in others), others
    with (_serve(database_url, port, log),
          httpx.Client(base_url=base, headers=headers, timeout=30) as c):
        for rid, offer in answered.items():
            got = c.get(f"/v1/ride-requests/{rid}").json()
            assert got["status"] == "assigned" and got["offer"] == offer, rid
        for rid in booked:
            assert c.get(f"/v1/ride-requests/{rid}").status_code == 200, rid
