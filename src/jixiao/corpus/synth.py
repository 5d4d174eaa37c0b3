"""Plausible synthetic FormRecords, consistent or with exactly one planted defect.

The 8 real forms are too few to measure anything, so the renderers (`corpus/render/`) draw these
records as PDFs and the eval harness uses the records as gold. Wording comes from `vocab.py`
(taken from real forms); arithmetic follows shared/spec/scoring-rules.md so that a consistent
form raises no error or warning under R1–R16, and a planted form raises exactly the codes listed
in its `planted`.

Convention for planted codes (one finding per defect, as a careful checker reports it):
R7 (SCORE_ABOVE_WEIGHT) is the finding for a score above its weight, not also R4/R5/R6 on the
same row; R13 (SCORE_DEDUCTED_TARGET_MET) is the finding for a met quantitative target scored
below its weight, not also R4/R5; R4/R5 judge proportionality only where the target was missed.

Determinism: every draw comes from `random.Random` instances seeded from `seed`; no global
random state, no clock.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from jixiao.contract import FormRecord
from jixiao.corpus import vocab
from jixiao.corpus.vocab import Domain, IndicatorSpec
from jixiao.errors import ConfigError

PROFILES: tuple[str, ...] = ("central", "ab", "sichuan")
_PROFILE_MIX = (0.5, 0.3, 0.2)

PLANTABLE_CODES: tuple[str, ...] = (
    "TOTAL_SCORE_MISMATCH",
    "GRADE_MISMATCH",
    "SCORE_ABOVE_WEIGHT",
    "SCORE_DEDUCTED_TARGET_MET",
    "MISSING_DEVIATION_REASON",
    "EXEC_RATE_MISMATCH",
    "FUNDING_SUBROWS_SUM",
)

GRADES: tuple[str, ...] = ("优", "良", "中", "差")
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class PlantedFlag:
    code: str  # check code, e.g. "TOTAL_SCORE_MISMATCH"
    fields: tuple[str, ...]  # JSON paths into the form, e.g. ("indicators[3].score",)


@dataclass(frozen=True)
class SyntheticForm:
    id: str  # "syn-<seed>-<nnn>", stable for a given seed
    record: FormRecord
    profile: str  # "central" | "ab" | "sichuan"
    planted: tuple[PlantedFlag, ...]  # empty for consistent forms


def generate_forms(
    seed: int, count: int, *, profile: str | None = None, planted_fraction: float = 0.25
) -> list[SyntheticForm]:
    """`count` forms; round(count × planted_fraction) of them carry exactly one defect.

    `profile=None` mixes the profiles (about 50 % central, 30 % ab, 20 % sichuan). Planted
    defects cycle through PLANTABLE_CODES in a seeded order so every code is represented.
    """
    if profile is not None and profile not in PROFILES:
        raise ConfigError(
            None,
            reason=f"unknown synthetic form profile '{profile}'",
            hint=f"use one of {', '.join(PROFILES)}",
        )
    if count < 0:
        raise ConfigError(
            None, reason=f"form count must be >= 0, got {count}", hint="pass 0 or more"
        )
    if not 0.0 <= planted_fraction <= 1.0:
        raise ConfigError(
            None,
            reason=f"planted_fraction must lie in [0, 1], got {planted_fraction}",
            hint="pass e.g. 0.25",
        )
    master = random.Random(seed)
    n_planted = round(count * planted_fraction)
    planted_at = set(master.sample(range(count), n_planted))
    codes: list[str] = []
    while len(codes) < n_planted:
        block = list(PLANTABLE_CODES)
        master.shuffle(block)
        codes.extend(block)
    code_iter = iter(codes)
    forms = []
    for index in range(count):
        rng = random.Random(master.getrandbits(64))
        chosen = profile or rng.choices(PROFILES, weights=_PROFILE_MIX)[0]
        defect = next(code_iter) if index in planted_at else None
        record, planted = _make_form(rng, chosen, defect)
        forms.append(
            SyntheticForm(
                id=f"syn-{seed}-{index:03d}", record=record, profile=chosen, planted=planted
            )
        )
    return forms


def planted_summary(forms: Iterable[SyntheticForm]) -> dict[str, int]:
    """Planted check code → number of forms that carry it."""
    counts: Counter[str] = Counter()
    for form in forms:
        counts.update({flag.code for flag in form.planted})
    return dict(sorted(counts.items()))


_TARGET_RE = re.compile(r"^([≥≤=<>])(\d+(?:\.\d+)?)(.*)$")


def split_target_text(text: str) -> tuple[str, str, str]:
    """Split "≥95%" into ("≥", "95", "%") for a 指标性质 | 指标值 | 度量单位 layout.

    A target without a leading operator is qualitative: ("", text, ""). Joining the three parts
    gives back `text` exactly, which is how the contract stores split columns.
    """
    match = _TARGET_RE.match(text)
    if match is None:
        return "", text, ""
    op, number, unit = match.groups()
    return op, number, unit


# ---- form assembly -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    profile: str
    paren_numbers: bool  # "≥25.00(项)" rather than "≥25项"
    truncate: bool  # rates and budget score truncated (81.1568 → 81.15) rather than rounded
    null_zero_rate: bool  # a sub-row with P = 0 prints "-" for its rate
    yuan: bool  # money in 元 (×10000) instead of 万元
    grade_printed: bool
    actual_unit: bool  # 完成值 printed with its unit ("865公里") or bare ("865")
    miss_rate: float  # share of rows whose target is missed
    worst_factor: float  # lowest B/A on a missed row
    reason_causes: tuple[str, ...]  # this domain's causes of a missed target, then generic ones


@dataclass
class _Row:
    level1: str
    level2: str
    spec: IndicatorSpec
    weight: int
    target: float | None = None  # A, as printed
    actual: float | None = None  # B, as printed
    target_text: str = ""
    actual_text: str = ""
    score: Decimal = Decimal(0)
    met: bool = True
    reason: str | None = None


@dataclass
class _Draft:
    style: _Style
    title: str
    year: int
    project_name: str
    competent_department: str
    implementing_unit: str
    funding: list[dict[str, Any]]
    goal_expected: str
    goal_actual: str
    rows: list[_Row]


def _make_form(
    rng: random.Random, profile: str, defect: str | None
) -> tuple[FormRecord, tuple[PlantedFlag, ...]]:
    draft = _draft_form(rng, profile)
    planted: tuple[PlantedFlag, ...] = ()
    post_fields: tuple[str, ...] = ()
    if defect in ("TOTAL_SCORE_MISMATCH", "GRADE_MISMATCH"):
        pass  # applied to the finished totals below
    elif defect is not None:
        post_fields = _PLANTERS[defect](rng, draft)
    data = _finish(draft)
    if defect == "TOTAL_SCORE_MISMATCH":
        post_fields = _plant_total_mismatch(rng, data)
    elif defect == "GRADE_MISMATCH":
        post_fields = _plant_grade_mismatch(rng, data)
    if defect is not None:
        planted = (PlantedFlag(code=defect, fields=post_fields),)
    return FormRecord.model_validate(data), planted


def _draft_form(rng: random.Random, profile: str) -> _Draft:
    severity = rng.choices(("good", "fair", "poor"), weights=(0.65, 0.25, 0.1))[0]
    miss_rate, worst = {"good": (0.08, 0.8), "fair": (0.3, 0.6), "poor": (0.7, 0.3)}[severity]
    domain = rng.choice(vocab.DOMAINS)
    style = _Style(
        profile=profile,
        paren_numbers=profile == "central" or (profile == "ab" and rng.random() < 0.6),
        truncate=rng.random() < 0.3,
        null_zero_rate=rng.random() < 0.15,
        yuan=rng.random() < 0.05,
        grade_printed=rng.random() < {"central": 0.85, "ab": 0.8, "sichuan": 0.6}[profile],
        actual_unit=profile != "sichuan" or rng.random() < 0.5,
        miss_rate=miss_rate,
        worst_factor=worst,
        reason_causes=domain.reason_causes + vocab.REASON_CAUSES,
    )
    year = rng.randint(2019, 2024)
    region = _pick_region(rng, profile)
    competent, implementing = _departments(rng, domain, region)
    if profile == "central":
        title = vocab.TITLE_CENTRAL
    elif profile == "ab":
        title = rng.choice(vocab.TITLES_AB)
    else:
        title = vocab.TITLE_SICHUAN
    # Sichuan's template fixes 预算执行情况(10分); elsewhere 15 or 20 occur now and then.
    budget_weight = rng.choices((10, 15, 20), weights=(0.85, 0.07, 0.08))[0]
    if profile == "sichuan":
        budget_weight = 10
    return _Draft(
        style=style,
        title=title,
        year=year,
        project_name=_project_name(rng, domain, region, year, implementing),
        competent_department=competent,
        implementing_unit=implementing,
        funding=_funding(rng, style, budget_weight),
        goal_expected=_goal_expected(rng, domain),
        goal_actual=_goal_actual(rng, domain, year),
        rows=_indicators(rng, style, domain, 100 - budget_weight),
    )


def _finish(draft: _Draft) -> dict[str, Any]:
    """The FormRecord as a dict, with total and grade computed from the printed scores."""
    budget_score = Decimal(str(draft.funding[0]["score"]))
    total = budget_score + sum((row.score for row in draft.rows), Decimal(0))
    indicators = [
        {
            "level1": row.level1,
            "level2": row.level2,
            "name": row.spec.name,
            "target_text": row.target_text,
            "actual_text": row.actual_text,
            "weight": float(row.weight),
            "score": float(row.score),
            "deviation_reason": row.reason,
        }
        for row in draft.rows
    ]
    return {
        "form_type": "project",
        "title": draft.title,
        "year": draft.year,
        "project_name": draft.project_name,
        "competent_department": draft.competent_department,
        "implementing_unit": draft.implementing_unit,
        "funding_unit": "元" if draft.style.yuan else "万元",
        "funding": draft.funding,
        "goal_expected": draft.goal_expected,
        "goal_actual": draft.goal_actual,
        "indicators": indicators,
        "total_weight": 100.0,
        "total_score": float(total),
        "grade": grade_for(float(total)) if draft.style.grade_printed else None,
    }


def grade_for(total: float) -> str:
    """R10 default bands: ≥ 90 优, [80, 90) 良, [60, 80) 中, < 60 差."""
    if total >= 90:
        return "优"
    if total >= 80:
        return "良"
    if total >= 60:
        return "中"
    return "差"


# ---- header --------------------------------------------------------------------------------


def _pick_region(rng: random.Random, profile: str) -> str:
    if profile == "sichuan":
        return vocab.SICHUAN
    shanghai, municipality = {"central": (0.7, 0.15), "ab": (0.4, 0.2)}[profile]
    draw = rng.random()
    if draw < shanghai:
        return vocab.SHANGHAI
    if draw < shanghai + municipality:
        return rng.choice(vocab.MUNICIPALITIES)
    return rng.choice(vocab.PROVINCES)


def _departments(rng: random.Random, domain: Domain, region: str) -> tuple[str, str]:
    municipality = region.endswith("市")
    bureau = domain.city_bureau if municipality else domain.province_bureau
    # Municipal forms often print the short "市教育委员会".
    prefix = "市" if municipality and rng.random() < 0.2 else region
    competent = prefix + bureau
    if rng.random() < 0.45:
        return competent, competent
    return competent, prefix + rng.choice(domain.units)


def _project_name(rng: random.Random, domain: Domain, region: str, year: int, unit: str) -> str:
    for _ in range(10):
        name = rng.choice(domain.projects).format(region=region, year=year, unit=unit)
        if 6 <= len(name) <= 30:
            return name
    return next(p for p in domain.projects if "{" not in p)


# ---- funding -------------------------------------------------------------------------------


def _quantize(value: Decimal, truncate: bool) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_DOWN if truncate else ROUND_HALF_UP)


def _rate(executed: int, budget: int, style: _Style) -> float | None:
    if budget == 0:
        return None if style.null_zero_rate else 0.0
    return float(_quantize(Decimal(executed) * 100 / Decimal(budget), style.truncate))


def _split_cents(total: int, shares: Sequence[float]) -> list[int]:
    """Split integer cents by shares; the first part takes the remainder so parts add up."""
    parts = [math.floor(total * share) for share in shares]
    parts[0] = total - sum(parts[1:])
    return parts


def _funding(rng: random.Random, style: _Style, budget_weight: int) -> list[dict[str, Any]]:
    labels = (
        vocab.FUNDING_LABELS_SICHUAN
        if style.profile == "sichuan"
        else (vocab.FUNDING_LABELS_AB if style.profile == "ab" else vocab.FUNDING_LABELS_CENTRAL)
    )
    # Cents of the printed unit: tens to tens of thousands of 万元 (×10000 when printed in 元).
    scale = 10000 if style.yuan else 1
    annual = round(math.exp(rng.uniform(math.log(20), math.log(60000))) * 100 * scale)
    initial = annual if rng.random() < 0.6 else round(annual * rng.uniform(0.6, 1.4))
    rate_draw = rng.random()
    if rate_draw < 0.12:
        ratio = 1.0
    elif rate_draw < 0.62:
        ratio = rng.uniform(0.95, 1.0)
    elif rate_draw < 0.92:
        ratio = rng.uniform(0.85, 0.95)
    else:
        ratio = rng.uniform(0.6, 0.85)
    executed = min(annual, math.floor(annual * ratio))

    # Shares of the sub-rows after the fiscal row (carryover/other, or 专户/单位/其他).
    n_sub = len(labels) - 1
    shares = [0.0] * n_sub
    initial_shares = [0.0] * n_sub
    draw = rng.random()
    if style.profile == "sichuan":
        if draw < 0.2:
            shares[2] = rng.uniform(0.05, 0.4)  # 单位资金
            initial_shares[2] = shares[2]
        elif draw < 0.3:
            shares[1] = rng.uniform(0.05, 0.3)  # 财政专户管理资金
            initial_shares[1] = shares[1]
        elif draw < 0.35:
            shares[3] = rng.uniform(0.02, 0.2)  # 其他资金
    elif draw < 0.15:
        shares[1] = rng.uniform(0.05, 0.4)  # 上年结转: not known when the year's budget is set
    elif draw < 0.25:
        shares[2] = rng.uniform(0.05, 0.3)  # 其他资金
        initial_shares[2] = shares[2]
    annual_parts = _split_cents(annual, [1.0 - sum(shares), *shares[1:]])
    initial_parts = _split_cents(initial, [1.0 - sum(initial_shares), *initial_shares[1:]])
    executed_parts = _split_executed(executed, annual, annual_parts)

    rows: list[dict[str, Any]] = []
    sub_parts = zip(initial_parts, annual_parts, executed_parts, strict=True)
    all_parts = [(initial, annual, executed), *sub_parts]
    for index, ((label, kind), (ini, ann, exe)) in enumerate(zip(labels, all_parts, strict=True)):
        row: dict[str, Any] = {
            "label": label,
            "kind": kind,
            "initial_budget": ini / 100,
            "annual_budget": ann / 100,
            "executed": exe / 100,
            "weight": None,
            "execution_rate": _rate(exe, ann, style),
            "score": None,
        }
        if index == 0:
            ratio_exact = Decimal(exe) / Decimal(ann)
            row["weight"] = float(budget_weight)
            row["score"] = float(
                _quantize(min(ratio_exact, Decimal(1)) * budget_weight, style.truncate)
            )
        rows.append(row)
    return rows


def _split_executed(executed: int, annual: int, annual_parts: list[int]) -> list[int]:
    """Executed cents per sub-row, proportional to budget, never above a row's budget."""
    parts = [annual_part * executed // annual for annual_part in annual_parts]
    missing = executed - sum(parts)
    for index in range(len(parts)):
        room = annual_parts[index] - parts[index]
        take = min(room, missing)
        parts[index] += take
        missing -= take
    return parts


# ---- indicators ----------------------------------------------------------------------------

_OUTPUT_L2 = (
    vocab.LEVEL2_QUANTITY,
    vocab.LEVEL2_QUALITY,
    vocab.LEVEL2_TIMELINESS,
    vocab.LEVEL2_COST,
)
_BENEFIT_L2 = (
    vocab.LEVEL2_ECONOMIC,
    vocab.LEVEL2_SOCIAL,
    vocab.LEVEL2_ECOLOGICAL,
    vocab.LEVEL2_SUSTAINABLE,
)
_GROUP_SPLITS = {
    90: ((50, 30, 10),) * 7
    + (
        (60, 20, 10),
        (40, 40, 10),
        (50, 20, 20),
        (45, 35, 10),
        (50, 25, 15),
        (40, 30, 20),
        (55, 25, 10),
    ),
    85: ((50, 25, 10), (45, 30, 10), (40, 30, 15), (50, 20, 15)),
    80: ((40, 30, 10), (50, 20, 10), (45, 25, 10), (40, 20, 20)),
}


def _pool(
    domain: Domain, level2: str
) -> tuple[tuple[IndicatorSpec, ...], tuple[IndicatorSpec, ...]]:
    """(domain-specific specs, generic specs) for one 二级指标."""
    pools: dict[str, tuple[tuple[IndicatorSpec, ...], tuple[IndicatorSpec, ...]]] = {
        vocab.LEVEL2_QUANTITY: (domain.quantity, ()),
        vocab.LEVEL2_QUALITY: (domain.quality, vocab.GENERIC_QUALITY),
        vocab.LEVEL2_TIMELINESS: (domain.timeliness, vocab.GENERIC_TIMELINESS),
        vocab.LEVEL2_COST: ((), vocab.GENERIC_COST),
        vocab.LEVEL2_ECONOMIC: (domain.economic, vocab.GENERIC_ECONOMIC),
        vocab.LEVEL2_SOCIAL: (domain.social, vocab.GENERIC_SOCIAL),
        vocab.LEVEL2_ECOLOGICAL: ((), vocab.GENERIC_ECOLOGICAL),
        vocab.LEVEL2_SUSTAINABLE: ((), vocab.GENERIC_SUSTAINABLE),
        vocab.LEVEL2_SATISFACTION: (domain.satisfaction, vocab.GENERIC_SATISFACTION),
    }
    own, generic = pools[level2]
    own_names = {spec.name for spec in own}
    return own, tuple(spec for spec in generic if spec.name not in own_names)


def _allocate(
    rng: random.Random,
    rows: int,
    categories: Sequence[str],
    base: Sequence[str],
    bias: Sequence[float],
    capacity: dict[str, int],
) -> dict[str, int]:
    """Rows per 二级指标: the `base` categories get one row each, the rest go by `bias`."""
    counts = dict.fromkeys(categories, 0)
    for category in base:
        counts[category] = 1
    for _ in range(rows - len(base)):
        open_ = [c for c in categories if counts[c] < capacity[c]]
        weights = [bias[categories.index(c)] for c in open_]
        counts[rng.choices(open_, weights=weights)[0]] += 1
    return counts


def _split_weight(rng: random.Random, total: int, parts: int) -> list[int]:
    """Integer weights ≥ 1 adding up to `total` (real forms use 3, 4, 5, 8, 10, 20 …)."""
    if parts == 1:
        return [total]
    if total % parts == 0 and rng.random() < 0.35:
        return [total // parts] * parts
    shares = [rng.uniform(0.5, 1.5) for _ in range(parts)]
    weights = [max(1, round(total * share / sum(shares))) for share in shares]
    while (diff := total - sum(weights)) != 0:
        index = rng.randrange(parts)
        if diff > 0:
            weights[index] += 1
        elif weights[index] > 1:
            weights[index] -= 1
    return weights


def _indicators(rng: random.Random, style: _Style, domain: Domain, weight: int) -> list[_Row]:
    n_rows = max(4, min(25, round(rng.triangular(4, 25, 14))))
    n_sat = 1 if n_rows <= 5 else rng.choices((1, 2, 3), weights=(0.75, 0.22, 0.03))[0]
    n_benefit = max(1, round(n_rows * rng.uniform(0.2, 0.4)))
    n_output = n_rows - n_sat - n_benefit
    if n_output < 2:
        n_benefit -= 2 - n_output
        n_output = 2
    out_w, ben_w, sat_w = rng.choice(_GROUP_SPLITS[weight])

    def capacity(levels: Sequence[str]) -> dict[str, int]:
        return {level: sum(len(p) for p in _pool(domain, level)) for level in levels}

    if n_output >= 4:
        output_base: Sequence[str] = _OUTPUT_L2
    elif n_output == 3:
        output_base = (_OUTPUT_L2[0], _OUTPUT_L2[1], rng.choice(_OUTPUT_L2[2:]))
    else:
        output_base = _OUTPUT_L2[:2]
    output = _allocate(rng, n_output, _OUTPUT_L2, output_base, (3, 2, 1, 1), capacity(_OUTPUT_L2))
    if n_benefit >= 4:
        benefit_base: Sequence[str] = _BENEFIT_L2
    else:
        others = [level for level in _BENEFIT_L2 if level != vocab.LEVEL2_SOCIAL]
        benefit_base = [vocab.LEVEL2_SOCIAL, *rng.sample(others, n_benefit - 1)]
    benefit = _allocate(
        rng, n_benefit, _BENEFIT_L2, benefit_base, (1, 3, 0.3, 1.5), capacity(_BENEFIT_L2)
    )
    groups = (
        (vocab.LEVEL1_OUTPUT, out_w, output),
        (vocab.LEVEL1_BENEFIT, ben_w, benefit),
        (vocab.LEVEL1_SATISFACTION, sat_w, {vocab.LEVEL2_SATISFACTION: n_sat}),
    )
    rows: list[_Row] = []
    for level1, group_weight, per_level2 in groups:
        group_rows: list[_Row] = []
        for level2, count in per_level2.items():
            for spec in _pick_specs(rng, domain, level2, count):
                group_rows.append(_Row(level1=level1, level2=level2, spec=spec, weight=0))
        for row, row_weight in zip(
            group_rows, _split_weight(rng, group_weight, len(group_rows)), strict=True
        ):
            row.weight = row_weight
            _fill_row(rng, style, row, missed=rng.random() < style.miss_rate)
        rows.extend(group_rows)
    return rows


def _pick_specs(rng: random.Random, domain: Domain, level2: str, count: int) -> list[IndicatorSpec]:
    own, generic = _pool(domain, level2)
    own_left, generic_left = rng.sample(own, len(own)), rng.sample(generic, len(generic))
    picks = []
    for _ in range(count):
        use_own = own_left and (not generic_left or rng.random() < 0.7)
        picks.append(own_left.pop() if use_own else generic_left.pop())
    return picks


# ---- one indicator row ---------------------------------------------------------------------


def _fmt_plain(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _fmt_number(value: float, decimals: int, style: _Style) -> str:
    return f"{value:.2f}" if style.paren_numbers else _fmt_plain(value, decimals)


def _with_unit(number: str, unit: str, style: _Style) -> str:
    return f"{number}({unit})" if style.paren_numbers else f"{number}{unit}"


def _draw_target(rng: random.Random, spec: IndicatorSpec) -> float:
    if spec.lo == spec.hi:
        return spec.lo
    if spec.decimals:
        return round(rng.uniform(spec.lo, spec.hi), spec.decimals)
    if spec.unit == "%":
        fives = [v for v in range(int(spec.lo), int(spec.hi) + 1) if v % 5 == 0]
        if fives and rng.random() < 0.6:
            return float(rng.choice(fives))
        return float(rng.randint(int(spec.lo), int(spec.hi)))
    value = math.exp(rng.uniform(math.log(max(spec.lo, 1)), math.log(spec.hi)))
    if value < 20:
        return float(round(value))
    magnitude = 10 ** (math.floor(math.log10(value)) - 1)
    return float(round(value / magnitude) * magnitude)


def _actual_decimals(spec: IndicatorSpec) -> int:
    return 2 if spec.unit == "%" or spec.decimals else 0


def _round_toward(value: float, decimals: int, up: bool) -> float:
    step = 10**decimals
    scaled = value * step
    return (math.ceil(scaled - 1e-9) if up else math.floor(scaled + 1e-9)) / step


def _fill_row(rng: random.Random, style: _Style, row: _Row, *, missed: bool) -> None:
    """Target, actual, score and reason of one row, consistent with R4–R7, R11–R13."""
    spec = row.spec
    weight = Decimal(row.weight)
    row.reason = None
    if not spec.quantitative:
        row.target, row.actual = None, None
        row.target_text = rng.choice(spec.targets)
        if missed:
            partial = rng.random() < 0.8 or style.worst_factor >= 0.8
            row.actual_text = vocab.ACTUAL_PARTIAL if partial else vocab.ACTUAL_MISSED
            factor = rng.choice(
                (0.62, 0.65, 0.7, 0.75, 0.78) if partial else (0, 0.2, 0.3, 0.4, 0.5)
            )
            row.score = (weight * Decimal(str(factor))).quantize(_CENT)
            row.met = False
            row.reason = _reason(rng, style)
        else:
            row.actual_text = vocab.ACTUAL_MET
            row.score = weight
            row.met = True
            # Real forms sometimes dock a 达成 row a little (7 → 6.5) and say why; R6 allows
            # [0.8w, w] and R13 judges numeric targets only, so this stays consistent.
            if rng.random() < 0.04:
                docked = weight - Decimal("0.5") if weight >= 3 else weight * Decimal("0.9")
                row.score = docked.quantize(_CENT)
                row.reason = _reason(rng, style)
        return
    target = _draw_target(rng, spec)
    decimals = _actual_decimals(spec)
    if missed:
        actual = _missed_actual(rng, style, spec, target, decimals)
    else:
        actual = _met_actual(rng, spec, target, decimals)
    row.target, row.actual, row.met = target, actual, not missed
    row.target_text = spec.op + _with_unit(
        _fmt_number(target, spec.decimals, style), spec.unit, style
    )
    actual_number = _fmt_number(actual, decimals, style)
    row.actual_text = (
        _with_unit(actual_number, spec.unit, style) if style.actual_unit else actual_number
    )
    if missed:
        row.score = _proportional_score(spec.op, weight, target, actual)
        row.reason = _reason(rng, style)
    else:
        row.score = weight
        if spec.op == "≥" and actual >= 1.3 * target:
            row.reason = rng.choice(vocab.OVERACHIEVED_REASONS)  # R12 expects one


def _met_actual(rng: random.Random, spec: IndicatorSpec, target: float, decimals: int) -> float:
    if spec.op == "=":
        return target  # exact, so "=" reads as met whether a checker means ≥ or ==
    if spec.op == "≤":
        if target == 0:
            return 0.0
        return min(target, _round_toward(target * rng.uniform(0.2, 1.0), decimals, up=False))
    ceiling = 100.0 if spec.unit == "%" else math.inf
    if target >= ceiling:
        return target
    factor = rng.uniform(1.0, 1.25) if rng.random() < 0.92 else rng.uniform(1.4, 3.0)
    if spec.unit == "%":
        factor = min(factor, 1.0 + (ceiling - target) / target * rng.random())
    actual = _round_toward(target * factor, decimals, up=True)
    return max(target, min(actual, ceiling))


def _missed_actual(
    rng: random.Random, style: _Style, spec: IndicatorSpec, target: float, decimals: int
) -> float:
    if spec.op == "≤":
        overshoot = rng.uniform(0.05, 0.4 if style.worst_factor >= 0.6 else 0.8)
        return max(
            target + 10**-decimals, _round_toward(target * (1 + overshoot), decimals, up=True)
        )
    # Rates (合格率, 满意度) are missed by a few points, counts may fall far short.
    worst = max(style.worst_factor, 0.75) if spec.unit == "%" else style.worst_factor
    factor = rng.uniform(worst, 0.97 if spec.unit == "%" else 0.95)
    return min(target - 10**-decimals, _round_toward(target * factor, decimals, up=False))


def _proportional_score(op: str, weight: Decimal, target: float, actual: float) -> Decimal:
    a, b = Decimal(str(target)), Decimal(str(actual))
    share = max(Decimal(0), 1 - (b - a) / a) if op == "≤" else b / a
    return (weight * share).quantize(_CENT, rounding=ROUND_HALF_UP)


def _reason(rng: random.Random, style: _Style) -> str:
    """偏差原因分析: one or two causes, then what will be done about it (30–150 chars)."""
    causes = rng.sample(style.reason_causes, 2)
    measure = rng.choice(vocab.REASON_MEASURES)
    long = f"{causes[0]}，{causes[1]}。{measure}。"
    if len(long) <= 150 and rng.random() < 0.4:
        return long
    return f"{causes[0]}。{measure}。"


# ---- goals ---------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{(n|p|m|x)\}")


def _fill_numbers(rng: random.Random, text: str) -> str:
    def number(match: re.Match[str]) -> str:
        kind = match.group(1)
        if kind == "n":
            return str(rng.choice((rng.randint(100, 999), rng.randint(1000, 9999))))
        if kind == "p":
            return str(rng.randint(80, 99))
        if kind == "m":
            return str(rng.randint(2, 60))
        return f"{rng.uniform(0.5, 30):.2f}"

    return _PLACEHOLDER.sub(number, text)


def _compose(rng: random.Random, clauses: list[str], opener: str, joiner: str, limit: int) -> str:
    text = opener
    for clause in clauses:
        candidate = text + (joiner if text != opener else "") + clause
        if len(candidate) + 1 > limit and text != opener:
            break
        text = candidate
    return text + "。"


def _goal_expected(rng: random.Random, domain: Domain) -> str:
    clauses = [_fill_numbers(rng, c) for c in rng.sample(domain.goal_plans, len(domain.goal_plans))]
    clauses += rng.sample(vocab.GOAL_GENERIC_PLANS, 2)
    limit = rng.randint(90, 400)
    text = _compose(
        rng, clauses, rng.choice(vocab.GOAL_PLAN_OPENERS), rng.choice(("，", "；")), limit
    )
    return text if len(text) >= 80 else _compose(rng, clauses, "", "，", 400)


def _goal_actual(rng: random.Random, domain: Domain, year: int) -> str:
    clauses = [
        _fill_numbers(rng, c) for c in rng.sample(domain.goal_results, len(domain.goal_results))
    ]
    clauses += rng.sample(vocab.GOAL_GENERIC_RESULTS, 2)
    limit = rng.randint(90, 400)
    if rng.random() < 0.5:
        numbered = [f"{o}{c}" for o, c in zip(vocab.GOAL_RESULT_ORDINALS, clauses, strict=False)]
        text = _compose(rng, numbered, "", "。", limit)
    else:
        text = _compose(rng, clauses, f"{year}年，", "；", limit)
    return text if len(text) >= 80 else _compose(rng, clauses, "", "，", 400)


# ---- planted defects -----------------------------------------------------------------------


def _force_row(rng: random.Random, draft: _Draft, *, missed: bool, avoid: int = -1) -> int:
    """Make one quantitative row met or missed (consistently) and return its index."""
    candidates = [i for i, row in enumerate(draft.rows) if row.spec.quantitative and i != avoid]
    if not candidates:  # a form whose only quantitative row is the one to avoid
        candidates = [i for i in range(len(draft.rows)) if i != avoid]
    index = rng.choice(candidates)
    _fill_row(rng, draft.style, draft.rows[index], missed=missed)
    return index


def _plant_score_above_weight(rng: random.Random, draft: _Draft) -> tuple[str, ...]:
    full = [i for i, row in enumerate(draft.rows) if row.met and row.score == row.weight]
    index = rng.choice(full) if full else _force_row(rng, draft, missed=False)
    room = Decimal(100) - _total(draft)
    if room < Decimal("0.5"):
        _force_row(rng, draft, missed=True, avoid=index)
        room = Decimal(100) - _total(draft)
    bump = min(Decimal(rng.choice(("0.5", "1", "1.5", "2", "3"))), room)
    row = draft.rows[index]
    row.score = row.score + bump
    return (f"indicators[{index}].score",)


def _plant_deducted_met(rng: random.Random, draft: _Draft) -> tuple[str, ...]:
    met = [i for i, row in enumerate(draft.rows) if row.spec.quantitative and row.met]
    index = rng.choice(met) if met else _force_row(rng, draft, missed=False)
    row = draft.rows[index]
    weight = Decimal(row.weight)
    deduction = max(
        Decimal("0.5"), (weight * Decimal(rng.choice(("0.05", "0.1", "0.2")))).quantize(_CENT)
    )
    row.score = max(Decimal(0), weight - min(deduction, weight / 2))
    if row.reason is None:
        row.reason = _reason(rng, draft.style)
    return (f"indicators[{index}].score",)


def _plant_missing_reason(rng: random.Random, draft: _Draft) -> tuple[str, ...]:
    deducted = [i for i, row in enumerate(draft.rows) if row.score < row.weight]
    index = rng.choice(deducted) if deducted else _force_row(rng, draft, missed=True)
    draft.rows[index].reason = None
    return (f"indicators[{index}].deviation_reason",)


def _plant_exec_rate(rng: random.Random, draft: _Draft) -> tuple[str, ...]:
    total = draft.funding[0]
    rate = Decimal(str(total["execution_rate"]))
    shift = Decimal(str(round(rng.uniform(0.6, 5.0), 2)))
    # Stay a plausible percentage: down when up would pass 100, up when down would pass 0.
    go_down = rate + shift > 100 or (rate - shift >= 0 and rng.random() < 0.5)
    total["execution_rate"] = float(rate - shift if go_down else rate + shift)
    return ("funding[0].execution_rate",)


def _plant_subrow_sum(rng: random.Random, draft: _Draft) -> tuple[str, ...]:
    column = rng.choice(("initial_budget", "annual_budget", "executed"))
    candidates = [i for i in range(1, len(draft.funding)) if draft.funding[i][column] > 0]
    index = rng.choice(candidates) if candidates else 1
    row = draft.funding[index]
    value = Decimal(str(row[column]))
    unit_step = Decimal(10000) if draft.style.yuan else Decimal(1)
    delta = max(unit_step, (value * Decimal(str(rng.uniform(0.01, 0.08)))).quantize(_CENT))
    # Budget only up, execution only down: the row must not look overspent (R2's warning).
    if column == "annual_budget":
        down = False
    elif column == "executed":
        down = value > delta
    else:
        down = value > delta and rng.random() < 0.7
    row[column] = float(value - delta if down else value + delta)
    # Keep the row's own rate right (R1) so that only the sum (R3) breaks.
    executed = int(Decimal(str(row["executed"])) * 100)
    annual = int(Decimal(str(row["annual_budget"])) * 100)
    row["execution_rate"] = _rate(executed, annual, draft.style)
    return (f"funding[{index}].{column}",)


def _plant_total_mismatch(rng: random.Random, data: dict[str, Any]) -> tuple[str, ...]:
    total = Decimal(str(data["total_score"]))
    shift = Decimal(str(round(rng.uniform(0.5, 3.0), 2)))
    band = grade_for(float(total))
    options = [
        total + sign * shift
        for sign in (1, -1)
        if 0 <= total + sign * shift <= 100 and grade_for(float(total + sign * shift)) == band
    ]
    if not options:  # too close to a band edge for this shift: take the smallest that fits
        shift = Decimal("0.5")
        options = [
            total + sign * shift
            for sign in (1, -1)
            if 0 <= total + sign * shift <= 100 and grade_for(float(total + sign * shift)) == band
        ]
    data["total_score"] = float(rng.choice(options))
    return ("total_score",)


def _plant_grade_mismatch(rng: random.Random, data: dict[str, Any]) -> tuple[str, ...]:
    right = GRADES.index(grade_for(data["total_score"]))
    neighbours = [i for i in (right - 1, right + 1) if 0 <= i < len(GRADES)]
    data["grade"] = GRADES[rng.choice(neighbours)]
    return ("grade",)


def _total(draft: _Draft) -> Decimal:
    return Decimal(str(draft.funding[0]["score"])) + sum(
        (row.score for row in draft.rows), Decimal(0)
    )


_PLANTERS = {
    "SCORE_ABOVE_WEIGHT": _plant_score_above_weight,
    "SCORE_DEDUCTED_TARGET_MET": _plant_deducted_met,
    "MISSING_DEVIATION_REASON": _plant_missing_reason,
    "EXEC_RATE_MISMATCH": _plant_exec_rate,
    "FUNDING_SUBROWS_SUM": _plant_subrow_sum,
}
