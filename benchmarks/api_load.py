"""Load on the dispatch API over loopback: bookings per second, latency, errors, and a
SIGKILL in the middle.

``hakobu serve`` runs as its own process (manual clock at 08:00, 30 minibuses, the
built-in Kumamoto region) against SQLite and against a throwaway PostgreSQL cluster;
client threads book and confirm rides (one booking = ``POST /v1/ride-requests`` +
``POST .../confirm``) for ``--seconds``. Afterwards every booking confirmed to a client
must be in the database with its promise. The crash run kills the server with SIGKILL
mid-load, restarts it on the same database, and counts the confirmed bookings lost
(target 0) and the restart time.

A booking is one answered request: an offer confirmed, or a rejection (with its
alternative times). With 30 minibuses the day is full after about 1,500 confirmed rides,
so a 60 s run is mostly rejections after its first seconds; the table counts the two
apart, and ``--quick`` (10 s) stays below that.

Run: ``python benchmarks/api_load.py [--quick] [--json PATH]``. Traffic goes to
127.0.0.1 only; loops are bounded in count and time.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path: its coverage.py and dispatch.py
# would shadow the coverage package (numba imports it) and the dispatch package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import contextlib
import json
import os
import resource
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the throwaway PostgreSQL cluster of the tests
HAKOBU = Path(sys.executable).with_name("hakobu")
DAY = datetime.now(ZoneInfo("Asia/Tokyo")).date().isoformat()  # the service day (JST)
MAX_BOOKINGS = 200_000


def _log(msg: str) -> None:
    print(f"... {msg}", file=sys.stderr, flush=True)


def _port() -> int:
    from services import free_port

    return int(free_port())


def key_for(url: str) -> str:
    """Issue a dispatcher key on ``url`` (creates the tenant)."""
    out = subprocess.run([str(HAKOBU), "keys", "create", "--tenant", "demo", "--role",
                          "dispatcher", "--database-url", url], check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


@contextlib.contextmanager
def server(url: str, port: int) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """Start ``hakobu serve`` and wait until it is ready; yield it and its start time."""
    t0 = time.perf_counter()
    log = open(Path(tempfile.gettempdir()) / f"hakobu-serve-{port}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([str(HAKOBU), "serve", "--port", str(port), "--database-url", url,
                             "--vehicles", "30", "--clock", "manual"],
                            stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            if proc.poll() is not None:
                msg = f"hakobu serve exited with {proc.returncode} (see {log.name})"
                raise RuntimeError(msg)
            time.sleep(0.2)
        yield proc, time.perf_counter() - t0
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
        log.close()


class Load:
    """Client threads booking and confirming until told to stop."""

    def __init__(self, base: str, key: str, stops: list[str], threads: int, seed: int,
                 prefix: str) -> None:
        self.base, self.headers = base, {"Authorization": f"Bearer {key}"}
        self.stops, self.threads, self.prefix = stops, threads, prefix
        self.rng = np.random.default_rng(seed)
        self.lat: list[float] = []
        self.errors: list[str] = []
        self.confirmed: dict[str, dict[str, Any]] = {}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.n = 0
        self.rejected = 0

    def _next(self) -> tuple[str, dict[str, Any]] | None:
        with self.lock:
            if self.n >= MAX_BOOKINGS:
                return None
            self.n += 1
            n = self.n
            a, b = self.rng.choice(len(self.stops), size=2, replace=False)
            minute = int(self.rng.integers(9 * 60, 16 * 60))
        rid = f"{self.prefix}{n}"
        hm = f"{minute // 60:02d}:{minute % 60:02d}"
        late = f"{(minute + 30) // 60:02d}:{(minute + 30) % 60:02d}"
        return rid, {"id": rid, "rider": f"m{n}", "origin": {"stop_id": self.stops[a]},
                     "destination": {"stop_id": self.stops[b]},
                     "pickup_after": f"{DAY}T{hm}:00+09:00",
                     "pickup_before": f"{DAY}T{late}:00+09:00"}

    def _worker(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=30) as c:
            while not self.stop.is_set():
                job = self._next()
                if job is None:
                    return
                rid, body = job
                t0 = time.perf_counter()
                try:
                    r = c.post("/v1/ride-requests", json=body)
                    if r.status_code != 201:
                        self.errors.append(f"book {r.status_code}")
                        continue
                    if r.json()["status"] != "offered":
                        with self.lock:
                            self.rejected += 1
                    else:
                        cf = c.post(f"/v1/ride-requests/{rid}/confirm")
                        if cf.status_code == 200:
                            with self.lock:
                                self.confirmed[rid] = cf.json()["offer"]
                        elif cf.status_code != 409:
                            self.errors.append(f"confirm {cf.status_code}")
                except httpx.HTTPError as exc:
                    if not self.stop.is_set():
                        self.errors.append(type(exc).__name__)
                    return
                self.lat.append((time.perf_counter() - t0) * 1000)

    def run(self, seconds: float) -> float:
        """Run for ``seconds``; return the wall time."""
        ts = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.threads)]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        self.stop.wait(seconds)
        self.stop.set()
        for t in ts:
            t.join(timeout=60)
        return time.perf_counter() - t0


def _setup(base: str, key: str) -> list[str]:
    h = {"Authorization": f"Bearer {key}"}
    httpx.post(f"{base}/v1/clock", json={"to": f"{DAY}T08:00:00+09:00"}, headers=h,
               timeout=30).raise_for_status()
    return [s["id"] for s in httpx.get(f"{base}/v1/stops", headers=h, timeout=30).json()]


def _missing(base: str, key: str, confirmed: dict[str, dict[str, Any]]) -> int:
    """Count confirmed bookings not present (assigned or later) with the same promise."""
    lost = 0
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"},
                      timeout=30) as c:
        for rid, offer in confirmed.items():
            r = c.get(f"/v1/ride-requests/{rid}")
            if r.status_code != 200 or r.json()["offer"] != offer or r.json()["status"] not in (
                    "assigned", "picked_up", "dropped_off"):
                lost += 1
    return lost


def _cpu_s(pid: int) -> float:
    """Return the CPU seconds (user + system) process ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def sustained(url: str, seconds: float, threads: int) -> dict[str, Any]:
    """Book for ``seconds``; return throughput, latency, errors, the CPU each side used
    per booking (server process and this client) and the consistency check."""
    key = key_for(url)
    port = _port()
    with server(url, port) as (proc, ready_s):
        base = f"http://127.0.0.1:{port}"
        load = Load(base, key, _setup(base, key), threads, 1, "s")
        cpu0, own0, load0 = _cpu_s(proc.pid), _own_cpu_s(), os.getloadavg()[0]
        wall = load.run(seconds)
        cpu1, own1, load1 = _cpu_s(proc.pid), _own_cpu_s(), os.getloadavg()[0]
        lost = _missing(base, key, load.confirmed)
    lat = np.array(load.lat or [0.0])
    n = max(1, len(load.lat))
    return {"bookings": len(load.lat), "bookings_per_s": len(load.lat) / wall,
            "confirmed": len(load.confirmed), "rejected": load.rejected,
            "p50_ms": float(np.percentile(lat, 50)),
            "p95_ms": float(np.percentile(lat, 95)), "p99_ms": float(np.percentile(lat, 99)),
            "errors": len(load.errors), "error_kinds": sorted(set(load.errors))[:5],
            "missing_after": lost, "start_s": ready_s, "wall_s": wall,
            "server_cpu_ms_per_booking": 1000 * (cpu1 - cpu0) / n,
            "server_cpu_share": (cpu1 - cpu0) / wall,
            "client_cpu_ms_per_booking": 1000 * (own1 - own0) / n,
            "machine_load_avg": [load0, load1]}


