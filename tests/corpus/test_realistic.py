"""The realistic families: office (LibreOffice), html (Chromium) and scan-sweep.

Each renders, prints every gold value into its text layer (office/html), records its generator
settings, and draws test settings from values dev never uses. LibreOffice and Chromium take a
few seconds per document, so each test prints one small form.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pymupdf
import pytest
from typer.testing import CliRunner

from jixiao.cli import app
from jixiao.contract import FormRecord
from jixiao.corpus.build import build_corpus, load_manifest, load_real_gold, split_for
from jixiao.corpus.render import REALISTIC_FAMILIES, render_document, scan_sweep
from jixiao.corpus.render.office import NCOLS, workbook
from jixiao.corpus.render.settings import (
    SPLIT_KEYS,
    Settings,
    Split,
    html_settings,
    office_settings,
    scan_settings,
)
from jixiao.corpus.render.tools import find_tool
from jixiao.corpus.synth import generate_forms

ROOT = Path(__file__).resolve().parents[2]
GOLD = ROOT / "evals" / "gold"
needs_soffice = pytest.mark.skipif(find_tool("soffice") is None, reason="LibreOffice missing")
needs_chromium = pytest.mark.skipif(find_tool("chromium") is None, reason="Chromium missing")


def real_form(gold_id: str = "sh-bdc-2023-07") -> FormRecord:
    return FormRecord.model_validate_json((GOLD / f"{gold_id}.json").read_text(encoding="utf-8"))


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def printed_values(record: FormRecord) -> list[str]:
    """Every gold leaf as printed (money with separators, scores with two decimals)."""
    values: list[str | None] = [
        record.title,
        record.project_name,
        record.competent_department,
        record.implementing_unit,
        record.goal_expected,
        record.goal_actual,
        record.grade,
    ]
    for row in record.funding:
        values.append(row.label)
        money = (row.initial_budget, row.annual_budget, row.executed)
        values += [f"{v:,.2f}" for v in money if v is not None]
        scores = (row.weight, row.execution_rate, row.score)
        values += [f"{v:.2f}" for v in scores if v is not None]
    for ind in record.indicators:
        values += [ind.level1, ind.level2, ind.name, ind.actual_text, ind.deviation_reason]
        values.append(ind.target_text)
        values += [f"{v:.2f}" for v in (ind.weight, ind.score) if v is not None]
    if record.total_score is not None:
        values.append(f"{record.total_score:.2f}".rstrip("0").rstrip("."))
    return [squash(v) for v in values if v]


def document_text(path: Path) -> str:
    with pymupdf.open(path) as doc:
        return squash("".join(doc[i].get_text() for i in range(doc.page_count)))


def fonts(path: Path) -> str:
    with pymupdf.open(path) as doc:
        return " ".join(f[3] for i in range(doc.page_count) for f in doc.get_page_fonts(i))


# ------------------------------------------------------------------ settings split


def _draws(family: str, split: str, n: int = 400) -> list[Settings]:
    rng = random.Random(f"draws:{family}:{split}")
    if family == "office":
        return [office_settings(split, rng) for _ in range(n)]  # type: ignore[arg-type]
    if family == "html":
        return [html_settings(split, rng) for _ in range(n)]  # type: ignore[arg-type]
    sources = ("ruled", "office", "html")
    return [scan_settings(split, rng, sources) for _ in range(n)]  # type: ignore[arg-type]


@pytest.mark.parametrize("family", REALISTIC_FAMILIES)
def test_dev_and_test_settings_never_meet(family: str) -> None:
    dev, test = _draws(family, "dev"), _draws(family, "test")
    for key in SPLIT_KEYS[family]:

        def norm(value: object, key: str = key) -> object:
            return abs(float(str(value))) if key == "rotation" else value

        dev_values = {norm(s[key]) for s in dev if key in s}
        test_values = {norm(s[key]) for s in test if key in s}
        assert dev_values and test_values, key
        assert dev_values.isdisjoint(test_values), (key, dev_values & test_values)
    if family == "scan-sweep":
        # bitonal pages in both splits, at each split's own dpi and blur
        assert any(s["bitonal"] for s in dev) and any(s["bitonal"] for s in test)
        dev_bitonal = {(s["dpi"], s["blur"]) for s in dev if s["bitonal"]}
        test_bitonal = {(s["dpi"], s["blur"]) for s in test if s["bitonal"]}
        assert dev_bitonal.isdisjoint(test_bitonal)
        assert max(abs(float(s["rotation"])) for s in test) <= 2.0
        assert {int(s["jpeg"]) for s in test if "jpeg" in s} <= set(range(40, 51))


# ------------------------------------------------------------------ office


def test_office_templates_order_columns_and_drop_initial_budget() -> None:
    record = real_form()
    base = office_settings("dev", random.Random(1))

    def header(settings: Settings) -> list[str]:
        ws = workbook(record, settings, random.Random(0)).active
        assert ws is not None
        for row in ws.iter_rows(values_only=True):
            if row[0] in ("一级指标",):
                return [str(v) for v in row[:NCOLS]]
        raise AssertionError("no indicator header")

    official = header({**base, "template": 1, "labels": "central"})
    assert official[3:7] == ["年度指标值", "实际完成值", "分值", "得分"]
    swapped = header({**base, "template": 3, "labels": "central"})
    assert swapped[3:7] == ["年度指标值", "分值", "实际完成值", "得分"]
    for template, with_initial in ((1, True), (2, False)):
        ws = workbook(
            record,
            {**base, "template": template, "initial_budget_column": with_initial},
            random.Random(0),
        ).active
        assert ws is not None
        cells = [str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None]
        assert any(c.startswith("年初") for c in cells) == with_initial
        # merged 一级 labels span their rows; the sheet is set to print on A4
        assert len(ws.merged_cells.ranges) > 10 and int(ws.page_setup.paperSize) == int(
            ws.PAPERSIZE_A4
        )


@needs_soffice
@pytest.mark.parametrize("split", ["dev", "test"])
def test_office_pdf_has_every_printed_value_in_the_settings_font(
    tmp_path: Path, split: str
) -> None:
    record = real_form()
    out = tmp_path / "office.pdf"
    seed = 3 if split == "dev" else 4
    rendered = render_document("office", [record], out, seed=seed, split=split)  # type: ignore[arg-type]
    printed = rendered.printed[0]
    assert rendered.settings["tool"] == "libreoffice"
    if not rendered.settings["initial_budget_column"]:
        assert all(row.initial_budget is None for row in printed.funding)
    else:
        assert printed == record
    text = document_text(out)
    assert "\ufffd" not in text
    assert [v for v in printed_values(printed) if v not in text] == []
    embedded = {"WenQuanYi Zen Hei": "WenQuanYiZenHei", "AR PL UMing CN": "UMingCN"}
    assert embedded[str(rendered.settings["font"])] in fonts(out)


# ------------------------------------------------------------------ html


def _vertical_rules(path: Path) -> int:
    count = 0
    with pymupdf.open(path) as doc:
        for drawing in doc[0].get_drawings():
            for item in drawing["items"]:
                if item[0] == "re":
                    rect = item[1]
                    count += rect.width < 2.5 and rect.height > 8
                elif item[0] == "l":
                    count += abs(item[1].x - item[2].x) < 0.1 and abs(item[1].y - item[2].y) > 8
    return count


@needs_chromium
@pytest.mark.parametrize("split", ["dev", "test"])
def test_html_pdf_has_every_value_and_test_has_no_vertical_rules(
    tmp_path: Path, split: str
) -> None:
    record = generate_forms(5, 1, profile="central")[0].record
    out = tmp_path / "html.pdf"
    rendered = render_document("html", [record], out, seed=2, split=split)  # type: ignore[arg-type]
    text = document_text(out)
    assert [v for v in printed_values(record) if v not in text] == []
    assert rendered.settings["tool"] == "chromium"
    if split == "test":
        assert rendered.settings["template"] == "rules" and _vertical_rules(out) == 0
        assert "WenQuanYi" in str(rendered.settings["font"])
    elif rendered.settings["template"] == "rules-top":
        assert _vertical_rules(out) == 0
    else:
        assert rendered.settings["template"] in ("grid", "grid-shaded")
        assert _vertical_rules(out) > 20


# ------------------------------------------------------------------ scan-sweep


def _fixed_scan(monkeypatch: pytest.MonkeyPatch, **overrides: object) -> None:
    settings: Settings = {
        "source": "ruled", "dpi": 150, "rotation": 1.5, "blur": 0.5, "bitonal": False,
        "paper": "yellowed", "specks": 40, "shadow": "left", "seal": "unit", "signature": True,
        "turn": 0, "searchable": False, "jpeg": 60,
    }  # fmt: skip
    settings.update(overrides)  # type: ignore[arg-type]
    monkeypatch.setattr(scan_sweep, "scan_settings", lambda *_a: dict(settings))


def test_scan_pages_are_images_without_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fixed_scan(monkeypatch, seal="totals")
    out = tmp_path / "scan.pdf"
    rendered = render_document("scan-sweep", [real_form()], out, seed=1, split="dev")
    assert rendered.settings["seal"] == "totals" and rendered.settings["jpeg"] == 60
    with pymupdf.open(out) as doc:
        assert doc.page_count == rendered.pages[0][1]
        for page in doc:
            assert page.get_text().strip() == "" and len(page.get_images()) == 1
            info = doc.extract_image(page.get_images()[0][0])
            assert info["ext"] == "jpeg" and info["width"] == pytest.approx(
                page.rect.width * 150 / 72, abs=3
            )
            assert info["colorspace"] == 3  # the red seal needs colour


def test_bitonal_and_turned_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fixed_scan(monkeypatch, bitonal=True, turn=90, dpi=180, seal="none")
    out = tmp_path / "scan.pdf"
    render_document("scan-sweep", [real_form()], out, seed=1, split="test")
    with pymupdf.open(out) as doc:
        page = doc[0]
        assert page.rect.width > page.rect.height  # the portrait sheet went in sideways
        info = doc.extract_image(page.get_images()[0][0])
        assert info["bpc"] == 1 and info["colorspace"] == 1
        assert page.get_text().strip() == ""


def test_searchable_scan_has_an_invisible_imperfect_text_layer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fixed_scan(monkeypatch, searchable=True, ocr_error_rate=0.06)
    record = real_form()
    out = tmp_path / "scan.pdf"
    render_document("scan-sweep", [record], out, seed=1, split="test")
    with pymupdf.open(out) as doc:
        traces = [span for page in doc for span in page.get_texttrace()]
        assert traces and all(span["type"] == 3 for span in traces)  # render mode 3: invisible
    text = document_text(out)
    values = printed_values(record)
    found = [v for v in values if v in text]
    # most short values survive, long ones are hit by at least one misread character
    assert 0.4 * len(values) < len(found) < len(values)
    assert squash(record.goal_actual or "") not in text


def test_scan_sweep_records_settings_of_its_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan_sweep, "sources", lambda: ("ruled",))
    splits: tuple[tuple[Split, int], ...] = (("dev", 1), ("test", 2))
    for split, seed in splits:
        rendered = render_document(
            "scan-sweep", [real_form()], tmp_path / f"{split}.pdf", seed=seed, split=split
        )
        settings = rendered.settings
        assert settings["source"] == "ruled"
        assert settings["dpi"] in ((150, 200, 250) if split == "dev" else (180, 300))
        with pymupdf.open(tmp_path / f"{split}.pdf") as doc:
            image = doc.extract_image(doc[0].get_images()[0][0])
            # scanned at the recorded dpi (a turned page's width is the sheet's height)
            dpi = int(settings["dpi"])
            assert image["width"] == pytest.approx(doc[0].rect.width * dpi / 72, abs=4)
        lo, hi = (0.2, 1.0) if split == "dev" else (1.1, 2.0)
        assert lo <= abs(float(settings["rotation"])) <= hi


# ------------------------------------------------------------------ build and CLI


def test_build_writes_settings_and_keeps_splits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan_sweep, "sources", lambda: ("ruled",))
    real = [f for f in load_real_gold(GOLD) if f.gold_id in ("sh-bdc-2023-02", "sh-bdc-2023-03")]
    build_corpus(tmp_path, seed=5, synthetic=0, families=["scan-sweep"], real=real)
    manifest = load_manifest(tmp_path / "manifest.json")
    assert len(manifest.documents) == 2
    for doc in manifest.documents:
        assert doc.family == "scan-sweep" and doc.split == split_for(doc.forms[0].gold_id)
        assert doc.settings["dpi"] in ((150, 200, 250) if doc.split == "dev" else (180, 300))
        assert {"rotation", "seal", "paper", "bitonal"} <= set(doc.settings)


def test_old_manifests_without_settings_still_load() -> None:
    manifest = load_manifest(ROOT / "examples" / "manifest.json")
    assert manifest.documents and all(doc.settings == {} for doc in manifest.documents)


@needs_soffice
def test_office_build_writes_the_gold_as_printed(tmp_path: Path) -> None:
    real = [f for f in load_real_gold(GOLD) if f.gold_id == "sh-bdc-2023-07"]
    build_corpus(tmp_path, seed=1, synthetic=0, families=["office"], real=real)
    (doc,) = load_manifest(tmp_path / "manifest.json").documents
    form = doc.forms[0]
    if doc.settings["initial_budget_column"]:
        assert form.gold.endswith("evals/gold/sh-bdc-2023-07.json")
    else:
        assert form.gold == "gold/sh-bdc-2023-07.office.json"
        gold = FormRecord.model_validate_json((tmp_path / form.gold).read_text(encoding="utf-8"))
        assert all(row.initial_budget is None for row in gold.funding)
        assert gold.indicators == real[0].record.indicators


def test_realistic_families_are_opt_in_on_the_cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import jixiao.corpus.build as build

    seen: list[list[str]] = []

    def fake_build(out: Path, **kwargs: object) -> object:
        seen.append(list(kwargs["families"]))  # type: ignore[call-overload]
        raise SystemExit(0)

    monkeypatch.setattr(build, "build_corpus", fake_build)
    runner = CliRunner()
    runner.invoke(app, ["corpus", "build", "--out", str(tmp_path)])
    runner.invoke(app, ["corpus", "build", "--out", str(tmp_path), "-f", "ruled", "--realistic"])
    runner.invoke(app, ["corpus", "build", "--out", str(tmp_path), "-f", "html"])
    assert not set(REALISTIC_FAMILIES) & set(seen[0])
    assert seen[1] == ["ruled", *REALISTIC_FAMILIES]
    assert seen[2] == ["html"]
