"""The hybrid extractor: run the layout and the LLM extractor, keep per field what can be trusted.

Per leaf of the FormRecord (rows aligned first, by label / name, in printed order):
- both read the same value (after normalisation) → that value, extractor "llm+layout";
- they disagree → a value not found in its own cited cell loses, and so does a printed label
  taken for a value or an LLM value citing a cell the layout reads as another field; then the
  arithmetic checks decide (the value whose swap leaves fewer R1/R2/R7/R8/R9/R10 errors on that
  field wins); then the default: the layout value for table cells, the LLM value for free
  text (goals, reasons) — unless one text contains the other, when the longer one is the whole
  wrapped cell;
- neither value is trustworthy (both fail the tests above) → null and a HYBRID_UNRESOLVED flag.
The losing value is kept in `fields[path].alternative`. When the LLM cannot be used (endpoint
down, every section failed) the result is the layout's, with a HYBRID_LLM_UNAVAILABLE flag.
Confidence comes from `jixiao.confidence` (checkable signals only).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from jixiao.confidence import ARITHMETIC_RULES, apply_confidence
from jixiao.contract import (
    NUMBER_LEAVES,
    ChangedValue,
    FieldProvenance,
    Flag,
    FormRecord,
    FundingRow,
    Indicator,
    LLMQuestion,
    RunInfo,
    leaf_value,
)
from jixiao.errors import JixiaoError
from jixiao.extract.base import Extractor, ExtractorOptions, ExtractorOutput
from jixiao.extract.escalation import (
    Budget,
    EscalationPolicy,
    LoadedRouting,
    PlannedQuestion,
    load_routing,
    plan_questions,
)
from jixiao.extract.grounding import locate, locate_number, normalize
from jixiao.extract.llm.calls import LLMCall, Usage, add_usage
from jixiao.ingest.model import FormRegion, LayoutText

EXTRACTOR_NAME = "hybrid"
UNRESOLVED_CODE = "HYBRID_UNRESOLVED"
LLM_UNAVAILABLE_CODE = "HYBRID_LLM_UNAVAILABLE"
LLM_UNGROUNDED_CODE = "EXTRACTION_UNGROUNDED"
AGREED = "llm+layout"

SCALARS = (
    "title",
    "year",
    "project_name",
    "competent_department",
    "implementing_unit",
    "funding_unit",
    "goal_expected",
    "goal_actual",
    "total_weight",
    "total_score",
    "grade",
)
FREE_TEXT = frozenset({"goal_expected", "goal_actual", "deviation_reason"})
# Leaves that cannot be null in the contract: on a dispute they fall back to the default side.
_REQUIRED = frozenset({"label", "kind", "name"})
_ROW_LISTS: dict[str, tuple[type[FundingRow] | type[Indicator], str]] = {
    "funding": (FundingRow, "label"),
    "indicators": (Indicator, "name"),
}
_ROW_MATCH_MIN = 0.5
_NUMBER_SLACK = 0.005 + 1e-9
_ROW_PATH = re.compile(r"^(funding|indicators)\[(\d+)\](\..*)?$")


# -- comparing values -----------------------------------------------------------------------------


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def values_agree(a: Any, b: Any) -> bool:
    """Same value after normalisation: numbers within 0.005, text equal after NFKC/whitespace."""
    if a is None or b is None:
        return a is None and b is None
    if _is_number(a) and _is_number(b):
        return abs(float(a) - float(b)) <= _NUMBER_SLACK
    if isinstance(a, str) and isinstance(b, str):
        return normalize(a) == normalize(b)
    return bool(a == b)


def is_grounded(value: Any, prov: FieldProvenance | None, name: str = "") -> bool:
    """The value occurs in the text of the cell its provenance cites.

    A funding `kind` is derived from its label, never printed: its cited label is its evidence.
    """
    if value is None or prov is None:
        return False
    if name == "kind":
        return True
    if _is_number(value):
        number = f"{value:.10f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
        return locate_number(number, prov.source_text) is not None
    if isinstance(value, str) and len(normalize(value)) > 0:
        return locate(value, prov.source_text) is not None
    return False


# Leaves whose value is never a printed label: a value equal to one ("项目名称") is the label
# cell cited instead of the value cell beside it.
_NOT_LABELS = frozenset(
    {
        "project_name",
        "competent_department",
        "implementing_unit",
        "goal_expected",
        "goal_actual",
        "target_text",
        "actual_text",
        "deviation_reason",
    }
)


def is_printed_label(name: str, value: Any) -> bool:
    """The value of a `name` leaf is a form label (a cited label cell, not its value)."""
    if name not in _NOT_LABELS or not isinstance(value, str):
        return False
    from jixiao.extract.labels import classify_any

    match = classify_any(value)
    return match is not None and match.score >= 0.99


def _cell_key(prov: FieldProvenance) -> tuple[int, tuple[int, ...]]:
    return prov.page, tuple(round(v) for v in prov.bbox)


# -- row alignment ---------------------------------------------------------------------------------


def align_rows(left: list[str], right: list[str]) -> list[tuple[int | None, int | None]]:
    """An order-preserving alignment of two row lists by key similarity (≥ 0.5 to pair).

    Returns pairs (i, j) in printed order; (i, None) / (None, j): a row only one side read.
    """
    a = [normalize(k) for k in left]
    b = [normalize(k) for k in right]
    n, m = len(a), len(b)
    sim = [[SequenceMatcher(None, x, y, autojunk=False).ratio() for y in b] for x in a]
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            take = best[i + 1][j + 1] + sim[i][j] if sim[i][j] >= _ROW_MATCH_MIN else -1.0
            best[i][j] = max(take, best[i + 1][j], best[i][j + 1])
    out: list[tuple[int | None, int | None]] = []
    i = j = 0
    while i < n and j < m:
        if sim[i][j] >= _ROW_MATCH_MIN and best[i][j] == best[i + 1][j + 1] + sim[i][j]:
            out.append((i, j))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            out.append((i, None))
            i += 1
        else:
            out.append((None, j))
            j += 1
    out.extend((k, None) for k in range(i, n))
    out.extend((None, k) for k in range(j, m))
    return out


# -- reconciliation ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Leaf:
    """One leaf to decide: where it goes in the hybrid record and what each side read."""

    path: str
    name: str
    lay_value: Any
    lay_prov: FieldProvenance | None
    llm_value: Any
    llm_prov: FieldProvenance | None
    lay_path: str = ""  # the same leaf's path in the layout record
    llm_misplaced: bool = False  # the LLM cites a cell the layout reads as another field


@dataclass(slots=True)
class _Choice:
    value: Any
    side: str | None  # "layout" | "llm" | AGREED | None (unresolved)
    prov: FieldProvenance | None
    alternative: Any = None
    agreement: float = 0.5
    resolved_by_checks: bool = False
    resolved_by_grounding: bool = False
    disputed: bool = False


def _default_side(leaf: _Leaf) -> str:
    if leaf.name in FREE_TEXT:
        a, b = leaf.lay_value, leaf.llm_value
        if isinstance(a, str) and isinstance(b, str):
            na, nb = normalize(a), normalize(b)
            if nb and nb in na and len(na) > len(nb):
                return "layout"  # the LLM cited one line of a wrapped cell
        return "llm"
    return "layout"


def _pick(leaf: _Leaf, side: str, **kw: Any) -> _Choice:
    if side == "layout":
        return _Choice(leaf.lay_value, "layout", leaf.lay_prov, alternative=leaf.llm_value, **kw)
    return _Choice(leaf.llm_value, "llm", leaf.llm_prov, alternative=leaf.lay_value, **kw)


def _first_pass(leaf: _Leaf) -> _Choice:
    """Decide what can be decided without the checks; disputes get the default side for now."""
    lv, mv = leaf.lay_value, leaf.llm_value
    if lv is None and mv is None:
        return _Choice(None, None, None)
    if values_agree(lv, mv):
        prov = leaf.lay_prov or leaf.llm_prov
        return _Choice(lv, AGREED, prov, agreement=1.0)
    lay_ok = is_grounded(lv, leaf.lay_prov, leaf.name) and not is_printed_label(leaf.name, lv)
    llm_ok = (
        is_grounded(mv, leaf.llm_prov, leaf.name)
        and not is_printed_label(leaf.name, mv)
        and not leaf.llm_misplaced
    )
    if mv is None or lv is None:
        side = "layout" if mv is None else "llm"
        ok = lay_ok if side == "layout" else llm_ok
        if not ok and leaf.name not in _REQUIRED:
            return _Choice(None, None, None, alternative=lv if mv is None else mv)
        choice = _pick(leaf, side, agreement=0.5)
        choice.alternative = None
        return choice
    if lay_ok != llm_ok:
        return _pick(leaf, "layout" if lay_ok else "llm", agreement=0.0, resolved_by_grounding=True)
    if not lay_ok and leaf.name not in _REQUIRED:
        return _Choice(None, None, None, alternative=lv, agreement=0.0)
    return _pick(leaf, _default_side(leaf), agreement=0.0, disputed=True)


def _set(record: FormRecord, path: str, value: Any) -> None:
    m = _ROW_PATH.match(path)
    if m:
        row = getattr(record, m.group(1))[int(m.group(2))]
        setattr(row, (m.group(3) or ".")[1:], value)
    else:
        setattr(record, path, value)


def _errors_on(record: FormRecord, path: str, check: Callable[[FormRecord], list[Flag]]) -> int:
    return sum(
        1
        for f in check(record)
        if f.rule in ARITHMETIC_RULES and f.severity == "error" and path in f.fields
    )


def _settle_by_checks(
    record: FormRecord,
    leaves: dict[str, _Leaf],
    choices: dict[str, _Choice],
    check: Callable[[FormRecord], list[Flag]],
) -> None:
    """A disputed value whose swap removes arithmetic errors on its field wins the dispute."""
    for path, choice in choices.items():
        if not choice.disputed:
            continue
        leaf = leaves[path]
        other = "llm" if choice.side == "layout" else "layout"
        other_value = leaf.llm_value if other == "llm" else leaf.lay_value
        here = _errors_on(record, path, check)
        trial = record.model_copy(deep=True)
        _set(trial, path, other_value)
        there = _errors_on(trial, path, check)
        if there < here:
            choices[path] = _pick(leaf, other, agreement=0.0, resolved_by_checks=True)
            _set(record, path, other_value)
        elif here < there:
            choice.resolved_by_checks = True


def _has_values(record: FormRecord) -> bool:
    return bool(record.funding or record.indicators) or any(
        getattr(record, name) is not None for name in SCALARS
    )


def _remap(flag: Flag, rows: dict[str, dict[int, int]]) -> Flag:
    """A flag of one extractor with its row paths renumbered into the hybrid record."""
    paths: list[str] = []
    for path in flag.fields:
        m = _ROW_PATH.match(path)
        if m is None:
            paths.append(path)
            continue
        k = rows[m.group(1)].get(int(m.group(2)))
        if k is not None:
            paths.append(f"{m.group(1)}[{k}]{m.group(3) or ''}")
    return flag.model_copy(update={"fields": paths})


def reconcile(
    layout: ExtractorOutput,
    llm: ExtractorOutput | None,
    *,
    llm_error: str | None = None,
    check: Callable[[FormRecord], list[Flag]] | None = None,
    llm_wanted: bool = True,
) -> ExtractorOutput:
    """One record from the two extractors' outputs for the same form (see the module doc).

    `llm` None or empty → the layout's values, with a HYBRID_LLM_UNAVAILABLE flag (`llm_error`
    says why) when `llm_wanted` (an escalating hybrid that needed no answer is not flagged).
    `check`: the arithmetic checks (default `jixiao.checks.run_checks`).
    """
    if check is None:
        from jixiao.checks import run_checks

        check = run_checks
    flags: list[Flag] = []
    llm_ran = llm is not None and _has_values(llm.record)
    if not llm_ran and llm_wanted:
        why = llm_error or "the LLM extractor returned no values for this form"
        flags.append(
            Flag(
                code=LLM_UNAVAILABLE_CODE,
                severity="warning",
                origin="extraction",
                message=f"only the layout extractor read this form ({why}); "
                "values were not cross-checked",
            )
        )
    if not llm_ran:
        llm = ExtractorOutput(record=FormRecord())
    assert llm is not None
    lay_rec, llm_rec = layout.record, llm.record

    leaves: dict[str, _Leaf] = {}
    for name in SCALARS:
        leaves[name] = _Leaf(
            name,
            name,
            getattr(lay_rec, name),
            layout.fields.get(name),
            getattr(llm_rec, name),
            llm.fields.get(name),
            lay_path=name,
        )
    row_maps: dict[str, tuple[dict[int, int], dict[int, int]]] = {}
    row_count: dict[str, int] = {}
    for list_name, (model, key) in _ROW_LISTS.items():
        lay_rows, llm_rows = getattr(lay_rec, list_name), getattr(llm_rec, list_name)
        pairs = align_rows(
            [getattr(r, key) or "" for r in lay_rows], [getattr(r, key) or "" for r in llm_rows]
        )
        if lay_rows:
            # the layout's row structure leads; the LLM adds rows only where layout read none
            pairs = [(i, j) for i, j in pairs if i is not None]
        lay_map: dict[int, int] = {}
        llm_map: dict[int, int] = {}
        for k, (i, j) in enumerate(pairs):
            if i is not None:
                lay_map[i] = k
            if j is not None:
                llm_map[j] = k
            for attr in model.model_fields:
                lp = f"{list_name}[{i}].{attr}"
                mp = f"{list_name}[{j}].{attr}"
                leaves[f"{list_name}[{k}].{attr}"] = _Leaf(
                    f"{list_name}[{k}].{attr}",
                    attr,
                    getattr(lay_rows[i], attr) if i is not None else None,
                    layout.fields.get(lp) if i is not None else None,
                    getattr(llm_rows[j], attr) if j is not None else None,
                    llm.fields.get(mp) if j is not None else None,
                    lay_path=lp if i is not None else "",
                )
        row_maps[list_name] = (lay_map, llm_map)
        row_count[list_name] = len(pairs)

    # the cells the layout reads each value from: an LLM value citing a cell the layout reads
    # as a different field took the wrong cell (both goals from one cell, a label for a value)
    claimed: dict[tuple[int, tuple[int, ...]], set[str]] = {}
    for path, prov in layout.fields.items():
        claimed.setdefault(_cell_key(prov), set()).add(path)
    for leaf in leaves.values():
        if leaf.llm_prov is not None and leaf.llm_value is not None:
            owners = claimed.get(_cell_key(leaf.llm_prov), set())
            leaf.llm_misplaced = bool(owners) and leaf.lay_path not in owners

    choices = {path: _first_pass(leaf) for path, leaf in leaves.items()}
    record = _build(choices, row_count)
    _settle_by_checks(record, leaves, choices, check)

    fields: dict[str, FieldProvenance] = {}
    for path, choice in choices.items():
        leaf = leaves[path]
        if choice.value is None:
            if choice.alternative is not None:
                flags.append(_unresolved(path, leaf))
            continue
        chosen = _provenance_of(choice, leaf)
        if chosen is not None:
            fields[path] = chosen

    lay_rows_map = {name: maps[0] for name, maps in row_maps.items()}
    llm_rows_map = {name: maps[1] for name, maps in row_maps.items()}
    flags.extend(_remap(f, lay_rows_map) for f in layout.flags)
    # The LLM's own "ungrounded" findings are about answers hybrid has already discarded (an
    # ungrounded value is null and loses to layout; a field neither side can fill gets
    # HYBRID_UNRESOLVED), so they stay as diagnostics, not warnings a reviewer must clear.
    flags.extend(
        _remap(f, llm_rows_map).model_copy(update={"severity": "info"})
        if f.code == LLM_UNGROUNDED_CODE
        else _remap(f, llm_rows_map)
        for f in llm.flags
    )
    fields = apply_confidence(record, fields, check(record))
    return ExtractorOutput(
        record=record,
        fields=fields,
        flags=flags,
        stats=_stats(layout.stats, llm.stats if llm_ran else None),
        unplaced=list(layout.unplaced),
    )


def _provenance_of(choice: _Choice, leaf: _Leaf) -> FieldProvenance | None:
    """The chosen value's provenance with the reconciliation signals."""
    if choice.prov is None:
        return None
    disagreed = choice.side in ("layout", "llm") and choice.alternative is not None
    signals = dict(choice.prov.signals)
    signals["grounded"] = 1.0 if is_grounded(choice.value, choice.prov, leaf.name) else 0.0
    signals["agreement"] = choice.agreement
    if choice.resolved_by_checks:
        signals["resolved_by_checks"] = 1.0
    if choice.resolved_by_grounding:
        signals["resolved_by_grounding"] = 1.0
    if choice.side == "llm" and leaf.lay_value is None:
        # only the model read it: nothing but the model vouches for it
        signals["llm_only"] = 1.0
    return choice.prov.model_copy(
        update={
            "extractor": choice.side or AGREED,
            "alternative": choice.alternative if disagreed else None,
            "signals": signals,
        }
    )


