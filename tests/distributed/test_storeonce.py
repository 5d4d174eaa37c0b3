"""The exactly-once write and the task table's poison rule, on SQLite and PostgreSQL, without
a broker: what makes a redelivered task harmless."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from jixiao.contract import ExtractionResult, FormRecord, RunInfo, SourceInfo
from jixiao.distributed import state
from jixiao.distributed.storeonce import save_once
from jixiao.store import db
from jixiao.store.tables import DocumentRun, Form

SHA = "c" * 64


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jixiao.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    made = db.open_db(url)
    state.ensure_schema(made)
    yield made
    made.dispose()


def outcome(*, model: str | None = None, error: str | None = None) -> db.DocumentOutcome:
    result = ExtractionResult(
        source=SourceInfo(file="x.pdf", sha256=SHA, pages=[1]),
        form=FormRecord(project_name="项目"),
        run=RunInfo(extractor="llm", model=model, prompts={"extract_header@v1": "ab" * 32}),
    )
    return db.DocumentOutcome(
        path="x.pdf",
        sha256=SHA,
        extractor="llm",
        results=[] if error else [result],
        error=error,
        error_code=1 if error else None,
    )


def counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        runs = session.scalar(select(func.count()).select_from(DocumentRun))
        forms = session.scalar(select(func.count()).select_from(Form))
    return int(runs or 0), int(forms or 0)


def test_the_same_result_key_is_written_once(engine: Engine) -> None:
    run = db.start_run(engine, "llm")
    assert save_once(engine, run, outcome(model="m1")) is True
    assert save_once(engine, run, outcome(model="m1")) is False  # a redelivery
    assert counts(engine) == (1, 1)
    # Another batch of the same bytes, extractor, model and prompts: already there …
    later = db.start_run(engine, "llm")
    assert save_once(engine, later, outcome(model="m1")) is False
    # … unless that batch asked to extract again (--force): then once more, and only once.
    assert save_once(engine, later, outcome(model="m1"), across_runs=False) is True
    assert save_once(engine, later, outcome(model="m1"), across_runs=False) is False
    # Another model is another result.
    assert save_once(engine, later, outcome(model="m2")) is True
    assert counts(engine) == (3, 3)


def test_a_failure_is_recorded_once_per_batch_and_never_over_a_success(engine: Engine) -> None:
    run = db.start_run(engine, "llm")
    assert save_once(engine, run, outcome(error="x.pdf: boom")) is True
    assert save_once(engine, run, outcome(error="x.pdf: boom")) is False
    other = db.start_run(engine, "llm")
    assert save_once(engine, other, outcome(model="m1")) is True
    assert save_once(engine, other, outcome(error="x.pdf: late duplicate")) is False
    assert counts(engine) == (2, 1)


def test_racing_writers_write_once(engine: Engine) -> None:
    run = db.start_run(engine, "llm")
    wrote: list[bool] = []
    barrier = threading.Barrier(6)

    def one() -> None:
        barrier.wait()
        wrote.append(save_once(engine, run, outcome(model="m1")))

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(wrote) == [False] * 5 + [True]
    assert counts(engine) == (1, 1)


def test_a_task_found_running_counts_as_a_crash_until_it_is_poison(engine: Engine) -> None:
    run = db.start_run(engine, "llm")
    state.add_waiting(engine, run, [(SHA, "x.pdf")])
    first = state.begin(engine, run, SHA, "x.pdf", "w1", max_crashes=2)
    assert (first.action, first.starts, first.crashes) == ("process", 1, 0)
    # w1 died: the redelivered task finds the row still running.
    second = state.begin(engine, run, SHA, "x.pdf", "w2", max_crashes=2)
    assert (second.action, second.starts, second.crashes) == ("process", 2, 1)
    third = state.begin(engine, run, SHA, "x.pdf", "w1", max_crashes=2)
    assert (third.action, third.crashes, third.last_worker) == ("poison", 2, "w2")
    state.finish(engine, run, SHA, status="failed", error="poison")
    assert state.begin(engine, run, SHA, "x.pdf", "w1", max_crashes=2).action == "finished"
    assert state.counts(engine, run) == {"waiting": 0, "running": 0, "done": 0, "failed": 1}


def test_a_handled_retry_is_not_a_crash(engine: Engine) -> None:
    run = db.start_run(engine, "llm")
    state.add_waiting(engine, run, [(SHA, "x.pdf")])
    state.begin(engine, run, SHA, "x.pdf", "w1", max_crashes=2)
    state.release(engine, run, SHA, "database unreachable")
    again = state.begin(engine, run, SHA, "x.pdf", "w1", max_crashes=2)
    assert (again.action, again.starts, again.crashes) == ("process", 2, 0)
