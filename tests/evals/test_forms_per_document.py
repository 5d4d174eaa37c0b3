"""`forms_per_document`: a cheap subset of multi-form bundles for slow extractors. Only the first
N forms of a document reach the extractor, and only those are scored."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jixiao.corpus.build import build_corpus, load_real_gold, split_for
from jixiao.evals.harness import EvalOptions, run_eval
from jixiao.extract.base import ExtractorOutput, register_extractor

REPO = Path(__file__).resolve().parents[2]


class _CountingLayout:
    name = "layout-counting"
    calls = 0

    def __init__(self) -> None:
        from jixiao.extract.layout import LayoutExtractor

        self.inner = LayoutExtractor()

    def extract(self, form: Any, layout: Any, *, doc_sha256: str) -> ExtractorOutput:
        type(self).calls += 1
        return self.inner.extract(form, layout, doc_sha256=doc_sha256)


@pytest.fixture
def counting() -> Iterator[type[_CountingLayout]]:
    _CountingLayout.calls = 0
    register_extractor("layout-counting", lambda _options: _CountingLayout())
    yield _CountingLayout
    from jixiao.extract import base

    base._REGISTRY.pop("layout-counting", None)


@pytest.fixture(scope="module")
def bundle_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundles")
    real = [f for f in load_real_gold(REPO / "evals" / "gold") if split_for(f.gold_id) == "dev"]
    build_corpus(out, seed=7, synthetic=0, families=("bundle",), real=real)
    return out / "manifest.json"


def test_only_the_first_forms_are_extracted_and_scored(
    bundle_manifest: Path, counting: type[_CountingLayout]
) -> None:
    full = run_eval(EvalOptions(split="dev", manifest=bundle_manifest, extractor=counting.name))
    all_calls = counting.calls
    documents = full["summary"]["forms"]["documents"]
    assert full["summary"]["forms"]["gold"] > documents  # some bundle holds several forms

    counting.calls = 0
    first = run_eval(
        EvalOptions(
            split="dev", manifest=bundle_manifest, extractor=counting.name, forms_per_document=1
        )
    )
    assert counting.calls == documents < all_calls
    assert first["summary"]["forms"]["gold"] == first["summary"]["forms"]["matched"] == documents
    assert first["selection"]["forms_per_document"] == 1
    # the scored forms are the documents' first forms, scored exactly as in the full run
    firsts = {
        d["file"]: next(f for f in full["forms"] if f["doc"] == d["file"])
        for d in full["documents"]
    }
    for form in first["forms"]:
        assert form["gold_id"] == firsts[form["doc"]]["gold_id"]
        assert form["correct"] == firsts[form["doc"]]["correct"]


def test_the_count_is_per_document_even_for_identical_pdfs(
    bundle_manifest: Path, counting: type[_CountingLayout], tmp_path: Path
) -> None:
    """The same PDF listed twice (a republished bundle): each listing gets its first form."""
    manifest = json.loads(bundle_manifest.read_text(encoding="utf-8"))
    first = manifest["documents"][0]
    copy = tmp_path / "again.pdf"
    shutil.copyfile(bundle_manifest.parent / first["file"], copy)
    manifest["documents"] = [first, {**first, "file": str(copy)}]
    path = bundle_manifest.parent / "twice.json"
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")

    run = run_eval(
        EvalOptions(split="dev", manifest=path, extractor=counting.name, forms_per_document=1)
    )
    assert counting.calls == 2
    assert run["summary"]["forms"]["gold"] == run["summary"]["forms"]["matched"] == 2
