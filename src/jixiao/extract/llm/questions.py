"""Field questions: one small grounded question for one value, answered by a cell id.

The hybrid asks one when a value is unsure (below the review threshold, named by an error
finding, or missing beside an unread cell). The model sees only the rows around the value, and
its answer is a Literal enum of the cell ids shown there plus "none" (the embedded server turns
the tool schema into a grammar, so an invented id cannot even be emitted): a few output tokens
instead of a whole section. The value is then read from the named cell by the same parsers the
section calls use, never typed by the model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, create_model

from jixiao.extract.llm.calls import LLMCall, question_label
from jixiao.extract.llm.client import LLMClient
from jixiao.extract.llm.prompts import Prompt, load_prompt
from jixiao.ingest.model import LayoutRow

QUESTION_PROMPT = ("field_question", 1)
QUESTION_PLACEHOLDER = "{question}"
NONE_ANSWER = "none"
# An answer is one short JSON object: {"cell": "c123"}.
ANSWER_MAX_TOKENS = 24

# What each leaf is called on the form, for the question's wording.
LEAF_LABELS: dict[str, str] = {
    "title": "表名 (the form title)",
    "year": "年度 (the year)",
    "project_name": "项目名称 (the project name)",
    "competent_department": "主管部门 (the competent department)",
    "implementing_unit": "实施单位 (the implementing unit)",
    "funding_unit": "金额单位 (the money unit)",
    "goal_expected": "年度总体目标 预期目标 (the expected goal)",
    "goal_actual": "实际完成情况 (the goal actually achieved)",
    "total_weight": "总分值 (the total weight)",
    "total_score": "总分 (the total score)",
    "grade": "评分等级 (the grade)",
    "label": "行名 (the row label)",
    "initial_budget": "年初预算数 (initial budget)",
    "annual_budget": "全年预算数 (annual budget)",
    "executed": "全年执行数 (amount executed)",
    "weight": "分值 (weight)",
    "execution_rate": "执行率 (execution rate)",
    "score": "得分 (score)",
    "level1": "一级指标 (level-1 indicator)",
    "level2": "二级指标 (level-2 indicator)",
    "name": "三级指标 (indicator name)",
    "target_text": "年度指标值 (target value)",
    "actual_text": "实际完成值 (actual value)",
    "deviation_reason": "偏差原因分析 (reason for the deviation)",
}


@dataclass(frozen=True, slots=True)
class FieldQuestion:
    """One value to ask for: the rows shown, the cells that may be named, and the wording."""

    path: str
    leaf: str
    question: str
    rows: list[LayoutRow]
    cells: dict[str, str]  # id -> text of every cell shown

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.rows)


def question_wording(leaf: str, row_key: str | None) -> str:
    """'the 得分 (score) of the indicator 「养护道路长度」' and the like."""
    what = LEAF_LABELS.get(leaf, leaf)
    if row_key:
        return f"the {what} of the row 「{row_key}」"
    return f"the {what}"


def question_prompt() -> Prompt:
    return load_prompt(*QUESTION_PROMPT)


def render_question(prompt: Prompt, question: FieldQuestion) -> str:
    # The question first: the rows are document text and may contain "{question}" themselves.
    text = prompt.text.replace(QUESTION_PLACEHOLDER, question.question)
    return text.replace("{rows}", question.text)


def answer_model(cell_ids: list[str]) -> type[BaseModel]:
    """`{"cell": <one of the ids shown> | "none"}` as a strict schema."""
    choices = tuple(dict.fromkeys([*cell_ids, NONE_ANSWER]))
    cell_type: Any = Literal[choices]
    model: type[BaseModel] = create_model(
        "FieldAnswer", __config__=ConfigDict(extra="forbid"), cell=(cell_type, ...)
    )
    return model


def question_cache_key(
    client: LLMClient, question: FieldQuestion, prompt: Prompt, doc_sha256: str, form_index: int
) -> str:
    s = client.settings
    parts = {
        "doc": doc_sha256,
        "form": form_index,
        "question": question.path,
        "prompt": prompt.sha256,
        "model": s.model,
        "mode": s.mode,
        "params": {
            "temperature": s.temperature,
            "input": hashlib.sha256(
                (question.question + "\n" + question.text).encode("utf-8")
            ).hexdigest()[:16],
        },
    }
    return json.dumps(parts, sort_keys=True, ensure_ascii=False)


def estimate_tokens(question: FieldQuestion, prompt: Prompt) -> int:
    """An upper bound on the prompt tokens of one question (for the per-form budget): one token
    per character (CJK is about one; Latin text far less), the answer's schema, the answer."""
    schema = json.dumps(answer_model(list(question.cells)).model_json_schema())
    return len(render_question(prompt, question)) + len(schema) + ANSWER_MAX_TOKENS


def ask_field(
    client: LLMClient,
    question: FieldQuestion,
    *,
    doc_sha256: str,
    form_index: int,
) -> tuple[str | None, LLMCall]:
    """The cell id the model names for `question` (None for "none" or no valid answer), and
    the call's record."""
    prompt = question_prompt()
    model = answer_model(list(question.cells))
    messages = [{"role": "user", "content": render_question(prompt, question)}]
    answer, stats = client.extract(
        model,
        messages,
        max_retries=0,  # the grammar makes every answer valid; a re-ask would repeat it
        cache_key=question_cache_key(client, question, prompt, doc_sha256, form_index),
        max_tokens=min(client.settings.max_tokens, ANSWER_MAX_TOKENS),
        section=question_label(question.path),
        prompt=prompt,
    )
    if answer is None:
        return None, stats
    cell: Any = getattr(answer, "cell", None)
    if not isinstance(cell, str) or cell == NONE_ANSWER or cell not in question.cells:
        return None, stats
    return cell, stats


__all__ = [
    "ANSWER_MAX_TOKENS",
    "NONE_ANSWER",
    "FieldQuestion",
    "answer_model",
    "ask_field",
    "estimate_tokens",
    "question_prompt",
    "question_wording",
    "render_question",
]
