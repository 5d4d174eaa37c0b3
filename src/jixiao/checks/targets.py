"""Parse a printed 年度指标值 / 实际完成值 into operator, number and unit — or a qualitative level.

Examples: "≥25.00(项)" → Quantity(">=", 25.0, "项"); "不超过5%" → Quantity("<=", 5.0, "%");
"105.00(项)" → Quantity(None, 105.0, "项"); "部分达成指标并具有一定效果" → Qualitative("partial").
The parser never raises: text it cannot read is `Qualitative("unknown")`. Nothing is "fixed": a
nonsensical unit ("≥80.00(亿次)" for a growth rate) is returned as printed, for the checks to
report.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Operator = Literal[">=", ">", "=", "<=", "<"]
Level = Literal["met", "partial", "not_met", "unknown"]

HIGHER_IS_BETTER: frozenset[str] = frozenset({">=", ">", "="})
LOWER_IS_BETTER: frozenset[str] = frozenset({"<=", "<"})


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number with an optional comparison operator and unit.

    `op` is None for a bare number ("100%", an actual like "105.00(项)"). `complete` is False when
    words surround the quantity ("1小时内解决问题…", "占比≥60%"): still comparable, but a weaker
    reading, so the checks treat such a row like a qualitative one when the other side is text.
    """

    op: Operator | None
    value: float
    unit: str | None
    complete: bool = True


@dataclass(frozen=True, slots=True)
class Qualitative:
    """A text value; `level` says whether it states the target as met."""

    level: Level


Parsed = Quantity | Qualitative

# Word operators, longest first so "不低于" wins over "低于".
_WORD_OPERATORS: tuple[tuple[str, Operator], ...] = (
    ("大于等于", ">="),
    ("大于或等于", ">="),
    ("小于等于", "<="),
    ("小于或等于", "<="),
    ("不低于", ">="),
    ("不少于", ">="),
    ("不小于", ">="),
    ("不高于", "<="),
    ("不超过", "<="),
    ("不多于", "<="),
    ("不大于", "<="),
    ("至少", ">="),
    ("达到", ">="),
    ("至多", "<="),
    ("最多", "<="),
    ("低于", "<"),
    ("少于", "<"),
    ("小于", "<"),
    ("高于", ">"),
    ("大于", ">"),
    ("超过", ">"),
    ("多于", ">"),
    ("等于", "="),
)
# Suffixes that carry the operator after the number: "90%以上", "1小时内".
_SUFFIX_OPERATORS: tuple[tuple[str, Operator], ...] = (
    ("及以上", ">="),
    ("以上", ">="),
    ("及以下", "<="),
    ("以下", "<="),
    ("以内", "<="),
    ("之内", "<="),
    ("内", "<="),
)
_SYMBOLS: dict[str, Operator] = {">=": ">=", "<=": "<=", ">": ">", "<": "<", "=": "="}

# Symbol variants NFKC leaves alone, mapped to ASCII operators.
_SYMBOL_MAP = str.maketrans(
    {
        "≥": ">=",
        "≧": ">=",
        "⩾": ">=",
        "≤": "<=",
        "≦": "<=",
        "⩽": "<=",
        "〉": ">",
        "〈": "<",
        "【": "(",
        "】": ")",
        "〔": "(",
        "〕": ")",
    }
)

# Units written without parentheses: a scale prefix and a known base, or Latin letters.
_BARE_UNITS = (
    "个百分点|百分点|%|‰|个月|工作日|人次|小时|分钟|平方米|平方公里|公里|千米|公顷|"
    "个|项|次|人|家|份|条|件|台|套|天|日|年|月|周|秒|元|户|所|篇|本|场|期|批|座|辆|处|名|位|"
    "亩|吨|米|张|部|册|页|门|类|种|课时|学时|GB|TB|PB|MB|Mbps|Gbps|km|kg|m2|㎡|m"
)
_QUANTITY_RE = re.compile(
    r"(?P<op>>=|<=|=>|=<|>|<|=)?"
    r"(?P<num>[+-]?\d+(?:,\d{3})*(?:\.\d+)?)"
    r"(?:(?P<paren>\((?P<punit>[^()]{0,12})\))|(?P<bunit>(?:[万亿千百十]?(?:"
    + _BARE_UNITS
    + r"))))?"
)
_NOT_MET = (
    "未达成",
    "未达到",
    "未完成",
    "未实现",
    "没有达成",
    "未达标",
    "不达标",
    "不合格",
    "未通过",
)
_PARTIAL = (
    "部分达成",
    "部分达到",
    "部分完成",
    "部分实现",
    "基本达成",
    "基本完成",
    "基本实现",
    "基本达到",
)
# "met" only when the whole cell says so: "完成率≥95%" is a target, not a level.
_MET_RE = re.compile(
    r"^(?:已|全部|均已|已经)?(?:达成|完成|达标|实现|达到|合格|通过|满足)(?:指标|目标|预期|任务|要求)?[。.!]?$"
)


