"""Batch runs: concurrency bound, bad files recorded without stopping the batch, outputs, and
resume after a real SIGKILL with no duplicate rows."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from jixiao.batch import BatchOptions, file_sha256, run_batch
from jixiao.cli import app
from jixiao.contract import ExtractionResult
from jixiao.errors import EXIT_PARTIAL_FAILURE
from jixiao.store import db
from jixiao.store.tables import Document, DocumentRun, FlagRow, Form, LLMCall, Run

from .fake_extractor import PROMPT_SHA, FakeExtractor, cache_key

REPO = Path(__file__).resolve().parents[2]
SINGLE = REPO / "examples" / "sh-bdc-2023-02.ruled.pdf"  # one form
BUNDLE = REPO / "examples" / "bundle-3.bundle.pdf"  # three forms


def make_inputs(folder: Path, singles: int, bundles: int = 0) -> int:
    """Distinct PDFs (a trailing comment changes the bytes, not the content); returns forms."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(singles):
        (folder / f"s{n:02d}.pdf").write_bytes(SINGLE.read_bytes() + f"\n%{n}\n".encode())
    for n in range(bundles):
        (folder / f"b{n:02d}.pdf").write_bytes(BUNDLE.read_bytes() + f"\n%{n}\n".encode())
    return singles + 3 * bundles


def options(**kw: object) -> BatchOptions:
    base: dict[str, object] = {"concurrency": 4, "workers": 0, "progress": False}
    base.update(kw)
    return BatchOptions(**base)  # type: ignore[arg-type]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.open_db(f"sqlite:///{tmp_path / 'batch.db'}")
    yield engine
    engine.dispose()


def test_batch_stores_every_form_and_writes_outputs(engine: Engine, tmp_path: Path) -> None:
    forms = make_inputs(tmp_path / "in", singles=3, bundles=1)
    fake = FakeExtractor(delay=0.05)
    out, jsonl = tmp_path / "out", tmp_path / "all.jsonl"
    summary = run_batch(
        [tmp_path / "in"], engine, options(out_dir=out, jsonl=jsonl, workers=1), extractor=fake
    )
    assert (summary.done, summary.failed, summary.forms, summary.exit_code) == (4, 0, forms, 0)
    assert summary.llm_calls == forms
    assert 1 < fake.max_in_flight <= 4  # concurrent, and bounded by --concurrency
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 4 and all(name.endswith(".json") for name in written)
    bundle_json = next(out.glob("b00.*.json"))
    results = json.loads(bundle_json.read_text("utf-8"))
    names = [r["form"]["project_name"] for r in results]
    assert len(names) == 3 and names == sorted(names)  # the bundle's forms, in document order
    lines = jsonl.read_text("utf-8").splitlines()
    assert len(lines) == forms
    assert ExtractionResult.model_validate_json(lines[0]).run.extractor == "fake"
    with Session(engine) as session:
        calls = session.scalars(select(LLMCall)).all()
        docs = {d.id: d.sha256 for d in session.scalars(select(Document))}
        # the fake names each form "form <its index in the ingested document>"
        printed = {
            (f.document_id, f.form_index): int((f.project_name or "").split()[-1])
            for f in session.scalars(select(Form))
        }
    # one row per call record the extractor returned, every column from the record
    assert len(calls) == forms
    assert {(c.prompt, c.prompt_sha256, c.section) for c in calls} == {
        ("extract_header@v1", PROMPT_SHA, "header")
    }
    assert {(c.model, c.input_tokens, c.output_tokens, c.attempts) for c in calls} == {
        ("fake-model", 10, 5, 1)
    }
    for c in calls:  # each row is the call of the form it is stored with
        assert c.document_id is not None and c.form_index is not None
        key = cache_key(docs[c.document_id], printed[c.document_id, c.form_index])
        assert c.cache_key_sha256 == hashlib.sha256(key.encode()).hexdigest()
    assert sorted(c.form_index or 0 for c in calls) == [0] * 3 + [0, 1, 2]  # singles, the bundle


