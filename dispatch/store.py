"""Durable dispatch state: each tenant's command log and snapshots in a database.

The engine's command log is the source of truth (see :mod:`dispatch.engine.log`):
:meth:`Store.attach` makes the engine commit every command in its own transaction
before the call that made it returns, so an answer that confirms something is given
only once its command is stored. :meth:`Store.recover` rebuilds a tenant's engine from
its latest snapshot plus the commands after it; :meth:`Store.save_snapshot` bounds
that replay.

SQLite (WAL, ``synchronous=FULL``) in ``./hakobu.db`` is the default;
``HAKOBU_DATABASE_URL`` (or the ``url`` argument) names another database, e.g.
``postgresql+psycopg://user@host/db``. The schema is made by Alembic migrations
(:meth:`Store.migrate`, in ``dispatch/migrations/``).

Notes
-----
A tenant's engine must live in exactly one process at a time (its owner); two
processes appending to one tenant's log are refused by the primary key (a
:class:`StoreConflictError`), never interleaved. When a commit fails, the engine in
memory is one command ahead of the store: drop it and :meth:`recover` (the failed
call raised, so nobody was told it succeeded).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from dispatch.engine import Command, DispatchConfig, Engine, VehicleSpec
from dispatch.errors import DispatchError
from dispatch.network import TravelTable

logger = logging.getLogger(__name__)

#: The default database: a SQLite file in the working directory.
DEFAULT_URL = "sqlite:///hakobu.db"
#: Environment variable naming another database.
URL_ENV = "HAKOBU_DATABASE_URL"
#: Seconds a checked API key is remembered in the process.
KEY_CACHE_S = 30.0
#: Snapshots a :class:`LogWriter` keeps per tenant (older ones are deleted).
KEEP_SNAPSHOTS = 3

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
METADATA = sa.MetaData()
TENANTS = sa.Table(
    "tenants", METADATA,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
COMMANDS = sa.Table(
    "commands", METADATA,
    sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("op", sa.String(32), nullable=False),
    sa.Column("args", _JSON, nullable=False),
    sa.Column("error", sa.String(64), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
SNAPSHOTS = sa.Table(
    "snapshots", METADATA,
    sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("data", _JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
API_KEYS = sa.Table(
    "api_keys", METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("vehicle", sa.Integer(), nullable=True),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
IDEMPOTENCY = sa.Table(
    "idempotency", METADATA,
    sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer(), nullable=False),
    sa.Column("body", _JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
OWNERS = sa.Table(
    "request_owners", METADATA,
    sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("request_id", sa.String(200), primary_key=True),
    sa.Column("key_id", sa.String(32), nullable=False),
)


LEASES = sa.Table(
    "leases", METADATA,
    sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)


def lease_holder() -> str:
    """This process's lease holder name: ``host:pid:token``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _process(holder: str) -> str:
    """The ``host:pid`` part of a holder name."""
    return ":".join(holder.split(":")[:2])


def _holder_gone(holder: str, claimant: str) -> bool:
    """Whether ``holder`` is a process of this host that no longer runs, or the
    claimant's own process (a service object of it dropped without releasing)."""
    if _process(holder) == _process(claimant):
        return True
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    """A stored API key (its secret is only ever stored hashed)."""

    id: str
    tenant: str
    role: str
    vehicle: int | None


class StoreError(DispatchError):
    """The database refused or failed an operation; the message says which."""


class StoreConflictError(StoreError, ValueError):
    """A command whose sequence number is already stored (a second owner, or a retry)."""


