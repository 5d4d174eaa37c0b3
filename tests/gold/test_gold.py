"""The hand-labelled gold forms are what every accuracy number is measured against.

These tests keep the gold honest: each file is a valid FormRecord and matches the checked-in
JSON schema, the index lists exactly the files there are, and the form's own arithmetic holds
wherever the index does not list the form as inconsistent on that point (evals/gold/NOTES.md
says why each expected flag is there).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from jixiao.contract import FormRecord

ROOT = Path(__file__).resolve().parents[2]
GOLD = ROOT / "evals" / "gold"
SCHEMA = ROOT / "schemas" / "FormRecord.schema.json"
INDEX = GOLD / "index.json"

GOLD_FILES = sorted(p for p in GOLD.glob("*.json") if p.name != "index.json")

# The finding codes of scoring-rules.md R1-R16, as the checks emit them.
KNOWN_CODES = {
    "EXEC_RATE_MISMATCH",
    "BUDGET_SCORE_MISMATCH",
    "BUDGET_OVERSPENT",
    "FUNDING_SUBROWS_SUM",
    "SCORE_NOT_PROPORTIONAL",
    "QUALITATIVE_SCORE_BAND",
    "SCORE_ABOVE_WEIGHT",
    "SCORE_NEGATIVE",
    "WEIGHTS_SUM",
    "LEVEL1_WEIGHTS_SUM",
    "TOTAL_SCORE_MISMATCH",
    "GRADE_MISMATCH",
    "MISSING_DEVIATION_REASON",
    "OVERACHIEVED_NO_REASON",
    "SCORE_DEDUCTED_TARGET_MET",
    "WEIGHT_SPLIT_DEVIATES",
    "MISSING_GOAL",
    "LOW_EXECUTION_NO_EXPLANATION",
}
# Codes that say "this score was deducted": the flagged score must be below its weight.
DEDUCTION_CODES = {"SCORE_NOT_PROPORTIONAL", "SCORE_DEDUCTED_TARGET_MET", "QUALITATIVE_SCORE_BAND"}

PATH_STEP = re.compile(r"([A-Za-z_]+)(?:\[(\d+)\])?")


def load_index() -> list[dict[str, Any]]:
    data = json.loads(INDEX.read_text(encoding="utf-8"))
    assert isinstance(data, list), "evals/gold/index.json must be a JSON list"
    return data


def load_gold(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def index_entry(path: Path) -> dict[str, Any]:
    for entry in load_index():
        if entry["file"] == path.name:
            return entry
    raise AssertionError(f"{path.name} is not listed in evals/gold/index.json")


def expected_codes(path: Path) -> dict[str, set[str]]:
    """code -> the JSON paths the index expects that code on."""
    codes: dict[str, set[str]] = {}
    for flag in index_entry(path)["expected_flags"]:
        codes.setdefault(flag["code"], set()).update(flag["fields"])
    return codes


def resolve(form: dict[str, Any], path: str) -> Any:
    """Follow a contract JSON path such as 'indicators[3].score'; KeyError/IndexError if absent."""
    node: Any = form
    for part in path.split("."):
        match = PATH_STEP.fullmatch(part)
        assert match, f"bad JSON path {path!r}"
        node = node[match.group(1)]
        if match.group(2) is not None:
            node = node[int(match.group(2))]
    return node


def rate_matches(printed: float, exact: float) -> bool:
    # Published forms truncate as often as they round (scoring-rules.md): accept either.
    truncated = math.floor(exact * 100 + 1e-9) / 100
    return abs(printed - round(exact, 2)) < 0.005 or abs(printed - truncated) < 0.005


def text_values(form: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in form.items():
        if isinstance(value, str):
            out.append((key, value))
    for group in ("funding", "indicators"):
        for i, row in enumerate(form[group]):
            for key, value in row.items():
                if isinstance(value, str):
                    out.append((f"{group}[{i}].{key}", value))
    return out


ids = [p.stem for p in GOLD_FILES]


def test_there_is_gold() -> None:
    assert len(GOLD_FILES) >= 8, "the 8 real seed forms must have gold files"


@pytest.mark.parametrize("path", GOLD_FILES, ids=ids)
def test_gold_validates_against_formrecord(path: Path) -> None:
    record = FormRecord.model_validate_json(path.read_bytes())
    assert record.funding and record.indicators, "a gold form without rows is not labelled"


@pytest.mark.parametrize("path", GOLD_FILES, ids=ids)
def test_gold_validates_against_checked_in_schema(path: Path) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(load_gold(path), schema)


@pytest.mark.parametrize("path", GOLD_FILES, ids=ids)
def test_gold_file_is_written_canonically(path: Path) -> None:
    # One writer format keeps diffs of hand edits readable and reviewable.
    data = load_gold(path)
    assert path.read_text(encoding="utf-8") == json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def test_index_lists_every_file_and_only_existing_files() -> None:
    listed = [entry["file"] for entry in load_index()]
    assert sorted(listed) == [p.name for p in GOLD_FILES]
    assert len(listed) == len(set(listed))


def test_index_ids_are_unique_and_match_files() -> None:
    entries = load_index()
    entry_ids = [entry["id"] for entry in entries]
    assert len(entry_ids) == len(set(entry_ids))
    for entry in entries:
        assert entry["file"] == f"{entry['id']}.json"
        assert entry["origin"] in {"real", "synthetic"}
        assert entry["source"]


@pytest.mark.parametrize("path", GOLD_FILES, ids=ids)
def test_index_project_name_matches_gold(path: Path) -> None:
    # Evals match predictions to gold by project_name, so the index must not drift from the file.
    assert index_entry(path)["project_name"] == load_gold(path)["project_name"]


@pytest.mark.parametrize("path", GOLD_FILES, ids=ids)
def test_expected_flags_are_well_formed_and_point_at_real_fields(path: Path) -> None:
    form = load_gold(path)
    for flag in index_entry(path)["expected_flags"]:
        assert flag["code"] in KNOWN_CODES, flag
        assert flag.get("severity", "warning") in {"error", "warning", "info"}, flag
        for field in flag["fields"]:
            resolve(form, field)  # raises when the path does not exist
        if flag["code"] in DEDUCTION_CODES:
            for field in flag["fields"]:
                weight = resolve(form, field.removesuffix(".score") + ".weight")
                assert resolve(form, field) < weight, f"{flag['code']} on an undeducted score"


@pytest.mark.parametrize("path", GOLD_FILES, ids=ids)
def test_text_fields_are_single_clean_lines(path: Path) -> None:
    for where, text in text_values(load_gold(path)):
        assert text, f"{where}: empty text must be null"
        assert "\n" not in text and "\r" not in text and "\t" not in text, where
        assert text == text.strip() and text == text.strip("\u3000"), where


@pytest.mark.parametrize("path", GOLD_FILES, ids=ids)
def test_weights_add_up_to_total_weight(path: Path) -> None:
    # A form listed as inconsistent must really be inconsistent, and every other one must add up.
    form = load_gold(path)
    weights = [row["weight"] for row in form["indicators"]] + [form["funding"][0]["weight"]]
    assert None not in weights
    adds_up = abs(sum(weights) - form["total_weight"]) < 1e-6
    assert adds_up != ("WEIGHTS_SUM" in expected_codes(path))
    assert form["total_weight"] == 100


@pytest.mark.parametrize("path", GOLD_FILES, ids=ids)
def test_total_is_budget_score_plus_indicator_scores(path: Path) -> None:
    form = load_gold(path)
    scores = [row["score"] for row in form["indicators"]] + [form["funding"][0]["score"]]
    adds_up = abs(sum(scores) - form["total_score"]) <= 0.01 + 1e-9
    assert adds_up != ("TOTAL_SCORE_MISMATCH" in expected_codes(path))


@pytest.mark.parametrize("path", GOLD_FILES, ids=ids)
def test_scores_within_weights(path: Path) -> None:
    flagged = expected_codes(path)
    allowed = flagged.get("SCORE_ABOVE_WEIGHT", set()) | flagged.get("SCORE_NEGATIVE", set())
    for i, row in enumerate(load_gold(path)["indicators"]):
        if f"indicators[{i}].score" in allowed:
            continue
        assert 0 <= row["score"] <= row["weight"], f"indicators[{i}]"


@pytest.mark.parametrize("path", GOLD_FILES, ids=ids)
def test_execution_rates_and_budget_score(path: Path) -> None:
    flagged = expected_codes(path)
    funding = load_gold(path)["funding"]
    total = funding[0]
    assert total["kind"] == "total" and total["weight"] is not None
    for i, row in enumerate(funding):
        if row["annual_budget"] and f"funding[{i}].execution_rate" not in flagged.get(
            "EXEC_RATE_MISMATCH", set()
        ):
            exact = row["executed"] / row["annual_budget"] * 100
            assert rate_matches(row["execution_rate"], exact), f"funding[{i}].execution_rate"
    if "BUDGET_SCORE_MISMATCH" not in flagged:
        exact = min(total["executed"] / total["annual_budget"], 1.0) * total["weight"]
        assert rate_matches(total["score"], exact)


@pytest.mark.parametrize("path", GOLD_FILES, ids=ids)
def test_funding_subrows_add_up(path: Path) -> None:
    funding = load_gold(path)["funding"]
    adds_up = all(
        abs(sum(row[column] or 0.0 for row in funding[1:]) - (funding[0][column] or 0.0)) < 0.005
        for column in ("initial_budget", "annual_budget", "executed")
    )
    assert adds_up != ("FUNDING_SUBROWS_SUM" in expected_codes(path))


@pytest.mark.parametrize("path", GOLD_FILES, ids=ids)
def test_grade_follows_total(path: Path) -> None:
    form = load_gold(path)
    total = form["total_score"]
    grade = "优" if total >= 90 else "良" if total >= 80 else "中" if total >= 60 else "差"
    assert (form["grade"] == grade) != ("GRADE_MISMATCH" in expected_codes(path))


@pytest.mark.parametrize("path", GOLD_FILES, ids=ids)
def test_deducted_scores_have_a_reason(path: Path) -> None:
    allowed = expected_codes(path).get("MISSING_DEVIATION_REASON", set())
    for i, row in enumerate(load_gold(path)["indicators"]):
        if row["score"] < row["weight"] and f"indicators[{i}].deviation_reason" not in allowed:
            assert row["deviation_reason"], f"indicators[{i}] deducted without a reason"


@pytest.mark.parametrize("path", GOLD_FILES, ids=ids)
def test_levels_are_inherited_and_known(path: Path) -> None:
    # level1/level2 are inherited down merged cells: never blank, never carrying "(50分)".
    for i, row in enumerate(load_gold(path)["indicators"]):
        assert row["level1"] in {"产出指标", "效益指标", "满意度指标"}, f"indicators[{i}]"
        assert row["level2"] and row["level2"].endswith("指标"), f"indicators[{i}]"
        assert "分" not in row["level1"], f"indicators[{i}]"
