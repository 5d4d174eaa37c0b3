"""Printed 一级 weights for R8: "产出指标(50分)" says its rows weigh 50 in total.

The contract stores the level-1 label without its weight (output-contract §1), so the printed
weight survives only in the text the value was read from (`FieldProvenance.source_text`); an
extractor that keeps it in `level1` itself is read too. Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata

from jixiao.contract import FieldProvenance, FormRecord
from jixiao.extract.labels import INDICATOR_BLOCK, label_key

# After NFKC ("（５０分）" → "(50分)"): "(50分)", "(50)", "50分", or a bare number set off by
# whitespace ("产出指标 50") or glued to a name ending in 指标 (text extraction often drops that
# space: "产出指标60"); a bare number glued to any other name may be part of it.
_PRINTED_WEIGHT_RE = re.compile(
    r"^(?P<name>.*?[^\d\s.])\s*"
    r"(?:\(\s*(?P<paren>\d+(?:\.\d+)?)\s*分?\s*\)"
    r"|(?P<fen>\d+(?:\.\d+)?)\s*分"
    r"|(?:(?<=\s)|(?<=指标))(?P<bare>\d+(?:\.\d+)?))\s*$",
    re.DOTALL,
)
_MAX_WEIGHT = 100.0  # weights are points of a 100-point form
# "绩效指标(90分)" heads the whole indicator block, not one 一级 group: when it leaks into a
# row's level1 (a merged block cell read as the 一级 column) its weight says nothing of the rows.
_BLOCK_KEYS = frozenset(label_key(name).key for name in INDICATOR_BLOCK["indicator_block"])


def parse_level1_weight(label: str) -> float | None:
    """The weight printed in a level-1 label, or None: "产出指标（50分）" → 50.0,
    "产出指标 50" → 50.0, "产出指标" → None, "绩效指标(90分)" (the whole block) → None."""
    m = _PRINTED_WEIGHT_RE.match(unicodedata.normalize("NFKC", label).strip())
    if m is None or label_key(m.group("name")).key in _BLOCK_KEYS:
        return None
    weight = float(m.group("paren") or m.group("fen") or m.group("bare"))
    return weight if 0.0 < weight <= _MAX_WEIGHT else None


def printed_level1_weights(
    record: FormRecord, fields: dict[str, FieldProvenance] | None = None
) -> dict[str, float]:
    """`run_checks(level1_weights=…)` for one form: each 一级 label (as stored in the record)
    whose printed text carries a weight → that weight.

    A label printed with two different weights (two groups of one name, or a misread) is left
    out: R8 would add both groups' rows and flag a form that is fine.
    """
    found: dict[str, set[float]] = {}
    for i, indicator in enumerate(record.indicators):
        label = indicator.level1
        if not label:
            continue
        prov = (fields or {}).get(f"indicators[{i}].level1")
        for text in (prov.source_text if prov else None, label):
            weight = parse_level1_weight(text) if text else None
            if weight is not None:
                found.setdefault(label, set()).add(weight)
                break
    return {label: next(iter(ws)) for label, ws in found.items() if len(ws) == 1}
