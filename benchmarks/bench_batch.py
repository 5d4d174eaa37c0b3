"""Batch throughput, re-run cost, single-core speed and memory; prints numbers and ratios.

    .venv/bin/python benchmarks/bench_batch.py [--forms 200] [--concurrency 16] [--latency 1.0]
        [--pages 500] [--skip-llm] [--skip-memory] [--work DIR]

1. LLM throughput: `--forms` forms (bundles of 5, rendered by the corpus renderer) through
   `run_batch` against benchmarks/stub_llm_server.py on loopback (fixed latency per call).
   a) one LLM call per form (the target's unit): wall vs 1.25 × forms/concurrency × latency;
   b) the real `llm` extractor (one call per section, in turn): wall vs calls/concurrency × latency.
2. Re-run on unchanged input (same database): LLM calls (must be 0) and speed-up (target ≥ 20×);
   also `--force` with the LLM cache warm: HTTP requests (must be 0).
3. Ingestion + layout extraction + checks, no LLM, pinned to one core: forms per second.
4. Peak memory (max RSS) of a batch over one `--pages`-page bundle (target < 1 GiB).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
FORMS_PER_PDF = 5


def render_inputs(folder: Path, forms: int, *, seed: int = 3) -> int:
    """`forms` synthetic forms as bundles of FORMS_PER_PDF; returns the number of PDFs."""
    from jixiao.corpus.render import render_pdf
    from jixiao.corpus.synth import generate_forms

    folder.mkdir(parents=True, exist_ok=True)
    records = [f.record for f in generate_forms(seed, forms)]
    count = 0
    for start in range(0, forms, FORMS_PER_PDF):
        out = folder / f"bundle-{start // FORMS_PER_PDF:03d}.pdf"
        if not out.exists():
            render_pdf("bundle", records[start : start + FORMS_PER_PDF], out, seed=start)
        count += 1
    return count


class _Title(BaseModel):
    project_name: str | None = None


class OneCallExtractor:
    """Exactly one LLM call per form and nothing else (the throughput target's unit): measures
    how well the batch overlaps LLM latency, apart from any extractor's own CPU work."""

    name = "one-call"

    def __init__(self, client: Any) -> None:
        self.client = client

    def extract(self, form: Any, layout: Any, *, doc_sha256: str) -> Any:
        from jixiao.contract import FormRecord, RunInfo
        from jixiao.extract.base import ExtractorOutput

        answer, stats = self.client.extract(
            _Title,
            [{"role": "user", "content": "项目名称？\n" + layout.text[:2000]}],
            cache_key=f"{doc_sha256}:{form.index}:title",
        )
        record = FormRecord(project_name=answer.project_name if answer else None)
        run = RunInfo(
            extractor=self.name,
            model=self.client.settings.model,
            llm_calls=stats.attempts,
            cache_hits=int(stats.cache_hit),
            input_tokens=stats.input_tokens,
            output_tokens=stats.output_tokens,
        )
        return ExtractorOutput(record=record, stats=run)


def start_stub(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "stub_llm_server.py"),
            "--latency",
            str(latency),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if not line or line[0] != "READY":
        proc.kill()
        raise SystemExit("the stub LLM server did not start")
    return proc, f"http://127.0.0.1:{line[1]}/v1"


def stub_stats(base_url: str) -> dict[str, int]:
    import urllib.request

    with urllib.request.urlopen(f"{base_url}/stats", timeout=5) as response:  # loopback only
        return dict(json.loads(response.read()))


def stub_requests(base_url: str) -> int:
    return stub_stats(base_url)["requests"]


def llm_runs(work: Path, forms: int, concurrency: int, latency: float, labels: list[str]) -> None:
    from jixiao.batch import BatchOptions, run_batch
    from jixiao.config import LLMSettings
    from jixiao.extract.llm.client import LLMClient
    from jixiao.extract.llm.extractor import LLMExtractor
    from jixiao.store import db

    inputs = work / "inputs"
    pdfs = render_inputs(inputs, forms)
    stub, base_url = start_stub(latency)
    try:
        for label in labels:
            cache = Path(tempfile.mkdtemp(prefix=f"cache-{label}-", dir=work))
            settings = LLMSettings(
                base_url=base_url,
                model="stub",
                mode="tools",
                cache_dir=cache,
                max_validation_retries=0,
            )
            client = LLMClient(settings)
            extractor: Any = (
                OneCallExtractor(client) if label == "one-call" else LLMExtractor(client)
            )
            engine = db.open_db(f"sqlite:///{work / f'{label}.db'}")
            options = BatchOptions(concurrency=concurrency, workers=2, progress=False)
            before = stub_requests(base_url)
            t0 = time.perf_counter()
            first = run_batch([inputs], engine, options, extractor=extractor)
            wall = time.perf_counter() - t0
            calls = stub_requests(base_url) - before
            assert first.forms == forms and first.failed == 0, first.failures[:3]
            if label == "one-call":
                target = 1.25 * forms / concurrency * latency
                print(
                    f"llm throughput (1 call/form): {forms} forms in {pdfs} PDFs, concurrency "
                    f"{concurrency}, latency {latency:.1f}s: {wall:.2f}s, {calls} calls; target "
                    f"< {target:.2f}s -> ratio {wall / target:.2f} (<= 1.00 passes); most calls "
                    f"in flight at once: {stub_stats(base_url)['max_in_flight']}"
                )
            else:
                ideal = calls / concurrency * latency
                print(
                    f"llm throughput (llm extractor, {calls / forms:.1f} calls/form in turn): "
                    f"{wall:.2f}s for {calls} calls; ideal calls/concurrency x latency "
                    f"{ideal:.2f}s -> ratio {wall / ideal:.2f}"
                )
            before = stub_requests(base_url)
            t0 = time.perf_counter()
            again = run_batch([inputs], engine, options, extractor=extractor)
            rerun = time.perf_counter() - t0
            print(
                f"  re-run unchanged ({label}): {rerun:.3f}s, {stub_requests(base_url) - before} "
                f"LLM calls, skipped {again.skipped}/{again.total} -> {wall / rerun:.0f}x faster "
                "(target >= 20x, 0 calls)"
            )
            before = stub_requests(base_url)
            t0 = time.perf_counter()
            forced = run_batch([inputs], engine, options_force(options), extractor=extractor)
            forced_s = time.perf_counter() - t0
            print(
                f"  --force with warm LLM cache ({label}): {forced_s:.2f}s, "
                f"{stub_requests(base_url) - before} LLM calls, {forced.cache_hits} cache hits"
            )
            client.close()
    finally:
        stub.terminate()
        stub.wait(timeout=10)


def options_force(options: Any) -> Any:
    from dataclasses import replace

    return replace(options, force=True)


def _child(mode: str, folder: str, db_url: str) -> None:
    """Run in a subprocess: layout-only batch (one core) and report forms/s and max RSS."""
    from jixiao.batch import BatchOptions, run_batch
    from jixiao.store import db

    if mode == "one-core" and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    engine = db.open_db(db_url)
    options = BatchOptions(extractor="layout", concurrency=1, workers=0, progress=False)
    t0 = time.perf_counter()
    summary = run_batch([Path(folder)], engine, options)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"forms": summary.forms, "failed": summary.failed, "wall": wall, "rss": rss}))


