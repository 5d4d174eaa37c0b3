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
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from jixiao.confidence import ARITHMETIC_RULES, apply_confidence
from jixiao.contract import FieldProvenance, Flag, FormRecord, FundingRow, Indicator, RunInfo
from jixiao.errors import JixiaoError
from jixiao.extract.base import Extractor, ExtractorOptions, ExtractorOutput
from jixiao.extract.grounding import locate, locate_number, normalize
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
) -> ExtractorOutput:
    """One record from the two extractors' outputs for the same form (see the module doc).

    `llm` None or empty → the layout's values with a HYBRID_LLM_UNAVAILABLE flag (`llm_error`
    says why). `check`: the arithmetic checks (default `jixiao.checks.run_checks`).
    """
    if check is None:
        from jixiao.checks import run_checks

        check = run_checks
    flags: list[Flag] = []
    llm_ran = llm is not None and _has_values(llm.record)
    if not llm_ran:
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
        if choice.prov is None:
            continue
        disagreed = choice.side in ("layout", "llm") and choice.alternative is not None
        signals = dict(choice.prov.signals)
        signals["grounded"] = 1.0 if is_grounded(choice.value, choice.prov, leaf.name) else 0.0
        signals["agreement"] = choice.agreement
        if choice.resolved_by_checks:
            signals["resolved_by_checks"] = 1.0
        if choice.resolved_by_grounding:
            signals["resolved_by_grounding"] = 1.0
        fields[path] = choice.prov.model_copy(
            update={
                "extractor": choice.side or AGREED,
                "alternative": choice.alternative if disagreed else None,
                "signals": signals,
            }
        )

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


class HybridExtractor:
    """`Extractor` over a layout and an (optional) LLM extractor."""

    name = EXTRACTOR_NAME

    def __init__(
        self, layout: Extractor, llm: Extractor | None, *, llm_error: str | None = None
    ) -> None:
        self.layout = layout
        self.llm = llm
        self.llm_error = llm_error

    def extract(self, form: FormRegion, layout: LayoutText, *, doc_sha256: str) -> ExtractorOutput:
        started = time.perf_counter()
        lay = self.layout.extract(form, layout, doc_sha256=doc_sha256)
        llm_out: ExtractorOutput | None = None
        error = self.llm_error
        if self.llm is not None:
            try:
                llm_out = self.llm.extract(form, layout, doc_sha256=doc_sha256)
            except JixiaoError as err:
                # the endpoint is unusable for every form: stop asking, read the rest by layout
                error = self.llm_error = err.line()
                self.llm = None
            except Exception as err:  # one bad LLM answer must not lose the layout reading
                error = f"{type(err).__name__}: {err}"
        for reading in (lay, llm_out):
            if reading is not None:
                add_ocr_signals(reading, form)
        out = reconcile(lay, llm_out, llm_error=error)
        out.stats.seconds = round(time.perf_counter() - started, 3)
        return out


@contextlib.contextmanager
def open_hybrid_extractor(options: ExtractorOptions) -> Iterator[HybridExtractor]:
    """Factory for base.open_extractor("hybrid"): the layout extractor plus the LLM one when
    its endpoint (or the embedded server) can be opened; otherwise layout alone, flagged."""
    from jixiao.extract.layout import LayoutExtractor

    with contextlib.ExitStack() as stack:
        llm: Extractor | None = None
        error: str | None = None
        try:
            from jixiao.extract.llm.extractor import open_llm_extractor

            llm = stack.enter_context(open_llm_extractor(options))
        except JixiaoError as err:
            error = err.line()
        except ImportError as err:
            error = f"the LLM extractor is not installed ({err})"
        yield HybridExtractor(LayoutExtractor(), llm, llm_error=error)


__all__ = [
    "AGREED",
    "EXTRACTOR_NAME",
    "LLM_UNAVAILABLE_CODE",
    "UNRESOLVED_CODE",
    "HybridExtractor",
    "add_ocr_signals",
    "align_rows",
    "is_grounded",
    "open_hybrid_extractor",
    "reconcile",
    "values_agree",
]
