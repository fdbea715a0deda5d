"""The durable store on SQLite and on a real PostgreSQL server: log, snapshots, recovery,
two owners refused, and no confirmed booking lost when the process is killed."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from dispatch.engine import Command, Engine, Offer, RequestStatus, RideRequest, StopOption
from dispatch.network import TravelTable
from dispatch.reoptimize import ReoptParams, reoptimize
from dispatch.store import (
    KEEP_SNAPSHOTS,
    LogWriter,
    Store,
    StoreConflictError,
    StoreError,
    UnknownTenantError,
)
from routing.model import TimeWindow

H = 3600
WORKER = Path(__file__).with_name("store_worker.py")
_spec = importlib.util.spec_from_file_location("store_worker", WORKER)
assert _spec is not None and _spec.loader is not None
worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worker)


@pytest.fixture(scope="module")
def table(stops_table: Callable[[int], TravelTable]) -> TravelTable:
    """A depot and 24 seeded in-area transit stops of the built-in region."""
    return stops_table(3, 25)


def _ride(n: int, a: int, b: int, t: int) -> RideRequest:
    return RideRequest(id=f"r{n}", rider=f"m{n}", origin=(StopOption(location=a),),
                       destination=(StopOption(location=b),),
                       pickup_window=TimeWindow(earliest=t, latest=t + 1800))


def _day(eng: Engine, store: Store | None = None, tenant: str = "") -> None:
    """Bookings, the clock, a re-optimization, a delay and a breakdown."""
    for n, (a, b) in enumerate([(3, 9), (4, 12), (5, 15), (6, 18), (7, 21), (8, 2),
                                (10, 20), (11, 22), (13, 1), (14, 23)]):
        ans = eng.book(_ride(n, a, b, 8 * H + 1800 + 600 * n))
        if isinstance(ans, Offer) and n % 4:
            eng.confirm(ans.request_id)
        if n == 5 and store is not None:
            store.save_snapshot(tenant, eng.snapshot())
    eng.advance(9 * H)
    reoptimize(eng, ReoptParams(use_solver=False))
    eng.delay(1, 600)
    eng.breakdown(0)
    eng.advance(10 * H)


def test_migrations_make_the_schema_once(database_url: str) -> None:
    store = Store(database_url)
    assert store.revision() == "0003"
    names = set(sa.inspect(store.engine).get_table_names())
    assert {"tenants", "commands", "snapshots", "leases", "alembic_version"} <= names
    Store(database_url).close()  # opening again migrates nothing and keeps the data
    assert store.revision() == "0003"
    store.close()


def test_the_log_is_gapless_per_tenant(database_url: str) -> None:
    store = Store(database_url)
    store.create_tenant("aso")
    store.create_tenant("minamata")
    with pytest.raises(StoreConflictError, match="exists already"):
        store.create_tenant("aso")
    assert store.tenants() == ["aso", "minamata"]
    store.append("aso", Command(seq=1, op="advance", args={"t": 30000}))
    store.append("aso", Command(seq=2, op="cancel", args={"request_id": "x", "cause": "r"}))
    store.append("minamata", Command(seq=1, op="close_day"))
    with pytest.raises(StoreConflictError, match="command 2 does not follow"):
        store.append("aso", Command(seq=2, op="advance", args={"t": 1}))
    with pytest.raises(StoreConflictError, match="command 5 does not follow"):
        store.append("aso", Command(seq=5, op="advance", args={"t": 1}))
    with pytest.raises(UnknownTenantError):
        store.append("nobody", Command(seq=1, op="close_day"))
    assert [c.op for c in store.commands("aso")] == ["advance", "cancel"]
    assert [c.op for c in store.commands("aso", after=1)] == ["cancel"]
    assert [c.op for c in store.commands("minamata")] == ["close_day"]
    assert store.commands("nobody") == []
    store.close()


def test_recover_rebuilds_the_engine_from_snapshot_and_log(
    database_url: str, table: TravelTable
) -> None:
    store = Store(database_url)
    store.create_tenant("kikuchi")
    eng = store.attach("kikuchi", Engine(table, worker.fleet(), start_s=8 * H))
    _day(eng, store, "kikuchi")
    assert store.last_seq("kikuchi") == eng.seq == len(eng.commands)
    snap = store.latest_snapshot("kikuchi")
    assert snap is not None and 0 < snap["seq"] < eng.seq  # the snapshot bounds the replay
    again = store.recover("kikuchi", table, worker.fleet(), start_s=8 * H)
    assert again.to_dict() == eng.to_dict()
    assert len(again.commands) == eng.seq - snap["seq"]  # only the log after it was replayed
    # the recovered engine goes on logging where the old one stopped
    ans = again.book(_ride(99, 3, 9, 11 * H))
    assert store.last_seq("kikuchi") == eng.seq + 1
    assert store.commands("kikuchi", after=eng.seq)[0].args["request"]["id"] == "r99"
    assert isinstance(ans, Offer) or ans.request_id == "r99"
    store.close()


def test_a_second_owner_is_refused_and_nothing_is_acknowledged(
    database_url: str, table: TravelTable
) -> None:
    store = Store(database_url)
    store.create_tenant("hitoyoshi")
    first = store.attach("hitoyoshi", Engine(table, worker.fleet(), start_s=8 * H))
    second = store.attach("hitoyoshi", Engine(table, worker.fleet(), start_s=8 * H))
    offer = first.book(_ride(1, 3, 9, 9 * H))
    assert isinstance(offer, Offer)
    with pytest.raises(StoreConflictError):
        second.book(_ride(2, 4, 12, 9 * H))  # its command 1 is stored already
    assert [c.args["request"]["id"] for c in store.commands("hitoyoshi")] == ["r1"]
    store.close()


def test_an_unreachable_database_is_one_clear_error() -> None:
    with pytest.raises(StoreError, match=r"127\.0\.0\.1:1"):
        Store("postgresql+psycopg://hakobu:secret@127.0.0.1:1/none")
    with pytest.raises(StoreError) as err:
        Store("postgresql+psycopg://hakobu:secret@127.0.0.1:1/none")
    assert "secret" not in str(err.value)


@pytest.mark.slow
def test_sigkill_during_bookings_loses_no_confirmed_booking(
    database_url: str, table: TravelTable, tmp_path: Path
) -> None:
    """A booking process is killed mid-stream; every booking it confirmed is recovered."""
    path = tmp_path / "table.npz"
    np.savez(path, locations=table.locations, durations=table.durations,
             distances=table.distances)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.Popen([sys.executable, str(WORKER), str(path), database_url, "town"],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    told: dict[str, tuple[int, int]] = {}
    for line in proc.stdout:
        _, rid, lo, hi = line.split()
        told[rid] = (int(lo), int(hi))
        if len(told) == 40:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the worker ended before it was killed"
    store = Store(database_url)
    eng = store.recover("town", worker.load_table(str(path)), worker.fleet(),
                        start_s=worker.START_S)
    for rid, (lo, hi) in told.items():
        rec = eng.record(rid)
        assert rec.status is RequestStatus.ASSIGNED, rid
        assert rec.offer is not None
        assert (rec.offer.pickup_window.earliest, rec.offer.pickup_window.latest) == (lo, hi)
    assert [c.seq for c in store.commands("town")] == list(range(1, eng.seq + 1))
    store.close()


def test_group_commit_answers_only_after_the_commit_and_in_log_order(
    database_url: str, table: TravelTable
) -> None:
    """Commands queued by a LogWriter are committed together, in order, with their rows;
    a ticket is durable once wait() returns; a failed commit refuses everything after."""
    store = Store(database_url)
    store.create_tenant("uki")
    writer = LogWriter(store, "uki")
    eng = store.attach("uki", Engine(table, worker.fleet(), start_s=8 * H), writer)
    for n in range(6):
        ans = eng.book(_ride(n, 3 + n, 12 + n, 9 * H + 600 * n))
        writer.add_owner(f"r{n}", "key-a")
        if isinstance(ans, Offer):
            eng.confirm(ans.request_id)
    writer.add_answer("idem-1", "f" * 64, 201, {"id": "r0"})
    writer.add_snapshot(eng.snapshot())
    ticket = writer.ticket()
    writer.wait(ticket)
    assert [c.seq for c in store.commands("uki")] == list(range(1, eng.seq + 1))
    assert store.owned_by("uki", "key-a") == {f"r{n}" for n in range(6)}
    assert store.remembered("uki", "idem-1") == ("f" * 64, 201, {"id": "r0"})
    snap = store.latest_snapshot("uki")
    assert snap is not None and snap["seq"] == eng.seq
    assert writer.commits <= writer.rows  # several rows share a transaction
    assert not writer.pending_owners and not writer.pending_answers
    # more snapshots than KEEP_SNAPSHOTS: the oldest are deleted
    for t in range(KEEP_SNAPSHOTS + 2):
        eng.advance(9 * H + t)
        writer.add_snapshot(eng.snapshot())
    writer.wait(writer.ticket())
    with store.engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT count(*) FROM snapshots WHERE tenant_id='uki'"))
        assert kept.scalar() == KEEP_SNAPSHOTS
    # a second owner's command fails the commit: its waiter and every later one get it
    store.append("uki", Command(seq=eng.seq + 1, op="advance", args={"t": 10 * H}))
    eng.advance(10 * H + 5)  # the same sequence number, queued
    bad = writer.ticket()
    with pytest.raises(StoreConflictError):
        writer.wait(bad)
    assert writer.failed is not None
    with pytest.raises(StoreConflictError):
        eng.advance(10 * H + 9)  # nothing more is queued after a failed commit
    writer.close()
    again = store.recover("uki", table, worker.fleet(), start_s=8 * H)
    assert again.seq == eng.seq - 1  # the stored log: the refused command is not in it
    store.close()
