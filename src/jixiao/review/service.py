"""What the review UI shows and does, without the web: the queue, one form's fields with their
provenance and flags, reviewer decisions, and the gold export.

Nothing here overwrites an extraction: every decision is a `review_decisions` row (store), the
current values are derived from them, and the checks are rerun on the current values each time
a form is read, so flags always match what the reviewer sees.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock
from typing import Any, Literal, get_args

from pydantic import ValidationError
from sqlalchemy import Engine, func
from sqlalchemy.orm import Session
from sqlmodel import col, select

from jixiao.checks import CheckConfig, printed_level1_weights, run_checks
from jixiao.contract import (
    NUMBER_LEAVES,
    ExtractionResult,
    FieldProvenance,
    Flag,
    FormRecord,
    FundingKind,
)
from jixiao.store import db
from jixiao.store.tables import Document, DocumentRun, Form, ReviewDecision

Action = Literal["accept", "correct", "form_wrong", "skip"]
ACTIONS: tuple[str, ...] = get_args(Action)
# Decisions that settle a field; a skip is recorded but leaves the field waiting.
SETTLING = {"accept", "correct", "form_wrong"}

_ROW_RE = re.compile(r"^(funding|indicators)\[(\d+)\]$")
_LEAF_RE = re.compile(r"^(\w+)(?:\[(\d+)\]\.(\w+))?$")

LABELS = {
    "form_type": "表类型",
    "title": "标题",
    "year": "年度",
    "project_name": "项目名称",
    "competent_department": "主管部门",
    "implementing_unit": "实施单位",
    "funding_unit": "金额单位",
    "goal_expected": "预期目标",
    "goal_actual": "实际完成情况",
    "total_weight": "总分值",
    "total_score": "总得分",
    "grade": "评价等级",
    "label": "行名",
    "kind": "类别",
    "initial_budget": "年初预算数",
    "annual_budget": "全年预算数",
    "executed": "全年执行数",
    "weight": "分值",
    "execution_rate": "执行率",
    "score": "得分",
    "level1": "一级指标",
    "level2": "二级指标",
    "name": "三级指标",
    "target_text": "年度指标值",
    "actual_text": "实际完成值",
    "deviation_reason": "偏差原因",
}
_NUMBER_LEAVES = NUMBER_LEAVES
_REQUIRED_TEXT = {"label", "name"}  # a row without its label/name is no row


class ReviewError(Exception):
    """A request the reviewer can fix: shown as one line, answered 4xx."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(slots=True)
class Filters:
    document: str | None = None  # document id, or a part of its file path
    department: str | None = None  # part of 主管部门 or 实施单位
    flag: str | None = None  # a flag code on the form now
    extractor: str | None = None
    max_confidence: float | None = None  # some value is below this
    status: Literal["all", "pending", "done"] = "all"


@dataclass(slots=True)
class FieldView:
    path: str
    label: str
    value: Any
    confidence: float | None
    page: int | None
    bbox: list[float] | None
    source_text: str | None
    extractor: str | None
    signals: dict[str, float]
    alternative: Any
    has_alternative: bool
    pending: bool
    status: str | None  # the last settling action, None when not reviewed
    flags: list[int] = field(default_factory=list)  # indices into FormView.flags
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class FormView:
    id: int
    document_id: int
    document_path: str
    document_name: str
    sha256: str
    form_index: int
    pages: list[int]
    project_name: str | None
    department: str | None
    extractor: str
    threshold: float
    fields: list[FieldView]
    flags: list[Flag]
    record: FormRecord
    provenance: dict[str, FieldProvenance]

    @property
    def pending(self) -> list[FieldView]:
        return [f for f in self.fields if f.pending]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.flags if f.severity == "error")

    @property
    def low_confidence(self) -> int:
        return sum(
            1
            for f in self.fields
            if f.pending and f.confidence is not None and f.confidence < self.threshold
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "document": {
                "id": self.document_id,
                "name": self.document_name,
                "sha256": self.sha256,
            },
            "form_index": self.form_index,
            "pages": self.pages,
            "project_name": self.project_name,
            "department": self.department,
            "extractor": self.extractor,
            "threshold": self.threshold,
            "pending": len(self.pending),
            "errors": self.errors,
            "flags": [f.model_dump(mode="json") for f in self.flags],
            "fields": [
                {
                    "path": f.path,
                    "label": f.label,
                    "value": f.value,
                    "confidence": f.confidence,
                    "page": f.page,
                    "bbox": f.bbox,
                    "source_text": f.source_text,
                    "extractor": f.extractor,
                    "signals": f.signals,
                    "alternative": f.alternative,
                    "has_alternative": f.has_alternative,
                    "pending": f.pending,
                    "status": f.status,
                    "flags": f.flags,
                    "history": f.history,
                }
                for f in self.fields
            ],
        }


