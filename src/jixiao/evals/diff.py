"""`jixiao eval compare BASE NEW`: what changed between two runs, and the regression gate.

The gate fails when any field group (or the overall accuracy) drops by more than `max_drop`
percentage points, or, on the test split, when any leaf that was correct in BASE is wrong in NEW
(a form counts only when both runs read the same PDF and scored it against the same gold, by
sha256: a re-rendered corpus needs a new baseline). Pure: the command does the reading and
printing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jixiao.errors import InvalidInput, JixiaoError

EXAMPLES = 20


class EvalRegression(JixiaoError):
    """The new run is worse than the base beyond what is allowed."""

    exit_code = 20
    reason = "eval regression"


@dataclass(slots=True)
class Change:
    key: str
    base: float | None
    new: float | None
    base_total: int
    new_total: int

    @property
    def points(self) -> float | None:
        if self.base is None or self.new is None:
            return None
        return (self.new - self.base) * 100

    @property
    def status(self) -> str:
        p = self.points
        if p is None:
            return "new" if self.base is None else "gone"
        if p > 1e-9:
            return "improved"
        if p < -1e-9:
            return "regressed"
        return "same"


@dataclass(slots=True)
class RunDiff:
    split: str
    max_drop: float
    overall: Change
    groups: list[Change]
    fields: list[Change]
    broken: list[dict[str, Any]] = field(default_factory=list)
    """Leaves correct in BASE and wrong in NEW: doc, gold_id, path, gold, pred, page, conf."""
    fixed: int = 0
    forms_compared: int = 0
    forms_only_base: int = 0
    forms_only_new: int = 0
    gold_changed: int = 0
    pdf_changed: int = 0

    @property
    def dropped_groups(self) -> list[Change]:
        return [
            c
            for c in [self.overall, *self.groups]
            if c.points is not None and c.points < -self.max_drop - 1e-9
        ]

    @property
    def failed(self) -> bool:
        return bool(self.dropped_groups) or (self.split == "test" and bool(self.broken))

    def reasons(self) -> list[str]:
        out = [f"{c.key} dropped {-(c.points or 0):.2f} points" for c in self.dropped_groups]
        if self.split == "test" and self.broken:
            out.append(f"{len(self.broken)} previously-correct test-split fields broke")
        return out


def _add_counts(into: dict[str, list[int]], counts: dict[str, list[int]] | None) -> None:
    for group, (correct, total) in (counts or {}).items():
        c = into.setdefault(group, [0, 0])
        c[0] += correct
        c[1] += total


def _sum(groups: dict[str, list[int]]) -> list[int]:
    return [sum(c for c, _ in groups.values()), sum(t for _, t in groups.values())]


def _ratio_change(key: str, base: list[int] | None, new: list[int] | None) -> Change:
    def acc(c: list[int] | None) -> tuple[float | None, int]:
        return (c[0] / c[1], c[1]) if c and c[1] else (None, 0)

    (b, bt), (n, nt) = acc(base), acc(new)
    return Change(key, b, n, bt, nt)


def diff_runs(base: dict[str, Any], new: dict[str, Any], max_drop: float = 0.5) -> RunDiff:
    """Compare two run JSONs (see harness.py); raises InvalidInput when they score different
    splits or corpora."""
    if base.get("split") != new.get("split"):
        raise InvalidInput(
            None,
            f"runs score different splits ({base.get('split')} vs {new.get('split')})",
            "compare runs of the same split",
        )
    bseed = (base.get("manifest") or {}).get("seed")
    nseed = (new.get("manifest") or {}).get("seed")
    if bseed != nseed:
        raise InvalidInput(
            None,
            f"runs score different corpora (seed {bseed} vs {nseed})",
            "rebuild the corpus with the base run's seed (`jixiao corpus build --seed N`)",
        )
    diff = RunDiff(
        split=str(new.get("split")),
        max_drop=max_drop,
        overall=Change("overall", None, None, 0, 0),
        groups=[],
        fields=[],
    )
    base_forms = {(f["doc"], f["gold_id"]): f for f in base.get("forms", [])}
    new_forms = {(f["doc"], f["gold_id"]): f for f in new.get("forms", [])}
    diff.forms_only_base = len(base_forms.keys() - new_forms.keys())
    diff.forms_only_new = len(new_forms.keys() - base_forms.keys())
    # The gate's group numbers are over the forms both runs scored against the same gold, so a
    # run on a subset (--limit, a small CI build) is held to the baseline on those forms.
    base_groups: dict[str, list[int]] = {}
    new_groups: dict[str, list[int]] = {}
    base_fields: dict[str, list[int]] = {}
    new_fields: dict[str, list[int]] = {}
    for key in sorted(base_forms.keys() & new_forms.keys()):
        b, n = base_forms[key], new_forms[key]
        if b.get("gold_sha256") != n.get("gold_sha256"):
            diff.gold_changed += 1
            continue
        if b.get("doc_sha256") != n.get("doc_sha256"):
            diff.pdf_changed += 1  # re-rendered: the same form is a different reading task
            continue
        diff.forms_compared += 1
        _add_counts(base_groups, b.get("groups"))
        _add_counts(new_groups, n.get("groups"))
        _add_counts(base_fields, b.get("fields"))
        _add_counts(new_fields, n.get("fields"))
        base_wrong = {w[0] for w in b["wrong"]}
        new_wrong = {w[0]: w for w in n["wrong"]}
        diff.fixed += len(base_wrong - new_wrong.keys())
        for path in sorted(new_wrong.keys() - base_wrong):
            _, gold, pred, page, conf = new_wrong[path]
            diff.broken.append(
                {
                    "doc": key[0],
                    "gold_id": key[1],
                    "path": path,
                    "gold": gold,
                    "pred": pred,
                    "page": page,
                    "confidence": conf,
                }
            )
    diff.overall = _ratio_change("overall", _sum(base_groups), _sum(new_groups))
    diff.groups = [
        _ratio_change(g, base_groups.get(g), new_groups.get(g))
        for g in sorted(set(base_groups) | set(new_groups))
    ]
    diff.fields = sorted(
        (
            _ratio_change(k, base_fields.get(k), new_fields.get(k))
            for k in sorted(set(base_fields) | set(new_fields))
        ),
        key=lambda c: (c.points is None, c.points or 0.0),
    )
    return diff


def _pct(v: float | None) -> str:
    return "   -  " if v is None else f"{v * 100:6.2f}"


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_diff(diff: RunDiff, examples: int = EXAMPLES) -> str:
    """The per-group and per-field table, then examples of broken values; plain text."""
    lines = [
        f"split {diff.split}; gate: no group drops more than {diff.max_drop:g} points"
        f" over the {diff.forms_compared} forms both runs scored"
        + ("; no previously-correct field may break" if diff.split == "test" else "")
    ]
    lines.append(f"{'':28s} {'base':>6s} {'new':>6s} {'Δpts':>7s}  status")
    for c in [diff.overall, *diff.groups]:
        pts = "" if c.points is None else f"{c.points:+7.2f}"
        lines.append(f"{c.key:28s} {_pct(c.base)} {_pct(c.new)} {pts:>7s}  {c.status}")
    changed = [c for c in diff.fields if c.status != "same"]
    lines.append("")
    lines.append(
        f"fields that changed, over each run's forms ({len(changed)} of {len(diff.fields)}):"
    )
    for c in changed:
        pts = "" if c.points is None else f"{c.points:+7.2f}"
        lines.append(f"  {c.key:26s} {_pct(c.base)} {_pct(c.new)} {pts:>7s}  {c.status}")
    lines.append("")
    lines.append(
        f"forms compared {diff.forms_compared}; leaves fixed {diff.fixed}, broken "
        f"{len(diff.broken)}; only in base {diff.forms_only_base}, only in new "
        f"{diff.forms_only_new}, gold changed {diff.gold_changed}, PDF changed {diff.pdf_changed}"
    )
    if diff.broken:
        lines.append(f"broken (correct in base, wrong in new), first {examples}:")
        for b in diff.broken[:examples]:
            page = f" p.{b['page']}" if b["page"] else ""
            lines.append(
                f"  {b['doc']}{page} {b['gold_id']} {b['path']}: gold {_short(b['gold'])}"
                f" → got {_short(b['pred'])}"
            )
    lines.append("")
    lines.append("REGRESSION: " + "; ".join(diff.reasons()) if diff.failed else "OK: no regression")
    return "\n".join(lines)
