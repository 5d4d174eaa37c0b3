"""The data contract: what `extract` produces and what gold data looks like.

Normative field names come from shared/spec/output-contract.md. This module imports nothing of
the project, so every other module may import it. `schemas/*.schema.json` are generated from
these models (`jixiao schema export`) and a test fails when they are stale.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FundingKind = Literal["total", "fiscal", "carryover", "special_account", "unit_funds", "other"]
Severity = Literal["error", "warning", "info"]
FlagOrigin = Literal["source", "extraction"]
BBox = tuple[float, float, float, float]


class _Strict(BaseModel):
    # strict: a string "9.86" is not a number, unknown keys are errors. Gold files and
    # extraction output go through the same models, so a typo in either fails loudly.
    model_config = ConfigDict(strict=True, extra="forbid")


class FundingRow(_Strict):
    """One printed row of the 项目资金 block, in printed order."""

    label: str = Field(description="Row label as printed, e.g. '其中：当年财政拨款'.")
    kind: FundingKind
    initial_budget: float | None = Field(None, description="年初预算数")
    annual_budget: float | None = Field(None, description="全年预算数 / 调整后预算数 (A)")
    executed: float | None = Field(None, description="全年执行数 / 预算执行数 (B)")
    weight: float | None = Field(None, description="分值 / 权重; only the total row has one")
    execution_rate: float | None = Field(None, description="执行率 in percent (98.61)")
    score: float | None = Field(None, description="得分; only the total row has one")


class Indicator(_Strict):
    """One 三级指标 row, in printed order."""

    level1: str | None = Field(None, description="一级指标, inherited down merged cells")
    level2: str | None = Field(None, description="二级指标, inherited down merged cells")
    name: str = Field(description="三级指标")
    target_text: str | None = Field(None, description="年度指标值 as printed")
    actual_text: str | None = Field(None, description="实际完成值 as printed")
    weight: float | None = Field(None, description="分值 / 权重")
    score: float | None = Field(None, description="得分")
    deviation_reason: str | None = Field(
        None, description="偏差原因分析及改进措施; null when empty"
    )


class FormRecord(_Strict):
    """The plain values of one 项目支出绩效自评表. Also the gold format."""

    form_type: Literal["project"] = "project"
    title: str | None = None
    year: int | None = None
    project_name: str | None = None
    competent_department: str | None = None
    implementing_unit: str | None = None
    funding_unit: str | None = Field(None, description="Unit of the money columns, e.g. 万元")
    funding: list[FundingRow] = Field(default_factory=list)
    goal_expected: str | None = None
    goal_actual: str | None = None
    indicators: list[Indicator] = Field(default_factory=list)
    total_weight: float | None = None
    total_score: float | None = None
    grade: str | None = None


def _number_leaves() -> frozenset[str]:
    """Leaf names whose values are numbers (money, rates, weights, scores; not the year)."""
    return frozenset(
        name
        for model in (FormRecord, FundingRow, Indicator)
        for name, info in model.model_fields.items()
        if info.annotation in (float, float | None)
    )


NUMBER_LEAVES = _number_leaves()


def leaf_value(record: FormRecord, path: str) -> Any:
    """The value at a field path ("title", "funding[0].executed"); None when absent."""
    node: Any = record
    for part in path.split("."):
        name, _, index = part.partition("[")
        node = getattr(node, name, None)
        if index and isinstance(node, list):
            k = int(index.rstrip("]"))
            node = node[k] if k < len(node) else None
    return node


class FieldProvenance(_Strict):
    """Where one leaf value of a FormRecord came from, and how far to trust it."""

    confidence: float = Field(ge=0.0, le=1.0)
    page: int = Field(ge=1, description="1-based page number")
    bbox: BBox = Field(description="PDF points, unrotated page space")
    source_text: str
    extractor: str = Field(description="'llm', 'layout' or 'llm+layout'")
    signals: dict[str, float] = Field(
        default_factory=dict, description="The checkable signals behind the confidence"
    )
    alternative: Any = Field(None, description="The other extractor's value when the two disagreed")


class Flag(_Strict):
    """One finding of the deterministic checks."""

    code: str
    severity: Severity
    origin: FlagOrigin = "source"
    fields: list[str] = Field(default_factory=list, description="JSON paths into the form")
    message: str
    expected: float | str | None = None
    found: float | str | None = None
    rule: str | None = Field(None, description="Rule id in scoring-rules.md, e.g. 'R9'")


class SourceInfo(_Strict):
    file: str
    sha256: str
    pages: list[int] = Field(default_factory=list, description="1-based pages of this form")


QuestionLevel = Literal["field", "section", "form"]
QuestionStatus = Literal["asked", "failed", "skipped_routing", "skipped_budget", "unavailable"]
JsonScalar = float | str | None


class ChangedValue(_Strict):
    """One leaf an LLM answer changed: its value before (layout) and after the answer."""

    path: str
    before: JsonScalar = None
    after: JsonScalar = None


class LLMQuestion(_Strict):
    """One thing the hybrid wanted the LLM to settle, why, and what it cost and changed.

    Levels (issue: ask the LLM only what layout and checks cannot settle): `field` — one value
    below the review threshold, named by an error finding, or missing beside an unread cell;
    `section` — a section the layout could not read; `form` — no form structure the layout
    knows. `status` says whether it was asked (routing and the per-form budget may skip it).
    """

    level: QuestionLevel
    target: str = Field(description="field path, section name, or 'form'")
    reason: str
    status: QuestionStatus
    answer: str | None = Field(None, description="a field question's cell id, or 'none'")
    changed: list[ChangedValue] = Field(default_factory=list)
    confirmed: list[str] = Field(
        default_factory=list, description="paths whose value the answer agreed with"
    )
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_hits: int = 0
    seconds: float = 0.0
    error: str | None = None


class RunInfo(_Strict):
    """What produced a result: extractor, model, prompts and their cost."""

    extractor: str
    model: str | None = None
    mode: str | None = None
    prompt: str | None = Field(None, description="name@version, comma-joined when several")
    prompt_sha256: str | None = None
    prompts: dict[str, str] = Field(
        default_factory=dict, description="name@version -> sha256 of every prompt used"
    )
    input_tokens: int = 0
    output_tokens: int = 0
    llm_calls: int = 0
    cache_hits: int = 0
    seconds: float = 0.0
    llm_policy: Literal["auto", "always", "never"] | None = Field(
        None, description="hybrid: when the LLM was asked (None for other extractors)"
    )
    routing: str | None = Field(
        None, description="hybrid auto: the routing table used, as path@sha256"
    )
    questions: list[LLMQuestion] = Field(
        default_factory=list, description="hybrid auto: what the LLM was (or was not) asked"
    )


class ExtractionResult(_Strict):
    """One form found in a document, with provenance, flags and run info."""

    source: SourceInfo
    form: FormRecord
    fields: dict[str, FieldProvenance] = Field(default_factory=dict)
    flags: list[Flag] = Field(default_factory=list)
    run: RunInfo


CONTRACT_MODELS: dict[str, type[BaseModel]] = {
    "FormRecord": FormRecord,
    "ExtractionResult": ExtractionResult,
}