def apply_field_answers(
    out: ExtractorOutput,
    answers: dict[str, tuple[Any, FieldProvenance]],
    *,
    check: Callable[[FormRecord], list[Flag]],
) -> ExtractorOutput:
    """A hybrid reading with field-question answers (path → value read from the named cell,
    its provenance) reconciled into it leaf by leaf, by the same rules as two whole readings:
    agreement, grounding, a cell the reading assigns to another field, then the checks."""
    record = out.record.model_copy(deep=True)
    claimed: dict[tuple[int, tuple[int, ...]], set[str]] = {}
    for path, prov in out.fields.items():
        claimed.setdefault(_cell_key(prov), set()).add(path)
    leaves: dict[str, _Leaf] = {}
    for path, (value, prov) in answers.items():
        name = path.rsplit(".", 1)[-1]
        leaf = _Leaf(
            path, name, leaf_value(record, path), out.fields.get(path), value, prov, lay_path=path
        )
        owners = claimed.get(_cell_key(prov), set())
        leaf.llm_misplaced = bool(owners) and path not in owners
        leaves[path] = leaf
    choices = {path: _first_pass(leaf) for path, leaf in leaves.items()}
    for path, choice in choices.items():
        _set(record, path, choice.value)
    _settle_by_checks(record, leaves, choices, check)
    fields = dict(out.fields)
    flags = list(out.flags)
    for path, choice in choices.items():
        fields.pop(path, None)
        if choice.value is None:
            if choice.alternative is not None:
                flags.append(_unresolved(path, leaves[path]))
            continue
        chosen = _provenance_of(choice, leaves[path])
        if chosen is not None:
            fields[path] = chosen
    fields = apply_confidence(record, fields, check(record))
    return ExtractorOutput(
        record=record, fields=fields, flags=flags, stats=out.stats, unplaced=list(out.unplaced)
    )