def run_child(mode: str, folder: Path, db_path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(folder), f"sqlite:///{db_path}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def one_core(work: Path, forms: int) -> None:
    inputs = work / "inputs"
    render_inputs(inputs, forms)
    result = run_child("one-core", inputs, work / "one-core.db")
    print(
        f"ingest+layout+checks, no LLM, one core: {result['forms']} forms in {result['wall']:.2f}s"
        f" -> {result['forms'] / result['wall']:.1f} forms/s"
    )


def memory(work: Path, pages: int) -> None:
    from jixiao.corpus.render import render_pdf
    from jixiao.corpus.synth import generate_forms

    folder = work / f"bundle-{pages}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "big.pdf"
    if not target.exists():
        # About 1.5 pages per form in the bundle family: render, then top up until big enough.
        count = max(1, int(pages / 1.5))
        while True:
            ranges = render_pdf("bundle", [f.record for f in generate_forms(5, count)], target)
            if ranges[-1][1] >= pages:
                break
            count = int(count * pages / ranges[-1][1]) + 2
    from jixiao.ingest import open_document

    page_count = len(open_document(target, max_pages=100_000).pages)
    result = run_child("memory", folder, work / "memory.db")
    gib = result["rss"] / 2**30
    print(
        f"memory: one {page_count}-page bundle, {result['forms']} forms, {result['wall']:.1f}s: "
        f"peak RSS {result['rss'] / 2**20:.0f} MiB -> {gib:.2f} of the 1 GiB limit"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(*sys.argv[2:5])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forms", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--skip-llm", action="store_true")
    parser.add_argument("--extractors", default="one-call,llm", help="LLM runs to measure")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--work", type=Path, default=None, help="keep inputs here (re-used)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="jixiao-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    for stale in work.glob("*.db*"):
        stale.unlink()
    # The numbers below are wall-clock: on a shared machine, say how shared it was.
    print(f"work folder: {work}; cpus {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}")
    if not args.skip_llm:
        llm_runs(work, args.forms, args.concurrency, args.latency, args.extractors.split(","))
    one_core(work, args.forms)
    if not args.skip_memory:
        memory(work, args.pages)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