def field_label(path: str) -> str:
    """'indicators[3].score' → '指标 4 · 得分' (a reviewer reads labels, not JSON paths)."""
    match = _LEAF_RE.match(path)
    if match is None:
        return path
    key, index, sub = match.groups()
    if index is None:
        return LABELS.get(key, key)
    row = "资金" if key == "funding" else "指标"
    return f"{row} {int(index) + 1} · {LABELS.get(sub, sub)}"


def split_reason(reason: str | None) -> tuple[str, str | None]:
    """A stored reason 'form_wrong: 原表合计有误' → ('form_wrong', '原表合计有误')."""
    if not reason:
        return ("correct", None)
    action, _, note = reason.partition(":")
    action = action.strip()
    if action not in ACTIONS:
        return ("correct", reason)
    return (action, note.strip() or None)


def _number(text: str) -> float:
    cleaned = unicodedata.normalize("NFKC", text).strip()
    cleaned = re.sub(r"[\s,，]", "", cleaned).removesuffix("%")
    try:
        value = float(cleaned)
    except ValueError:
        raise ReviewError(f"{text!r} is not a number (e.g. 9702.07 or 98.61%)") from None
    if not math.isfinite(value):
        raise ReviewError(f"{text!r} is not a finite number")
    return value


def parse_value(path: str, text: str | None) -> Any:
    """The reviewer's typed text as the field's type, validated like extraction output:
    numbers parse (commas, full-width digits, a trailing % allowed), year is an integer, kind is
    one of the funding kinds, a row's label/name cannot be emptied. Empty text means no value."""
    match = _LEAF_RE.match(path)
    if match is None:
        raise ReviewError(f"bad field path {path!r}", 404)
    key, index, sub = match.groups()
    leaf = sub if index is not None else key
    raw = (text or "").strip()
    if leaf == "form_type":
        raise ReviewError("form_type is fixed ('project') and cannot be corrected")
    if not raw:
        if leaf in _REQUIRED_TEXT or leaf == "kind":
            raise ReviewError(f"{field_label(path)} cannot be empty: a row keeps its {leaf}")
        return None
    if leaf in _NUMBER_LEAVES:
        return _number(raw)
    if leaf == "year":
        year = _number(raw)
        if year != int(year) or not 1900 <= year <= 2200:
            raise ReviewError(f"{text!r} is not a year (e.g. 2023)")
        return int(year)
    if leaf == "kind":
        kinds = get_args(FundingKind)
        if raw not in kinds:
            raise ReviewError(f"{raw!r} is not a funding kind ({', '.join(kinds)})")
        return raw
    return raw