def _build(choices: dict[str, _Choice], row_count: dict[str, int]) -> FormRecord:
    record = FormRecord(**{name: choices[name].value for name in SCALARS})
    for list_name, (model, _key) in _ROW_LISTS.items():
        rows = []
        for k in range(row_count[list_name]):
            values = {
                leaf: choices[f"{list_name}[{k}].{leaf}"].value for leaf in model.model_fields
            }
            if values.get("kind") is None and model is FundingRow:
                values["kind"] = "other"
            for req in ("label", "name"):
                if req in values and values[req] is None:
                    values[req] = ""
            rows.append(model(**values))
        setattr(record, list_name, rows)
    return record


def _unresolved(path: str, leaf: _Leaf) -> Flag:
    return Flag(
        code=UNRESOLVED_CODE,
        severity="warning",
        origin="extraction",
        fields=[path],
        message=f"{path}: the extractors read {leaf.lay_value!r} (layout) and "
        f"{leaf.llm_value!r} (llm) and neither can be trusted (not in its cited cell, a label, "
        "or a cell read as another field); left empty",
        expected=_flag_value(leaf.lay_value),
        found=_flag_value(leaf.llm_value),
    )


def _flag_value(v: Any) -> float | str | None:
    if v is None or isinstance(v, str):
        return v
    if _is_number(v):
        return float(v)
    return str(v)