def normalize_text(text: str) -> str:
    """NFKC (full-width digits, ％, （）, ＞＝ → ASCII), symbol variants, no whitespace."""
    text = unicodedata.normalize("NFKC", text).translate(_SYMBOL_MAP)
    return "".join(text.split())


def normalize_unit(unit: str | None) -> str | None:
    """The unit as compared: NFKC, no parentheses or spaces; '' → None."""
    if unit is None:
        return None
    unit = normalize_text(unit).strip("()")
    return unit or None


@lru_cache(maxsize=65536)
def parse_value(text: str | None) -> Parsed | None:
    """Read a target or an actual; None for a missing cell. Never raises."""
    if text is None:
        return None
    s = normalize_text(text)
    if not s or s in {"-", "—", "/", "*", "--", "——"}:
        return None
    level = qualitative_level(s)
    match = _QUANTITY_RE.search(s)
    if match is None:
        return Qualitative(level)
    prefix, rest = s[: match.start()], s[match.end() :]
    op: Operator | None = None
    symbol = match.group("op")
    if symbol:
        op = _SYMBOLS.get(symbol) or (">=" if symbol == "=>" else "<=")
    else:
        for word, word_op in _WORD_OPERATORS:
            if prefix.endswith(word):
                op, prefix = word_op, prefix[: -len(word)]
                break
    unit = match.group("punit") if match.group("paren") else match.group("bunit")
    if not match.group("paren"):
        unit, rest, suffix_op = _short_unit(unit or "", rest)
        op = op or suffix_op
    else:
        for suffix, paren_suffix_op in _SUFFIX_OPERATORS:
            if rest.startswith(suffix):
                rest, op = rest[len(suffix) :], op or paren_suffix_op
                break
    # A qualitative statement that happens to hold a number ("第三级要求"), or a level word
    # ("部分达成") decides: words before a number without any operator make it a description.
    if level != "unknown" or (prefix and op is None):
        return Qualitative(level)
    try:
        value = float(match.group("num").replace(",", ""))
    except ValueError:  # pragma: no cover - the pattern only matches digits
        return Qualitative("unknown")
    return Quantity(op, value, normalize_unit(unit), complete=not prefix and not rest)


_MAX_BARE_UNIT = 5
_DIGIT_OR_OP = re.compile(r"[\d<>=,.;:()，。；：]")


def _short_unit(known: str, rest: str) -> tuple[str | None, str, Operator | None]:
    """Unit, remaining text and suffix operator after a number printed without parentheses.

    A short tail is the unit whatever it is ("个工作日", "万立方米", "家次", "分"); a long one
    is a description, of which only a known unit is taken ("1小时内解决问题…" → 小时).
    """
    tail = known + rest
    op: Operator | None = None
    for suffix, suffix_op in _SUFFIX_OPERATORS:
        if tail.endswith(suffix):
            tail, op = tail[: -len(suffix)], suffix_op
            break
    if len(tail) <= _MAX_BARE_UNIT and not _DIGIT_OR_OP.search(tail):
        return tail or None, "", op
    for suffix, suffix_op in _SUFFIX_OPERATORS:
        if rest.startswith(suffix):
            return known or None, rest[len(suffix) :], suffix_op
    return known or None, rest, None


def qualitative_level(text: str) -> Level:
    """The level a text states: 未达成 → not_met, 部分达成 → partial, 达成指标 → met."""
    s = normalize_text(text)
    if any(word in s for word in _NOT_MET):
        return "not_met"
    if any(word in s for word in _PARTIAL):
        return "partial"
    if _MET_RE.match(s):
        return "met"
    return "unknown"


def format_quantity(
    op: Operator | None, value: float, unit: str | None, *, parens: bool = True
) -> str:
    """The printed form used by the seed forms: "≥25.00(项)"; the inverse of `parse_value`."""
    symbol = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "=": "=", None: ""}[op]
    unit_text = "" if not unit else (f"({unit})" if parens else unit)
    return f"{symbol}{value:.2f}{unit_text}"


_SCALES = {"万": 1e4, "亿": 1e8, "千": 1e3, "百": 1e2}


def unit_factor(target_unit: str | None, actual_unit: str | None) -> float | None:
    """Factor turning the actual's number into the target's unit; None when not comparable.

    Comparable: the same unit, an actual without a unit, or the same base with a scale prefix
    (15000 万条 vs 1.5 亿条). Anything else is reported, never converted by guesswork.
    """
    if actual_unit is None or actual_unit == target_unit:
        return 1.0
    if target_unit is None:
        return None
    t_scale, t_base = _split_scale(target_unit)
    a_scale, a_base = _split_scale(actual_unit)
    if t_base and t_base == a_base:
        return a_scale / t_scale
    return None


def _split_scale(unit: str) -> tuple[float, str]:
    if len(unit) > 1 and unit[0] in _SCALES:
        return _SCALES[unit[0]], unit[1:]
    return 1.0, unit
