"""The renderers draw every gold value into a selectable text layer, on the pages they report."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from pathlib import Path

import pymupdf
import pytest

from jixiao.contract import FormRecord, Indicator
from jixiao.corpus.render import FAMILIES, render_pdf
from jixiao.corpus.render.draw import wrap_text
from jixiao.corpus.render.split_target import split_target
from jixiao.corpus.synth import generate_forms
from jixiao.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
TEXT_FAMILIES = [f for f in FAMILIES if f != "scan"]
PROFILE = {"ab-labels": "ab", "split-target": "sichuan"}


def real_form(gold_id: str = "sh-bdc-2023-02") -> FormRecord:
    path = ROOT / "evals" / "gold" / f"{gold_id}.json"
    return FormRecord.model_validate_json(path.read_text(encoding="utf-8"))


def synthetic_form(family: str, seed: int = 11) -> FormRecord:
    return generate_forms(seed, 1, profile=PROFILE.get(family, "central"))[0].record


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def printed_values(record: FormRecord) -> list[str]:
    """Every gold leaf as the renderers print it: money with thousands separators, scores
    with two decimals; text with whitespace removed (line breaks may fall anywhere)."""
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
        values += [f"{v:,.2f}" for v in (row.initial_budget, row.annual_budget, row.executed)]
        values += [f"{v:.2f}" for v in (row.weight, row.execution_rate, row.score) if v is not None]
    for ind in record.indicators:
        values += [ind.level1, ind.level2, ind.name, ind.actual_text, ind.deviation_reason]
        values.append(ind.target_text)  # split-target prints it in three adjacent cells
        values += [f"{v:.2f}" for v in (ind.weight, ind.score) if v is not None]
    if record.total_score is not None:
        values.append(f"{record.total_score:.2f}".rstrip("0").rstrip("."))
    return [squash(v) for v in values if v]


def page_texts(path: Path) -> list[str]:
    with pymupdf.open(path) as doc:
        return [doc[i].get_text() for i in range(doc.page_count)]


@pytest.mark.parametrize("family", TEXT_FAMILIES)
@pytest.mark.parametrize("origin", ["real", "synthetic"])
def test_every_gold_value_is_in_the_text_layer(tmp_path: Path, family: str, origin: str) -> None:
    record = real_form() if origin == "real" else synthetic_form(family)
    out = tmp_path / f"{family}.pdf"
    pages = render_pdf(family, [record], out, seed=3)
    texts = page_texts(out)
    assert pages == [(pages[0][0], len(texts))]
    text = "".join(texts)
    assert "\ufffd" not in text
    found = squash("".join(texts[pages[0][0] - 1 :]))
    missing = [v for v in printed_values(record) if v not in found]
    assert missing == []


@pytest.mark.parametrize("family", FAMILIES)
def test_page_ranges_locate_each_form(tmp_path: Path, family: str) -> None:
    forms = [real_form("sh-bdc-2023-07"), synthetic_form(family, 5), real_form("sh-bdc-2023-02")]
    out = tmp_path / "forms.pdf"
    pages = render_pdf(family, forms, out, seed=1)
    with pymupdf.open(out) as doc:
        count = doc.page_count
    assert len(pages) == len(forms)
    assert pages[-1][1] == count
    for (first, last), (next_first, _) in itertools.pairwise(pages):
        assert first <= last <= next_first
        # a bundle starts the next form on the page where the previous one ends
        assert next_first - last in ((0, 1) if family == "bundle" else (1,))
    if family == "scan":
        return
    texts = page_texts(out)
    for record, (first, last) in zip(forms, pages, strict=True):
        assert squash(record.project_name or "") in squash(texts[first - 1])
        last_name = squash(record.indicators[-1].name)
        assert last_name in squash("".join(texts[first - 1 : last]))


def test_long_tables_break_across_pages(tmp_path: Path) -> None:
    # 27 indicator rows do not fit on one page: the table continues, with its merged cells
    record = real_form("sh-bdc-2023-01")
    pages = render_pdf("ruled", [record], tmp_path / "long.pdf", seed=0)
    assert pages[0][1] > pages[0][0]


@pytest.mark.parametrize("family", ["ruled", "split-target", "bundle"])
def test_same_seed_same_bytes_other_seed_other_geometry(tmp_path: Path, family: str) -> None:
    forms = [real_form()]
    render_pdf(family, forms, tmp_path / "a.pdf", seed=4)
    render_pdf(family, forms, tmp_path / "b.pdf", seed=4)
    render_pdf(family, forms, tmp_path / "c.pdf", seed=5)
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert (tmp_path / "a.pdf").read_bytes() != (tmp_path / "c.pdf").read_bytes()


def test_scan_pages_are_one_image_and_no_text(tmp_path: Path) -> None:
    out = tmp_path / "scan.pdf"
    pages = render_pdf("scan", [real_form()], out, seed=2)
    with pymupdf.open(out) as doc:
        assert doc.page_count == pages[0][1] >= 1
        for i in range(doc.page_count):
            page = doc[i]
            assert page.get_text().strip() == ""
            assert len(page.get_images()) == 1
    again = tmp_path / "again.pdf"
    render_pdf("scan", [real_form()], again, seed=2)
    assert again.read_bytes() == out.read_bytes()


@pytest.mark.parametrize("family", ["ruled", "ab-labels", "split-target", "bundle"])
def test_text_never_crosses_a_ruling(tmp_path: Path, family: str) -> None:
    """Wrapped cells stay inside their cell: no glyph box is cut by a drawn line."""
    out = tmp_path / "f.pdf"
    render_pdf(family, [real_form("sh-bdc-2023-04"), synthetic_form(family)], out, seed=6)
    crossings: list[tuple[str, float]] = []
    rulings = 0
    with pymupdf.open(out) as doc:
        for i in range(doc.page_count):
            page_rulings, page_crossings = _crossings(doc[i])
            rulings += page_rulings
            crossings += page_crossings
    assert rulings > 100  # a ruled family draws its grid
    assert crossings == []


def _crossings(page: pymupdf.Page) -> tuple[int, list[tuple[str, float]]]:
    segments: list[tuple[float, float, float, float]] = []
    for drawing in page.get_drawings():
        for item in drawing["items"]:
            if item[0] == "l":
                segments.append((item[1].x, item[1].y, item[2].x, item[2].y))
            elif item[0] == "re":
                r = item[1]
                segments += [
                    (r.x0, r.y0, r.x1, r.y0),
                    (r.x0, r.y1, r.x1, r.y1),
                    (r.x0, r.y0, r.x0, r.y1),
                    (r.x1, r.y0, r.x1, r.y1),
                ]
    found = []
    for block in page.get_text("rawdict")["blocks"]:
        for line in block.get("lines", []):
            for span in line["spans"]:
                for char in span["chars"]:
                    if not char["c"].strip():
                        continue
                    x0, y0, x1, y1 = char["bbox"]
                    x0, y0, x1, y1 = x0 + 0.3, y0 + 0.3, x1 - 0.3, y1 - 0.3
                    for a, b, c, d in segments:
                        vertical = abs(a - c) < 0.1 and x0 < a < x1
                        if vertical and min(b, d) < y1 and max(b, d) > y0:
                            found.append((char["c"], a))
                        horizontal = abs(b - d) < 0.1 and y0 < b < y1
                        if horizontal and min(a, c) < x1 and max(a, c) > x0:
                            found.append((char["c"], b))
    return len(segments), found


def test_split_target_rejoins_exactly() -> None:
    for target in ["≥95%", "≥25.00(项)", "≤1.00(小时)", "=100", "达成指标", "1小时内解决问题", ""]:
        assert "".join(split_target(target)) == target
    assert split_target("≥25.00(项)") == ("≥", "25.00", "(项)")
    assert split_target("有效降低") == ("", "有效降低", "")
    for form in generate_forms(21, 4, profile="sichuan"):
        for ind in form.record.indicators:
            assert "".join(split_target(ind.target_text)) == (ind.target_text or "")


def test_wrap_keeps_numbers_whole_and_fits() -> None:
    lines = wrap_text("累计接入事项3705项，金额16,124.45万元，完成率98.61%", 60, 9)
    assert "".join(lines) == "累计接入事项3705项，金额16,124.45万元，完成率98.61%"
    assert any("16,124.45" in line for line in lines)
    from jixiao.corpus.render.draw import text_width

    assert all(text_width(line, 9) <= 60 for line in lines)


def test_unknown_family_and_no_forms_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown layout family"):
        render_pdf("landscape", [real_form()], tmp_path / "x.pdf")
    with pytest.raises(InvalidInput, match="no forms"):
        render_pdf("ruled", [], tmp_path / "x.pdf")


def test_a_goal_taller_than_a_page_is_split_not_lost(tmp_path: Path) -> None:
    goal = "持续拓展总门户接入事项覆盖度，不断扩大服务范围，构建泛在可及全方位服务体系。" * 60
    record = real_form("sh-bdc-2023-07").model_copy(update={"goal_actual": goal})
    out = tmp_path / "giant.pdf"
    pages = render_pdf("ruled", [record], out, seed=1)
    text = squash("".join(page_texts(out)))
    assert pages[0][1] - pages[0][0] >= 2
    assert Counter(squash(goal)) - Counter(text) == Counter()  # every character is drawn


@pytest.mark.parametrize("family", FAMILIES)
def test_sparse_records_render(tmp_path: Path, family: str) -> None:
    sparse = FormRecord(
        project_name="无级别项目",
        indicators=[
            Indicator(name="指标甲"),
            Indicator(level1="产出指标", name="指标乙" * 30, target_text="≥1" * 20),
        ],
    )
    out = tmp_path / "sparse.pdf"
    pages = render_pdf(family, [FormRecord(), sparse], out, seed=2)
    assert len(pages) == 2
    if family != "scan":
        text = squash("".join(page_texts(out)))
        assert all(v in text for v in printed_values(sparse))
