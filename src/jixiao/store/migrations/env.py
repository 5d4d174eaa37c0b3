"""Alembic environment: run with the connection `jixiao.store.db` hands over (never a URL from
an ini file), so the CLI, the tests and `open_db` all migrate the same way."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from jixiao.store import tables  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through jixiao.store.db.upgrade(), not the alembic CLI")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
