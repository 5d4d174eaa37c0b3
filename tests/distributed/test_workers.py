"""Queued batches on real worker processes: two Celery workers (`celery -A worker_app worker`,
prefork pools, each its own process group) on a real redis-server, results in a database file
(SQLite) or the PostgreSQL of JIXIAO_TEST_POSTGRES_URL.

One batch run of several documents per test; what is checked is the database: one `done`
processing per document, the same rows as the local `jixiao batch`, and after a kill -9 of a
worker mid-document or a document that kills its worker process, nothing lost and nothing
written twice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, make_url, select
from sqlalchemy.orm import Session

from jixiao.batch import BatchOptions, file_sha256, run_batch
from jixiao.distributed import state
from jixiao.distributed.queue import batch_status, enqueue, follow
from jixiao.store import db
from jixiao.store.tables import Document, DocumentRun, Form

from .conftest import REPO, RedisServer, TcpProxy, Worker

SINGLE = REPO / "examples" / "sh-bdc-2023-02.ruled.pdf"  # one form
BUNDLE = REPO / "examples" / "bundle-3.bundle.pdf"  # three forms
VISIBILITY_S = 4  # an abandoned task goes to another worker after this long


def make_inputs(folder: Path, singles: int, bundles: int = 0) -> list[Path]:
    """Distinct PDFs (a trailing comment changes the bytes, not the content)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for n in range(singles):
        path = folder / f"s{n:02d}.pdf"
        path.write_bytes(SINGLE.read_bytes() + f"\n%{n}\n".encode())
        out.append(path)
    for n in range(bundles):
        path = folder / f"b{n:02d}.pdf"
        path.write_bytes(BUNDLE.read_bytes() + f"\n%{n}\n".encode())
        out.append(path)
    return out


class Cluster:
    def __init__(self, tmp: Path, redis_server: RedisServer, db_url: str) -> None:
        self.tmp = tmp
        self.control = tmp / "control"
        for sub in ("slow", "poison"):
            (self.control / sub).mkdir(parents=True)
        self.db_url = db_url
        self.engine = db.open_db(db_url)  # migrated once here, before the workers start
        state.ensure_schema(self.engine)
        self.env = {
            **os.environ,
            "JIXIAO_BROKER_URL": redis_server.url,
            "JIXIAO_DATABASE_URL": db_url,
            "JIXIAO_TEST_CONTROL": str(self.control),
            "JIXIAO_BROKER_VISIBILITY_TIMEOUT": str(VISIBILITY_S),
            "JIXIAO_MAX_CRASHES": "2",
        }
        self.workers: list[Worker] = []

    def start(self, *names: str) -> list[Worker]:
        started = [Worker(n, self.env, self.tmp / f"{n}.log") for n in names]
        for w in started:
            w.wait_ready()
        self.workers.extend(started)
        return started

    def enqueue(self, paths: list[Path], monkeypatch: pytest.MonkeyPatch) -> int:
        monkeypatch.setenv("JIXIAO_BROKER_URL", self.env["JIXIAO_BROKER_URL"])
        return enqueue(paths, self.engine, extractor="layout").run_id

    def wait(self, run_id: int, timeout: float = 45) -> Any:
        status = follow(self.engine, run_id, interval=0.2, timeout=timeout)
        assert status is not None
        assert status.waiting == 0 and status.running == 0, self.logs()
        return status

    def logs(self) -> str:
        return "\n".join(f"--- {w.name}\n{w.log.read_text()[-3000:]}" for w in self.workers)

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        self.engine.dispose()


# One database per test: PostgreSQL where there is one (CI), else SQLite. What differs between
# them (locks, row locks) is tested on both by test_storeonce.py, without workers.
ONE_DATABASE = ["postgresql"] if os.environ.get("JIXIAO_TEST_POSTGRES_URL") else ["sqlite"]


@pytest.fixture(params=ONE_DATABASE)
def cluster(
    request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisServer
) -> Iterator[Cluster]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jixiao.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    made = Cluster(tmp_path, redis_server, url)
    yield made
    made.close()