class UnknownTenantError(StoreError, KeyError):
    """A tenant the store does not hold."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown tenant"


def database_url(url: str | None = None) -> str:
    """Return ``url``, else ``$HAKOBU_DATABASE_URL``, else the SQLite default."""
    return url or os.environ.get(URL_ENV) or DEFAULT_URL


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # a commit survives a crash of the machine too
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(t: datetime) -> datetime:
    """A stored time as UTC-aware (SQLite returns naive datetimes)."""
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


class Store:
    """The command logs and snapshots of every tenant in one database.

    Parameters
    ----------
    url
        SQLAlchemy URL; default ``$HAKOBU_DATABASE_URL`` or ``sqlite:///hakobu.db``.
    migrate
        Bring the schema to the newest migration on opening (default).

    Raises
    ------
    StoreError
        When the database cannot be opened or migrated (the message names the URL
        without its password).
    """

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = database_url(url)
        try:
            # a pooled SQLite connection is a file handle: no ping needed per checkout
            self.engine = sa.create_engine(
                self.url, pool_pre_ping=not self.url.startswith("sqlite"))
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            msg = f"database {self._safe_url()}: {exc}"
            raise StoreError(msg) from exc
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._keys: dict[str, tuple[float, ApiKey]] = {}
        if migrate:
            self.migrate()

    def _safe_url(self) -> str:
        try:
            return sa.make_url(self.url).render_as_string(hide_password=True)
        except (SQLAlchemyError, ValueError):
            return "<unparseable URL>"

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # ------------------------------------------------------------ schema
    def migrate(self) -> None:
        """Apply every Alembic migration the database does not have yet."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except SQLAlchemyError as exc:
            msg = f"database {self._safe_url()}: migration failed: {exc}"
            raise StoreError(msg) from exc

    def revision(self) -> str | None:
        """Return the schema's Alembic revision (``None`` before the first migration)."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    # ------------------------------------------------------------ tenants
    def create_tenant(self, tenant: str) -> None:
        """Add a tenant; adding one that exists is refused.

        Raises
        ------
        StoreConflictError
            When the tenant exists already.
        """
        if not tenant or len(tenant) > 64:
            msg = f"tenant id must be 1 to 64 characters, got {tenant!r}"
            raise StoreError(msg)
        try:
            with self.engine.begin() as conn:
                conn.execute(TENANTS.insert().values(id=tenant, created_at=_now()))
        except IntegrityError as exc:
            msg = f"tenant {tenant!r} exists already"
            raise StoreConflictError(msg) from exc

    def tenants(self) -> list[str]:
        """Return every tenant id, sorted."""
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(TENANTS.c.id).order_by(TENANTS.c.id)).scalars())

    def _check_tenant(self, conn: Connection, tenant: str) -> None:
        if conn.execute(sa.select(TENANTS.c.id).where(TENANTS.c.id == tenant)).first() is None:
            msg = f"tenant {tenant!r} is unknown"
            raise UnknownTenantError(msg)

    # ------------------------------------------------------------ the log
    def append(self, tenant: str, command: Command) -> None:
        """Commit one command of ``tenant``'s log (its own transaction).

        Raises
        ------
        StoreConflictError
            When the tenant's log already holds that sequence number.
        UnknownTenantError
            When the tenant does not exist.
        StoreError
            When the database fails; the command is then not stored.
        """
        row = {"tenant_id": tenant, "seq": command.seq, "op": command.op,
               "args": command.args, "error": command.error, "created_at": _now()}
        try:
            with self.engine.begin() as conn:
                last = conn.execute(sa.select(sa.func.max(COMMANDS.c.seq))
                                    .where(COMMANDS.c.tenant_id == tenant)).scalar()
                if last is None:
                    self._check_tenant(conn, tenant)
                if (last or 0) + 1 != command.seq:
                    msg = (f"tenant {tenant!r}: command {command.seq} does not follow the "
                           f"stored log (last {last or 0})")
                    raise StoreConflictError(msg)
                conn.execute(COMMANDS.insert().values(**row))
        except IntegrityError as exc:
            msg = f"tenant {tenant!r}: command {command.seq} is stored already"
            raise StoreConflictError(msg) from exc
        except SQLAlchemyError as exc:
            msg = f"tenant {tenant!r}: command {command.seq} not stored: {exc}"
            raise StoreError(msg) from exc

    def commands(self, tenant: str, *, after: int = 0) -> list[Command]:
        """Return ``tenant``'s commands with a sequence number above ``after``, in order."""
        q = (sa.select(COMMANDS.c.seq, COMMANDS.c.op, COMMANDS.c.args, COMMANDS.c.error)
             .where(COMMANDS.c.tenant_id == tenant, COMMANDS.c.seq > after)
             .order_by(COMMANDS.c.seq))
        with self.engine.connect() as conn:
            return [Command(seq=int(r.seq), op=r.op, args=dict(r.args), error=r.error)
                    for r in conn.execute(q)]

    def last_seq(self, tenant: str) -> int:
        """Return the last stored sequence number of ``tenant`` (0 for an empty log)."""
        with self.engine.connect() as conn:
            last = conn.execute(sa.select(sa.func.max(COMMANDS.c.seq))
                                .where(COMMANDS.c.tenant_id == tenant)).scalar()
        return int(last or 0)

    # ------------------------------------------------------------ snapshots
    def save_snapshot(self, tenant: str, snapshot: dict[str, Any]) -> None:
        """Store ``snapshot`` (from :meth:`Engine.snapshot`); its ``seq`` must be logged.

        Raises
        ------
        StoreError
            When the snapshot is ahead of the stored log.
        """
        seq = int(snapshot["seq"])
        if seq > self.last_seq(tenant):
            msg = f"tenant {tenant!r}: snapshot at {seq} is ahead of the stored log"
            raise StoreError(msg)
        try:
            with self.engine.begin() as conn:
                conn.execute(SNAPSHOTS.insert().values(tenant_id=tenant, seq=seq,
                                                       data=snapshot, created_at=_now()))
        except IntegrityError:
            logger.debug("snapshot %s of %s stored already", seq, tenant)

    def latest_snapshot(self, tenant: str) -> dict[str, Any] | None:
        """Return ``tenant``'s newest snapshot, ``None`` when it has none."""
        q = (sa.select(SNAPSHOTS.c.data).where(SNAPSHOTS.c.tenant_id == tenant)
             .order_by(SNAPSHOTS.c.seq.desc()).limit(1))
        with self.engine.connect() as conn:
            data = conn.execute(q).scalar()
        return None if data is None else dict(data)

    # ------------------------------------------------------------ engines
    def attach(self, tenant: str, engine: Engine, writer: LogWriter | None = None) -> Engine:
        """Make ``engine`` commit each of its commands to ``tenant``'s log before a call
        returns; return it.

        With ``writer`` (a :class:`LogWriter` of ``tenant``) the commands are queued for
        group commit instead, and the caller waits for its ticket before answering.
        """
        if writer is not None:
            engine.on_command = writer.add_command
        else:
            engine.on_command = lambda cmd: self.append(tenant, cmd)
        return engine

    def recover(
        self,
        tenant: str,
        table: TravelTable,
        vehicles: Sequence[VehicleSpec],
        config: DispatchConfig | None = None,
        *,
        start_s: int = 0,
        writer: LogWriter | None = None,
        drones: Any = None,
    ) -> Engine:
        """Rebuild ``tenant``'s engine (latest snapshot + the commands after it), attached
        (to ``writer`` when given, see :meth:`attach`).

        ``table``, ``vehicles``, ``config``, ``start_s`` and ``drones`` (a
        :class:`dispatch.engine.drones.DroneFleet`) must be those the log was made with.
        """
        snap = self.latest_snapshot(tenant)
        after = 0 if snap is None else int(snap["seq"])
        engine = Engine.replay(table, vehicles, config, self.commands(tenant, after=after),
                               start_s=start_s, snapshot=snap, drones=drones)
        logger.info("tenant %s recovered at command %d (snapshot at %d)", tenant,
                    engine.seq, after)
        return self.attach(tenant, engine, writer)

    # ------------------------------------------------------------ leases
    def acquire_lease(self, tenant: str, holder: str, ttl_s: float) -> tuple[bool, str, datetime]:
        """Take or renew ``tenant``'s lease for ``ttl_s`` seconds; return (taken, holder,
        expires_at) — the other holder and its expiry when it is not taken.

        A lease is free when it expired, when its holder is a process of this host that
        no longer runs (a restart after a crash), or when it is this holder's already (or
        its process's).
        """
        now = _now()
        until = now + timedelta(seconds=ttl_s)
        try:
            with self.engine.begin() as conn:
                self._check_tenant(conn, tenant)
                row = conn.execute(sa.select(LEASES).where(LEASES.c.tenant_id == tenant)
                                   .with_for_update()).first()
                if row is None:
                    conn.execute(LEASES.insert().values(tenant_id=tenant, holder=holder,
                                                        expires_at=until))
                    return True, holder, until
                expires = _aware(row.expires_at)
                if row.holder != holder and expires > now and not _holder_gone(row.holder, holder):
                    return False, str(row.holder), expires
                conn.execute(LEASES.update().where(LEASES.c.tenant_id == tenant)
                             .values(holder=holder, expires_at=until))
                return True, holder, until
        except IntegrityError:
            # another process inserted the lease between our read and our insert
            return False, "another process", until

    def release_lease(self, tenant: str, holder: str) -> None:
        """Give ``tenant``'s lease up (when ``holder`` holds it)."""
        with self.engine.begin() as conn:
            conn.execute(LEASES.delete().where(LEASES.c.tenant_id == tenant,
                                               LEASES.c.holder == holder))

    # ------------------------------------------------------------ API keys
    def create_key(self, tenant: str, role: str, *, vehicle: int | None = None) -> str:
        """Issue a key for ``tenant`` with ``role``; return it (stored only hashed).

        The key is ``hk_<id>_<secret>``; the id names it in logs, the secret is shown
        once.
        """
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            self._check_tenant(conn, tenant)
            conn.execute(API_KEYS.insert().values(
                id=key_id, tenant_id=tenant, role=role, vehicle=vehicle,
                secret_hash=_hash(secret), created_at=_now()))
        return f"hk_{key_id}_{secret}"

    def key(self, presented: str) -> ApiKey | None:
        """Return the key record of a presented key, ``None`` when it is not valid.

        A valid key is remembered for :data:`KEY_CACHE_S` seconds (keyed by the hash of
        the presented secret), so a busy client costs no query per request.
        """
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != "hk":
            return None
        digest = _hash(presented)
        hit = self._keys.get(digest)
        if hit is not None and time.monotonic() - hit[0] < KEY_CACHE_S:
            return hit[1]
        q = sa.select(API_KEYS).where(API_KEYS.c.id == parts[1])
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None or not secrets.compare_digest(row.secret_hash, _hash(parts[2])):
            return None
        found = ApiKey(id=row.id, tenant=row.tenant_id, role=row.role, vehicle=row.vehicle)
        if len(self._keys) >= 10_000:
            self._keys.clear()
        self._keys[digest] = (time.monotonic(), found)
        return found

    # ------------------------------------------------------------ idempotency
    def remembered(self, tenant: str, key: str) -> tuple[str, int, dict[str, Any]] | None:
        """Return (fingerprint, status, body) stored for an idempotency key, if any."""
        q = sa.select(IDEMPOTENCY).where(IDEMPOTENCY.c.tenant_id == tenant,
                                         IDEMPOTENCY.c.key == key)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return None if row is None else (row.fingerprint, int(row.status), dict(row.body))

    def remember(self, tenant: str, key: str, fingerprint: str, status: int,
                 body: dict[str, Any]) -> None:
        """Store the answer given for an idempotency key (first answer wins)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(IDEMPOTENCY.insert().values(
                    tenant_id=tenant, key=key, fingerprint=fingerprint, status=status,
                    body=body, created_at=_now()))
        except IntegrityError:
            logger.debug("idempotency key stored already")

    # ------------------------------------------------------------ owners
    def set_owner(self, tenant: str, request_id: str, key_id: str) -> None:
        """Record which key created a request."""
        with self.engine.begin() as conn:
            conn.execute(OWNERS.insert().values(tenant_id=tenant, request_id=request_id,
                                                key_id=key_id))

    def owner(self, tenant: str, request_id: str) -> str | None:
        """Return the key id that created ``request_id``, ``None`` if none did."""
        q = sa.select(OWNERS.c.key_id).where(OWNERS.c.tenant_id == tenant,
                                             OWNERS.c.request_id == request_id)
        with self.engine.connect() as conn:
            return conn.execute(q).scalar()

    def owned_by(self, tenant: str, key_id: str) -> set[str]:
        """Return the ids of the requests ``key_id`` created."""
        q = sa.select(OWNERS.c.request_id).where(OWNERS.c.tenant_id == tenant,
                                                 OWNERS.c.key_id == key_id)
        with self.engine.connect() as conn:
            return set(conn.execute(q).scalars())


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


#: The statements of every group commit, built once (their cache keys are memoized on
#: the statement object, so a new one per commit would be compiled into the cache again).
_INSERT_COMMANDS = COMMANDS.insert()
_INSERT_OWNERS = OWNERS.insert()


class LogWriter:
    """Group commit of one tenant's log: many commands, one transaction, one fsync.

    The engine hands each command to :meth:`add_command` (under the tenant's lock,
    in log order); rows that belong with it (the request's owner, the answer kept for
    an idempotency key) are added with :meth:`add_owner` / :meth:`add_answer`. A
    writer thread commits everything queued in one transaction. A caller takes a
    :meth:`ticket` after its command and :meth:`wait` s for it *outside* the lock,
    so the next command runs while the commit is on disk, and the caller is answered
    only once the transaction holding its command is committed. Commits are in log
    order: a later ticket is never durable before an earlier one.

    When a commit fails, it and everything queued after it is refused (every waiter
    gets the :class:`StoreError`) and :attr:`failed` is set: the engine in memory is
    then ahead of the store and must be rebuilt with :meth:`Store.recover`.
    """

    def __init__(self, store: Store, tenant: str, *, max_batch: int = 2000) -> None:
        self.store, self.tenant, self.max_batch = store, tenant, max_batch
        self._cv = threading.Condition()
        self._queue: list[tuple[int, str, dict[str, Any]]] = []
        self._issued = 0  # tickets handed out
        self._done = 0  # tickets committed
        self._refused = 0  # tickets up to this one failed
        self.failed: StoreError | None = None
        self._closing = False
        #: Rows queued, not yet committed, that readers must see (owners, answers).
        self.pending_owners: dict[str, str] = {}
        self.pending_answers: dict[str, tuple[str, int, dict[str, Any]]] = {}
        self.commits = 0
        self.rows = 0
        #: The writer thread's own connection, and the seq the next command must have.
        self._conn: sa.Connection | None = None
        self._next_seq: int | None = None
        self._thread = threading.Thread(target=self._loop, name=f"log-writer-{tenant}",
                                        daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ queueing
    def _add(self, kind: str, row: dict[str, Any]) -> None:
        with self._cv:
            if self.failed is not None:
                raise self.failed
            if self._closing:
                msg = f"tenant {self.tenant!r}: the log writer is closed"
                raise StoreError(msg)
            self._issued += 1
            self._queue.append((self._issued, kind, row))
            self._cv.notify_all()

    def add_command(self, command: Command) -> None:
        """Queue one command of the log (call in log order, under the tenant's lock)."""
        self._add("command", {"tenant_id": self.tenant, "seq": command.seq,
                              "op": command.op, "args": command.args,
                              "error": command.error, "created_at": _now()})

    def add_owner(self, request_id: str, key_id: str) -> None:
        """Queue the record of which key created ``request_id``."""
        self.pending_owners[request_id] = key_id
        self._add("owner", {"tenant_id": self.tenant, "request_id": request_id,
                            "key_id": key_id})

    def add_answer(self, key: str, fingerprint: str, status: int,
                   body: dict[str, Any]) -> None:
        """Queue the answer given for an idempotency key."""
        self.pending_answers[key] = (fingerprint, status, body)
        self._add("answer", {"tenant_id": self.tenant, "key": key,
                             "fingerprint": fingerprint, "status": status, "body": body,
                             "created_at": _now()})

    def add_snapshot(self, snapshot: dict[str, Any]) -> None:
        """Queue a snapshot (from :meth:`Engine.snapshot`, taken under the tenant's lock
        after every command it includes was queued); older ones beyond the newest
        :data:`KEEP_SNAPSHOTS` are deleted in the same transaction."""
        self._add("snapshot", {"tenant_id": self.tenant, "seq": int(snapshot["seq"]),
                               "data": snapshot, "created_at": _now()})

    def ticket(self) -> int:
        """Return the ticket of everything queued so far."""
        with self._cv:
            return self._issued

    def wait(self, ticket: int, timeout: float = 30.0) -> None:
        """Block until everything up to ``ticket`` is committed.

        Raises
        ------
        StoreError
            When that commit failed or did not happen within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._done < ticket:
                if ticket <= self._refused and self.failed is not None:
                    raise self.failed
                left = deadline - time.monotonic()
                if left <= 0:
                    msg = f"tenant {self.tenant!r}: the log was not committed in {timeout} s"
                    raise StoreError(msg)
                self._cv.wait(left)

    # ------------------------------------------------------------ the writer
    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._closing:
                    self._cv.wait()
                if not self._queue:
                    self._drop_connection()
                    return
                batch = self._queue[: self.max_batch]
                del self._queue[: len(batch)]
            try:
                self._commit(batch)
            except StoreError as exc:
                with self._cv:
                    self.failed = exc
                    self._refused = self._issued
                    self._queue.clear()
                    self._cv.notify_all()
                logger.error("tenant %s: log commit failed: %s", self.tenant, exc)
                return
            with self._cv:
                self._done = batch[-1][0]
                self.commits += 1
                self.rows += len(batch)
                for _, kind, row in batch:
                    if kind == "owner":
                        self.pending_owners.pop(row["request_id"], None)
                    elif kind == "answer":
                        self.pending_answers.pop(row["key"], None)
                self._cv.notify_all()

    def _commit(self, batch: list[tuple[int, str, dict[str, Any]]]) -> None:
        cmds = [row for _, kind, row in batch if kind == "command"]
        owners = [row for _, kind, row in batch if kind == "owner"]
        answers = [row for _, kind, row in batch if kind == "answer"]
        snaps = [row for _, kind, row in batch if kind == "snapshot"]
        try:
            if self._conn is None:
                self._conn = self.store.engine.connect()
            conn = self._conn
            with conn.begin():
                if cmds:
                    # the stored log's end is read once; later commits follow their own
                    # (a row written meanwhile by another process fails the primary key)
                    if self._next_seq is None:
                        last = conn.execute(sa.select(sa.func.max(COMMANDS.c.seq)).where(
                            COMMANDS.c.tenant_id == self.tenant)).scalar()
                        self._next_seq = (last or 0) + 1
                    if self._next_seq != cmds[0]["seq"]:
                        msg = (f"tenant {self.tenant!r}: command {cmds[0]['seq']} does not "
                               f"follow the stored log (last {self._next_seq - 1})")
                        raise StoreConflictError(msg)
                    conn.execute(_INSERT_COMMANDS, cmds)
                if owners:
                    conn.execute(_INSERT_OWNERS, owners)
                for row in snaps:
                    conn.execute(SNAPSHOTS.insert().values(**row))
                if snaps:
                    keep = (sa.select(SNAPSHOTS.c.seq)
                            .where(SNAPSHOTS.c.tenant_id == self.tenant)
                            .order_by(SNAPSHOTS.c.seq.desc()).limit(KEEP_SNAPSHOTS)
                            .subquery())
                    oldest = conn.execute(sa.select(sa.func.min(keep.c.seq))).scalar()
                    conn.execute(SNAPSHOTS.delete().where(SNAPSHOTS.c.tenant_id == self.tenant,
                                                          SNAPSHOTS.c.seq < oldest))
                for row in answers:  # first answer wins, as Store.remember
                    seen = conn.execute(sa.select(IDEMPOTENCY.c.key).where(
                        IDEMPOTENCY.c.tenant_id == self.tenant,
                        IDEMPOTENCY.c.key == row["key"])).first()
                    if seen is None:
                        conn.execute(IDEMPOTENCY.insert().values(**row))
        except StoreError:
            self._drop_connection()
            raise
        except IntegrityError as exc:
            self._drop_connection()
            msg = f"tenant {self.tenant!r}: log rows stored already: {exc.orig}"
            raise StoreConflictError(msg) from exc
        except SQLAlchemyError as exc:
            self._drop_connection()
            msg = f"tenant {self.tenant!r}: log rows not stored: {exc}"
            raise StoreError(msg) from exc
        if cmds:
            self._next_seq = int(cmds[-1]["seq"]) + 1

    def _drop_connection(self) -> None:
        """Close the writer's connection (after a failure, or when it stops)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                conn.close()

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then stop the writer thread."""
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        self._thread.join(timeout)
