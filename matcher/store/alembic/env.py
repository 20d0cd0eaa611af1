"""Alembic's entry: the store hands it a connection inside the transaction it upgrades in
(`matcher/store/migrate.py`), so an upgrade is committed whole or not at all."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
