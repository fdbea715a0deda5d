"""Real services the tests start themselves: a throwaway PostgreSQL cluster.

Where a binary is missing the test is skipped with a reason naming the Debian package;
under ``CI=true`` that skip is a failure, so CI cannot pass without the real thing.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def missing(what: str, package: str) -> None:
    """Skip (fail under CI) because ``what`` is not installed."""
    reason = f"{what} not found: install Debian's {package} package"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI needs it: {reason}")
    pytest.skip(reason)


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return hits[-1] if hits else None


def free_port() -> int:
    """Return a free TCP port on the loopback address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """Start a PostgreSQL cluster in a temporary folder on a free loopback port.

    Yields the SQLAlchemy URL of its ``postgres`` database; the cluster is stopped and
    its folder removed afterwards. As root, the server runs as the ``postgres`` user
    (PostgreSQL refuses to run as root).
    """
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        missing("PostgreSQL server (initdb, pg_ctl)", "postgresql")
    assert initdb is not None and pg_ctl is not None
    prefix: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="hakobu-pg-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            missing("the postgres system user", "postgresql")
        os.chown(folder, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    log = folder / "server.log"
    run = {"check": True, "capture_output": True, "timeout": 120}
    try:
        subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "hakobu",
                        "-E", "UTF8", "--no-sync"], **run)  # type: ignore[call-overload]
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-l", str(log), "-w", "-o",
                        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1",
                        "start"], **run)  # type: ignore[call-overload]
        yield f"postgresql+psycopg://hakobu@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60, check=False)
        shutil.rmtree(folder, ignore_errors=True)
