"""Hand-made run JSONs for the gate and report tests (the shape harness.run_eval writes)."""

from __future__ import annotations

from typing import Any

from jixiao.evals.harness import RUN_FORMAT


def form_entry(
    gold_id: str, wrong: list[str], *, total: int = 10, group: str = "indicators"
) -> dict[str, Any]:
    return {
        "doc": f"pdf/ruled/{gold_id}.pdf",
        "family": "ruled",
        "gold_id": gold_id,
        "gold_sha256": "g-" + gold_id,
        "doc_sha256": "d-" + gold_id,
        "origin": "synthetic",
        "found": True,
        "pages": [1],
        "leaves": total,
        "correct": total - len(wrong),
        "groups": {group: [total - len(wrong), total]},
        "fields": {"indicators[].score": [total - len(wrong), total]},
        "wrong": [[path, 5.0, 4.0, 1, 0.9] for path in wrong],
        "flags_found": [],
        "flags_expected": [],
    }


def make_run(split: str, forms: list[dict[str, Any]]) -> dict[str, Any]:
    correct = sum(f["correct"] for f in forms)
    total = sum(f["leaves"] for f in forms)
    block = {"correct": correct, "total": total, "accuracy": correct / total}
    return {
        "format": RUN_FORMAT,
        "name": "hand-made",
        "created": "2026-01-01T00:00:00+00:00",
        "split": split,
        "extractor": "layout",
        "model": None,
        "mode": None,
        "prompts": {},
        "commit": None,
        "dirty": None,
        "manifest": {"path": "corpus/manifest.json", "seed": 7, "documents": len(forms)},
        "selection": {"family": None, "limit": None},
        "threshold": 0.9,
        "summary": {
            "field_accuracy": {**block, "groups": {"indicators": block}},
            "families": {"ruled": {**block, "groups": {"indicators": block}}},
            "fields": {"indicators[].score": block},
        },
        "documents": [],
        "forms": forms,
    }
