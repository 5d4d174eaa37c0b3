"""R8 on a real extraction: a form whose 一级 label prints a weight its rows do not add up to
("产出指标（60分）" over rows weighing 55) gets LEVEL1_WEIGHTS_SUM on `jixiao extract`'s path."""

from __future__ import annotations

from pathlib import Path

import pytest

from jixiao.contract import Flag, FormRecord
from jixiao.corpus.render import render_pdf
from jixiao.extract.layout import LayoutExtractor
from jixiao.extract.pipeline import extract_document

GOLD = Path(__file__).resolve().parents[2] / "evals" / "gold" / "sh-bdc-2023-02.json"


def _extract(tmp_path: Path, template: str, offset: int) -> tuple[float, list[Flag]]:
    """Render the gold form with its 产出指标 label printed as `template` ({w}: the rows' sum
    plus `offset`); return that sum and the flags of the layout extraction."""
    record = FormRecord.model_validate_json(GOLD.read_text("utf-8"))
    rows = [ind for ind in record.indicators if ind.level1 == "产出指标"]
    real = sum(ind.weight or 0.0 for ind in rows)
    assert rows and real == int(real)
    for ind in rows:
        ind.level1 = template.format(w=int(real) + offset)
    pdf = tmp_path / "form.pdf"
    render_pdf("ruled", [record], pdf)
    (result,) = extract_document(pdf, extractor=LayoutExtractor())
    return real, result.flags


@pytest.mark.parametrize("template", ["产出指标（{w}分）", "产出指标 {w}"])
def test_printed_level1_weight_that_disagrees_is_flagged(tmp_path: Path, template: str) -> None:
    real, flags = _extract(tmp_path, template, 5)
    (flag,) = [f for f in flags if f.code == "LEVEL1_WEIGHTS_SUM"]
    assert flag.rule == "R8" and flag.severity == "error"
    assert flag.expected == real + 5 and flag.found == real
    assert flag.fields and all(p.endswith(".weight") for p in flag.fields)


def test_printed_level1_weight_that_agrees_is_not_flagged(tmp_path: Path) -> None:
    _, flags = _extract(tmp_path, "产出指标({w}分)", 0)
    assert [f for f in flags if f.rule == "R8"] == []
