"""End to end on a small build: the layout eval holds the committed baseline, a worse extractor
fails the gate, the run JSON round-trips and the HTML report shows the numbers.

The small build renders only the real dev forms in three families with the baseline's seed, so
its documents are the same PDFs the baseline scored (the gate compares the forms both share).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import pytest

from jixiao.corpus.build import build_corpus, load_real_gold, split_for
from jixiao.evals.diff import diff_runs
from jixiao.evals.harness import EvalOptions, load_run, run_eval, write_run
from jixiao.evals.report import format_summary, render_html
from jixiao.extract.base import ExtractorOutput, register_extractor

REPO = Path(__file__).resolve().parents[2]
BASELINE = REPO / "evals" / "baselines" / "layout-none.json"
FAMILIES = ("ruled", "borderless", "split-target")


@pytest.fixture(scope="module")
def small_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    real = [f for f in load_real_gold(REPO / "evals" / "gold") if split_for(f.gold_id) == "dev"]
    build_corpus(out, seed=7, synthetic=0, families=FAMILIES, real=real)
    return out / "manifest.json"


@pytest.fixture(scope="module")
def small_run(small_manifest: Path) -> dict[str, Any]:
    return run_eval(EvalOptions(split="dev", manifest=small_manifest, extractor="layout"))


def test_layout_eval_holds_the_committed_baseline(small_run: dict[str, Any]) -> None:
    baseline = load_run(BASELINE, "dev")
    diff = diff_runs(baseline, small_run, max_drop=0.5)
    # every form of the small build is one the baseline scored: same PDF, same gold
    assert diff.forms_compared == small_run["summary"]["forms"]["gold"] == 15, (
        f"{diff.pdf_changed} PDFs re-rendered, {diff.gold_changed} gold changed since the baseline:"
        " regenerate it — jixiao corpus build --out corpus --seed 7 && jixiao eval run --split all"
        " --extractor layout --manifest corpus/manifest.json --out evals/baselines/layout-none.json"
    )
    assert not diff.failed, "layout eval regressed against evals/baselines/layout-none.json:\n" + (
        "\n".join(diff.reasons())
    )


class _ScoreOffByOne:
    """The layout extractor with every indicator score one point high: must fail the gate."""

    name = "layout-off-by-one"

    def __init__(self) -> None:
        from jixiao.extract.layout import LayoutExtractor

        self.inner = LayoutExtractor()

    def extract(self, form: Any, layout: Any, *, doc_sha256: str) -> ExtractorOutput:
        out = self.inner.extract(form, layout, doc_sha256=doc_sha256)
        for row in out.record.indicators:
            if row.score is not None:
                row.score += 1.0
        return out


@pytest.fixture
def off_by_one() -> Iterator[str]:
    register_extractor("layout-off-by-one", lambda _options: _ScoreOffByOne())
    yield "layout-off-by-one"
    from jixiao.extract import base

    base._REGISTRY.pop("layout-off-by-one", None)


def test_a_worse_extractor_fails_the_gate(small_manifest: Path, off_by_one: str) -> None:
    options = EvalOptions(split="dev", manifest=small_manifest, extractor=off_by_one)
    options.family = "ruled"
    worse = run_eval(options)
    diff = diff_runs(load_run(BASELINE, "dev"), worse)
    assert diff.failed and "indicators" in [c.key for c in diff.dropped_groups]
    assert any(b["path"].endswith(".score") for b in diff.broken)
    worse["split"] = "test"  # the same breakage on the test split fails even without a drop
    base_as_test = {**load_run(BASELINE, "dev"), "split": "test"}
    assert diff_runs(base_as_test, worse, max_drop=100.0).failed


def test_run_json_has_every_aggregate_and_round_trips(
    small_run: dict[str, Any], tmp_path: Path
) -> None:
    s = small_run["summary"]
    assert set(s["families"]) == set(FAMILIES)
    assert set(s["field_accuracy"]["groups"]) == {
        "header",
        "funding",
        "goals",
        "indicators",
        "totals",
    }
    assert "indicators[].score" in s["fields"] and "funding[].executed" in s["fields"]
    assert set(s["rows"]) == {"funding", "indicators"}
    assert 0.0 <= s["long_text"]["mean_ratio"] <= 1.0
    cal = s["calibration"]
    assert (
        cal["bins"]
        and cal["above"]["total"] + cal["below"]["total"] == s["field_accuracy"]["total"]
    )
    assert s["checks"]["end_to_end"]["by_code"] and s["checks"]["on_gold"]["overall"]["tp"] > 0
    assert s["cost"]["forms"] == 15 and s["cost"]["llm_calls"] == 0
    assert small_run["extractor"] == "layout" and small_run["split"] == "dev"
    # the wrong leaves of each form carry gold, prediction, page and confidence
    total_wrong = sum(len(f["wrong"]) for f in small_run["forms"])
    assert total_wrong == s["field_accuracy"]["total"] - s["field_accuracy"]["correct"]
    path = tmp_path / "run.json"
    write_run(small_run, path)
    assert load_run(path) == json.loads(json.dumps(small_run))


class _Balance(HTMLParser):
    VOID: ClassVar[set[str]] = {
        "meta",
        "br",
        "rect",
        "line",
        "circle",
        "img",
        "input",
        "hr",
        "link",
    }

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def test_report_is_self_contained_html_with_the_numbers(small_run: dict[str, Any]) -> None:
    page = render_html(small_run)
    checker = _Balance()
    checker.feed(page)
    assert checker.errors == [] and checker.stack == []
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    acc = small_run["summary"]["field_accuracy"]["accuracy"]
    assert f"{acc * 100:.2f}%" in page
    for family, block in small_run["summary"]["families"].items():
        assert family in page and f"{block['accuracy'] * 100:.1f}%" in page
    assert "reliability diagram" in page
    # nothing fetched: no script, no stylesheet link, no URL but the SVG namespace
    assert "<script" not in page and "<link" not in page
    assert set(re.findall(r"https?://[^\s\"')]+", page)) <= {"http://www.w3.org/2000/svg"}
    assert "field accuracy" in format_summary(small_run)


def test_a_document_that_fails_to_open_loses_only_itself(
    small_manifest: Path, tmp_path: Path
) -> None:
    manifest = json.loads(small_manifest.read_text(encoding="utf-8"))
    docs = [d for d in manifest["documents"] if d["split"] == "dev" and d["family"] == "ruled"]
    bad = tmp_path / "pdf" / "ruled" / "broken.pdf"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"%PDF-1.7\nthis is not a PDF body")
    broken = {**docs[0], "file": "pdf/ruled/broken.pdf"}
    for d in docs:
        d["file"] = str((small_manifest.parent / d["file"]).resolve())
    manifest["documents"] = [broken, *docs]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    run = run_eval(EvalOptions(split="dev", manifest=path, extractor="layout"))
    errors = [d for d in run["documents"] if d["error"]]
    assert [d["file"] for d in errors] == ["pdf/ruled/broken.pdf"]
    assert run["summary"]["forms"]["matched"] == len(docs)
    broken_form = run["forms"][0]
    assert not broken_form["found"] and broken_form["correct"] < broken_form["leaves"]


def test_numbers_table_lists_each_family_of_each_split(small_run: dict[str, Any]) -> None:
    from jixiao.evals.report import numbers_table

    table = numbers_table({"layout-none": {"dev": small_run}})
    row = next(line for line in table.splitlines() if line.startswith("| layout-none | dev"))
    acc = small_run["summary"]["families"]["borderless"]["accuracy"]
    assert f"{acc * 100:.1f}%" in row and "| 15 |" in row
    assert table.splitlines()[0].index("ruled") < table.splitlines()[0].index("borderless")
