"""Queued batches on Celery workers: throughput of 1 vs 2 workers, the same rows as the local
batch, and nothing lost or duplicated when a worker is killed or the broker restarts.

    .venv/bin/python benchmarks/bench_distributed.py [--forms 200] [--latency 1.0]
        [--worker-concurrency 2] [--db URL] [--skip-faults] [--work DIR]

Everything runs on this machine, on loopback: benchmarks/stub_llm_server.py (fixed latency per
call), a redis-server (appendonly, so a restart keeps the queue), workers started as
`python -m jixiao.distributed worker` (the same function as `jixiao worker`), each with
`--worker-concurrency` documents at once. Inputs: `--forms` forms rendered as bundles of 5 (as
benchmarks/bench_batch.py does). The `llm` extractor runs against the stub, with an LLM cache
per run so every run makes its calls.

1. throughput: the same inputs through 1 worker, then 2 workers (fresh databases); prints the
   wall time from enqueue to the last document and the ratio (target >= 1.8x);
2. equality: `run_batch` (the local `jixiao batch`) on the same inputs; the stored forms must
   be the same rows with the same values (timings aside);
3. faults (unless --skip-faults): 2 workers, one killed with SIGKILL mid-batch and started again;
   then 2 workers with redis-server restarted mid-batch; each prints documents lost (no `done`
   row) and duplicated (more than one `done` row).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_batch import render_inputs, start_stub, stub_stats  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Redis:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        self.proc = subprocess.Popen(
            ["redis-server", *args, "--appendonly", "yes", "--save", ""],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: redis writes its append-only file and exits
            self.proc.wait(30)
            self.proc = None


class Workers:
    def __init__(self, env: dict[str, str], logs: Path, concurrency: int) -> None:
        self.env, self.logs, self.concurrency = env, logs, concurrency
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        cmd = [sys.executable, "-m", "jixiao.distributed", "worker"]
        cmd += ["--concurrency", str(self.concurrency), "--name", f"{name}@bench"]
        self.procs[name] = subprocess.Popen(
            cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 120
        while b" ready." not in (self.logs / f"{name}.log").read_bytes():
            if time.monotonic() > deadline or self.procs[name].poll() is not None:
                raise SystemExit(f"worker {name} did not start: see {self.logs / f'{name}.log'}")
            time.sleep(0.2)

    def kill9(self, name: str) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.kill9(name)


def done_rows(engine: Any) -> dict[str, int]:
    """sha256 → number of `done` processings."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from jixiao.store.tables import Document, DocumentRun

    stmt = (
        select(Document.sha256, func.count(DocumentRun.id))  # type: ignore[call-overload]
        .join(DocumentRun, DocumentRun.document_id == Document.id)
        .where(DocumentRun.status == "done")
        .group_by(Document.sha256)
    )
    with Session(engine) as session:
        return {sha: int(n) for sha, n in session.execute(stmt)}


def comparable(engine: Any) -> dict[tuple[str, int], Any]:
    from sqlalchemy.orm import Session

    from jixiao.store import db
    from jixiao.store.tables import Document

    out = {}
    with Session(engine) as session:
        for form in db.latest_forms(session):
            result = dict(form.result)
            run = dict(result.pop("run"))
            run.pop("seconds", None)
            doc = session.get(Document, form.document_id)
            out[(doc.sha256 if doc else "?", form.form_index)] = {**result, "run": run}
    return out


def fresh_db(args: argparse.Namespace, work: Path, label: str) -> str:
    if args.db is None:
        return f"sqlite:///{work / f'{label}.db'}"
    # One schema per run on the given PostgreSQL.
    from sqlalchemy import create_engine, text

    from jixiao.store import db

    schema = f"bench_{label.replace('-', '_')}_{os.getpid()}"
    admin = create_engine(db.database_url(args.db))
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    sep = "&" if "?" in args.db else "?"
    return f"{args.db}{sep}options=-csearch_path%3D{schema}"