def _stats(lay: RunInfo, llm: RunInfo | None) -> RunInfo:
    if llm is None:
        return RunInfo(extractor=EXTRACTOR_NAME, seconds=lay.seconds)
    if llm.prompts and llm.prompt_sha256 is None:
        # usage summed over escalated questions: name the prompts the way LLMExtractor does
        combined = "\n".join(f"{k}={v}" for k, v in llm.prompts.items())
        llm = llm.model_copy(
            update={
                "prompt": ",".join(llm.prompts),
                "prompt_sha256": hashlib.sha256(combined.encode("utf-8")).hexdigest(),
            }
        )
    return RunInfo(
        extractor=EXTRACTOR_NAME,
        model=llm.model,
        mode=llm.mode,
        prompt=llm.prompt,
        prompt_sha256=llm.prompt_sha256,
        prompts=dict(llm.prompts),
        input_tokens=llm.input_tokens,
        output_tokens=llm.output_tokens,
        llm_calls=llm.llm_calls,
        cache_hits=llm.cache_hits,
        seconds=lay.seconds + llm.seconds,
    )


def add_ocr_signals(output: ExtractorOutput, form: FormRegion) -> None:
    """Copy the OCR confidence of the cells under each value into its `ocr_confidence` signal
    (the lowest one; nothing for text-layer pages, whose cells carry no confidence)."""
    cells = [c for g in form.grids for c in g.cells if c.confidence is not None]
    if not cells:
        return
    for path, prov in list(output.fields.items()):
        x0, y0, x1, y1 = prov.bbox
        found = [
            c.confidence
            for c in cells
            if c.confidence is not None
            and c.page == prov.page
            and x0 - 1 <= (c.bbox[0] + c.bbox[2]) / 2 <= x1 + 1
            and y0 - 1 <= (c.bbox[1] + c.bbox[3]) / 2 <= y1 + 1
        ]
        if found and "ocr_confidence" not in prov.signals:
            signals = {**prov.signals, "ocr_confidence": round(min(found), 4)}
            output.fields[path] = prov.model_copy(update={"signals": signals})


