"""A stand-in extractor for batch tests: no LLM, a fixed delay per form, counts what it does.

Like the LLM extractors it returns one call record per (pretend) LLM call in its output, so the
batch's storing of call rows is exercised, and it tracks how many forms are in flight at once.
Also runnable as a script (the SIGKILL test): `python fake_extractor.py DB_URL FOLDER DELAY
JSONL`.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from jixiao.contract import FormRecord, RunInfo
from jixiao.extract.base import ExtractorOutput
from jixiao.extract.llm.calls import LLMCall
from jixiao.ingest.model import FormRegion, LayoutText

PROMPT_SHA = "p" * 64


def cache_key(doc_sha256: str, form_index: int) -> str:
    """The (pretend) cache key of a form's one call; the test recomputes it."""
    return json.dumps({"doc": doc_sha256, "form": form_index, "section": "header"})


@dataclass
class FakeExtractor:
    delay: float = 0.0
    name: str = "fake"
    fail_sha: str | None = None  # the document whose forms make extract() raise
    calls: int = 0  # LLM calls made (one per form)
    forms: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def extract(self, form: FormRegion, layout: LayoutText, *, doc_sha256: str) -> ExtractorOutput:
        with self._lock:
            self.forms += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if doc_sha256 == self.fail_sha:
                raise RuntimeError("extractor bug")
            with self._lock:
                self.calls += 1
            call = LLMCall(
                section="header",
                prompt="extract_header@v1",
                prompt_sha256=PROMPT_SHA,
                cache_key_sha256=hashlib.sha256(
                    cache_key(doc_sha256, form.index).encode()
                ).hexdigest(),
                model="fake-model",
                input_tokens=10,
                output_tokens=5,
                attempts=1,
            )
            time.sleep(self.delay)
            record = FormRecord(title=form.title or None, project_name=f"form {form.index}")
            run = RunInfo(
                extractor=self.name,
                model="fake-model",
                llm_calls=1,
                prompts={"extract_header@v1": PROMPT_SHA},
                input_tokens=10,
                output_tokens=5,
            )
            return ExtractorOutput(record=record, stats=run, calls=[call])
        finally:
            with self._lock:
                self.in_flight -= 1


def main() -> None:
    from jixiao.batch import BatchOptions, run_batch
    from jixiao.store import db

    url, folder, delay, jsonl = sys.argv[1:5]
    engine = db.open_db(url)
    options = BatchOptions(concurrency=2, workers=0, progress=False, jsonl=Path(jsonl))
    summary = run_batch([Path(folder)], engine, options, extractor=FakeExtractor(float(delay)))
    print(json.dumps({"done": summary.done, "skipped": summary.skipped, "failed": summary.failed}))


if __name__ == "__main__":
    main()