def crash(url: str, seconds: float, threads: int) -> dict[str, Any]:
    """SIGKILL the server mid-load; restart; count confirmed bookings lost."""
    key = key_for(url)
    port = _port()
    with server(url, port) as (proc, _):
        base = f"http://127.0.0.1:{port}"
        load = Load(base, key, _setup(base, key), threads, 2, "k")
        killer = threading.Timer(seconds / 2, lambda: os.kill(proc.pid, signal.SIGKILL))
        killer.start()
        load.run(seconds)
        killer.join()
    with server(url, port) as (_, restart_s):
        lost = _missing(f"http://127.0.0.1:{port}", key, load.confirmed)
    return {"confirmed_before_kill": len(load.confirmed), "lost": lost,
            "restart_s": restart_s}


def main(argv: list[str] | None = None) -> int:
    """Run on SQLite and PostgreSQL, print the table, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 s per run instead of 60 s")
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--databases", default="sqlite,postgresql",
                    help="comma-separated: sqlite, postgresql")
    ap.add_argument("--no-crash", action="store_true", help="skip the SIGKILL runs")
    args = ap.parse_args(argv)
    wanted = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not wanted or set(wanted) - {"sqlite", "postgresql"}:
        ap.error(f"--databases: sqlite and/or postgresql, got {args.databases!r}")
    seconds = args.seconds or (10.0 if args.quick else 60.0)
    from services import postgres_cluster

    out: dict[str, Any] = {"seconds": seconds, "threads": args.threads}
    with tempfile.TemporaryDirectory() as tmp, postgres_cluster() as pg:
        import sqlalchemy as sa

        dbs: dict[str, str] = {}
        for name in ("load", "crash"):
            dbs[f"sqlite-{name}"] = f"sqlite:///{tmp}/{name}.db"
            admin = sa.create_engine(pg, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f"CREATE DATABASE {name}"))
            admin.dispose()
            dbs[f"postgresql-{name}"] = pg.rsplit("/", 1)[0] + f"/{name}"
        for db in wanted:
            _log(f"{db}: sustained load for {seconds:g} s")
            out[db] = sustained(dbs[f"{db}-load"], seconds, args.threads)
            _log(f"{db}: {out[db]}")
            if not args.no_crash:
                _log(f"{db}: SIGKILL mid-load")
                out[f"{db}_crash"] = crash(dbs[f"{db}-crash"], seconds, args.threads)
    print("| database | bookings/s | confirmed | rejected | p50 ms | p95 ms | p99 ms | errors | "
          "missing | server CPU ms/booking | crash: confirmed | lost | restart s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    none = {"confirmed_before_kill": "-", "lost": "-", "restart_s": float("nan")}
    for db in wanted:
        r, k = out[db], out.get(f"{db}_crash", none)
        print(f"| {db} | {r['bookings_per_s']:.1f} | {r['confirmed']} | {r['rejected']} | "
              f"{r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['p99_ms']:.0f} | {r['errors']} | "
              f"{r['missing_after']} | {r['server_cpu_ms_per_booking']:.1f} | "
              f"{k['confirmed_before_kill']} | {k['lost']} | {k['restart_s']:.1f} |")
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