def queued_run(
    args: argparse.Namespace,
    work: Path,
    inputs: Path,
    base_url: str,
    label: str,
    workers: int,
    fault: str | None = None,
) -> tuple[float, Any, dict[str, Any]]:
    from jixiao.distributed import state
    from jixiao.distributed.queue import batch_status, enqueue
    from jixiao.store import db

    url = fresh_db(args, work, label)
    engine = db.open_db(url)
    state.ensure_schema(engine)
    redis = Redis(work / f"redis-{label}")
    redis.start()
    logs = work / f"logs-{label}"
    logs.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "JIXIAO_BROKER_URL": redis.url,
        "JIXIAO_DATABASE_URL": url,
        "JIXIAO_LLM_BASE_URL": base_url,
        "JIXIAO_LLM_MODEL": "stub",
        "JIXIAO_LLM_MAX_VALIDATION_RETRIES": "0",
        "JIXIAO_CACHE_DIR": tempfile.mkdtemp(prefix=f"cache-{label}-", dir=work),
        # Abandoned tasks come back after 30 s (the longest document here takes a few).
        "JIXIAO_BROKER_VISIBILITY_TIMEOUT": "30",
    }
    pool = Workers(env, logs, args.worker_concurrency)
    try:
        names = [f"w{i + 1}" for i in range(workers)]
        for name in names:
            pool.start(name)
        os.environ["JIXIAO_BROKER_URL"] = redis.url
        t0 = time.perf_counter()
        run_id = enqueue([inputs], engine, extractor="llm", concurrency=5).run_id
        faulted = False
        while True:
            status = batch_status(engine, run_id)
            assert status is not None
            if status.waiting == 0 and status.running == 0:
                break
            if fault and not faulted and status.done >= status.total // 3:
                faulted = True
                if fault == "kill":
                    pool.kill9(names[0])
                    print(f"  killed {names[0]} with SIGKILL at {status.done} done", flush=True)
                    time.sleep(2)
                    pool.start(names[0])
                else:
                    redis.stop()
                    print(f"  redis-server stopped at {status.done} done", flush=True)
                    time.sleep(3)
                    redis.start()
                    print("  redis-server started again", flush=True)
            if time.perf_counter() - t0 > args.timeout:
                print(f"  gave up after {args.timeout} s: {status}", flush=True)
                break
            time.sleep(0.25)
        wall = time.perf_counter() - t0
        return wall, engine, {"status": status}
    finally:
        pool.stop_all()
        redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forms", type=int, default=200)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--db", default=None, help="PostgreSQL URL (default: SQLite files)")
    parser.add_argument("--skip-faults", action="store_true")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="jixiao-bench-dist-"))
    work.mkdir(parents=True, exist_ok=True)
    inputs = work / "inputs"
    pdfs = render_inputs(inputs, args.forms)
    print(
        f"{args.forms} forms in {pdfs} PDFs, stub latency {args.latency:.1f}s, "
        f"{args.worker_concurrency} documents at once per worker; work in {work}",
        flush=True,
    )
    stub, base_url = start_stub(args.latency)
    try:
        walls = {}
        engines = {}
        for workers in (1, 2):
            label = f"{workers}-worker"
            before = stub_stats(base_url)["requests"]
            wall, engine, info = queued_run(args, work, inputs, base_url, label, workers)
            calls = stub_stats(base_url)["requests"] - before
            status = info["status"]
            walls[workers], engines[workers] = wall, engine
            print(
                f"{label}: {status.done} done, {status.failed} failed, {status.forms} forms in "
                f"{wall:.1f}s -> {status.forms / wall:.2f} forms/s, {calls} LLM calls",
                flush=True,
            )
        print(f"2 workers vs 1: {walls[1] / walls[2]:.2f}x the throughput (target >= 1.8x)")

        from jixiao.batch import BatchOptions, run_batch
        from jixiao.config import LLMSettings
        from jixiao.extract.llm.client import LLMClient
        from jixiao.extract.llm.extractor import LLMExtractor
        from jixiao.store import db

        settings = LLMSettings(
            base_url=base_url,
            model="stub",
            mode="tools",
            cache_dir=Path(tempfile.mkdtemp(prefix="cache-local-", dir=work)),
            max_validation_retries=0,
        )
        local = db.open_db(f"sqlite:///{work / 'local.db'}")
        t0 = time.perf_counter()
        summary = run_batch(
            [inputs],
            local,
            BatchOptions(extractor="llm", concurrency=10, workers=2, progress=False),
            extractor=LLMExtractor(LLMClient(settings)),
        )
        print(
            f"local jixiao batch (concurrency 10): {summary.forms} forms in "
            f"{time.perf_counter() - t0:.1f}s"
        )
        want = comparable(local)
        for workers, engine in engines.items():
            got = comparable(engine)
            same = sum(1 for k, v in want.items() if got.get(k) == v)
            print(
                f"same rows as local batch ({workers} worker(s)): {same}/{len(want)} forms "
                f"identical, {len(got)} stored"
            )

        if not args.skip_faults:
            for fault in ("kill", "broker-restart"):
                wall, engine, info = queued_run(args, work, inputs, base_url, fault, 2, fault=fault)
                rows = done_rows(engine)
                status = info["status"]
                lost = status.total - status.skipped - status.failed - len(rows)
                dup = sum(1 for n in rows.values() if n > 1)
                print(
                    f"{fault}: {status.done} done, {status.failed} failed of {status.total} in "
                    f"{wall:.1f}s; lost {lost}, duplicated {dup}; {status.forms} forms",
                    flush=True,
                )
        print(json.dumps({"walls": walls}))
    finally:
        stub.terminate()
        stub.wait(timeout=10)


if __name__ == "__main__":
    main()
