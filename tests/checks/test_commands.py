"""`jixiao check`: FormRecord, ExtractionResult and list inputs; --strict, --json, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jixiao.checks.commands import load_records
from jixiao.cli import app
from jixiao.errors import ConfigError, InvalidInput

runner = CliRunner()


def _result(form: dict[str, Any]) -> dict[str, Any]:
    return {
        "source": {"file": "a.pdf", "sha256": "0" * 64, "pages": [1]},
        "form": form,
        "fields": {
            "total_score": {
                "confidence": 0.5,
                "page": 1,
                "bbox": [0, 0, 1, 1],
                "source_text": "93.50",
                "extractor": "layout",
            }
        },
        "run": {"extractor": "layout"},
    }


def test_form_record_json_output(tmp_path: Path, form_data: dict[str, Any]) -> None:
    form_data["total_score"] = 93.5
    path = tmp_path / "r.json"
    path.write_text(json.dumps(form_data, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(app, ["check", str(path), "--json", "--lang", "en"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload[0]["flags"][0]["code"] == "TOTAL_SCORE_MISMATCH"
    assert payload[0]["flags"][0]["message"].startswith("the total should be")
    strict = runner.invoke(app, ["check", str(path), "--strict"])
    assert strict.exit_code == 1
    assert "TOTAL_SCORE_MISMATCH" in strict.output


def test_extraction_results_use_provenance(tmp_path: Path, form_data: dict[str, Any]) -> None:
    form_data["total_score"] = 93.5
    path = tmp_path / "out.json"
    path.write_text(json.dumps([_result(form_data), _result(form_data)], ensure_ascii=False))
    result = runner.invoke(app, ["check", str(path), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert len(payload) == 2
    assert payload[0]["flags"][0]["origin"] == "extraction"  # total_score was unsure


def test_clean_form_passes_strict(tmp_path: Path, form_data: dict[str, Any]) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(form_data, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(app, ["check", str(path), "--strict", "--profile", "legacy-80-70-60"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "no forms"),
        ('{"total_score": "93"}', "total_score"),
        ("[1]", "expected a JSON object"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput, match=match) as info:
        load_records(path)
    assert "\n" not in info.value.line() and str(path) in info.value.line()
    assert info.value.exit_code == 13


def test_config_file_and_bad_profile(tmp_path: Path, form_data: dict[str, Any]) -> None:
    form_data["total_score"] = 85.0  # 良 by default, 优 under 80/70/60
    form_data["indicators"][0].update(target_text="达成", actual_text="部分达成", score=12.0)
    form_data["indicators"][0]["deviation_reason"] = "x"
    form_data["grade"] = "良"
    record = tmp_path / "r.json"
    record.write_text(json.dumps(form_data, ensure_ascii=False), encoding="utf-8")
    assert runner.invoke(app, ["check", str(record), "--strict"]).exit_code == 0
    config = tmp_path / "c.toml"
    config.write_text('profile = "legacy-80-70-60"\n', encoding="utf-8")
    result = runner.invoke(app, ["check", str(record), "--strict", "--config", str(config)])
    assert result.exit_code == 1 and "GRADE_MISMATCH" in result.output
    bad = runner.invoke(app, ["check", str(record), "--profile", "nope"])
    assert isinstance(bad.exception, ConfigError)
