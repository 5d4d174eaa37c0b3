"""Hand-built extractor outputs: one small consistent form (R1, R2, R8, R9, R10 all hold)."""

from __future__ import annotations

from typing import Any

from jixiao.contract import FieldProvenance, FormRecord, FundingRow, Indicator
from jixiao.extract.base import ExtractorOutput


def consistent_record() -> FormRecord:
    """Budget 100 → executed 90 (90.00%, 9.00 of 10); indicators 45 + 45 scoring 40 + 41; 90 优."""
    return FormRecord(
        title="财政项目支出绩效自评表",
        year=2023,
        project_name="城市道路维护",
        competent_department="市交通委",
        implementing_unit="市道路中心",
        funding_unit="万元",
        funding=[
            FundingRow(
                label="年度资金总额",
                kind="total",
                initial_budget=100.0,
                annual_budget=100.0,
                executed=90.0,
                weight=10.0,
                execution_rate=90.0,
                score=9.0,
            ),
            FundingRow(
                label="其中：当年财政拨款",
                kind="fiscal",
                initial_budget=100.0,
                annual_budget=100.0,
                executed=90.0,
                execution_rate=90.0,
            ),
        ],
        goal_expected="完成全市主干道养护，路面完好率不低于95%。",
        goal_actual="完成主干道养护120公里，路面完好率96%。",
        indicators=[
            Indicator(
                level1="产出指标",
                level2="数量指标",
                name="养护里程",
                target_text="≥120(公里)",
                actual_text="120(公里)",
                weight=45.0,
                score=40.0,
                deviation_reason="部分路段延期",
            ),
            Indicator(
                level1="效益指标",
                level2="社会效益指标",
                name="路面完好率",
                target_text="≥95(%)",
                actual_text="96(%)",
                weight=45.0,
                score=41.0,
                deviation_reason="雨季施工受限",
            ),
        ],
        total_weight=100.0,
        total_score=90.0,
        grade="优",
    )


def _printed(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _leaves(record: FormRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in type(record).model_fields:
        value = getattr(record, name)
        if name == "form_type":
            continue
        if isinstance(value, list):
            for i, row in enumerate(value):
                for leaf in type(row).model_fields:
                    out[f"{name}[{i}].{leaf}"] = getattr(row, leaf)
        else:
            out[name] = value
    return out


def output(
    record: FormRecord,
    extractor: str,
    *,
    cited: dict[str, str] | None = None,
    signals: dict[str, float] | None = None,
) -> ExtractorOutput:
    """An ExtractorOutput whose every value cites a cell printing exactly that value.

    `cited` overrides the cited text of some paths (a value read from a cell that does not
    print it is ungrounded).
    """
    fields: dict[str, FieldProvenance] = {}
    for k, (path, value) in enumerate(_leaves(record).items()):
        if value is None:
            continue
        text = (cited or {}).get(path, _printed(value))
        if path.endswith(".kind"):
            text = _printed(_leaves(record)[path.replace(".kind", ".label")])
        fields[path] = FieldProvenance(
            confidence=0.9,
            page=1,
            bbox=(10.0, 10.0 + k, 50.0, 20.0 + k),
            source_text=text,
            extractor=extractor,
            signals=dict(signals or {}),
        )
    return ExtractorOutput(record=record, fields=fields)
