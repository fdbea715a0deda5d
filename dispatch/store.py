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

import hashlib
import logging
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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
            self.engine = sa.create_engine(self.url, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            msg = f"database {self._safe_url()}: {exc}"
            raise StoreError(msg) from exc
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
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
    def attach(self, tenant: str, engine: Engine) -> Engine:
        """Make ``engine`` commit each of its commands to ``tenant``'s log before a call
        returns; return it."""
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
    ) -> Engine:
        """Rebuild ``tenant``'s engine (latest snapshot + the commands after it), attached.

        ``table``, ``vehicles``, ``config`` and ``start_s`` must be those the log was
        made with.
        """
        snap = self.latest_snapshot(tenant)
        after = 0 if snap is None else int(snap["seq"])
        engine = Engine.replay(table, vehicles, config, self.commands(tenant, after=after),
                               start_s=start_s, snapshot=snap)
        logger.info("tenant %s recovered at command %d (snapshot at %d)", tenant,
                    engine.seq, after)
        return self.attach(tenant, engine)

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
        """Return the key record of a presented key, ``None`` when it is not valid."""
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != "hk":
            return None
        q = sa.select(API_KEYS).where(API_KEYS.c.id == parts[1])
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None or not secrets.compare_digest(row.secret_hash, _hash(parts[2])):
            return None
        return ApiKey(id=row.id, tenant=row.tenant_id, role=row.role, vehicle=row.vehicle)

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
