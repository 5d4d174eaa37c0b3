"""When the hybrid asks the LLM, and what: escalation, not duplication.

The layout extractor, the checks and confidence run first; the LLM is asked only where they
leave doubt, at three levels:

1. `field` — a value below the review threshold, named by an arithmetic error finding, or
   missing beside an unread cell of its row: one small question whose answer is a cell id;
2. `section` — a section the layout could not read (no project name, no funding rows, no goals,
   no indicator table, no total score) while the form shows that section: today's section call;
3. `form` — no form structure the layout knows (neither funding nor indicator rows): every
   section through the LLM, rows without a known header read as indicator rows.

A kind of question is asked only where the routing table says the model's measured rescues
beat its breakage (`jixiao eval routing`); every planned question is recorded with its reason
and its status (asked, or skipped by routing or by the per-form budget), which is never
exceeded: calls and tokens are counted at their worst case before a question is sent.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from jixiao.contract import FieldProvenance, Flag, FormRecord, LLMQuestion, QuestionLevel
from jixiao.ingest.model import LayoutRow, LayoutText

LLMPolicy = Literal["auto", "always", "never"]
LLM_POLICIES: tuple[str, ...] = ("auto", "always", "never")
LEVELS: tuple[QuestionLevel, ...] = ("field", "section", "form")
ROUTING_FILE = Path(__file__).resolve().parents[1] / "llm_routing.json"

# Rules whose error findings are identities over a few fields: a value they name is suspect.
_ARITHMETIC_RULES = frozenset({"R1", "R2", "R7", "R8", "R9", "R10"})
# A finding naming more fields than this (a total over 17 scores) says little about each one.
_MAX_FIELDS_PER_FINDING = 3
_ROW_PATH = re.compile(r"^(funding|indicators)\[(\d+)\]\.(\w+)$")
# Leaves whose absence beside an unread cell is worth a question (a blank reason is normal).
_MISSABLE = frozenset(
    {
        "initial_budget",
        "annual_budget",
        "executed",
        "execution_rate",
        "weight",
        "score",
        "target_text",
        "actual_text",
    }
)
MAX_QUESTION_ROWS = 3


class EscalationPolicy(BaseModel):
    """How the hybrid may use the LLM on one form."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    llm: LLMPolicy = "auto"
    max_calls: int = Field(default=12, ge=0, description="LLM requests per form, at most")
    max_tokens: int = Field(
        default=60000, ge=0, description="prompt + answer tokens per form, at most"
    )
    threshold: float | None = Field(
        default=None, description="review threshold; None: the calibrated one"
    )
    routing_path: Path | None = Field(default=None, description="None: the packaged table")
    ask_all: bool = Field(
        default=False, description="ask every planned question, whatever the routing says"
    )


def policy_options(
    llm: str, ask_all: bool = False, max_calls: int | None = None, max_tokens: int | None = None
) -> dict[str, Any]:
    """EscalationPolicy fields from command-line flags (only those set), checked."""
    from jixiao.errors import ConfigError

    if llm not in LLM_POLICIES:
        raise ConfigError(None, f"unknown --llm {llm!r}", f"use one of: {', '.join(LLM_POLICIES)}")
    out: dict[str, Any] = {"llm": llm}
    if ask_all:
        out["ask_all"] = True
    if max_calls is not None:
        out["max_calls"] = max_calls
    if max_tokens is not None:
        out["max_tokens"] = max_tokens
    return out


# -- the routing table ---------------------------------------------------------------------------


class KindRoute(BaseModel):
    """What the evals measured for one model and question kind, and the decision."""

    model_config = ConfigDict(extra="forbid")

    asked: int = 0
    rescued: int = 0  # layout's value was wrong, the final value is right
    broke: int = 0  # layout's value was right, the final value is wrong
    confirmed_wrong: int = 0  # the answer agreed with a wrong layout value (confidence rose)
    null: int = 0  # no usable answer (none, failed, or nothing changed or confirmed)
    ask: bool = False


class ModelRoute(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="the eval run the counts come from")
    kinds: dict[str, KindRoute]
    prompts: dict[str, str] = Field(
        default_factory=dict, description="name@version -> sha256 of the prompts measured"
    )


