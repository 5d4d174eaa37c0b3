"""Deterministic checks: recompute every number of a 项目支出绩效自评表 (rules R1–R16).

`run_checks(record)` is the one entry point; it is pure (no I/O), so the extraction pipeline and
the review UI can call it on every edit.
"""

from __future__ import annotations

from jixiao.checks.config import CheckConfig, load_config, profile_config
from jixiao.checks.level1_weights import parse_level1_weight, printed_level1_weights
from jixiao.checks.rules import RULES, Context, prepare
from jixiao.contract import FieldProvenance, Flag, FormRecord

__all__ = [
    "CheckConfig",
    "load_config",
    "parse_level1_weight",
    "printed_level1_weights",
    "profile_config",
    "run_checks",
]

_DEFAULT_CONFIG = CheckConfig()


def run_checks(
    record: FormRecord,
    *,
    fields: dict[str, FieldProvenance] | None = None,
    config: CheckConfig | None = None,
    lang: str = "zh",
    level1_weights: dict[str, float] | None = None,
) -> list[Flag]:
    """All findings on one form, in rule order (R1 … R16).

    `fields`: provenance by JSON path; a flag is `extraction` when one of its fields with a value
    is below `config.suspect_confidence` or has no provenance, else `source` (all `source` when
    None). `level1_weights`: printed 一级 weights ("产出指标(50分)" → {"产出指标": 50}) for R8's
    LEVEL1_WEIGHTS_SUM, skipped when None (`printed_level1_weights(record, fields)` reads them from
    an extraction). `lang`: "zh" (default) or "en" messages.
    """
    ctx = Context(record, config or _DEFAULT_CONFIG, lang, fields, level1_weights)
    prepare(ctx)
    flags: list[Flag] = []
    for rule in RULES:
        flags.extend(rule(ctx))
    return flags
