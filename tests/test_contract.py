import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from jixiao.cli import schema_text
from jixiao.contract import CONTRACT_MODELS, ExtractionResult, FormRecord, FundingRow

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(CONTRACT_MODELS))
def test_checked_in_schema_is_fresh(name: str) -> None:
    path = ROOT / "schemas" / f"{name}.schema.json"
    assert path.exists(), f"{path} missing: run `jixiao schema export`"
    assert path.read_text(encoding="utf-8") == schema_text(CONTRACT_MODELS[name]), (
        f"{path} is stale: run `jixiao schema export`"
    )


def test_numbers_must_be_numbers() -> None:
    with pytest.raises(ValidationError):
        FundingRow.model_validate({"label": "年度资金总额", "kind": "total", "executed": "9.86"})


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValidationError):
        FormRecord.model_validate({"project_nam": "x"})


def test_unknown_funding_kind_is_rejected() -> None:
    with pytest.raises(ValidationError):
        FundingRow.model_validate({"label": "x", "kind": "loan"})


def test_extraction_result_round_trips_through_json() -> None:
    data = {
        "source": {"file": "a.pdf", "sha256": "0" * 64, "pages": [1, 2]},
        "form": {"project_name": "数据运营服务费", "year": 2023, "total_score": 91.61},
        "fields": {
            "project_name": {
                "confidence": 0.99,
                "page": 1,
                "bbox": [10, 20, 30, 40],
                "source_text": "数据运营服务费",
                "extractor": "layout",
            }
        },
        "flags": [],
        "run": {"extractor": "layout"},
    }
    result = ExtractionResult.model_validate_json(json.dumps(data, ensure_ascii=False))
    again = ExtractionResult.model_validate_json(result.model_dump_json())
    assert again == result
    assert again.fields["project_name"].bbox == (10.0, 20.0, 30.0, 40.0)
