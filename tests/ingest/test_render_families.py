"""Ingestion on the corpus renderer's layout families: every form found, with the page range
the renderer reports (forms back to back, mid-page starts, tables across pages)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jixiao.corpus.render import render_pdf
from jixiao.corpus.synth import generate_forms
from jixiao.ingest import ingest_pdf, serialize_form
from jixiao.ingest.ocr import OcrOptions

TEXT_FAMILIES = ("ruled", "ab-labels", "borderless", "split-target", "bundle")


@pytest.mark.parametrize("family", TEXT_FAMILIES)
@pytest.mark.parametrize("seed", [3, 11])
def test_every_form_found_with_its_pages(tmp_path: Path, family: str, seed: int) -> None:
    forms = [f.record for f in generate_forms(seed, 4)]
    out = tmp_path / f"{family}.pdf"
    expected = render_pdf(family, forms, out, seed=seed)
    result = ingest_pdf(out)
    # Bundles may open with a whole-department table: reported, not one of ours.
    projects = [f for f in result.forms if f.kind == "project"]
    others = [f for f in result.forms if f.kind != "project"]
    assert all(f.kind == "department" and f.reason for f in others)
    assert [(f.pages[0], f.pages[-1]) for f in projects] == expected
    for form, record in zip(projects, forms, strict=True):
        layout = serialize_form(form)
        # The project name and the total score are in the layout text, cited by an id.
        assert record.project_name and record.project_name in layout.text.replace(" ", "")
        ids = {i for row in layout.rows for i in row.cell_ids}
        assert ids <= set(layout.cells)


def test_scan_family_without_ocr_is_reported_not_misread(tmp_path: Path) -> None:
    forms = [f.record for f in generate_forms(5, 1)]
    out = tmp_path / "scan.pdf"
    render_pdf("scan", forms, out, seed=5)
    result = ingest_pdf(out, ocr=OcrOptions(enabled=False))
    assert result.forms == []
    assert result.warnings and all("needs OCR" in w for w in result.warnings)