class RoutingTable(BaseModel):
    """Per model and question kind: ask or not. `unmeasured`: the decision for a model the
    evals have not measured (levels where the layout has no value to break are safe to ask)."""

    model_config = ConfigDict(extra="forbid")

    unmeasured: dict[str, bool] = Field(
        default_factory=lambda: {"field": False, "section": True, "form": True}
    )
    models: dict[str, ModelRoute] = Field(default_factory=dict)

    def allows(self, model: str | None, level: str) -> bool:
        route = self.models.get(model or "")
        if route is None:
            return self.unmeasured.get(level, False)
        kind = route.kinds.get(level)
        return kind is not None and kind.ask


@dataclass(frozen=True, slots=True)
class LoadedRouting:
    table: RoutingTable
    cite: str  # path@sha256 (12 hex), recorded in every run that used it


def load_routing(path: Path | None = None) -> LoadedRouting:
    """The routing table (the packaged one by default); an absent file is the empty table."""
    source = path or ROUTING_FILE
    try:
        data = source.read_bytes()
    except OSError:
        return LoadedRouting(RoutingTable(), f"{source.name}@absent")
    table = RoutingTable.model_validate_json(data)
    return LoadedRouting(table, f"{source.name}@{hashlib.sha256(data).hexdigest()[:12]}")