def processings(engine: Engine, run_id: int | None = None) -> dict[str, list[tuple[str, int]]]:
    """sha256 → [(status, forms stored)] of every document_runs row."""
    stmt = (
        select(Document.sha256, DocumentRun.status, func.count(Form.id))  # type: ignore[call-overload]
        .join(DocumentRun, DocumentRun.document_id == Document.id)
        .outerjoin(Form, Form.document_run_id == DocumentRun.id)
        .group_by(Document.sha256, DocumentRun.id, DocumentRun.status)
    )
    if run_id is not None:
        stmt = stmt.where(DocumentRun.run_id == run_id)
    out: dict[str, list[tuple[str, int]]] = {}
    with Session(engine) as session:
        for sha, status, forms in session.execute(stmt):
            out.setdefault(sha, []).append((status, int(forms)))
    return out


def comparable(engine: Engine) -> dict[tuple[str, int], dict[str, Any]]:
    """(sha256, form index) → the stored result without timings."""
    out = {}
    with Session(engine) as session:
        for form in db.latest_forms(session):
            result = dict(form.result)
            run = dict(result.pop("run"))
            run.pop("seconds", None)
            doc = session.get(Document, form.document_id)
            assert doc is not None
            out[(doc.sha256, form.form_index)] = {**result, "run": run}
    return out