# -- the extractor -------------------------------------------------------------------------------


class LazyLLM:
    """The LLM extractor of a run, opened on first use (an embedded server starts only when a
    question is actually asked) and shared by every form and document; closed by `close()`.

    Thread-safe: batch workers share one. After a failure to open, `error` says why and `get()`
    returns None for the rest of the run.
    """

    def __init__(
        self,
        opener: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
        *,
        extractor: Extractor | None = None,
        model: str | None = None,
        error: str | None = None,
    ) -> None:
        self._opener = opener
        self._extractor = extractor
        self._stack = contextlib.ExitStack()
        self._lock = threading.Lock()
        self.error = error
        client = getattr(extractor, "client", None)
        self.model = model or (client.settings.model if client is not None else None)

    @property
    def opened(self) -> bool:
        return self._extractor is not None

    def get(self) -> Extractor | None:
        with self._lock:
            if self._extractor is None and self._opener is not None and self.error is None:
                try:
                    self._extractor = self._stack.enter_context(self._opener())
                except JixiaoError as err:
                    self.error = err.line()
                except ImportError as err:
                    self.error = f"the LLM extractor is not installed ({err})"
            return self._extractor if self.error is None else None

    def fail(self, error: str) -> None:
        """The endpoint is unusable for every form: stop asking for the rest of the run."""
        self.error = error

    def close(self) -> None:
        self._stack.close()


def _section_of(path: str) -> str:
    if path.startswith("funding"):
        return "funding"
    if path.startswith("indicators"):
        return "indicators"
    if path in ("goal_expected", "goal_actual"):
        return "goals"
    if path in ("total_weight", "total_score", "grade"):
        return "totals"
    return "header"


def _leaf_paths(record: FormRecord) -> Iterator[str]:
    yield from SCALARS
    for list_name, (model, _key) in _ROW_LISTS.items():
        for k in range(len(getattr(record, list_name))):
            for attr in model.model_fields:
                yield f"{list_name}[{k}].{attr}"


def _as_scalar(value: Any) -> float | str | None:
    if value is None or isinstance(value, str):
        return value
    if _is_number(value):
        return float(value)
    return str(value)


def _merge_outputs(outputs: list[ExtractorOutput]) -> ExtractorOutput:
    """Section readings of one form (each holds only its own section) as one reading."""
    record = FormRecord()
    fields: dict[str, FieldProvenance] = {}
    flags: list[Flag] = []
    for part in outputs:
        for name in SCALARS:
            value = getattr(part.record, name)
            if value is not None:
                setattr(record, name, value)
        for list_name in _ROW_LISTS:
            rows = getattr(part.record, list_name)
            if rows:
                setattr(record, list_name, rows)
        fields.update(part.fields)
        flags.extend(part.flags)
    stats = outputs[0].stats.model_copy() if outputs else RunInfo(extractor="llm")
    for part in outputs[1:]:
        _add_usage(stats, part.stats)
    return ExtractorOutput(record=record, fields=fields, flags=flags, stats=stats)