def save_routing(table: RoutingTable, path: Path | None = None) -> Path:
    target = path or ROUTING_FILE
    text = json.dumps(table.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"
    target.write_text(text, encoding="utf-8")
    return target


def decide(kind: KindRoute) -> bool:
    """Ask a kind only where its measured rescues beat the values it broke or wrongly vouched
    for."""
    return kind.rescued > kind.broke + kind.confirmed_wrong


# -- planning ------------------------------------------------------------------------------------


@dataclass(slots=True)
class PlannedQuestion:
    """One question the hybrid would like to ask, before routing and budget."""

    level: QuestionLevel
    target: str
    reason: str
    priority: float = 0.0  # lower first
    sections: tuple[str, ...] = ()
    rows: list[LayoutRow] = field(default_factory=list)  # field questions: the rows shown
    row_key: str | None = None

    def record(self, status: Any, **kw: Any) -> LLMQuestion:
        return LLMQuestion(
            level=self.level, target=self.target, reason=self.reason, status=status, **kw
        )


def cells_under(layout: LayoutText, prov: FieldProvenance) -> list[str]:
    """Ids of the layout cells a value's provenance box covers (by their centres)."""
    x0, y0, x1, y1 = prov.bbox
    out = []
    for cid, ref in layout.cells.items():
        if ref.page != prov.page:
            continue
        cx, cy = (ref.bbox[0] + ref.bbox[2]) / 2, (ref.bbox[1] + ref.bbox[3]) / 2
        if x0 - 1 <= cx <= x1 + 1 and y0 - 1 <= cy <= y1 + 1:
            out.append(cid)
    return out


def _rows_with(layout: LayoutText, ids: Iterable[str]) -> list[LayoutRow]:
    wanted = set(ids)
    return [r for r in layout.rows if wanted & set(r.cell_ids)]


# Leaves printed in cells merged over several rows (levels, a shared reason): they would pull
# the rows of a whole group into one question.
_MERGED_LEAVES = ("level1", "level2", "deviation_reason")


def _row_cells(
    layout: LayoutText, fields: dict[str, FieldProvenance], list_name: str, index: int
) -> list[str]:
    """The cells a record row's own values were read from (merged group cells left out)."""
    prefix = f"{list_name}[{index}]."
    ids: list[str] = []
    for path, prov in fields.items():
        if path.startswith(prefix) and not path.endswith(_MERGED_LEAVES):
            ids.extend(cells_under(layout, prov))
    return ids


def _row_key(record: FormRecord, list_name: str, index: int) -> str | None:
    rows = getattr(record, list_name)
    if index >= len(rows):
        return None
    key = rows[index].label if list_name == "funding" else rows[index].name
    return key or None


def plan_questions(
    record: FormRecord,
    fields: dict[str, FieldProvenance],
    flags: Sequence[Flag],
    layout: LayoutText,
    *,
    threshold: float,
    unplaced: Sequence[str] = (),
    sections_shown: Iterable[str] = (),
    layout_flags: Sequence[Flag] = (),
) -> list[PlannedQuestion]:
    """What the hybrid would ask about one layout reading, most needed first.

    `flags`: the checks' findings on `record`; `unplaced`: cells the layout saw but put nowhere;
    `sections_shown`: sections the form's rows show (`split_sections`), since asking the LLM to
    read a section the form does not show cannot help; `layout_flags`: the layout extractor's
    own findings (rows it could not read).
    """
    shown = set(sections_shown)
    has_rows = bool(record.funding) or bool(record.indicators)
    if not has_rows:
        return [
            PlannedQuestion(
                "form",
                "form",
                "the layout found no funding or indicator rows: no form structure it knows",
                priority=-3.0,
                sections=("header", "funding", "goals", "indicators", "totals"),
            )
        ]

    out: list[PlannedQuestion] = []
    unread_rows = {
        f.fields[0].split(".", 1)[0].split("[", 1)[0]
        for f in layout_flags
        if f.code in ("EXTRACTION_ROW_UNREAD", "EXTRACTION_ROWS_MISSING") and f.fields
    }
    wants = {
        "header": (record.project_name is None, "no 项目名称 was read"),
        "funding": (not record.funding, "no funding rows were read"),
        "goals": (
            record.goal_expected is None and record.goal_actual is None,
            "no goals were read",
        ),
        "indicators": (
            not record.indicators or "indicators" in unread_rows,
            "no indicator rows were read"
            if not record.indicators
            else "indicator rows the layout could not read",
        ),
        "totals": (record.total_score is None, "no 总分 was read"),
    }
    asked_sections: set[str] = set()
    for section, (want, why) in wants.items():
        if want and section in shown:
            asked_sections.add(section)
            out.append(PlannedQuestion("section", section, why, priority=-2.0, sections=(section,)))

    suspects: dict[str, tuple[float, str]] = {}
    for flag in flags:
        if (
            flag.severity == "error"
            and flag.rule in _ARITHMETIC_RULES
            and 0 < len(flag.fields) <= _MAX_FIELDS_PER_FINDING
        ):
            for path in flag.fields:
                if path in fields:
                    suspects.setdefault(path, (-1.0, f"{flag.rule} {flag.code}"))
    for path, prov in fields.items():
        if prov.confidence < threshold and path not in suspects:
            suspects[path] = (
                prov.confidence,
                f"confidence {prov.confidence:.4f} below the review threshold {threshold:.4f}",
            )
    unplaced_set = set(unplaced)
    for list_name in ("funding", "indicators"):
        for k in range(len(getattr(record, list_name))):
            row_ids = _row_cells(layout, fields, list_name, k)
            rows = _rows_with(layout, row_ids)
            loose = [c for r in rows for c in r.cell_ids if c in unplaced_set]
            if not loose:
                continue
            row = getattr(record, list_name)[k]
            for leaf in _MISSABLE:
                path = f"{list_name}[{k}].{leaf}"
                if leaf in type(row).model_fields and getattr(row, leaf) is None:
                    suspects.setdefault(
                        path, (0.0, f"missing, and its row has an unread cell ({loose[0]})")
                    )

    for path, (priority, reason) in suspects.items():
        m = _ROW_PATH.match(path)
        if m is not None:
            list_name, k = m.group(1), int(m.group(2))
            if list_name in asked_sections:
                continue
            rows = _rows_with(layout, _row_cells(layout, fields, list_name, k))
            key = _row_key(record, list_name, k)
        else:
            cited = fields.get(path)
            rows = _rows_with(layout, cells_under(layout, cited)) if cited else []
            key = None
        if not rows or len(rows) > MAX_QUESTION_ROWS:
            continue  # nothing to show, or a value spread over too much to ask about
        out.append(PlannedQuestion("field", path, reason, priority, rows=rows, row_key=key))
    out.sort(key=lambda q: (q.priority, q.target))
    return out


@dataclass(slots=True)
class Budget:
    """What one form may still spend; a question is sent only if its worst case fits."""

    calls: int
    tokens: int

    def fits(self, calls: int, tokens: int) -> bool:
        return calls <= self.calls and tokens <= self.tokens

    def spend(self, calls: int, tokens: int) -> None:
        self.calls -= calls
        self.tokens -= tokens


__all__ = [
    "LEVELS",
    "LLM_POLICIES",
    "Budget",
    "EscalationPolicy",
    "KindRoute",
    "LLMPolicy",
    "LoadedRouting",
    "ModelRoute",
    "PlannedQuestion",
    "RoutingTable",
    "cells_under",
    "decide",
    "load_routing",
    "plan_questions",
    "policy_options",
    "save_routing",
]
