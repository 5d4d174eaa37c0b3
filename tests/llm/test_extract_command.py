"""`jixiao extract`: output files, per-input errors, extractor registry (layout: no LLM)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jixiao.contract import ExtractionResult
from jixiao.errors import EXIT_PARTIAL_FAILURE, ConfigError
from jixiao.extract.base import ExtractorOptions, extractor_names, open_extractor

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "sh-bdc-2023-02.ruled.pdf"
BUNDLE = REPO / "examples" / "bundle-3.bundle.pdf"


def _jixiao(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jixiao", *args], capture_output=True, text=True, timeout=120
    )


def _results(path: Path) -> list[ExtractionResult]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    # strict models read JSON (a bbox is a JSON array) through the JSON validator
    return [ExtractionResult.model_validate_json(json.dumps(item)) for item in data]


def test_bad_inputs_are_one_line_each_and_the_rest_is_written(tmp_path: Path) -> None:
    not_pdf = tmp_path / "notes.pdf"
    not_pdf.write_text("hello", encoding="utf-8")
    out = tmp_path / "out.json"
    proc = _jixiao(
        "extract", str(EXAMPLE), str(tmp_path / "missing.pdf"), str(not_pdf), "-o", str(out),
        "--extractor", "layout",
    )  # fmt: skip
    assert proc.returncode == EXIT_PARTIAL_FAILURE, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("jixiao: ")]
    assert any("missing.pdf" in line and "does not exist" in line for line in errors)
    assert any("notes.pdf" in line and "not a PDF" in line for line in errors)
    assert "Traceback" not in proc.stderr
    results = _results(out)
    assert len(results) == 1
    assert results[0].source.file == str(EXAMPLE)
    assert results[0].run.extractor == "layout"
    assert results[0].form.project_name == "数据运营服务费"


def test_several_pdfs_into_a_folder_one_file_each_in_document_order(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = _jixiao("extract", str(EXAMPLE), str(BUNDLE), "-o", str(out_dir), "-x", "layout")
    assert proc.returncode == 0, proc.stderr
    single = _results(out_dir / f"{EXAMPLE.stem}.json")
    bundle = _results(out_dir / f"{BUNDLE.stem}.json")
    assert len(single) == 1
    assert len(bundle) == 3
    firsts = [r.source.pages[0] for r in bundle]
    assert firsts == sorted(firsts)


def test_unknown_extractor_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown extractor 'nope'"), open_extractor("nope"):
        pass
    assert {"llm", "layout", "hybrid"} <= set(extractor_names())


def test_layout_extractor_opens_through_the_registry() -> None:
    with open_extractor("layout", ExtractorOptions()) as extractor:
        assert extractor.name == "layout"