def _add_usage(into: RunInfo, more: RunInfo) -> None:
    add_usage(into, Usage.of_run(more))
    into.prompts = dict(sorted({**into.prompts, **more.prompts}.items()))


_YEAR_RE = re.compile(r"(19|20)\d{2}")


def value_from_cell(leaf: str, text: str) -> Any:
    """The value a field question's answer names: parsed from the cell the way the section
    calls parse a cited cell (numbers from the text, never typed by the model)."""
    from jixiao.extract import labels
    from jixiao.extract.grounding import parse_number, strip_weight_suffix
    from jixiao.extract.llm.sections import cell_value

    value = cell_value(text).strip()
    if not value:
        return None
    if leaf in NUMBER_LEAVES:
        return parse_number(value)
    if leaf == "year":
        found = _YEAR_RE.search(value)
        return int(found.group()) if found else None
    if leaf == "funding_unit":
        return labels.money_unit(value)
    if leaf in ("level1", "level2"):
        return strip_weight_suffix(value)
    if leaf in ("label", "name", "title"):
        return value
    return text.strip()


class HybridExtractor:
    """`Extractor` over a layout and an (optional, lazily opened) LLM extractor.

    `policy.llm`: `auto` (default) asks the LLM only what layout and checks leave in doubt (see
    `jixiao.extract.escalation`); `always` runs the LLM on every section of every form and
    reconciles the two readings (the design before escalation, kept for evals); `never` is the
    layout reading with the hybrid's confidence.
    """

    name = EXTRACTOR_NAME

    def __init__(
        self,
        layout: Extractor,
        llm: Extractor | LazyLLM | None,
        *,
        llm_error: str | None = None,
        policy: EscalationPolicy | None = None,
    ) -> None:
        self.layout = layout
        self.llm = llm if isinstance(llm, LazyLLM) or llm is None else LazyLLM(extractor=llm)
        self.llm_error = llm_error
        self.policy = policy or EscalationPolicy()
        self._routing: LoadedRouting | None = None

    @property
    def routing(self) -> LoadedRouting:
        if self._routing is None:
            self._routing = load_routing(self.policy.routing_path)
        return self._routing

    def _llm(self) -> tuple[Extractor | None, str | None]:
        if self.llm is None:
            return None, self.llm_error or "no LLM extractor is configured"
        got = self.llm.get()
        return got, (None if got is not None else self.llm.error or self.llm_error)

    def extract(self, form: FormRegion, layout: LayoutText, *, doc_sha256: str) -> ExtractorOutput:
        started = time.perf_counter()
        lay = self.layout.extract(form, layout, doc_sha256=doc_sha256)
        add_ocr_signals(lay, form)
        if self.policy.llm == "always":
            out = self._always(form, layout, lay, doc_sha256)
        elif self.policy.llm == "never":
            out = reconcile(lay, None, llm_wanted=False)
        else:
            out = self._escalate(form, layout, lay, doc_sha256)
        out.stats.llm_policy = self.policy.llm
        out.stats.seconds = round(time.perf_counter() - started, 3)
        return out

    def _always(
        self, form: FormRegion, layout: LayoutText, lay: ExtractorOutput, doc_sha256: str
    ) -> ExtractorOutput:
        llm, error = self._llm()
        llm_out: ExtractorOutput | None = None
        if llm is not None:
            try:
                llm_out = llm.extract(form, layout, doc_sha256=doc_sha256)
            except JixiaoError as err:
                # the endpoint is unusable for every form: stop asking, read the rest by layout
                error = err.line()
                if self.llm is not None:
                    self.llm.fail(error)
            except Exception as err:  # one bad LLM answer must not lose the layout reading
                error = f"{type(err).__name__}: {err}"
        if llm_out is not None:
            add_ocr_signals(llm_out, form)
        out = reconcile(lay, llm_out, llm_error=error)
        out.calls = list(llm_out.calls) if llm_out is not None else []  # used or not, they ran
        return out

    # -- escalation ---------------------------------------------------------------------------

    def _escalate(
        self, form: FormRegion, layout: LayoutText, lay: ExtractorOutput, doc_sha256: str
    ) -> ExtractorOutput:
        from jixiao.confidence import review_threshold
        from jixiao.extract.llm.sections import split_sections

        check = _checks_with_weights
        base = reconcile(lay, None, llm_wanted=False, check=check(base_fields=lay.fields))
        threshold = (
            self.policy.threshold if self.policy.threshold is not None else review_threshold()
        )
        shown = {section.name for section in split_sections(layout)}
        planned = plan_questions(
            base.record,
            base.fields,
            check(base_fields=base.fields)(base.record),
            layout,
            threshold=threshold,
            unplaced=lay.unplaced,
            sections_shown=shown | ({"indicators"} if not base.record.indicators else set()),
            layout_flags=lay.flags,
        )
        routing = self.routing
        model = self.llm.model if self.llm is not None else None
        budget = Budget(self.policy.max_calls, self.policy.max_tokens)
        records: list[LLMQuestion] = []
        wanted = [q for q in planned if self.policy.ask_all or routing.table.allows(model, q.level)]
        records.extend(q.record("skipped_routing") for q in planned if q not in wanted)
        out = base
        usage = RunInfo(extractor="llm")
        log: list[LLMCall] = []  # every call's record, in order, for the output
        if wanted:
            llm, error = self._llm()
            if llm is None:
                records.extend(q.record("unavailable", error=error) for q in wanted)
                out.flags.append(_unavailable_flag(len(wanted), error))
            else:
                out = self._ask(
                    form, layout, lay, base, wanted, llm, budget, records, usage, doc_sha256, log
                )
        out.calls = log
        out.stats = _stats(lay.stats, usage if usage.llm_calls or usage.cache_hits else None)
        out.stats.routing = routing.cite
        out.stats.questions = records
        return out

    def _ask(
        self,
        form: FormRegion,
        layout: LayoutText,
        lay: ExtractorOutput,
        base: ExtractorOutput,
        wanted: list[PlannedQuestion],
        llm: Extractor,
        budget: Budget,
        records: list[LLMQuestion],
        usage: RunInfo,
        doc_sha256: str,
        log: list[LLMCall],
    ) -> ExtractorOutput:
        from jixiao.extract.llm.extractor import LLMExtractor

        if not isinstance(llm, LLMExtractor):
            records.extend(q.record("unavailable", error="not an LLM extractor") for q in wanted)
            return base
        check = _checks_with_weights
        section_parts: list[tuple[PlannedQuestion, ExtractorOutput]] = []
        fields_asked: list[PlannedQuestion] = []
        for q in wanted:
            if q.level == "field":
                fields_asked.append(q)
                continue
            calls, tokens = _section_cost(llm, layout, q)
            if not budget.fits(calls, tokens):
                records.append(q.record("skipped_budget"))
                continue
            budget.spend(calls, tokens)
            part = llm.extract_sections(
                form,
                layout,
                doc_sha256=doc_sha256,
                sections=set(q.sections),
                whole_form=q.level == "form",
            )
            add_ocr_signals(part, form)
            log.extend(part.calls)
            _add_usage(usage, part.stats)
            usage.model, usage.mode = part.stats.model, part.stats.mode
            section_parts.append((q, part))
        out = base
        if section_parts:
            merged = _merge_outputs([part for _q, part in section_parts])
            out = reconcile(lay, merged, llm_wanted=False, check=check(base_fields=lay.fields))
            for q, part in section_parts:
                changed, confirmed = _changes(base, out, {_section_of(p) for p in part.fields})
                if q.level == "form":
                    changed, confirmed = _changes(base, out, None)
                failed = not _has_values(part.record)
                records.append(
                    q.record(
                        "failed" if failed else "asked",
                        changed=changed,
                        confirmed=confirmed,
                        llm_calls=part.stats.llm_calls,
                        input_tokens=part.stats.input_tokens,
                        output_tokens=part.stats.output_tokens,
                        cache_hits=part.stats.cache_hits,
                        seconds=part.stats.seconds,
                        error="; ".join(f.message for f in part.flags if f.severity != "info")
                        or None
                        if failed
                        else None,
                    )
                )
        if fields_asked:
            out = self._ask_fields(
                layout, out, fields_asked, llm, budget, records, usage, doc_sha256, form, log
            )
        return out

    def _ask_fields(
        self,
        layout: LayoutText,
        out: ExtractorOutput,
        asked: list[PlannedQuestion],
        llm: Any,
        budget: Budget,
        records: list[LLMQuestion],
        usage: RunInfo,
        doc_sha256: str,
        form: FormRegion,
        log: list[LLMCall],
    ) -> ExtractorOutput:
        from jixiao.extract.llm.extractor import add_call_usage
        from jixiao.extract.llm.questions import (
            FieldQuestion,
            ask_field,
            estimate_tokens,
            question_prompt,
            question_wording,
        )

        prompt = question_prompt()
        answers: dict[str, tuple[Any, FieldProvenance]] = {}
        asked_records: dict[str, LLMQuestion] = {}
        for q in asked:
            cells = {
                cid: layout.cells[cid].text
                for row in q.rows
                for cid in row.cell_ids
                if cid in layout.cells
            }
            leaf = q.target.rsplit(".", 1)[-1]
            question = FieldQuestion(
                q.target, leaf, question_wording(leaf, q.row_key), list(q.rows), cells
            )
            tokens = estimate_tokens(question, prompt)
            if not budget.fits(1, tokens):
                records.append(q.record("skipped_budget"))
                continue
            budget.spend(1, tokens)
            cell, stats = ask_field(
                llm.client, question, doc_sha256=doc_sha256, form_index=form.index
            )
            log.append(stats)
            add_call_usage(usage, stats)
            usage.prompts[prompt.ref] = prompt.sha256
            usage.model, usage.mode = llm.client.settings.model, llm.client.settings.mode
            value = value_from_cell(leaf, layout.cells[cell].text) if cell else None
            record = q.record(
                "failed" if stats.error else "asked",
                answer=cell or ("none" if not stats.error else None),
                llm_calls=stats.attempts,
                input_tokens=stats.input_tokens,
                output_tokens=stats.output_tokens,
                cache_hits=int(stats.cache_hit),
                seconds=round(stats.seconds, 3),
                error=stats.error,
            )
            asked_records[q.target] = record
            records.append(record)
            if cell is not None and value is not None:
                ref = layout.cells[cell]
                answers[q.target] = (
                    value,
                    FieldProvenance(
                        confidence=0.9,
                        page=ref.page,
                        bbox=ref.bbox,
                        source_text=ref.text,
                        extractor="llm",
                        signals={"grounded": 1.0},
                    ),
                )
        if not answers:
            return out
        check = _checks_with_weights(base_fields=out.fields)
        new = apply_field_answers(out, answers, check=check)
        for path, record in asked_records.items():
            if path not in answers:
                continue
            before, after = leaf_value(out.record, path), leaf_value(new.record, path)
            if not values_agree(before, after):
                record.changed = [
                    ChangedValue(path=path, before=_as_scalar(before), after=_as_scalar(after))
                ]
            elif values_agree(before, answers[path][0]):
                record.confirmed = [path]
        return new


