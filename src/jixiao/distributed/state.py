"""Task state of distributed batches, in the project's database: one row per (batch run, document)
with its status (waiting / running / done / failed), how often a worker started it and died,
which worker has it, and the error. The database is the truth for progress and for the poison
rule; the broker only carries the messages.

The table lives in its own SQLAlchemy MetaData (not SQLModel's) and is created on first use,
so the store's Alembic migrations and their drift test are untouched; see docs/distributed.md
for the migration that would make it part of the schema.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError

from jixiao.store.tables import utcnow

METADATA = MetaData()

TASKS = Table(
    "distributed_tasks",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, nullable=False, index=True),
    Column("sha256", String(64), nullable=False),
    Column("path", Text, nullable=False),
    Column("status", String(16), nullable=False),  # waiting, running, done, failed
    Column("starts", Integer, nullable=False, default=0),  # times a worker began it
    Column("crashes", Integer, nullable=False, default=0),  # starts that never ended
    Column("worker", String(200)),
    Column("error", Text),
    Column("forms", Integer, nullable=False, default=0),
    Column("enqueued_at", DateTime(timezone=True)),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    UniqueConstraint("run_id", "sha256"),
)

STATUSES = ("waiting", "running", "done", "failed")


def ensure_schema(engine: Engine) -> None:
    try:
        METADATA.create_all(engine, checkfirst=True)
    except DBAPIError:
        # Two workers starting at once both found no table; one created it. Only that is fine.
        if not inspect(engine).has_table(TASKS.name):
            raise


def add_waiting(engine: Engine, run_id: int, docs: list[tuple[str, str]]) -> None:
    """One `waiting` row per (sha256, path), written before any task is sent."""
    if not docs:
        return
    now = utcnow()
    rows = [
        {
            "run_id": run_id,
            "sha256": sha,
            "path": path,
            "status": "waiting",
            "starts": 0,
            "crashes": 0,
            "forms": 0,
            "enqueued_at": now,
        }
        for sha, path in docs
    ]
    with _transaction(engine) as conn:
        conn.execute(insert(TASKS), rows)


@dataclass(slots=True)
class Start:
    """What a worker should do with a task it has just received."""

    action: str  # "process", "finished" (already done/failed: a redelivery), "poison"
    starts: int = 0
    crashes: int = 0
    status: str = ""
    last_worker: str | None = None


@contextlib.contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    """engine.begin(), serialized between processes on SQLite: a transaction that reads then
    writes would otherwise fail with SQLITE_BUSY when another process wrote in between
    (PostgreSQL locks the row instead: SELECT … FOR UPDATE)."""
    if engine.dialect.name == "sqlite":
        from jixiao.distributed.storeonce import sqlite_file_lock

        with sqlite_file_lock(engine, "state"), engine.begin() as conn:
            yield conn
    else:
        with engine.begin() as conn:
            yield conn


def begin(
    engine: Engine, run_id: int, sha256: str, path: str, worker: str, max_crashes: int
) -> Start:
    """Claim a document for this worker, in one transaction with its row locked.

    A row still `running` when a task for it arrives means the worker that had it died (kill -9,
    a crash in the PDF library, the machine went away) and the broker redelivered the message:
    that counts as a crash. After `max_crashes` of them the document is poison."""
    with _transaction(engine) as conn:
        found = (
            conn.execute(
                select(TASKS)
                .where(TASKS.c.run_id == run_id, TASKS.c.sha256 == sha256)
                .with_for_update()
            )
            .mappings()
            .first()
        )
        row: dict[str, Any]
        if found is not None:
            row = dict(found)
        else:  # a task sent without `add_waiting` (by hand, an older client)
            conn.execute(
                insert(TASKS).values(
                    run_id=run_id,
                    sha256=sha256,
                    path=path,
                    status="waiting",
                    starts=0,
                    crashes=0,
                    forms=0,
                    enqueued_at=utcnow(),
                )
            )
            row = {"status": "waiting", "starts": 0, "crashes": 0, "worker": None}
        if row["status"] in ("done", "failed"):
            return Start("finished", row["starts"], row["crashes"], row["status"], row["worker"])
        crashes = row["crashes"] + (1 if row["status"] == "running" else 0)
        where = (TASKS.c.run_id == run_id) & (TASKS.c.sha256 == sha256)
        if crashes >= max_crashes:
            conn.execute(update(TASKS).where(where).values(crashes=crashes))
            return Start("poison", row["starts"], crashes, "running", row["worker"])
        starts = row["starts"] + 1
        conn.execute(
            update(TASKS)
            .where(where)
            .values(
                status="running",
                starts=starts,
                crashes=crashes,
                worker=worker,
                started_at=utcnow(),
            )
        )
        return Start("process", starts, crashes, "running", row["worker"])


def release(engine: Engine, run_id: int, sha256: str, error: str) -> None:
    """Back to `waiting` (a handled retry: database or endpoint down), so it is no crash."""
    with _transaction(engine) as conn:
        conn.execute(
            update(TASKS)
            .where(TASKS.c.run_id == run_id, TASKS.c.sha256 == sha256)
            .values(status="waiting", error=error)
        )


def finish(
    engine: Engine,
    run_id: int,
    sha256: str,
    *,
    status: str,
    forms: int = 0,
    error: str | None = None,
) -> None:
    with _transaction(engine) as conn:
        conn.execute(
            update(TASKS)
            .where(TASKS.c.run_id == run_id, TASKS.c.sha256 == sha256)
            .values(status=status, forms=forms, error=error, finished_at=utcnow())
        )


def counts(engine: Engine, run_id: int) -> dict[str, int]:
    """Documents per status (every status present, zeros included)."""
    out = dict.fromkeys(STATUSES, 0)
    with engine.connect() as conn:
        rows = conn.execute(
            select(TASKS.c.status, func.count())
            .where(TASKS.c.run_id == run_id)
            .group_by(TASKS.c.status)
        )
        for status, n in rows:
            out[str(status)] = int(n)
    return out


def rows(engine: Engine, run_id: int, status: str | None = None) -> list[dict[str, Any]]:
    stmt = select(TASKS).where(TASKS.c.run_id == run_id).order_by(TASKS.c.id)
    if status is not None:
        stmt = stmt.where(TASKS.c.status == status)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def latest_run(engine: Engine) -> int | None:
    with engine.connect() as conn:
        value = conn.execute(select(func.max(TASKS.c.run_id))).scalar()
    return int(value) if value is not None else None
