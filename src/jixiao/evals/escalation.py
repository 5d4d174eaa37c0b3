"""What the hybrid's LLM questions did, scored against gold: the routing table's evidence.

For every question a run asked, each value it changed is judged against gold: `rescued` (the
layout's value was wrong, the final one is right), `broke` (the layout's value was right, the
final one is wrong); each value it confirmed that is wrong counts `confirmed_wrong` (the
confidence rose on a wrong value); a question that changed and confirmed nothing is `null`.
`routing_table` turns these counts into the per-model decisions `jixiao.extract.escalation`
reads: ask a kind only where rescues beat breakage.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from jixiao.contract import ExtractionResult
from jixiao.evals.compare import FormComparison, leaf_equal
from jixiao.extract.escalation import LEVELS, KindRoute, ModelRoute, RoutingTable, decide

STATUSES = ("asked", "failed", "skipped_routing", "skipped_budget", "unavailable")


def _empty() -> dict[str, Any]:
    return {
        "planned": 0,
        **{status: 0 for status in STATUSES},
        "rescued": 0,
        "broke": 0,
        "confirmed_wrong": 0,
        "confirmed_right": 0,
        "null": 0,
        "llm_calls": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "seconds": 0.0,
    }


def score_questions(
    result: ExtractionResult | None, comparison: FormComparison
) -> dict[str, dict[str, Any]]:
    """Per question level, the counts above for one form."""
    out: dict[str, dict[str, Any]] = {level: _empty() for level in LEVELS}
    if result is None:
        return out
    by_pred = {leaf.pred_path: leaf for leaf in comparison.leaves if leaf.pred_path}
    for q in result.run.questions:
        row = out[q.level]
        row["planned"] += 1
        row[q.status] += 1
        row["llm_calls"] += q.llm_calls
        row["input_tokens"] += q.input_tokens
        row["output_tokens"] += q.output_tokens
        row["seconds"] = round(row["seconds"] + q.seconds, 3)
        if q.status != "asked":
            continue
        effect = False
        for change in q.changed:
            leaf = by_pred.get(change.path)
            if leaf is None:
                continue  # a row gold does not have: scored as an extra row, not here
            name = change.path.rsplit(".", 1)[-1]
            before_ok = leaf_equal(name, change.before, leaf.gold)
            if leaf.ok and not before_ok:
                row["rescued"] += 1
            elif before_ok and not leaf.ok:
                row["broke"] += 1
            effect = True
        for path in q.confirmed:
            leaf = by_pred.get(path)
            if leaf is None:
                continue
            row["confirmed_right" if leaf.ok else "confirmed_wrong"] += 1
            effect = True
        if not effect:
            row["null"] += 1
    return out


def add_counts(total: dict[str, dict[str, Any]], more: dict[str, dict[str, Any]]) -> None:
    for level, row in more.items():
        into = total.setdefault(level, _empty())
        for key, value in row.items():
            summed = into[key] + value
            into[key] = round(summed, 3) if isinstance(value, float) else summed


def escalation_summary(
    per_form: list[dict[str, dict[str, Any]]], calls_per_form: Iterable[int]
) -> dict[str, Any]:
    """The run's `summary.escalation`: counts per level and the per-form call distribution."""
    total: dict[str, dict[str, Any]] = {level: _empty() for level in LEVELS}
    for counts in per_form:
        add_counts(total, counts)
    calls = list(calls_per_form)
    return {
        "levels": total,
        "forms": len(calls),
        "forms_asking": sum(1 for c in calls if c),
        "median_llm_calls_per_form": statistics.median(calls) if calls else None,
        "max_llm_calls_per_form": max(calls) if calls else None,
    }


def routing_table(
    runs: dict[str, dict[str, Any]], *, model: str, base: RoutingTable | None = None
) -> RoutingTable:
    """`base` with `model`'s decisions from the runs' escalation counts (dev runs only: the
    routing is tuned like everything else, never on test)."""
    table = (base or RoutingTable()).model_copy(deep=True)
    kinds: dict[str, KindRoute] = {}
    sources = []
    prompts: dict[str, str] = {}
    for name, run in runs.items():
        prompts.update(run.get("prompts") or {})
        levels = run.get("summary", {}).get("escalation", {}).get("levels", {})
        sources.append(f"{name}:{run.get('split')}")
        for level in LEVELS:
            row = levels.get(level, {})
            kind = kinds.setdefault(level, KindRoute())
            kind.asked += int(row.get("asked", 0))
            kind.rescued += int(row.get("rescued", 0))
            kind.broke += int(row.get("broke", 0))
            kind.confirmed_wrong += int(row.get("confirmed_wrong", 0))
            kind.null += int(row.get("null", 0))
    for kind in kinds.values():
        kind.ask = decide(kind)
    table.models[model] = ModelRoute(
        source=", ".join(sources), kinds=kinds, prompts=dict(sorted(prompts.items()))
    )
    return table


__all__ = ["add_counts", "escalation_summary", "routing_table", "score_questions"]