def _checks_with_weights(
    *, base_fields: dict[str, FieldProvenance]
) -> Callable[[FormRecord], list[Flag]]:
    """run_checks with the 一级 weights printed in the labels the reading cites (R8)."""
    from jixiao.checks import printed_level1_weights, run_checks

    def check(record: FormRecord) -> list[Flag]:
        return run_checks(record, level1_weights=printed_level1_weights(record, base_fields))

    return check


def _section_cost(llm: Any, layout: LayoutText, q: PlannedQuestion) -> tuple[int, int]:
    """Worst-case requests and tokens of a section (or whole-form) question: every chunk with
    every validation re-ask, each prompt one token a character, each answer at max_tokens."""
    from jixiao.extract.llm.prompts import section_prompt
    from jixiao.extract.llm.sections import build_section_models, split_sections

    attempts = 1 + int(llm.max_retries)
    calls = tokens = 0
    for section in split_sections(layout, chunk_rows=llm.chunk_rows, whole_form=q.level == "form"):
        if section.name not in q.sections:
            continue
        prompt = section_prompt(section.name)
        schema = json.dumps(build_section_models(section).response.model_json_schema())
        one = len(prompt.render(section.text)) + len(schema) + llm.client.settings.max_tokens
        calls += attempts
        tokens += attempts * one
    return calls, tokens