def test_rerun_on_unchanged_input_skips_everything(engine: Engine, tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", singles=3)
    run_batch([tmp_path / "in"], engine, options(), extractor=FakeExtractor())
    again = FakeExtractor()
    summary = run_batch([tmp_path / "in"], engine, options(), extractor=again)
    assert (summary.skipped, summary.done, again.forms, again.calls) == (3, 0, 0, 0)
    # a changed file is new work; --force redoes the rest
    (tmp_path / "in" / "s00.pdf").write_bytes(SINGLE.read_bytes() + b"\n%changed\n")
    third = FakeExtractor()
    summary = run_batch([tmp_path / "in"], engine, options(), extractor=third)
    assert (summary.skipped, summary.done, third.forms) == (2, 1, 1)
    forced = run_batch([tmp_path / "in"], engine, options(force=True), extractor=FakeExtractor())
    assert forced.done == 3


def test_a_bad_file_is_recorded_and_the_batch_goes_on(engine: Engine, tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", singles=2)
    (tmp_path / "in" / "broken.pdf").write_bytes(b"%PDF-1.7\n garbage")
    (tmp_path / "in" / "text.pdf").write_text("hello", encoding="utf-8")
    crashing = tmp_path / "in" / "s01.pdf"
    fake = FakeExtractor(fail_sha=file_sha256(crashing))
    summary = run_batch([tmp_path / "in"], engine, options(), extractor=fake)
    assert (summary.done, summary.failed, summary.exit_code) == (2, 2, EXIT_PARTIAL_FAILURE)
    errors = dict(summary.failures)
    assert "cannot be opened" in errors[str(tmp_path / "in" / "broken.pdf")]
    assert "not a PDF" in errors[str(tmp_path / "in" / "text.pdf")]
    with Session(engine) as session:
        failed = session.scalars(select(DocumentRun).where(DocumentRun.status == "failed")).all()
        assert sorted(r.error_code or 0 for r in failed) == [4, 5]
        # an extractor crash on a form is that form's flag, as in `jixiao extract`
        crashed = session.scalars(select(FlagRow).where(FlagRow.code == "EXTRACTION_FAILED")).one()
        assert "extractor bug" in crashed.message
        assert session.scalar(select(func.count()).select_from(Form)) == 2
    # failed documents are tried again by the next run; finished ones are not
    retry = FakeExtractor()
    summary = run_batch([tmp_path / "in"], engine, options(), extractor=retry)
    assert (summary.skipped, summary.done, summary.failed) == (2, 0, 2)


def test_batch_command_exit_code_says_whether_anything_failed(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", singles=1)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    args = ["batch", str(tmp_path / "in"), "--db", url, "--workers", "0", "--no-progress"]
    ok = CliRunner().invoke(app, args)
    assert ok.exit_code == 0, ok.output
    (tmp_path / "in" / "bad.pdf").write_text("not a pdf", encoding="utf-8")
    bad = CliRunner().invoke(app, args)
    assert bad.exit_code == EXIT_PARTIAL_FAILURE
    assert "bad.pdf" in bad.output and "not a PDF" in bad.output


def test_killed_run_resumes_without_duplicates(tmp_path: Path) -> None:
    """Ctrl-C a real batch process, resume it and kill -9 it mid-run, start it again: every
    document stored exactly once."""
    folder = tmp_path / "in"
    forms = make_inputs(folder, singles=8, bundles=2)
    documents = 10
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    jsonl = tmp_path / "all.jsonl"
    script = Path(__file__).with_name("fake_extractor.py")
    env = {**os.environ, "PYTHONPATH": str(script.parent)}
    cmd = [sys.executable, str(script), url, str(folder), "0.2", str(jsonl)]
    engine = db.open_db(url)

    def done_docs() -> int:
        with Session(engine) as session:
            stmt = select(func.count()).where(DocumentRun.status == "done")
            return int(session.scalar(stmt.select_from(DocumentRun)) or 0)

    def run_until(done: int, sig: signal.Signals) -> int:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while done_docs() < done:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "the batch made no progress"
                time.sleep(0.05)
            proc.send_signal(sig)
        finally:
            proc.wait(timeout=30)
        return proc.returncode

    # Ctrl-C: the run stops, says so in the database, and keeps what it finished
    assert run_until(2, signal.SIGINT) != 0
    with Session(engine) as session:
        assert session.scalars(select(Run.status)).all() == ["interrupted"]
    # kill -9 of the resumed run: no chance to clean up at all
    assert run_until(done_docs() + 2, signal.SIGKILL) == -signal.SIGKILL
    before = done_docs()
    assert 4 <= before < documents  # killed mid-run, with work left to do
    stored_before = db.count_rows(engine, ["forms"])["forms"]

    # started again (in this process: a second interpreter start would only add seconds)
    again = FakeExtractor(0.0)
    summary = run_batch([folder], engine, options(jsonl=jsonl), extractor=again)
    assert summary.skipped >= before  # a document committed after the poll is skipped too
    assert summary.done + summary.skipped == documents and summary.failed == 0
    assert again.forms == forms - stored_before  # only the unfinished documents were redone

    with Session(engine) as session:
        per_doc = session.execute(
            select(DocumentRun.document_id, func.count())
            .where(DocumentRun.status == "done")
            .group_by(DocumentRun.document_id)
        ).all()
        assert len(per_doc) == documents and all(count == 1 for _, count in per_doc)
        assert session.scalar(select(func.count()).select_from(Form)) == forms
    assert len(jsonl.read_text("utf-8").splitlines()) == forms
    engine.dispose()


def test_an_extractor_reused_across_runs_records_each_call_once(
    engine: Engine, tmp_path: Path
) -> None:
    forms = make_inputs(tmp_path / "in", singles=2)
    fake = FakeExtractor()
    for _ in range(2):
        run_batch([tmp_path / "in"], engine, options(force=True), extractor=fake)
    assert fake.calls == 2 * forms
    assert db.count_rows(engine, ["llm_calls"]) == {"llm_calls": 2 * forms}
