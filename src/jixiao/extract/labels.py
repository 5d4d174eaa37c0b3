"""Label synonym tables and label classification for the deterministic layout extractor.

Forms in the wild print the same field under different labels (全年预算数 / 调整后预算数 /
变动后预算数 …), decorate labels with suffixes ("（A）", "(%)", "(50分)", "（万元）") and prefixes
("其中："), and wrap them over lines. Classification therefore works on a *key* of the label:
NFKC, whitespace removed, prefix and suffixes stripped (the weight in "(50分)" is kept aside).
A match carries its quality (exact / synonym / fuzzy) so that confidence can use it later.

Synonyms come from shared/spec/scoring-rules.md ("Label synonyms" and the layout variants) and
output-contract.md §1. The first synonym of each entry is the canonical label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Literal, cast

from jixiao.contract import FundingKind
from jixiao.extract.grounding import normalize

MatchQuality = Literal["exact", "synonym", "ocr", "fuzzy"]

# Confidence weight of each match quality (the `label_match` signal); ocr and fuzzy are further
# scaled by their similarity.
QUALITY_SCORE: dict[MatchQuality, float] = {"exact": 1.0, "synonym": 0.97, "ocr": 0.9, "fuzzy": 0.8}

SynonymTable = dict[str, tuple[str, ...]]

# --- header -------------------------------------------------------------------------------
HEADER_FIELDS: SynonymTable = {
    "project_name": ("项目名称",),
    "competent_department": (
        "主管部门",
        "市级主管部门",
        "主管单位",
        "区级主管部门",
        "省级主管部门",
        "主管部门(单位)",
    ),
    "implementing_unit": ("实施单位", "项目实施单位", "实施单位(部门)"),
}

# --- 项目资金 block -----------------------------------------------------------------------
FUNDING_BLOCK: SynonymTable = {
    # The block's own label; it carries the money unit: "项目资金（万元）".
    "funding_block": ("项目资金", "预算执行情况", "资金情况", "项目资金情况"),
}

FUNDING_COLUMNS: SynonymTable = {
    "initial_budget": ("年初预算数", "年初预算", "年初批复数", "年初预算金额"),
    "annual_budget": ("全年预算数", "调整后预算数", "变动后预算数", "调整后预算", "全年预算"),
    "executed": ("全年执行数", "预算执行数", "执行数", "全年执行"),
    "weight": ("分值", "权重", "分数"),
    "execution_rate": ("执行率", "预算执行率", "资金执行率"),
    "score": ("得分",),
    # The header over the row labels, where a template prints one.
    "row_label": ("资金来源", "资金类别", "资金构成", "资金项目"),
    # Sichuan-style blocks print a reason column beside the money; it is not in the record.
    "reason": ("原因", "偏差原因分析", "未完成原因分析", "偏差原因"),
}

FUNDING_ROWS: SynonymTable = {
    "total": ("年度资金总额", "总额", "资金总额", "项目资金总额"),
    "fiscal": (
        "当年财政拨款",
        "本年财政拨款",
        "财政资金",
        "当年财政资金",
        "中央补助",
        "财政拨款",
        "中央补助资金",
    ),
    "carryover": ("上年结转资金", "上年结转", "结转资金"),
    "special_account": ("财政专户管理资金", "财政专户资金"),
    "unit_funds": ("单位资金", "单位自有资金"),
    "other": ("其他资金", "其他"),
}

# --- 年度总体目标 -------------------------------------------------------------------------
GOALS: SynonymTable = {
    "goal_expected": ("预期目标", "项目年度目标", "年度预期目标"),
    "goal_actual": ("实际完成情况", "年度目标完成情况", "目标实际完成情况"),
    # The block's own label, usually a tall merged cell to the left.
    "goal_block": ("年度总体目标", "总体目标", "年度目标", "项目年度绩效目标"),
}

# --- 绩效指标 table -----------------------------------------------------------------------
INDICATOR_COLUMNS: SynonymTable = {
    "level1": ("一级指标",),
    "level2": ("二级指标",),
    "name": ("三级指标", "指标名称", "具体指标"),
    "target": ("年度指标值", "指标值", "目标值", "年度目标值", "预期指标值"),
    "actual": ("实际完成值", "完成值", "全年实际值", "实际值"),
    "weight": ("分值", "权重", "分数"),
    "score": ("得分",),
    "deviation_reason": (
        "偏差原因分析及改进措施",
        "偏差原因分析",
        "偏差原因及整改措施",
        "未完成原因分析",
        "原因",
        "偏差原因",
        "偏差原因分析及改进措施说明",
    ),
    # Split target columns (指标性质 | 指标值 | 度量单位) are joined op+value+unit.
    "operator": ("指标性质", "指标方向"),
    "unit": ("度量单位", "计量单位", "单位"),
}

INDICATOR_BLOCK: SynonymTable = {
    "indicator_block": ("绩效指标", "年度绩效指标", "项目绩效指标"),
}

# --- totals ---------------------------------------------------------------------------------
TOTALS: SynonymTable = {
    "total": ("总分", "合计", "总计", "综合得分", "自评总分", "得分合计"),
    "grade": ("评分等级", "自评等级", "自评结论", "绩效等级", "等级", "评价等级"),
}

# Text after the indicator table that is not part of the record (Sichuan layout and others).
TRAILER: SynonymTable = {
    "trailer": (
        "评价结论",
        "存在问题",
        "改进措施",
        "主要问题",
        "存在的问题",
        "整改措施",
        "问题及改进措施",
        "存在问题及改进措施",
        "备注",
    ),
}

# Header fields some templates print that are not part of the record: the label and the value
# beside it are known, so they are neither extracted nor reported as unplaced.
NOT_IN_RECORD: SynonymTable = {
    "not_in_record": (
        "项目负责人",
        "负责人",
        "联系人",
        "联系电话",
        "填报人",
        "填表人",
        "填报日期",
        "填表日期",
        "单位负责人",
        "财务负责人",
        "项目编码",
        "项目代码",
        "项目类型",
        "项目属性",
        "项目类别",
        "预算年度",
    ),
}

# Names of every table, for classifying a cell without knowing its section.
ALL_TABLES: dict[str, SynonymTable] = {
    "header": HEADER_FIELDS,
    "funding_block": FUNDING_BLOCK,
    "funding_column": FUNDING_COLUMNS,
    "funding_row": FUNDING_ROWS,
    "goals": GOALS,
    "indicator_column": INDICATOR_COLUMNS,
    "indicator_block": INDICATOR_BLOCK,
    "totals": TOTALS,
    "trailer": TRAILER,
    "not_in_record": NOT_IN_RECORD,
}

# "(50分)", "（10 分）", "50分" at the end: a weight printed in a label.
_WEIGHT_RE = re.compile(r"\(?(\d+(?:\.\d+)?)分\)?$")
# Trailing decorations that do not change what a label means: "(A)", "(B/A)", "(%)", "(万元)".
_SUFFIX_RE = re.compile(r"\((?:[A-Za-z](?:/[A-Za-z])?|%|万元|元|千元|亿元|百分比)\)$")
_UNIT_RE = re.compile(r"\((万元|元|千元|亿元)\)")
_PREFIX_RE = re.compile(r"^(?:其中[:：,，、]?|[一二三四五六七八九十]+[、.．]|\d+[、.．])")
_TRAILING_PUNCT = ":：,，;；、."


@dataclass(frozen=True, slots=True)
class LabelKey:
    """A label reduced for matching, with what was stripped from it."""

    key: str  # NFKC, no whitespace, no prefix / suffixes / weight
    weight: float | None  # "产出指标(50分)" → 50.0
    unit: str | None  # "项目资金（万元）" → "万元"
    had_prefix: bool  # "其中：当年财政拨款"


@dataclass(frozen=True, slots=True)
class LabelMatch:
    """A label matched against one synonym table."""

    field: str  # the table's key: "annual_budget", "goal_expected", …
    quality: MatchQuality
    score: float  # 0..1, QUALITY_SCORE scaled by similarity for fuzzy matches
    weight: float | None = None
    unit: str | None = None
    table: str | None = None  # which table of ALL_TABLES matched (classify_any only)


# Labels are short; a longer text (a goal, a reason) is a value and is not normalised at all.
_MAX_LABEL_CHARS = 40


@lru_cache(maxsize=8192)
def label_key(text: str) -> LabelKey:
    """Reduce a printed label to its matching key (cached: forms repeat their labels)."""
    flat = normalize(text).rstrip(_TRAILING_PUNCT)
    unit_match = _UNIT_RE.search(flat)
    unit = unit_match.group(1) if unit_match else None
    had_prefix = False
    m = _PREFIX_RE.match(flat)
    if m and len(flat) > m.end():
        flat = flat[m.end() :]
        had_prefix = True
    weight: float | None = None
    # Strip suffixes repeatedly: "执行率(B/A)(%)", "产出指标(50分)".
    for _ in range(4):
        before = flat
        flat = flat.rstrip(_TRAILING_PUNCT)
        wm = _WEIGHT_RE.search(flat)
        if wm and wm.start() > 0 and (wm.group(0).startswith("(") or weight is None):
            weight = float(wm.group(1))
            flat = flat[: wm.start()]
        sm = _SUFFIX_RE.search(flat)
        if sm and sm.start() > 0:
            flat = flat[: sm.start()]
        if flat == before:
            break
    return LabelKey(flat, weight, unit, had_prefix)


def _similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


# --- OCR-tolerant matching --------------------------------------------------------------------
# What a recogniser returns for a label's characters on a scan: "一级指标" → "-级指标",
# "二级指标" → "=级指标", "三级指标" → "”=级指标", "项目名称" → "项目名称.". A confusion costs
# little, a stray mark (punctuation left by a ruling or a speck) costs little, anything else is
# a real edit (cost 1). Only label-side characters are listed: the OCR side may be anything.
_CONFUSABLE: dict[str, frozenset[str]] = {
    "一": frozenset("-—–_~ー"),
    "二": frozenset("=ニ"),
    "三": frozenset("≡ミ"),
    "十": frozenset("+"),
    "人": frozenset("入八"),
    "入": frozenset("人八"),
    "日": frozenset("曰目"),
    "目": frozenset("日"),
    "口": frozenset("0O□"),
    "已": frozenset("己巳"),
    "率": frozenset("窣"),
}
# Less likely confusions: "=" is 二 first, 三 only when nothing better fits.
_WEAK_CONFUSABLE: dict[str, frozenset[str]] = {"三": frozenset("=")}
_WEAK_COST = 0.35
# Two OCR characters for one label character (三's top stroke read as a quote mark).
_CONFUSABLE_PAIRS: dict[str, frozenset[str]] = {
    "三": frozenset({"”=", '"=', "“=", "'=", "-=", "=-", "一二", "二一", "==", "一=", "=一"}),
}
_STRAY = frozenset(".,·•'\"“”‘’`|:;、。_~^*°-")
_CONFUSION_COST = 0.2
_STRAY_COST = 0.25
# A key holding digits or comparison signs is a value ("≥30.00(项)", "100"), never a label.
_VALUE_CHARS_RE = re.compile(r"[0-9≥≤<>＞＜%]")


def ocr_distance(ocr: str, label: str) -> float:
    """Weighted edit distance from an OCR'd key to a label key (confusions and stray marks
    cheap, real edits 1)."""
    n, m = len(ocr), len(label)
    inf = float("inf")
    d = [[inf] * (m + 1) for _ in range(n + 1)]
    d[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            here = d[i][j]
            if here == inf:
                continue
            if i < n:  # an extra OCR character
                extra = _STRAY_COST if ocr[i] in _STRAY else 1.0
                d[i + 1][j] = min(d[i + 1][j], here + extra)
            if j < m:  # a label character lost
                d[i][j + 1] = min(d[i][j + 1], here + 1.0)
            if i < n and j < m:
                a, b = ocr[i], label[j]
                if a == b:
                    sub = 0.0
                elif a in _CONFUSABLE.get(b, ()):
                    sub = _CONFUSION_COST
                elif a in _WEAK_CONFUSABLE.get(b, ()):
                    sub = _WEAK_COST
                else:
                    sub = 1.0
                d[i + 1][j + 1] = min(d[i + 1][j + 1], here + sub)
                if i + 1 < n and ocr[i : i + 2] in _CONFUSABLE_PAIRS.get(b, ()):
                    d[i + 2][j + 1] = min(d[i + 2][j + 1], here + _CONFUSION_COST)
    return d[n][m]


def _allowed_real_edits(label: str) -> int:
    """Real edits a fuzzy match may need: none for labels under 4 characters (分值, 得分 and
    完成值 are one edit from too many words), one from 4, two from 8."""
    return 0 if len(label) < 4 else 1 if len(label) < 8 else 2


def ocr_similarity(ocr: str, label: str, *, real_edits: bool) -> float | None:
    """1 − distance / len(label) when `ocr` is within the allowed edits of `label`, else None.

    `real_edits=False`: only confusions and stray marks (what OCR does to a label that is
    otherwise intact); True: also up to `_allowed_real_edits` lost / wrong characters."""
    if not ocr or not label or _VALUE_CHARS_RE.search(ocr):
        return None
    if len(label) < 2 or len(ocr) > 2 * len(label) + 2:
        return None
    allowed = _allowed_real_edits(label) if real_edits else 0
    if len(ocr) < len(label) - allowed:
        return None
    dist = ocr_distance(ocr, label)
    # Below 1 is confusions / stray marks only; each real edit adds 1.
    if dist >= allowed + 1 - 1e-9 or dist > 0.75 * len(label):
        return None
    if allowed and dist >= 1.0 and 1.0 - dist / len(label) < 0.75:
        return None
    return max(0.0, 1.0 - dist / len(label))


_FrozenTable = tuple[tuple[str, tuple[str, ...]], ...]


def _frozen(table: SynonymTable) -> _FrozenTable:
    cached = _FROZEN_MODULE_TABLES.get(id(table))
    if cached is not None and cached[0] is table:
        return cached[1]
    return tuple((field, tuple(syns)) for field, syns in table.items())


@lru_cache(maxsize=256)
def _index(table: _FrozenTable) -> dict[str, tuple[str, int]]:
    """Normalised synonym → (field, position); the first field claiming a synonym keeps it."""
    out: dict[str, tuple[str, int]] = {}
    for field, synonyms in table:
        for i, syn in enumerate(synonyms):
            out.setdefault(normalize(syn), (field, i))
    return out


def classify(text: str | None, table: SynonymTable, *, fuzzy: bool = True) -> LabelMatch | None:
    """Match a printed label against one synonym table; None when nothing matches.

    exact: the key equals the canonical (first) synonym; synonym: it equals another one;
    ocr: it differs from a synonym only by OCR confusions ("-级指标", "=级指标") and stray
    marks, which is tried even with `fuzzy=False`; fuzzy: also a real edit or two
    (`_allowed_real_edits`: a wrapped or misprinted label of 4+ characters). The score of
    ocr / fuzzy matches is QUALITY_SCORE scaled by the similarity.
    """
    if not text or len(text) > 2 * _MAX_LABEL_CHARS:
        return None
    return _classify(text, _frozen(table), "fuzzy" if fuzzy else "ocr")


_Mode = Literal["exact", "ocr", "fuzzy"]


@lru_cache(maxsize=65536)
def _classify(text: str, table: _FrozenTable, mode: _Mode) -> LabelMatch | None:
    lk = label_key(text)
    if not lk.key or len(lk.key) > _MAX_LABEL_CHARS:
        return None
    index = _index(table)
    hit = index.get(lk.key)
    if hit is not None:
        field, i = hit
        exact: MatchQuality = "exact" if i == 0 else "synonym"
        return LabelMatch(field, exact, QUALITY_SCORE[exact], lk.weight, lk.unit)
    if mode == "exact":
        return None
    best: tuple[float, str, str] | None = None
    for target, (field, _) in index.items():
        sim = ocr_similarity(lk.key, target, real_edits=mode == "fuzzy")
        if sim is not None and (best is None or sim > best[0]):
            best = (sim, field, target)
    if best is None:
        return None
    sim, field, target = best
    # A distance under 1 (confusions and stray marks only) is an OCR reading of the label.
    quality: MatchQuality = "ocr" if (1.0 - sim) * len(target) < 1.0 - 1e-9 else "fuzzy"
    return LabelMatch(field, quality, round(QUALITY_SCORE[quality] * sim, 4), lk.weight, lk.unit)


def classify_any(text: str | None, *, fuzzy: bool = False) -> LabelMatch | None:
    """Match against every table; the first exact/synonym hit in ALL_TABLES order wins.

    Used to tell a label cell from a value cell, so fuzzy matching (real edits) is off by
    default: a value that merely resembles a label must stay a value. OCR confusions and stray
    marks are always tolerated: they do not make one word another.
    """
    if not text or len(text) > 2 * _MAX_LABEL_CHARS:
        return None
    modes: tuple[_Mode, ...] = ("exact", "ocr", "fuzzy") if fuzzy else ("exact", "ocr")
    # An exact hit in any table beats an OCR-tolerant one in an earlier table.
    for mode in modes:
        for name, table in ALL_TABLES.items():
            m = _classify(text, _frozen(table), mode)
            if m is not None:
                return LabelMatch(m.field, m.quality, m.score, m.weight, m.unit, name)
    return None


def split_label_prefix(text: str, table: SynonymTable) -> tuple[LabelMatch, str] | None:
    """A cell holding "label value" or "label：value" (borderless layouts often merge them).

    Returns the match and the remaining value as printed (whitespace and a colon trimmed), or
    None when the text does not start with a synonym or nothing follows it.
    """
    stripped = text.strip()
    # The normalised text with, per character, the index of its source character.
    flat: list[str] = []
    source: list[int] = []
    for pos, ch in enumerate(stripped[: 2 * _MAX_LABEL_CHARS]):
        for c in normalize(ch):
            flat.append(c)
            source.append(pos)
    hay = "".join(flat)
    for target, field, i in _by_length(_frozen(table)):
        if not hay.startswith(target):
            continue
        rest = stripped[source[len(target) - 1] + 1 :].lstrip(" \t\u3000:：")
        if not rest.strip():
            return None
        quality: MatchQuality = "exact" if i == 0 else "synonym"
        return LabelMatch(field, quality, QUALITY_SCORE[quality]), rest.strip()
    return None


@lru_cache(maxsize=256)
def _by_length(table: _FrozenTable) -> list[tuple[str, str, int]]:
    """(normalised synonym, field, position), longest first: "市级主管部门" before "主管部门"."""
    rows = [(target, field, i) for target, (field, i) in _index(table).items() if target]
    return sorted(rows, key=lambda t: -len(t[0]))


def funding_kind(label: str) -> FundingKind:
    """The contract's kind of a 项目资金 row label; anything unknown is "other"."""
    m = classify(label, FUNDING_ROWS)
    if m is not None:
        return cast(FundingKind, m.field)
    key = label_key(label).key
    # Labels printed with extra words ("其中：市级财政拨款") still say what they are.
    for kind, needle in (
        ("special_account", "财政专户"),
        ("carryover", "结转"),
        ("unit_funds", "单位资金"),
        ("fiscal", "财政拨款"),
        ("fiscal", "财政资金"),
        ("fiscal", "补助"),
        ("total", "总额"),
        ("total", "合计"),
    ):
        if needle in key:
            return cast(FundingKind, kind)
    return "other"


def money_unit(text: str | None) -> str | None:
    """The money unit a block label declares: "项目资金（万元）" → "万元"."""
    if not text:
        return None
    m = _UNIT_RE.search(normalize(text))
    if m:
        return m.group(1)
    m = re.search(r"单位[:：](万元|元|千元|亿元)", normalize(text))
    return m.group(1) if m else None


# The module's own tables never change: freeze them once (checked by identity, not just id).
_FROZEN_MODULE_TABLES: dict[int, tuple[SynonymTable, _FrozenTable]] = {}
for _table in (*ALL_TABLES.values(), FUNDING_ROWS):
    _FROZEN_MODULE_TABLES[id(_table)] = (_table, _frozen(_table))