def _changes(
    before: ExtractorOutput, after: ExtractorOutput, sections: set[str] | None
) -> tuple[list[ChangedValue], list[str]]:
    """Leaves (of the given sections; all when None) whose value the answers changed, and
    those they confirmed."""
    changed: list[ChangedValue] = []
    confirmed: list[str] = []
    paths = dict.fromkeys([*_leaf_paths(before.record), *_leaf_paths(after.record)])
    for path in paths:
        if sections is not None and _section_of(path) not in sections:
            continue
        b, a = leaf_value(before.record, path), leaf_value(after.record, path)
        if not values_agree(b, a):
            changed.append(ChangedValue(path=path, before=_as_scalar(b), after=_as_scalar(a)))
        elif a is not None and (prov := after.fields.get(path)) and prov.extractor == AGREED:
            confirmed.append(path)
    return changed, confirmed


def _unavailable_flag(count: int, error: str | None) -> Flag:
    return Flag(
        code=LLM_UNAVAILABLE_CODE,
        severity="warning",
        origin="extraction",
        message=f"the LLM was needed for {count} question(s) but could not be used "
        f"({error or 'unknown error'}); only the layout extractor read this form",
    )


@contextlib.contextmanager
def open_hybrid_extractor(options: ExtractorOptions) -> Iterator[HybridExtractor]:
    """Factory for base.open_extractor("hybrid"): the layout extractor plus the LLM one, opened
    (and an embedded server started) only when a form needs an answer; once for the run."""
    from jixiao.config import LLMSettings
    from jixiao.extract.layout import LayoutExtractor

    policy = EscalationPolicy(**options.escalation)
    model: str | None = None
    error: str | None = None
    try:
        model = LLMSettings.from_env(model=options.model, base_url=options.base_url).model
    except JixiaoError as err:
        error = err.line()

    def opener() -> contextlib.AbstractContextManager[Any]:
        from jixiao.extract.llm.extractor import open_llm_extractor

        return open_llm_extractor(options)

    lazy = LazyLLM(opener if error is None else None, model=model, error=error)
    try:
        yield HybridExtractor(LayoutExtractor(), lazy, llm_error=error, policy=policy)
    finally:
        lazy.close()


__all__ = [
    "AGREED",
    "EXTRACTOR_NAME",
    "LLM_UNAVAILABLE_CODE",
    "UNRESOLVED_CODE",
    "HybridExtractor",
    "LazyLLM",
    "add_ocr_signals",
    "align_rows",
    "apply_field_answers",
    "is_grounded",
    "open_hybrid_extractor",
    "reconcile",
    "value_from_cell",
    "values_agree",
]
