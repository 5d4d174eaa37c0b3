"""The task body run in this process (Celery's eager `apply`, no broker): what travels in a
task is checked, and a document that cannot be processed is failed with its reason instead of
being left `running`."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from jixiao.batch import file_sha256
from jixiao.distributed import state, tasks
from jixiao.distributed.queue import enqueue
from jixiao.store import db

from .conftest import REPO

SINGLE = REPO / "examples" / "sh-bdc-2023-02.ruled.pdf"


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'jixiao.db'}"
    monkeypatch.setenv("JIXIAO_DATABASE_URL", url)
    monkeypatch.setattr(tasks, "_ENGINES", {})
    made = db.open_db(url)
    yield made
    made.dispose()
    for cached in tasks._ENGINES.values():
        cached.dispose()


def queue_one(engine: Engine, path: Path, **kw: Any) -> tuple[int, list[Any]]:
    sent: list[Any] = []
    run_id = enqueue([path], engine, send=sent.append, **kw).run_id
    return run_id, sent


def run(args: list[Any]) -> dict[str, Any]:
    result: dict[str, Any] = tasks.extract_document.apply(args=args).get()
    return result


def test_a_task_carries_the_bytes_and_stores_the_document(engine: Engine) -> None:
    run_id, sent = queue_one(engine, SINGLE)
    ((_, sha, source, options),) = sent
    assert sha == file_sha256(SINGLE) and "b64" in source and options["extractor"] == "layout"
    assert run(sent[0]) == {"status": "done", "forms": 1, "written": True}
    assert run(sent[0]) == {"status": "done", "written": False}  # delivered again: nothing
    assert state.counts(engine, run_id)["done"] == 1


def test_large_files_travel_by_path(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIXIAO_INLINE_MAX_BYTES", "1000")
    _, sent = queue_one(engine, SINGLE)
    assert sent[0][2] == {"path": str(SINGLE.resolve())}
    assert run(sent[0])["status"] == "done"


def test_bytes_that_do_not_match_the_sha_fail_the_document(engine: Engine) -> None:
    run_id, sent = queue_one(engine, SINGLE)
    run_id_, sha, source, options = sent[0]
    source = {**source, "b64": base64.b64encode(b"%PDF-1.7 something else").decode()}
    assert run([run_id_, sha, source, options])["status"] == "failed"
    ((row),) = state.rows(engine, run_id)
    assert row["status"] == "failed" and "content changed" in row["error"]


def test_an_unknown_extractor_fails_the_document_instead_of_leaving_it_running(
    engine: Engine,
) -> None:
    run_id, sent = queue_one(engine, SINGLE, extractor="no-such-extractor")
    assert run(sent[0])["status"] == "failed"
    ((row),) = state.rows(engine, run_id)
    assert row["status"] == "failed" and "no-such-extractor" in row["error"]