class ReviewService:
    """Reads and writes through the store; one per app (engine shared, sessions per call)."""

    def __init__(self, engine: Engine, *, threshold: float, config: CheckConfig | None = None):
        self.engine = engine
        self.threshold = threshold
        self.config = config or CheckConfig(suspect_confidence=threshold)
        # form id → (its newest decision id, view): the queue reruns the checks only on forms
        # that changed, whoever changed them (the key comes from the database each time)
        self._views: dict[int, tuple[int, FormView]] = {}
        self._lock = Lock()

    def _cached(self, session: Session, form: Form, mark: int) -> FormView:
        assert form.id is not None
        with self._lock:
            hit = self._views.get(form.id)
        if hit is not None and hit[0] == mark:
            return hit[1]
        view = self._load(session, form)
        with self._lock:
            self._views[form.id] = (mark, view)
        return view

    @staticmethod
    def _marks(session: Session, form_id: int | None = None) -> dict[int, int]:
        stmt = select(col(ReviewDecision.form_id), func.max(col(ReviewDecision.id))).group_by(
            col(ReviewDecision.form_id)
        )
        if form_id is not None:
            stmt = stmt.where(col(ReviewDecision.form_id) == form_id)
        return {int(fid): int(last) for fid, last in session.execute(stmt) if last is not None}

    @staticmethod
    def _is_latest(session: Session, form: Form) -> bool:
        """Only the forms of a document's newest successful processing are reviewed."""
        newest = session.scalar(
            select(func.max(col(DocumentRun.id))).where(
                col(DocumentRun.document_id) == form.document_id, col(DocumentRun.status) == "done"
            )
        )
        return newest == form.document_run_id

    # --- reading -------------------------------------------------------------------------

    def _load(self, session: Session, form: Form) -> FormView:
        assert form.id is not None
        doc = session.get(Document, form.document_id)
        assert doc is not None
        result = db.current_result(session, form)
        decisions = list(
            session.scalars(
                select(ReviewDecision)
                .where(col(ReviewDecision.form_id) == form.id)
                .order_by(col(ReviewDecision.decided_at), col(ReviewDecision.id))
            )
        )
        return self._build(form, doc, result, decisions)

    def _build(
        self,
        form: Form,
        doc: Document,
        result: ExtractionResult,
        decisions: list[ReviewDecision],
    ) -> FormView:
        assert form.id is not None and doc.id is not None
        history: dict[str, list[dict[str, Any]]] = {}
        status: dict[str, str] = {}
        for d in decisions:
            action, note = split_reason(d.reason)
            history.setdefault(d.path, []).append(
                {
                    "action": action,
                    "note": note,
                    "reviewer": d.reviewer,
                    "at": d.decided_at.isoformat(timespec="seconds"),
                    "old": d.old_value,
                    "new": d.new_value,
                }
            )
            if action in SETTLING:
                status[d.path] = action
        # A value a person settled is as sure as it gets: the checks then call its flags
        # `source` (the form says so), not `extraction`.
        prov = dict(result.fields)
        for path in status:
            if path in prov:
                prov[path] = prov[path].model_copy(update={"confidence": 1.0})
        flags = run_checks(
            result.form,
            fields=prov,
            config=self.config,
            level1_weights=printed_level1_weights(result.form, result.fields),
        )
        # What extraction could not read (a row, a cell, a section) or could not settle is a
        # finding too: the checks are rerun here, extraction is not, so its findings are kept.
        flags += [f for f in result.flags if _needs_a_look(f)]

        leaves = list(db.leaf_values(result.form))
        flagged: dict[str, list[int]] = {}
        must_look: set[str] = set()
        leaf_paths = [path for path, _ in leaves]
        for i, flag in enumerate(flags):
            for target in flag.fields:
                if target in ("funding", "indicators"):
                    # a whole section: every row's name stands for it
                    names = [p for p in leaf_paths if p.startswith(target + "[")]
                    names = [p for p in names if p.endswith((".name", ".label"))]
                    for leaf in names:
                        flagged.setdefault(leaf, []).append(i)
                    if flag.severity != "info":
                        must_look.update(names)
                elif _ROW_RE.match(target):
                    row = [p for p in leaf_paths if p.startswith(target + ".")]
                    for leaf in row:
                        flagged.setdefault(leaf, []).append(i)
                    if flag.severity != "info":
                        # the row's name stands for the row in the list
                        must_look.update(x for x in row if x.endswith((".name", ".label")))
                else:
                    flagged.setdefault(target, []).append(i)
                    if flag.severity != "info":
                        must_look.add(target)

        views: list[FieldView] = []
        for path, value in leaves:
            p = result.fields.get(path)
            low = (p is None and value is not None) or (
                p is not None and p.confidence < self.threshold
            )
            pending = (low or path in must_look) and path not in status and path != "form_type"
            views.append(
                FieldView(
                    path=path,
                    label=field_label(path),
                    value=value,
                    confidence=p.confidence if p else None,
                    page=p.page if p else None,
                    bbox=list(p.bbox) if p else None,
                    source_text=p.source_text if p else None,
                    extractor=p.extractor if p else None,
                    signals=dict(p.signals) if p else {},
                    alternative=p.alternative if p else None,
                    has_alternative=bool(
                        p and p.alternative is not None and p.alternative != value
                    ),
                    pending=pending,
                    status=status.get(path),
                    flags=flagged.get(path, []),
                    history=history.get(path, []),
                )
            )
        rec = result.form
        return FormView(
            id=form.id,
            document_id=doc.id,
            document_path=doc.path,
            document_name=Path(doc.path).name,
            sha256=doc.sha256,
            form_index=form.form_index,
            pages=list(form.pages or result.source.pages),
            project_name=rec.project_name,
            department=rec.competent_department or rec.implementing_unit,
            extractor=form.extractor,
            threshold=self.threshold,
            fields=views,
            flags=flags,
            record=rec,
            provenance=dict(result.fields),
        )

    def form(self, form_id: int) -> FormView:
        """One form as it stands now (only forms of a document's latest processing)."""
        with Session(self.engine) as session:
            form = session.get(Form, form_id)
            if form is None or not self._is_latest(session, form):
                raise ReviewError(f"form {form_id} does not exist", 404)
            return self._cached(session, form, self._marks(session, form_id).get(form_id, 0))

    def queue(self, filters: Filters | None = None) -> list[FormView]:
        """Forms by need: waiting ones first, most errors first, then most fields below the
        review threshold; then document order."""
        filters = filters or Filters()
        with Session(self.engine) as session:
            marks = self._marks(session)
            views = [
                self._cached(session, form, marks.get(form.id or 0, 0))
                for form in db.latest_forms(session)
            ]
        views = [v for v in views if _matches(v, filters)]
        views.sort(key=lambda v: (not v.pending, -v.errors, -v.low_confidence, v.id))
        return views

    def next_pending(self, after: int) -> int | None:
        """The first waiting form of the queue other than `after`."""
        for view in self.queue(Filters(status="pending")):
            if view.id != after:
                return view.id
        return None

    def document_of(self, form_id: int) -> tuple[str, list[int]]:
        """(file path, pages) of a form's document: the only way to a file the app has."""
        with Session(self.engine) as session:
            form = session.get(Form, form_id)
            if form is None or not self._is_latest(session, form):
                raise ReviewError(f"form {form_id} does not exist", 404)
            doc = session.get(Document, form.document_id)
            assert doc is not None
            pages = list(form.pages or [])
            if doc.pages:
                pages = sorted(set(pages) | set(range(1, doc.pages + 1)))
            return doc.path, pages

    # --- writing -------------------------------------------------------------------------

    def decide(
        self,
        form_id: int,
        path: str,
        action: str,
        *,
        reviewer: str,
        value: str | None = None,
        note: str | None = None,
    ) -> FormView:
        """Store one decision on one field and return the form with the checks rerun."""
        if action not in ACTIONS:
            raise ReviewError(f"unknown action {action!r} (use {', '.join(ACTIONS)})")
        view = self.form(form_id)
        current = {f.path: f.value for f in view.fields}
        if path not in current:
            raise ReviewError(f"form {form_id} has no field {path!r}", 404)
        new_value = current[path]
        if action == "correct":
            new_value = parse_value(path, value)
            data = view.record.model_dump(mode="json")
            db.set_path(data, path, new_value)
            try:
                FormRecord.model_validate_json(json.dumps(data))
            except ValidationError as err:
                first = err.errors()[0]
                raise ReviewError(f"{field_label(path)}: {first['msg']}") from None
        note = (note or "").strip()[:2000] or None
        reason = f"{action}: {note}" if note else action
        db.record_review(self.engine, form_id, path, new_value, reviewer=reviewer, reason=reason)
        return self.form(form_id)

    # --- gold ----------------------------------------------------------------------------

    def reviewed_forms(self, *, include_pending: bool = False) -> list[FormView]:
        """Forms a person has cleared (nothing waiting, at least one decision)."""
        out = []
        for view in self.queue():
            touched = any(f.history for f in view.fields)
            if touched and (include_pending or not view.pending):
                out.append(view)
        return out


