"""Alembic environment of the dispatch store: run on the connection the store hands over."""

from __future__ import annotations

from alembic import context

from dispatch.store import METADATA

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=METADATA)
with context.begin_transaction():
    context.run_migrations()