def test_two_workers_store_each_document_once_as_the_local_batch_does(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = cluster.start("a@test", "b@test")
    inputs = make_inputs(tmp_path / "in", singles=4, bundles=1)
    run_id = cluster.enqueue(inputs, monkeypatch)
    status = cluster.wait(run_id)
    assert (status.done, status.failed, status.forms) == (5, 0, 7), cluster.logs()
    rows = processings(cluster.engine)
    assert sorted(rows) == sorted(file_sha256(p) for p in inputs)
    forms = {file_sha256(p): (3 if p.name.startswith("b") else 1) for p in inputs}
    assert rows == {sha: [("done", n)] for sha, n in forms.items()}
    # Both workers took documents (prefetch 1: neither hoards the queue).
    took = {r["worker"] for r in state.rows(cluster.engine, run_id)}
    assert took == {"a@test", "b@test"}, cluster.logs()

    # The same rows as the local batch on the same files.
    local = db.open_db(f"sqlite:///{tmp_path / 'local.db'}")
    run_batch(inputs, local, BatchOptions(workers=0, progress=False))
    assert comparable(cluster.engine) == comparable(local)
    local.dispose()

    # Queued again: everything is already done, nothing is sent or written.
    again = enqueue(inputs, cluster.engine, extractor="layout", send=lambda args: None)
    assert (again.queued, again.skipped) == (0, len(inputs))
    assert processings(cluster.engine) == rows
    del a, b


def test_kill_9_mid_document_is_redelivered_and_stored_once(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim, survivor = cluster.start("victim@test", "survivor@test")
    inputs = make_inputs(tmp_path / "in", singles=3, bundles=1)
    slow = {file_sha256(p) for p in inputs}
    for sha in slow:  # every document takes 1 s a form: whichever the victim has, it is mid-way
        (cluster.control / "slow" / sha).write_text("1.0")
    run_id = cluster.enqueue(inputs, monkeypatch)
    deadline = time.monotonic() + 30
    held: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not held:
        held = [
            r for r in state.rows(cluster.engine, run_id, "running") if r["worker"] == "victim@test"
        ]
        time.sleep(0.1)
    assert held, cluster.logs()
    victim.kill9()
    killed_sha = held[0]["sha256"]
    status = cluster.wait(run_id, timeout=60)
    assert (status.done, status.failed, status.forms) == (4, 0, 6), cluster.logs()
    rows = processings(cluster.engine)
    forms = {file_sha256(p): (3 if p.name.startswith("b") else 1) for p in inputs}
    assert rows == {sha: [("done", n)] for sha, n in forms.items()}  # no loss, no duplicate
    task = next(r for r in state.rows(cluster.engine, run_id) if r["sha256"] == killed_sha)
    # At least once: the broker may deliver an abandoned task more than once (the visibility
    # sweep and the pool's own requeue can both fire), each seen as a crash; never stored twice.
    assert (task["status"], task["worker"]) == ("done", "survivor@test")
    assert task["crashes"] >= 1
    del survivor


def test_a_document_that_kills_its_worker_twice_is_failed_and_the_batch_goes_on(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.start("a@test", "b@test")
    inputs = make_inputs(tmp_path / "in", singles=3)
    poison = file_sha256(inputs[1])
    (cluster.control / "poison" / poison).touch()
    run_id = cluster.enqueue(inputs, monkeypatch)
    status = cluster.wait(run_id)
    assert (status.done, status.failed) == (2, 1), cluster.logs()
    ((path, error),) = status.failures
    assert path == str(inputs[1]) and "the worker died" in error and "not tried again" in error
    task = next(r for r in state.rows(cluster.engine, run_id) if r["sha256"] == poison)
    assert task["crashes"] >= 2
    rows = processings(cluster.engine)
    assert rows[poison] == [("failed", 0)]
    assert all(rows[file_sha256(p)] == [("done", 1)] for p in (inputs[0], inputs[2]))
    current = batch_status(cluster.engine, run_id)
    assert current is not None and current.status == "finished"
    # Both workers are still serving (the pool replaced its dead process).
    assert all(w.proc.poll() is None for w in cluster.workers)


def test_postgresql_unreachable_for_a_while_is_waited_out(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = make_url(request.getfixturevalue("postgres_url"))
    proxy = TcpProxy(int(url.port or 5432))
    proxy.up()
    cluster = Cluster(tmp_path, redis_server, str(url.render_as_string(hide_password=False)))
    # The workers reach PostgreSQL only through the proxy; the test itself directly.
    cluster.env["JIXIAO_DATABASE_URL"] = url.set(port=proxy.port).render_as_string(
        hide_password=False
    )
    cluster.env["JIXIAO_RETRY_MAX_S"] = "1"  # backoff 1 s a retry
    cluster.env["JIXIAO_DB_MAX_RETRIES"] = "20"
    try:
        cluster.start("a@test")
        proxy.down()
        inputs = make_inputs(tmp_path / "in", singles=2)
        run_id = cluster.enqueue(inputs, monkeypatch)
        time.sleep(3)  # the worker has the tasks and cannot store anything
        assert state.counts(cluster.engine, run_id)["waiting"] == 2
        proxy.up()
        status = cluster.wait(run_id)
        assert (status.done, status.failed) == (2, 0), cluster.logs()
        assert processings(cluster.engine) == {file_sha256(p): [("done", 1)] for p in inputs}
        assert "database unreachable" in cluster.logs() or "cannot open" in cluster.logs()
        # Retries waited out are not crashes.
        assert all(r["crashes"] == 0 for r in state.rows(cluster.engine, run_id))
    finally:
        proxy.down()
        cluster.close()


def test_a_broker_restart_mid_batch_loses_and_duplicates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis = RedisServer(tmp_path / "redis", appendonly=True)
    redis.start()
    cluster = Cluster(tmp_path, redis, f"sqlite:///{tmp_path / 'jixiao.db'}")
    try:
        cluster.start("a@test", "b@test")
        inputs = make_inputs(tmp_path / "in", singles=6)
        for path in inputs:
            (cluster.control / "slow" / file_sha256(path)).write_text("0.5")
        run_id = cluster.enqueue(inputs, monkeypatch)
        deadline = time.monotonic() + 30
        while state.counts(cluster.engine, run_id)["done"] < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        redis.stop()  # SIGTERM: the append-only file is written, the workers lose the broker
        time.sleep(1.0)
        redis.start()  # same port, same folder: the queue as it was
        status = cluster.wait(run_id, timeout=60)
        assert (status.done, status.failed) == (6, 0), cluster.logs()
        assert processings(cluster.engine) == {file_sha256(p): [("done", 1)] for p in inputs}
    finally:
        cluster.close()
        redis.stop()
