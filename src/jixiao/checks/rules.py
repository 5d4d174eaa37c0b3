"""Rules R1–R16 of shared/spec/scoring-rules.md, one function per rule, FormRecord in, Flag[] out.

Pure: no I/O. Every rule recomputes from the printed values and accepts both rounding and
truncation to the printed decimals (forms print 81.1568 as 81.15). Inputs are themselves printed
with 2 decimals, so a recomputed rate or score is an interval, not a point: a rate is only wrong
when no rounding of the inputs makes it right.

Precedence where rules overlap (one defect, one code):
- R7 (score outside [0, w]) first: such a row gets no R4/R5/R6/R13 flag, and a budget score above
  its weight gets SCORE_ABOVE_WEIGHT rather than BUDGET_SCORE_MISMATCH.
- R13 (deducted although met) and R4/R5 (not proportional) are disjoint: a met target expects full
  marks, so any deduction on it is R13; R4/R5 only judge rows whose target was missed.
- R6 judges rows whose actual is text (达成 / 部分达成 / 未达成); R4/R5/R13 judge rows where target
  and actual are both numbers in compatible units. Incompatible units → UNIT_MISMATCH (info) and
  no score judgement on that row.
- R11 (no reason for a deduction) is independent of R4–R6/R13: it concerns another cell (the
  reason). It skips rows R7 reports (a score outside [0, w] is not a "deduction").
- R9 and R10 are independent: the grade is judged against the printed total, even a wrong one.
- R2 recomputes the budget score from E/P; a wrong printed rate (R1) does not cascade into R2.

Readings the spec leaves open: ">" and "<" count as met at equality (like ≥ / ≤); a bare number
target ("100%") is "="; "=0" is lower-is-better; R13 only judges numeric rows (a qualitative
达成 row may lose points inside R6's [0.8w, w] band, as the gold decides).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from jixiao.checks.config import CheckConfig
from jixiao.checks.targets import (
    HIGHER_IS_BETTER,
    Level,
    Parsed,
    Qualitative,
    Quantity,
    normalize_text,
    parse_value,
    unit_factor,
)
from jixiao.contract import FieldProvenance, Flag, FlagOrigin, FormRecord, FundingRow, Severity

_HALF_CENT = 0.005  # half a unit of the 2nd decimal: the rounding of any printed input
_EPS = 1e-9
_MONEY_COLUMNS = ("initial_budget", "annual_budget", "executed")
_MONEY_ZH = {
    "initial_budget": "年初预算数",
    "annual_budget": "全年预算数",
    "executed": "全年执行数",
}
_MONEY_EN = {
    "initial_budget": "initial budget",
    "annual_budget": "annual budget",
    "executed": "executed",
}
_LEVEL_ZH = {"met": "达成", "partial": "部分达成", "not_met": "未达成", "unknown": "未知"}
_RATE_NAME_RE = re.compile("率|占比|比例|比重")
_RATE_UNITS = frozenset({"%", "‰", "百分点", "个百分点"})
_LEVEL1_WEIGHT_RE = re.compile(r"[(（][^()（）]*[)）]\s*$")


def _f(x: float) -> str:
    return f"{x:.2f}"


@dataclass(slots=True)
class Row:
    """One indicator row as the score rules see it (computed once, shared by R4–R7, R11–R13)."""

    index: int
    weight: float | None
    score: float | None
    target: Parsed | None
    actual: Parsed | None
    mode: str  # "quantitative" | "qualitative" | "none"
    met: bool
    higher_is_better: bool
    level: Level
    unit_mismatch: bool
    b_in_target_unit: float | None
    expected: float | None = None  # R4/R5 expected score (exact, before rounding)
    out_of_bounds: bool = False  # R7 fired: other score rules stay quiet


@dataclass(slots=True)
class Context:
    """The record, settings and per-form derived values every rule reads."""

    record: FormRecord
    config: CheckConfig
    lang: str = "zh"
    provenance: dict[str, FieldProvenance] | None = None
    level1_weights: dict[str, float] | None = None
    rows: list[Row] = field(default_factory=list)
    # Subsets of `rows`, so each rule walks only the rows it can judge.
    quantitative: list[Row] = field(default_factory=list)
    qualitative: list[Row] = field(default_factory=list)
    deducted: list[Row] = field(default_factory=list)  # s < w
    unit_rows: list[Row] = field(default_factory=list)  # a target with a unit to question
    total_index: int | None = None
    inputs_rounded: bool = False

    @property
    def total_row(self) -> FundingRow | None:
        return None if self.total_index is None else self.record.funding[self.total_index]

    def flag(
        self,
        code: str,
        severity: Severity,
        rule: str,
        fields: list[str],
        zh: str,
        en: str,
        expected: float | str | None = None,
        found: float | str | None = None,
        involved: list[str] | None = None,
    ) -> Flag:
        """A flag; `involved` (default: `fields`) are the fields whose trust decides `origin`."""
        return Flag(
            code=code,
            severity=severity,
            origin=self.origin(fields if involved is None else involved),
            fields=fields,
            message=en if self.lang == "en" else zh,
            expected=expected,
            found=found,
            rule=rule,
        )

    def origin(self, paths: list[str]) -> FlagOrigin:
        """`extraction` when any involved field with a value is unsure or lacks provenance."""
        prov = self.provenance
        if prov is None:
            return "source"
        limit = self.config.suspect_confidence
        for path in paths:
            entry = prov.get(path)
            if entry is None:
                # A null leaf has no provenance by contract: only a value without one is suspect.
                if resolve_path(self.record, path) is not None:
                    return "extraction"
            elif entry.confidence < limit:
                return "extraction"
        return "source"


_PATH_PART = re.compile(r"([A-Za-z_]+)(?:\[(\d+)\])?")


def resolve_path(record: FormRecord, path: str) -> object:
    """The value at a JSON path like `indicators[3].score`; None when it does not exist."""
    node: object = record
    for part in path.split("."):
        match = _PATH_PART.fullmatch(part)
        if match is None or node is None:
            return None
        node = getattr(node, match.group(1), None)
        if match.group(2) is not None:
            if not isinstance(node, list):
                return None
            idx = int(match.group(2))
            node = node[idx] if idx < len(node) else None
    return node


# --- numeric helpers -------------------------------------------------------------------------


def printed_matches(printed: float, lo: float, hi: float, config: CheckConfig) -> bool:
    """Whether some exact value in [lo, hi] prints as `printed` (rounded, or truncated if on)."""
    unit = 10.0**-config.decimals
    lower = printed - unit / 2
    upper = printed + (unit if config.accept_truncation else unit / 2)
    if printed < 0 and config.accept_truncation:  # truncation moves negatives towards zero
        lower = printed - unit
    return hi >= lower - _EPS and lo <= upper + _EPS


def _ratio_interval(e: float, p: float) -> tuple[float, float]:
    """E/P over every pair of exact values that print as E and P (2 decimals)."""
    e_lo, e_hi = max(e - _HALF_CENT, 0.0) if e >= 0 else e - _HALF_CENT, e + _HALF_CENT
    p_lo, p_hi = p - _HALF_CENT, p + _HALF_CENT
    if p_lo <= 0:
        return -math.inf, math.inf
    return e_lo / p_hi, e_hi / p_lo


def _blank(text: str | None) -> bool:
    return text is None or not text.strip() or text.strip() in {"-", "—", "/", "无"}


def _is_multiple_of_cent(x: float) -> bool:
    return abs(x * 100 - round(x * 100)) < 1e-6


# --- per-form preparation --------------------------------------------------------------------


def prepare(ctx: Context) -> None:
    """Find the total funding row and assess every indicator row once."""
    for i, row in enumerate(ctx.record.funding):
        if row.kind == "total":
            ctx.total_index = i
            break
    total = ctx.total_row
    if total is not None and total.score is not None and total.weight is not None:
        p, e = total.annual_budget, total.executed
        if p and e is not None and p > 0:
            exact = min(e / p, 1.0) * total.weight
            ctx.inputs_rounded |= not _is_multiple_of_cent(exact)
    for i, ind in enumerate(ctx.record.indicators):
        assessed = Row(i, ind.weight, ind.score, *_compare(ind.target_text, ind.actual_text))
        _score_row(assessed, ctx)
        ctx.rows.append(assessed)


@lru_cache(maxsize=65536)
def _compare(
    target_text: str | None, actual_text: str | None
) -> tuple[Parsed | None, Parsed | None, str, bool, bool, Level, bool, float | None]:
    """What target and actual say, cached on the two texts (forms repeat them a lot).

    Returns (target, actual, mode, met, higher_is_better, level, unit_mismatch, B in A's unit).
    """
    target, actual = parse_value(target_text), parse_value(actual_text)
    if isinstance(actual, Qualitative):
        mode = "qualitative" if actual.level != "unknown" else "none"
        return target, actual, mode, False, True, actual.level, False, None
    if not isinstance(target, Quantity) or not isinstance(actual, Quantity):
        return target, actual, "none", False, True, "unknown", False, None
    factor = unit_factor(target.unit, actual.unit)
    if factor is None:
        return target, actual, "none", False, True, "unknown", True, None
    a, b = target.value, actual.value * factor
    op = target.op or "="
    # "=0(起)" (安全事故) means none at all: with A = 0, "higher is better" would make any count
    # meet it, so read it as lower-is-better (no proportional score exists then).
    higher = op in HIGHER_IS_BETTER and not (op == "=" and a == 0)
    met = b >= a - _EPS if higher else b <= a + _EPS
    return target, actual, "quantitative", met, higher, "unknown", False, b


def _score_row(row: Row, ctx: Context) -> None:
    """Expected score (R4/R5), bounds (R7) and the subsets each rule walks."""
    w, s = row.weight, row.score
    if w is not None and s is not None:
        if s < -_HALF_CENT or s > w + _HALF_CENT:
            row.out_of_bounds = True
        elif s < w - _HALF_CENT:
            ctx.deducted.append(row)
    target = row.target
    if isinstance(target, Quantity) and (
        row.unit_mismatch or (target.unit is not None and target.unit not in _RATE_UNITS)
    ):
        ctx.unit_rows.append(row)
    if row.mode == "qualitative":
        ctx.qualitative.append(row)
        return
    if row.mode != "quantitative":
        return
    ctx.quantitative.append(row)
    if w is None or not isinstance(target, Quantity) or row.b_in_target_unit is None:
        return
    a, b = target.value, row.b_in_target_unit
    if row.met:
        row.expected = w
    elif row.higher_is_better:
        row.expected = w * b / a if a > 0 else None
    else:
        row.expected = w * max(0.0, 1.0 - (b - a) / a) if a > 0 else None
    if row.expected is not None and s is not None and not row.met:
        ctx.inputs_rounded |= not _is_multiple_of_cent(row.expected)


# --- R1–R3: the funding block ----------------------------------------------------------------


def check_execution_rate(ctx: Context) -> list[Flag]:
    """R1: 执行率 = E / P × 100 (2 decimals, rounded or truncated); P = 0 → not applicable."""
    flags = []
    for i, row in enumerate(ctx.record.funding):
        p, e, rate = row.annual_budget, row.executed, row.execution_rate
        if p is None or e is None or rate is None or p <= 0:
            continue
        lo, hi = _ratio_interval(e, p)
        if printed_matches(rate, lo * 100, hi * 100, ctx.config):
            continue
        exp = round(e / p * 100, 2)
        flags.append(
            ctx.flag(
                "EXEC_RATE_MISMATCH",
                "error",
                "R1",
                [
                    f"funding[{i}].execution_rate",
                    f"funding[{i}].annual_budget",
                    f"funding[{i}].executed",
                ],
                f"{row.label}：执行率应为 {_f(exp)}%（全年执行数 {_f(e)} ÷ 全年预算数 {_f(p)}），"
                f"表中为 {_f(rate)}%",
                f"{row.label}: execution rate should be {_f(exp)}% (executed {_f(e)} / budget "
                f"{_f(p)}), the form prints {_f(rate)}%",
                exp,
                rate,
            )
        )
    return flags


def check_budget_score(ctx: Context) -> list[Flag]:
    """R2: budget score = min(E/P, 1) × w_budget on the total row; E/P > 1 → BUDGET_OVERSPENT."""
    row, i = ctx.total_row, ctx.total_index
    if row is None or i is None:
        return []
    p, e, w, s = row.annual_budget, row.executed, row.weight, row.score
    if p is None or e is None or p <= 0:
        return []
    flags = []
    if e > p + _EPS:
        flags.append(
            ctx.flag(
                "BUDGET_OVERSPENT",
                "warning",
                "R2",
                [f"funding[{i}].executed", f"funding[{i}].annual_budget"],
                f"全年执行数 {_f(e)} 超过全年预算数 {_f(p)}（执行率 {_f(e / p * 100)}%），"
                "预算执行得分按满分封顶",
                f"executed {_f(e)} exceeds the annual budget {_f(p)} ({_f(e / p * 100)}%); "
                "the budget score is capped at its weight",
                p,
                e,
            )
        )
    if w is None or s is None or s < -_HALF_CENT or s > w + _HALF_CENT:
        return flags  # no score to check, or R7 reports it
    lo, hi = _ratio_interval(e, p)
    ok = printed_matches(s, min(lo, 1.0) * w, min(hi, 1.0) * w, ctx.config)
    rate = row.execution_rate
    if not ok and rate is not None and printed_matches(rate, lo * 100, hi * 100, ctx.config):
        # Forms may score from the printed (already rounded) rate: 81.15% × 10 → 8.11.
        r_lo, r_hi = (rate - _HALF_CENT) / 100, (rate + 0.01) / 100
        ok = printed_matches(s, min(r_lo, 1.0) * w, min(r_hi, 1.0) * w, ctx.config)
    if ok:
        return flags
    exp = round(min(e / p, 1.0) * w, 2)
    flags.append(
        ctx.flag(
            "BUDGET_SCORE_MISMATCH",
            "error",
            "R2",
            [
                f"funding[{i}].score",
                f"funding[{i}].weight",
                f"funding[{i}].annual_budget",
                f"funding[{i}].executed",
            ],
            f"预算执行得分应为 {_f(exp)}（min(执行率, 100%) × 分值 {_f(w)}），表中为 {_f(s)}",
            f"budget score should be {_f(exp)} (min(rate, 100%) × weight {_f(w)}), "
            f"the form prints {_f(s)}",
            exp,
            s,
        )
    )
    return flags


def check_funding_subrows(ctx: Context) -> list[Flag]:
    """R3: per money column, the 其中 rows add up to 年度资金总额."""
    total, t = ctx.total_row, ctx.total_index
    if total is None or t is None:
        return []
    subs = [(i, r) for i, r in enumerate(ctx.record.funding) if i != t and r.kind != "total"]
    if not subs:
        return []
    flags = []
    for col in _MONEY_COLUMNS:
        whole = getattr(total, col)
        parts = [(i, getattr(r, col)) for i, r in subs]
        present = [(i, v) for i, v in parts if v is not None]
        if whole is None or not present:
            continue
        got = sum(v for _, v in present)
        # Each printed part carries up to half a cent of rounding, and so does the whole.
        tol = ctx.config.sum_tolerance + _HALF_CENT * (len(present) + 1)
        if abs(got - whole) <= tol + _EPS:
            continue
        paths = [f"funding[{t}].{col}"] + [f"funding[{i}].{col}" for i, _ in present]
        flags.append(
            ctx.flag(
                "FUNDING_SUBROWS_SUM",
                "warning",
                "R3",
                paths,
                f"{_MONEY_ZH[col]}：其中各项合计 {_f(got)}，与年度资金总额 {_f(whole)} 不符",
                f"{_MONEY_EN[col]}: the sub-rows add up to {_f(got)}, "
                f"the total row says {_f(whole)}",
                whole,
                round(got, 2),
            )
        )
    return flags


# --- R4–R7: indicator scores -----------------------------------------------------------------


def check_proportional_score(ctx: Context) -> list[Flag]:
    """R4 (≥, >, =: s ≈ w·B/A) and R5 (≤, <: s ≈ w·max(0, 1 − (B−A)/A)) on missed targets."""
    flags = []
    tol = ctx.config.proportional_tolerance
    for row in ctx.quantitative:
        if row.mode != "quantitative" or row.met or row.out_of_bounds:
            continue
        w, s, exp = row.weight, row.score, row.expected
        if w is None or s is None or exp is None:
            continue
        if abs(s - exp) <= tol + _EPS or printed_matches(s, exp, exp, ctx.config):
            continue
        rule = "R4" if row.higher_is_better else "R5"
        assert isinstance(row.target, Quantity) and isinstance(row.actual, Quantity)
        a, b = row.target.value, row.b_in_target_unit or 0.0
        formula_zh = (
            f"{_f(w)}×{_f(b)}÷{_f(a)}"
            if row.higher_is_better
            else f"{_f(w)}×(1−({_f(b)}−{_f(a)})÷{_f(a)})"
        )
        name = ctx.record.indicators[row.index].name
        flags.append(
            ctx.flag(
                "SCORE_NOT_PROPORTIONAL",
                "warning",
                rule,
                [
                    f"indicators[{row.index}].score",
                    f"indicators[{row.index}].weight",
                    f"indicators[{row.index}].target_text",
                    f"indicators[{row.index}].actual_text",
                ],
                f"“{name}”未达到指标值，按比例得分应约为 {_f(exp)}（{formula_zh}），表中为 {_f(s)}",
                f"'{name}' missed its target; the proportional score is about {_f(exp)} "
                f"({formula_zh.replace('×', '*').replace('÷', '/').replace('−', '-')}), "
                f"the form prints {_f(s)}",
                round(exp, 2),
                s,
            )
        )
    return flags


def check_qualitative_band(ctx: Context) -> list[Flag]:
    """R6: 达成 → s ∈ [0.8w, w]; 部分达成 → [0.6w, 0.8w); 未达成 → [0, 0.6w)."""
    flags = []
    bands = ctx.config.qualitative_bands
    for row in ctx.qualitative:
        if row.mode != "qualitative" or row.out_of_bounds or row.level not in bands:
            continue
        w, s = row.weight, row.score
        if w is None or s is None or w <= 0:
            continue
        band = bands[row.level]
        lo, hi = band.lower * w, band.upper * w
        upper_inclusive = band.upper >= 1.0 or (
            row.level == "partial" and ctx.config.partial_upper_inclusive
        )
        above = s > hi + _EPS if upper_inclusive else s >= hi - _EPS
        if lo - _EPS <= s and not above:
            continue
        close = "]" if upper_inclusive else ")"
        name = ctx.record.indicators[row.index].name
        zh_level = _LEVEL_ZH[row.level]
        flags.append(
            ctx.flag(
                "QUALITATIVE_SCORE_BAND",
                "warning",
                "R6",
                [
                    f"indicators[{row.index}].score",
                    f"indicators[{row.index}].actual_text",
                    f"indicators[{row.index}].weight",
                ],
                f"“{name}”完成情况为“{zh_level}”，得分应在 [{_f(lo)}, {_f(hi)}{close} 之间，"
                f"表中为 {_f(s)}",
                f"'{name}' is '{row.level}', so its score should lie in "
                f"[{_f(lo)}, {_f(hi)}{close}; "
                f"the form prints {_f(s)}",
                f"[{_f(lo)}, {_f(hi)}{close}",
                s,
            )
        )
    return flags


def check_score_bounds(ctx: Context) -> list[Flag]:
    """R7: 0 ≤ s ≤ w on every indicator row and on the budget score."""
    items: list[tuple[int, float | None, float | None]] = []
    total, t = ctx.total_row, ctx.total_index
    if total is not None and t is not None:
        items.append((-1, total.weight, total.score))
    items.extend((row.index, row.weight, row.score) for row in ctx.rows)
    flags = []
    for index, w, s in items:
        if s is None or (s >= -_HALF_CENT and (w is None or s <= w + _HALF_CENT)):
            continue
        base = f"funding[{t}]" if index < 0 else f"indicators[{index}]"
        name = "预算执行" if index < 0 else ctx.record.indicators[index].name
        fields = [f"{base}.score", f"{base}.weight"]
        if s < -_HALF_CENT:
            flags.append(
                ctx.flag(
                    "SCORE_NEGATIVE",
                    "error",
                    "R7",
                    fields,
                    f"“{name}”得分 {_f(s)} 为负数",
                    f"'{name}' has a negative score {_f(s)}",
                    0.0,
                    s,
                )
            )
        elif w is not None and s > w + _HALF_CENT:
            flags.append(
                ctx.flag(
                    "SCORE_ABOVE_WEIGHT",
                    "error",
                    "R7",
                    fields,
                    f"“{name}”得分 {_f(s)} 超过分值 {_f(w)}",
                    f"'{name}' scores {_f(s)}, more than its weight {_f(w)}",
                    w,
                    s,
                )
            )
    return flags


# --- R8–R10: sums and grade ------------------------------------------------------------------


def _budget_weight(ctx: Context) -> float | None:
    """w_budget: printed on the total row; the default when only a score is printed; 0 when the
    block scores nothing (the budget is then judged as an indicator, e.g. 预算执行率)."""
    total = ctx.total_row
    if total is None:
        return None
    if total.weight is not None:
        return total.weight
    return ctx.config.budget_weight if total.score is not None else 0.0


def check_weights_sum(ctx: Context) -> list[Flag]:
    """R8: Σ indicator weights + w_budget = total_weight; printed 一级 weights add up too."""
    flags = []
    weights = [r.weight for r in ctx.rows]
    w_budget = _budget_weight(ctx)
    if weights and all(w is not None for w in weights) and w_budget is not None:
        got = sum(w for w in weights if w is not None) + w_budget
        want = (
            ctx.record.total_weight
            if ctx.record.total_weight is not None
            else ctx.config.total_weight
        )
        if abs(got - want) > ctx.config.sum_tolerance + _EPS:
            paths = [f"indicators[{r.index}].weight" for r in ctx.rows]
            if ctx.total_index is not None:
                paths.insert(0, f"funding[{ctx.total_index}].weight")
            if ctx.record.total_weight is not None:
                paths.insert(0, "total_weight")
            flags.append(
                ctx.flag(
                    "WEIGHTS_SUM",
                    "error",
                    "R8",
                    paths,
                    f"各指标分值之和（含预算执行 {_f(w_budget)}）为 {_f(got)}，应为 {_f(want)}",
                    f"the weights (budget {_f(w_budget)} included) add up to {_f(got)}, "
                    f"not {_f(want)}",
                    want,
                    round(got, 2),
                )
            )
    for label, printed in (ctx.level1_weights or {}).items():
        key = _level1_key(label)
        idx = [
            r.index
            for r in ctx.rows
            if _level1_key(ctx.record.indicators[r.index].level1 or "") == key
        ]
        paths = [f"indicators[{i}].weight" for i in idx]
        parts = [ctx.rows[i].weight for i in idx]
        if not idx and "预算" in key and w_budget is not None and ctx.total_index is not None:
            paths, parts = [f"funding[{ctx.total_index}].weight"], [w_budget]
        if not parts or any(p is None for p in parts):
            continue
        got = sum(p for p in parts if p is not None)
        if abs(got - printed) <= ctx.config.sum_tolerance + _EPS:
            continue
        flags.append(
            ctx.flag(
                "LEVEL1_WEIGHTS_SUM",
                "error",
                "R8",
                paths,
                f"“{key}”下各指标分值之和为 {_f(got)}，与标注的 {_f(printed)} 分不符",
                f"the rows under '{key}' weigh {_f(got)} in total, the label prints {_f(printed)}",
                printed,
                round(got, 2),
            )
        )
    return flags


def _level1_key(label: str) -> str:
    """'产出指标(50分)' → '产出指标': the printed weight is not part of the name."""
    return _LEVEL1_WEIGHT_RE.sub("", normalize_text(label))


def check_total_score(ctx: Context) -> list[Flag]:
    """R9: total_score = budget score + Σ indicator scores (±0.01; ±0.1 with rounded inputs)."""
    total_score = ctx.record.total_score
    if total_score is None:
        return []
    parts: list[float] = []
    total, t = ctx.total_row, ctx.total_index
    if total is not None and t is not None:
        if total.score is None and total.weight is not None:
            return []  # the budget score is missing: the sum cannot be judged
        if total.score is not None:
            parts.append(total.score)
    for row in ctx.rows:
        if row.score is None:
            if row.weight is None:
                continue
            return []
        parts.append(row.score)
    if not parts:
        return []
    got = sum(parts)
    cfg = ctx.config
    tol = cfg.total_tolerance_rounded if ctx.inputs_rounded else cfg.total_tolerance
    if abs(got - total_score) <= tol + _EPS:
        return []
    paths = ["total_score"]
    if total is not None and total.score is not None:
        paths.append(f"funding[{t}].score")
    paths.extend(f"indicators[{r.index}].score" for r in ctx.rows if r.score is not None)
    return [
        ctx.flag(
            "TOTAL_SCORE_MISMATCH",
            "error",
            "R9",
            paths,
            f"总分应为 {_f(got)}（预算执行得分与各指标得分之和），表中为 {_f(total_score)}",
            f"the total should be {_f(got)} (budget score plus indicator scores), "
            f"the form prints {_f(total_score)}",
            round(got, 2),
            total_score,
        )
    ]


_GRADE_WORDS = (
    ("不合格", "差"),
    ("较差", "差"),
    ("优秀", "优"),
    ("良好", "良"),
    ("中等", "中"),
    ("合格", "中"),
    ("一般", "中"),
    ("优", "优"),
    ("良", "良"),
    ("中", "中"),
    ("差", "差"),
)


def grade_for(total: float, config: CheckConfig) -> str:
    """The grade a total earns under the configured bands (highest threshold first)."""
    for name, lowest in sorted(config.grade_bands.items(), key=lambda kv: -kv[1]):
        if total >= lowest - _EPS:
            return name
    return min(config.grade_bands.items(), key=lambda kv: kv[1])[0]


def normalize_grade(grade: str) -> str | None:
    """'优秀' → '优', '良好' → '良', '合格' → '中', '不合格' → '差'; None when unreadable."""
    text = normalize_text(grade)
    for word, name in _GRADE_WORDS:
        if word in text:
            return name
    return None


def check_grade(ctx: Context) -> list[Flag]:
    """R10: grade from total_score: ≥ 90 优, [80, 90) 良, [60, 80) 中, < 60 差 (configurable)."""
    total, grade = ctx.record.total_score, ctx.record.grade
    if total is None or grade is None or _blank(grade):
        return []
    want = grade_for(total, ctx.config)
    got = normalize_grade(grade)
    if got is None and grade.strip() in ctx.config.grade_bands:
        got = grade.strip()
    if got is None or got == want:
        return []
    return [
        ctx.flag(
            "GRADE_MISMATCH",
            "error",
            "R10",
            ["grade", "total_score"],
            f"总分 {_f(total)} 对应的评分等级应为“{want}”，表中为“{grade}”",
            f"a total of {_f(total)} earns grade '{want}', the form prints '{grade}'",
            want,
            grade,
        )
    ]


# --- R11–R16: reasons, split, goals ----------------------------------------------------------


def check_deviation_reason(ctx: Context) -> list[Flag]:
    """R11: a deducted score (s < w) needs a 偏差原因."""
    flags = []
    for row in ctx.deducted:
        w, s = row.weight, row.score
        ind = ctx.record.indicators[row.index]
        if w is None or s is None or s >= w - _HALF_CENT or not _blank(ind.deviation_reason):
            continue
        flags.append(
            ctx.flag(
                "MISSING_DEVIATION_REASON",
                "warning",
                "R11",
                [f"indicators[{row.index}].deviation_reason", f"indicators[{row.index}].score"],
                f"“{ind.name}”扣分（{_f(s)}/{_f(w)}）但未填写偏差原因分析",
                f"'{ind.name}' lost points ({_f(s)}/{_f(w)}) but gives no deviation reason",
                "偏差原因" if ctx.lang != "en" else "a deviation reason",
                None,
            )
        )
    return flags


def check_overachievement(ctx: Context) -> list[Flag]:
    """R12: B ≥ 1.3·A on a ≥-indicator expects a reason (the target may have been set too low)."""
    flags = []
    ratio = ctx.config.overachievement_ratio
    for row in ctx.quantitative:
        target = row.target
        if (
            row.mode != "quantitative"
            or not isinstance(target, Quantity)
            or target.op not in (">=", ">")
        ):
            continue
        a, b = target.value, row.b_in_target_unit
        ind = ctx.record.indicators[row.index]
        if b is None or a <= 0 or b < ratio * a - _EPS or not _blank(ind.deviation_reason):
            continue
        flags.append(
            ctx.flag(
                "OVERACHIEVED_NO_REASON",
                "info",
                "R12",
                [
                    f"indicators[{row.index}].deviation_reason",
                    f"indicators[{row.index}].actual_text",
                    f"indicators[{row.index}].target_text",
                ],
                f"“{ind.name}”实际完成值 {_f(b)} 达到指标值 {_f(a)} 的 {_f(b / a)} 倍，"
                "宜说明原因（指标值是否偏低）",
                f"'{ind.name}' reached {_f(b)}, {_f(b / a)} times its target {_f(a)}; "
                "a reason is expected (was the target set too low?)",
                round(ratio * a, 2),
                b,
            )
        )
    return flags


def check_deducted_although_met(ctx: Context) -> list[Flag]:
    """R13: the target is met (full marks by R4/R5) but s < w."""
    flags = []
    for row in ctx.quantitative:
        w, s = row.weight, row.score
        if row.mode != "quantitative" or not row.met or row.out_of_bounds or w is None or s is None:
            continue
        if s >= w - _HALF_CENT:
            continue
        ind = ctx.record.indicators[row.index]
        flags.append(
            ctx.flag(
                "SCORE_DEDUCTED_TARGET_MET",
                "warning",
                "R13",
                [
                    f"indicators[{row.index}].score",
                    f"indicators[{row.index}].weight",
                    f"indicators[{row.index}].target_text",
                    f"indicators[{row.index}].actual_text",
                ],
                f"“{ind.name}”实际完成值 {ind.actual_text} 已达到指标值 {ind.target_text}，"
                f"应得满分 {_f(w)}，表中为 {_f(s)}",
                f"'{ind.name}' met its target ({ind.actual_text} vs {ind.target_text}) "
                f"and should score "
                f"the full {_f(w)}, the form prints {_f(s)}",
                w,
                s,
            )
        )
    return flags


def check_unit_compatibility(ctx: Context) -> list[Flag]:
    """Part of R4/R5: compare only in compatible units; report, never convert by guesswork."""
    flags = []
    for row in ctx.unit_rows:
        ind = ctx.record.indicators[row.index]
        target = row.target
        if not isinstance(target, Quantity) or (
            not row.unit_mismatch and (target.unit is None or target.unit in _RATE_UNITS)
        ):
            continue
        implausible = (
            target.unit is not None
            and target.unit not in _RATE_UNITS
            and _RATE_NAME_RE.search(ind.name) is not None
        )
        if not row.unit_mismatch and not implausible:
            continue
        paths = [f"indicators[{row.index}].target_text", f"indicators[{row.index}].actual_text"]
        if row.unit_mismatch and isinstance(row.actual, Quantity):
            flags.append(
                ctx.flag(
                    "UNIT_MISMATCH",
                    "info",
                    "R4",
                    paths,
                    f"“{ind.name}”指标值单位“{target.unit or '无'}”与实际完成值单位"
                    f"“{row.actual.unit}”不一致，未比较得分",
                    f"'{ind.name}': target unit '{target.unit}' and actual unit "
                    f"'{row.actual.unit}' differ; "
                    "the score was not compared",
                    target.unit,
                    row.actual.unit,
                )
            )
        if implausible:
            flags.append(
                ctx.flag(
                    "UNIT_IMPLAUSIBLE",
                    "info",
                    "R4",
                    paths[:1],
                    f"“{ind.name}”是比率类指标，但指标值单位为“{target.unit}”",
                    f"'{ind.name}' is a rate, but its target is in '{target.unit}'",
                    "%",
                    target.unit,
                )
            )
    return flags


@lru_cache(maxsize=4096)
def _split_key(level1: str, keys: tuple[str, ...]) -> str | None:
    """The weight_split key a 一级 label belongs to ('产出指标' → '产出'), by substring."""
    return next((key for key in keys if key in level1), None)


def check_weight_split(ctx: Context) -> list[Flag]:
    """R14: default split 产出 50 / 效益 30 / 满意度 10 / 预算执行 10 — report deviations (info)."""
    split = ctx.config.weight_split
    if not ctx.rows or any(r.weight is None for r in ctx.rows):
        return []
    sums = dict.fromkeys(split, 0.0)
    keys = tuple(split)
    indicators = ctx.record.indicators
    for row in ctx.rows:
        key = _split_key(indicators[row.index].level1 or "", keys)
        if key is not None:
            sums[key] += row.weight or 0.0
    budget_keys = [k for k in split if "预算" in k]
    w_budget = _budget_weight(ctx)
    for key in budget_keys:
        sums[key] += w_budget or 0.0
    if all(abs(sums[k] - split[k]) <= ctx.config.sum_tolerance + _EPS for k in split):
        return []
    want = "/".join(f"{k} {split[k]:g}" for k in split)
    got = "/".join(f"{k} {sums[k]:g}" for k in split)
    paths = [f"indicators[{r.index}].weight" for r in ctx.rows] if ctx.provenance else []
    return [
        ctx.flag(
            "WEIGHT_SPLIT_DEVIATES",
            "info",
            "R14",
            [],  # form-wide, as the gold labels it; the weights still decide the origin
            f"权重分配为 {got}，与常用分配 {want} 不同（允许，仅提示）",
            f"the weight split is {got}, the usual split is {want} (allowed; for information)",
            want,
            got,
            involved=paths,
        )
    ]


def check_goals(ctx: Context) -> list[Flag]:
    """R15: 年度总体目标 has both 预期目标 and 实际完成情况."""
    missing = [
        name for name in ("goal_expected", "goal_actual") if _blank(getattr(ctx.record, name))
    ]
    if not missing:
        return []
    zh = {"goal_expected": "预期目标", "goal_actual": "实际完成情况"}
    return [
        ctx.flag(
            "MISSING_GOAL",
            "warning",
            "R15",
            missing,
            f"年度总体目标缺少{'、'.join(zh[m] for m in missing)}",
            f"the annual goal lacks {' and '.join(missing)}",
            None,
            None,
        )
    ]


_EXECUTION_NAME_RE = re.compile("预算执行|执行率|资金执行|支出进度")


def check_low_execution(ctx: Context) -> list[Flag]:
    """R16: an execution rate below 90% expects an explanation (info)."""
    row, i = ctx.total_row, ctx.total_index
    if row is None or i is None:
        return []
    rate = row.execution_rate
    if rate is None and row.annual_budget and row.executed is not None and row.annual_budget > 0:
        rate = row.executed / row.annual_budget * 100
    if rate is None or rate >= ctx.config.low_execution_rate - _EPS:
        return []
    for ind in ctx.record.indicators:
        if _EXECUTION_NAME_RE.search(ind.name) and not _blank(ind.deviation_reason):
            return []
    limit = _f(ctx.config.low_execution_rate)
    return [
        ctx.flag(
            "LOW_EXECUTION_NO_EXPLANATION",
            "info",
            "R16",
            [f"funding[{i}].execution_rate"],
            f"预算执行率 {_f(rate)}% 低于 {limit}%，宜说明原因",
            f"the execution rate {_f(rate)}% is below {limit}%; an explanation is expected",
            ctx.config.low_execution_rate,
            round(rate, 2),
        )
    ]


RULES: tuple[Callable[[Context], list[Flag]], ...] = (
    check_execution_rate,  # R1
    check_budget_score,  # R2
    check_funding_subrows,  # R3
    check_proportional_score,  # R4, R5
    check_unit_compatibility,  # R4/R5 precondition
    check_qualitative_band,  # R6
    check_score_bounds,  # R7
    check_weights_sum,  # R8
    check_total_score,  # R9
    check_grade,  # R10
    check_deviation_reason,  # R11
    check_overachievement,  # R12
    check_deducted_although_met,  # R13
    check_weight_split,  # R14
    check_goals,  # R15
    check_low_execution,  # R16
)
