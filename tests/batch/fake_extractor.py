"""A stand-in extractor for batch tests: no LLM, a fixed delay per form, counts what it does.

It has an LLM-like `client.extract`, so the batch's per-call recording is exercised, and it
tracks how many forms are in flight at once. Also runnable as a script (the SIGKILL test):
`python fake_extractor.py DB_URL FOLDER DELAY JSONL`.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jixiao.contract import FormRecord, RunInfo
from jixiao.extract.base import ExtractorOutput
from jixiao.ingest.model import FormRegion, LayoutText


@dataclass
class FakeStats:
    input_tokens: int = 10
    output_tokens: int = 5
    attempts: int = 1
    seconds: float = 0.0
    cache_hit: bool = False
    error: str | None = None


class FakeClient:
    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def extract(self, model: Any, messages: Any, *, cache_key: str | None = None) -> Any:
        with self._lock:
            self.calls += 1
        return None, FakeStats()


@dataclass
class FakeExtractor:
    delay: float = 0.0
    name: str = "fake"
    fail_sha: str | None = None  # the document whose forms make extract() raise
    client: FakeClient = field(default_factory=FakeClient)
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
            key = json.dumps(
                {
                    "doc": doc_sha256,
                    "form": form.index,
                    "section": "header",
                    "chunk": 0,
                    "prompt": "p" * 64,
                    "model": "fake-model",
                }
            )
            self.client.extract(None, [], cache_key=key)
            time.sleep(self.delay)
            record = FormRecord(title=form.title or None, project_name=f"form {form.index}")
            run = RunInfo(
                extractor=self.name,
                model="fake-model",
                llm_calls=1,
                prompts={"extract_header@v1": "p" * 64},
                input_tokens=10,
                output_tokens=5,
            )
            return ExtractorOutput(record=record, stats=run)
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
