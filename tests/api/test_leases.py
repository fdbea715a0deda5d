"""One process serves a tenant at a time: leases in the store, on SQLite and PostgreSQL.

Another process is a real one: a child that sleeps (alive) or has exited (gone)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from dispatch.store import Store, StoreConflictError


def _child() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def _holder(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:test"


def test_a_live_holder_keeps_its_lease_until_it_expires_or_releases(database_url: str) -> None:
    store = Store(database_url)
    store.create_tenant("aso")
    child = _child()
    try:
        other = _holder(child.pid)
        assert store.acquire_lease("aso", other, 30)[0]
        taken, holder, until = store.acquire_lease("aso", _holder(1 << 22) + "me", 30)
        assert not taken and holder == other and until.timestamp() > time.time() + 20
        assert store.acquire_lease("aso", other, 30)[0]  # the holder renews
        store.release_lease("aso", other)
        assert store.acquire_lease("aso", "elsewhere:1:x", 0.2)[0]
        assert not store.acquire_lease("aso", other, 30)[0]
        time.sleep(0.4)  # expired
        assert store.acquire_lease("aso", other, 30)[0]
    finally:
        child.kill()
        child.wait()
    # The holder's process is gone (a crash): a restart on this host takes the lease over.
    assert store.acquire_lease("aso", "restarted:2:y", 30)[0]
    store.close()


def test_a_service_refuses_a_tenant_another_process_serves(database_url: str,
                                                           service_setup) -> None:  # type: ignore[no-untyped-def]
    from api.service import TenantService

    store = Store(database_url)
    store.create_tenant("demo")
    child = _child()
    try:
        assert store.acquire_lease("demo", _holder(child.pid), 30)[0]
        with pytest.raises(StoreConflictError, match="served by another process"):
            TenantService("demo", service_setup, store, clock="manual")
    finally:
        child.kill()
        child.wait()
    svc = TenantService("demo", service_setup, store, clock="manual")
    assert not store.acquire_lease("demo", "elsewhere:1:x", 30)[0]
    svc.close()
    assert store.acquire_lease("demo", "elsewhere:1:x", 30)[0]  # released on close
    store.close()
