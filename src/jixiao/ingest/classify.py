"""Which kind of form a segment of a document is, and why.

A 部门决算 or 部门预算 PDF holds many tables: the ordinary budget / final-account tables
(收入支出决算总表, 一般公共预算财政拨款支出决算表, "三公"经费…), project target-setting forms
(项目支出绩效目标表 / 申报表 / 填报表), project self-evaluations (项目支出绩效自评表, the only kind
extracted today) and whole-department forms, self-evaluation or target. Signals, in order:

- the title: 自评 / 绩效目标(申报|填报|批复) / 评价 / 监控 (stage), 部门整体 / 项目 (scope), read
  OCR-tolerantly (stray marks dropped, one wrong character in a four-character keyword);
- the column headers: 执行数, 实际完成值, 得分… are printed only on a self-evaluation; 指标值
  without them means a target form;
- the structure: 项目名称 (project) or 部门名称 / 年度主要任务 (department); an indicator tree
  (一级/二级/三级指标, 产出指标, 年度总体目标…) makes it a performance form at all.

A table with neither a 绩效 title nor an indicator tree is an ordinary table (`is_form` False).
When title and body disagree, the kind is "other" and the reason names both: a form never gets
a kind it is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from jixiao.extract.grounding import normalize
from jixiao.extract.labels import SynonymTable, classify, label_key, ocr_distance
from jixiao.ingest.model import FormKind

Scope = Literal["project", "department"]
Stage = Literal["self", "target", "evaluation", "monitoring", "progress"]

TITLE_MAX_CHARS = 40
# What OCR leaves between characters of a title: marks, spaces, dashes.
_STRAY = re.compile(r"[\s·•.,，、。;；'\"“”‘’`|_~^*°\-—–]")
_TRAILING_PARENS = re.compile(r"[(（][^()（）]{0,14}[)）]$")
# The last character of a table title, and what OCR makes of 表.
_TABLE_CHARS = frozenset("表衣袁裹麦")
_CONTINUED = re.compile(r"[(（]续表?[)）]$|^续表|续表$")
_CJK = re.compile(r"[\u4e00-\u9fff]")

# Title stage, exact. 自评 first: "绩效目标自评表" and "自评价表" are self-evaluations.
_SELF = re.compile(r"自评|自我评价")
_TARGET = re.compile(r"目标(?:申报|填报|批复|审核|设定|编报|确认)?(?:情况)?表|绩效目标$")
_PROGRESS = re.compile(r"目标(?:完成|实现|执行)")
_MONITORING = re.compile(r"监控")
_EVALUATION = re.compile(r"评价|评分|得分表")
_DEPARTMENT = re.compile(r"部门整体|整体支出|单位整体|部门\(单位\)整体|整体绩效")
# Title keywords tried with one wrong character (same length: OCR substitutes far more often
# than it drops a character, and a dropped one would make 绩效评价 read as 绩效自评).
_FUZZY_STAGE: tuple[tuple[str, Stage], ...] = (
    ("绩效自评", "self"),
    ("绩效目标", "target"),
    ("目标申报", "target"),
    ("目标填报", "target"),
)
_FUZZY_SCOPE: tuple[tuple[str, Scope], ...] = (
    ("部门整体", "department"),
    ("整体支出", "department"),
    ("项目支出", "project"),
)

# --- body signals ----------------------------------------------------------------------------
# Columns only a self-evaluation prints. 执行率 is left out on purpose: target forms list
# 预算执行率 as an indicator. Matched OCR-tolerantly but without real edits (预算执行率 is
# one edit from 预算执行数).
_ACTUAL: SynonymTable = {
    "执行数": ("全年执行数", "执行数", "预算执行数", "实际执行数", "决算执行数"),
    "完成值": ("实际完成值", "完成值", "全年实际值", "实际值", "全年实际完成值", "实际完成"),
    "得分": ("得分", "自评得分", "自评总分", "得分合计"),
    "完成情况": ("实际完成情况", "年度目标完成情况", "目标实际完成情况"),
    "偏差原因": (
        "偏差原因分析",
        "偏差原因分析及改进措施",
        "偏差原因及整改措施",
        "未完成原因分析",
        "偏差原因",
    ),
    "自评等级": ("自评等级", "评分等级", "自评结论"),
}
# Columns of a target form (a self-evaluation has the first ones too, beside its actuals).
_TARGET_COLS: SynonymTable = {
    "指标值": (
        "指标值",
        "年度指标值",
        "目标值",
        "年度目标值",
        "预期指标值",
        "指标值及单位",
        "指标值(包含数字及文字描述)",
        "绩效标准",
        "指标方向性",
    ),
}
# An indicator tree or goal block: what makes a table a performance form.
_PERFORMANCE: SynonymTable = {
    "一级指标": ("一级指标",),
    "二级指标": ("二级指标",),
    "三级指标": ("三级指标", "指标名称", "具体指标"),
    "产出指标": ("产出指标",),
    "效益指标": ("效益指标", "效果指标", "满意度指标", "成本指标"),
    "绩效指标": ("绩效指标", "年度绩效指标", "项目绩效指标"),
    "年度总体目标": (
        "年度总体目标",
        "总体目标",
        "年度目标",
        "年度绩效目标",
        "绩效目标",
        "中长期目标",
        "长期目标",
        "部门整体绩效目标",
        "项目年度绩效目标",
    ),
    **_TARGET_COLS,
}
_DEPARTMENT_BODY: SynonymTable = {
    "年度主要任务": ("年度主要任务", "主要任务", "任务名称"),
    "部门名称": ("部门名称", "部门(单位)名称", "单位名称", "部门(单位)", "预算部门", "预算单位"),
}
_PROJECT_NAME = re.compile(r"^项目名称")
_DEPARTMENT_NAME = re.compile(r"^(?:部门|单位|部门\(单位\))名称|^预算(?:部门|单位)[:：]")
# Pre-2020 score sheets: indicator trees under 部门决策 / 项目管理 / 项目绩效.
_OLD_SHEET_LABELS = ("部门决策", "项目管理", "项目绩效")


@dataclass(frozen=True, slots=True)
class TitleSignal:
    """What a title line says about its form."""

    text: str
    performance: bool  # 绩效 / 自评 in it (or an OCR reading of them)
    stage: Stage | None
    scope: Scope | None
    notes: tuple[str, ...] = ()  # how it was read: "OCR-tolerant: 缋效目标 ~ 绩效目标"


@dataclass(slots=True)
class Classification:
    kind: FormKind
    reason: str  # which signals decided, for people: shown by `jixiao inspect`
    is_form: bool = True  # False: an ordinary budget / final-account table, not a form
    signals: dict[str, list[str]] = field(default_factory=dict)


def title_key(text: str) -> str:
    """A title reduced for matching: NFKC, no whitespace or stray marks, no trailing
    （2023年度） / （续）."""
    key = _STRAY.sub("", normalize(text))
    for _ in range(2):
        stripped = _TRAILING_PARENS.sub("", key)
        if stripped == key or not stripped:
            break
        key = stripped
    return key


def is_continued(text: str) -> bool:
    """A continuation title ("收入支出决算总表（续）", "续表"): the table goes on."""
    return bool(_CONTINUED.search(_STRAY.sub("", normalize(text))))


def _fuzzy_find(text: str, word: str) -> float | None:
    """The cost of the best same-length window of `text` reading as `word`: 0 when it is
    there, below 1 for OCR confusions, 1 for one wrong character (words of 4+ characters);
    None when no window is that close."""
    if word in text:
        return 0.0
    n = len(word)
    limit = 1.0 if n >= 4 else 1.0 - 1e-9
    best: float | None = None
    for i in range(len(text) - n + 1):
        window = text[i : i + n]
        # One shared character at least at each end keeps 部门整体 from matching any 4 chars.
        if window[0] != word[0] and window[-1] != word[-1]:
            continue
        cost = ocr_distance(window, word)
        if cost <= limit + 1e-9 and (best is None or cost < best):
            best = cost
    return best


def read_title(text: str) -> TitleSignal:
    """Stage, scope and whether a title names a performance form at all."""
    key = title_key(text)
    notes: list[str] = []
    stage: Stage | None = None
    if _SELF.search(key):
        stage = "self"
    elif _MONITORING.search(key):
        stage = "monitoring"
    elif _PROGRESS.search(key):
        stage = "progress"
    elif _TARGET.search(key):
        stage = "target"
    elif _EVALUATION.search(key) and "绩效" in key:
        stage = "evaluation"
    if stage is None:
        hits: dict[Stage, float] = {}
        for word, word_stage in _FUZZY_STAGE:
            cost = _fuzzy_find(key, word)
            if cost is not None and cost < hits.get(word_stage, 9.0):
                hits[word_stage] = cost
        if hits:
            ranked = sorted(hits.items(), key=lambda kv: kv[1])
            if len(ranked) > 1 and ranked[1][1] - ranked[0][1] < 0.5:
                # one wrong character from each: the title does not say which
                notes.append("reads as both 自评 and 目标")
            else:
                stage, cost = ranked[0]
                if cost > 0:
                    word = next(w for w, st in _FUZZY_STAGE if st == stage)
                    notes.append(f"OCR-tolerant: ~{word}")
    scope: Scope | None = None
    if _DEPARTMENT.search(key):
        scope = "department"
    elif "项目" in key:
        scope = "project"
    else:
        for word, word_scope in _FUZZY_SCOPE:
            cost = _fuzzy_find(key, word)
            if cost is not None:
                scope = word_scope
                if cost > 0:
                    notes.append(f"OCR-tolerant: ~{word}")
                break
    performance = (
        "绩效" in key or stage in ("self", "target") or _fuzzy_find(key, "绩效指标") is not None
    )
    return TitleSignal(
        text=key, performance=performance, stage=stage, scope=scope, notes=tuple(notes)
    )


def _ends_like_table(key: str) -> bool:
    return bool(key) and key[-1] in _TABLE_CHARS


def is_form_title(text: str) -> bool:
    """A title line of a performance form of any kind (自评表, 目标表, 申报表, 部门整体…, and the
    评价 / 监控 look-alikes, so they end the form before them)."""
    plain = normalize(text)  # NFKC: a full-width colon is ":" here
    if len(plain) > TITLE_MAX_CHARS or (":" in plain and not plain.startswith("附件")):
        return False
    key = title_key(text)
    if not _ends_like_table(key) or is_continued(text):
        return False
    signal = read_title(text)
    return signal.performance and signal.stage is not None


def is_table_title(text: str) -> bool:
    """A title line of an ordinary table ("2023年收入支出决算总表"): short, ends with 表, four
    CJK characters at least, no "label：value"."""
    plain = normalize(text)
    if len(plain) > TITLE_MAX_CHARS or ":" in plain:
        return False
    key = title_key(text)
    if not key.endswith("表") or is_continued(text) or key.startswith(("注", "说明")):
        return False
    return len(_CJK.findall(key)) >= 4


# --- body -----------------------------------------------------------------------------------


def _labels(texts: Iterable[str]) -> list[str]:
    """Candidate label texts: every cell, and each whitespace-separated part of free lines
    (a borderless header line prints several labels)."""
    out: list[str] = []
    for text in texts:
        if not text:
            continue
        out.append(text)
        parts = text.split()
        if len(parts) > 1:
            out.extend(parts)
    return out


def _found(labels: list[str], table: SynonymTable) -> list[str]:
    """Names (table keys) of the entries some label matches, in table order."""
    hit: set[str] = set()
    for text in labels:
        if len(text) > 40:
            continue
        match = classify(text, table, fuzzy=False)
        if match is not None:
            hit.add(match.field)
    return [name for name in table if name in hit]


@dataclass(slots=True)
class BodySignal:
    performance: list[str]  # indicator-tree / goal labels found
    actual: list[str]  # self-evaluation-only columns found
    target: list[str]  # target columns found
    department: list[str]  # 年度主要任务 / 部门名称
    project_name: bool
    department_name: bool
    old_sheet: bool


def read_body(texts: Iterable[str]) -> BodySignal:
    labels = _labels(texts)
    keys = [label_key(t).key for t in labels if len(t) <= 80]
    return BodySignal(
        performance=_found(labels, _PERFORMANCE),
        actual=_found(labels, _ACTUAL),
        target=_found(labels, _TARGET_COLS),
        department=_found(labels, _DEPARTMENT_BODY),
        project_name=any(_PROJECT_NAME.match(k) for k in keys),
        department_name=any(_DEPARTMENT_NAME.match(k) for k in keys),
        old_sheet=all(any(k.startswith(w) for k in keys) for w in _OLD_SHEET_LABELS),
    )


_STAGE_SHORT: dict[Stage, str] = {
    "self": "自评",
    "target": "绩效目标",
    "evaluation": "评价",
    "monitoring": "监控",
    "progress": "目标完成情况",
}
_STAGE_WORDS: dict[Stage, str] = {
    "self": "自评 (self-evaluation)",
    "target": "绩效目标 (target-setting)",
    "evaluation": "评价 (an evaluation's score sheet, not a self-evaluation)",
    "monitoring": "监控 (mid-year monitoring)",
    "progress": "目标完成/执行情况 (neither a target form nor a self-evaluation by name)",
}


def _kind(scope: Scope, stage: Literal["self", "target"]) -> FormKind:
    if scope == "project":
        return "project" if stage == "self" else "project_target"
    return "department" if stage == "self" else "department_target"


def classify_form(title: str, texts: Iterable[str]) -> Classification:
    """Kind of one segment from its title (may be empty) and the texts of its cells / lines."""
    sig = read_title(title) if title else None
    body = read_body(texts)
    said: list[str] = []
    signals: dict[str, list[str]] = {
        "performance": body.performance,
        "actual_columns": body.actual,
        "target_columns": body.target,
        "department": body.department,
    }
    if sig is not None:
        notes = f" ({', '.join(sig.notes)})" if sig.notes else ""
        says = [_STAGE_SHORT[sig.stage]] if sig.stage else []
        says += [sig.scope] if sig.scope else []
        said.append(f"title {sig.text}{notes}" + (f": {', '.join(says)}" if says else ""))

    def result(kind: FormKind, why: str, *, is_form: bool = True) -> Classification:
        return Classification(kind, "; ".join([*said, why]), is_form, signals)

    if body.old_sheet:
        return result("other", "pre-2020 score sheet (部门决策 / 项目管理 / 项目绩效)")
    title_perf = sig is not None and sig.performance
    if not title_perf and len(body.performance) < 2:
        found = f" (only {', '.join(body.performance)})" if body.performance else ""
        if sig is None and body.project_name:
            # Untitled and opened by a 项目名称 header: a form of some kind, reported as such.
            return result("other", f"no title; 项目名称 but no indicator tree{found}")
        why = "no 绩效 in the title" if sig is not None else "no title"
        return result("other", f"ordinary table: {why}, no indicator tree{found}", is_form=False)
    # Scope: the title's, else the body's; they must not disagree.
    body_dept = bool(body.department) or body.department_name
    body_scope: Scope | None = None
    if body.project_name and not body_dept:
        body_scope = "project"
    elif body_dept and not body.project_name:
        body_scope = "department"
    dept_words = ", ".join(dict.fromkeys(body.department + ["部门名称"] * body.department_name))
    body_scope_why = {
        "project": "项目名称 row",
        "department": f"{dept_words} (department structure)",
        None: "",
    }[body_scope]
    title_scope = sig.scope if sig is not None else None
    if title_scope and body_scope and title_scope != body_scope:
        return result(
            "other",
            f"conflict: the title names a {title_scope} form but the body has {body_scope_why}",
        )
    scope = title_scope or body_scope
    # Stage: title and columns.
    if body.actual:
        body_stage: Literal["self", "target"] | None = "self"
        cols_why = f"self-evaluation columns {', '.join(body.actual)}"
    elif body.target:
        body_stage = "target"
        cols_why = f"columns {', '.join(body.target)} without 执行数/完成值/得分"
    else:
        body_stage = None
        cols_why = "no 执行数/完成值/得分 or 指标值 columns read"
    title_stage = sig.stage if sig is not None else None
    if title_stage in ("evaluation", "monitoring", "progress"):
        assert title_stage is not None
        return result("other", f"look-alike: {_STAGE_WORDS[title_stage]}; {cols_why}")
    if title_stage and body_stage and title_stage != body_stage:
        return result(
            "other",
            f"conflict: a {_STAGE_WORDS[title_stage]} title over {cols_why}",
        )
    stage = title_stage or body_stage
    if stage not in ("self", "target"):
        return result("other", f"performance form of unknown stage: {cols_why}")
    if scope is None:
        return result("other", f"{cols_why}; neither 项目名称 nor 部门名称 / 年度主要任务 found")
    parts = [cols_why if title_stage else f"the columns decide: {cols_why}"]
    if body_scope_why:
        parts.append(body_scope_why)
    elif title_scope:
        parts.append(f"title scope {title_scope}")
    return result(_kind(scope, stage), "; ".join(parts))


KIND_NAMES: dict[FormKind, str] = {
    "project": "项目支出绩效自评表",
    "project_target": "项目支出绩效目标表",
    "department": "部门整体支出绩效自评表",
    "department_target": "部门整体支出绩效目标表",
    "other": "form of unknown kind",
}


def not_extracted_reason(kind: FormKind, reason: str) -> str | None:
    """Why a form of this kind is not extracted (None for a project self-evaluation)."""
    if kind == "project":
        return None
    if kind == "department":
        return "部门整体支出绩效自评表 (whole-department form) is not supported yet"
    if kind in ("project_target", "department_target"):
        return f"{KIND_NAMES[kind]} (target-setting form) is not extracted yet"
    return f"form of unknown kind, not extracted: {reason}"