# Extraction findings a person must see: rows, cells or sections read incompletely, values the
# extractors could not settle, an LLM that was needed and could not be used.
_EXTRACTION_CODES = ("EXTRACTION_", "HYBRID_UNRESOLVED", "HYBRID_LLM_UNAVAILABLE")


def _needs_a_look(flag: Flag) -> bool:
    return (
        flag.origin == "extraction"
        and flag.severity != "info"
        and flag.code.startswith(_EXTRACTION_CODES)
    )


def _matches(view: FormView, f: Filters) -> bool:
    if f.document:
        wanted = f.document.strip()
        if wanted.isdigit():
            if int(wanted) != view.document_id:
                return False
        elif wanted not in (view.document_path if "/" in wanted else view.document_name):
            return False
    if f.department:
        units = " ".join(
            x for x in (view.record.competent_department, view.record.implementing_unit) if x
        )
        if f.department.strip() not in units:
            return False
    if f.flag and not any(flag.code == f.flag for flag in view.flags):
        return False
    if f.extractor and view.extractor != f.extractor:
        return False
    if f.max_confidence is not None and not any(
        x.confidence is not None and x.confidence < f.max_confidence for x in view.fields
    ):
        return False
    if f.status == "pending" and not view.pending:
        return False
    return not (f.status == "done" and view.pending)


def gold_name(view: FormView) -> str:
    """'review-<sha8>-<form index>.json': stable, so a re-export replaces rather than adds."""
    return f"review-{view.sha256[:8]}-{view.form_index}.json"


def export_gold(
    service: ReviewService, out_dir: Path, *, include_pending: bool = False
) -> list[Path]:
    """Write each reviewed form's current values as a gold FormRecord JSON (evals/gold style)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for view in service.reviewed_forms(include_pending=include_pending):
        path = out_dir / gold_name(view)
        text = json.dumps(view.record.model_dump(mode="json"), ensure_ascii=False, indent=2)
        path.write_text(text + "\n", encoding="utf-8")
        written.append(path)
    return written
