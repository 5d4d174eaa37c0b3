"""The LLM extractor: one small extractive call per section, merged into a FormRecord.

Every value comes from a grounded span (see sections.py); numbers are parsed here from the
cited cell text, never typed by the model. Calls are cached by (document, form, section, chunk,
prompt hash, model, mode, parameters), so re-running an unchanged document makes no LLM call.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from jixiao.contract import FieldProvenance, Flag, FormRecord, FundingRow, Indicator, RunInfo
from jixiao.extract import labels
from jixiao.extract.base import ExtractorOptions, ExtractorOutput
from jixiao.extract.grounding import parse_number, strip_weight_suffix
from jixiao.extract.llm.calls import LLMCall, Usage, add_usage, section_label
from jixiao.extract.llm.client import LLMClient
from jixiao.extract.llm.prompts import Prompt, section_prompt
from jixiao.extract.llm.sections import (
    INDICATOR_CHUNK_ROWS,
    SectionInput,
    build_section_models,
    split_sections,
    validation_context,
)
from jixiao.ingest.model import CellRef, FormRegion, LayoutText

GROUNDED_CONFIDENCE = 0.9
_YEAR_RE = re.compile(r"(19|20)\d{2}")
_UNGROUNDED_RE = re.compile(r"^(?:rows\[(\d+)\]\.)?(\w+): (.*)$")


@dataclass
class _Merge:
    """The record being assembled, with provenance and flags, for one form."""

    layout: LayoutText
    record: FormRecord = field(default_factory=FormRecord)
    fields: dict[str, FieldProvenance] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)
    cited: set[str] = field(default_factory=set)

    def cite(self, path: str, cell: str, source: str) -> None:
        ref: CellRef | None = self.layout.cells.get(cell)
        if ref is None:
            return
        self.cited.add(cell)
        self.fields[path] = FieldProvenance(
            confidence=GROUNDED_CONFIDENCE,
            page=ref.page,
            bbox=ref.bbox,
            source_text=source,
            extractor="llm",
            signals={"grounded": 1.0},
        )

    def text(self, path: str, span: Any) -> str | None:
        if span is None or not span.grounded or not span.source:
            return None
        self.cite(path, span.cell, span.source)
        return str(span.source)

    def number(self, path: str, span: Any) -> float | None:
        if span is None or not span.grounded:
            return None
        value = parse_number(span.source)
        if value is not None:
            self.cite(path, span.cell, span.source)
        return value

    def whole_cell(self, path: str, pick: Any) -> str | None:
        if pick is None or not pick.grounded:
            return None
        text = self.layout.cells[pick.cell].text.strip()
        if not text:
            return None
        self.cite(path, pick.cell, text)
        return text


class LLMExtractor:
    """`Extractor` over an LLMClient. Never raises on a bad form: nulls and flags instead."""

    name = "llm"

    def __init__(
        self,
        client: LLMClient,
        *,
        chunk_rows: int = INDICATOR_CHUNK_ROWS,
        max_retries: int | None = None,
    ) -> None:
        self.client = client
        self.chunk_rows = chunk_rows
        self.max_retries = (
            client.settings.max_validation_retries if max_retries is None else max_retries
        )

    # -- the calls ---------------------------------------------------------------------------

    def cache_key(
        self, doc_sha256: str, form_index: int, section: SectionInput, prompt: Prompt
    ) -> str:
        s = self.client.settings
        parts = {
            "doc": doc_sha256,
            "form": form_index,
            "section": section.name,
            "chunk": section.chunk,
            "prompt": prompt.sha256,
            "model": s.model,
            "mode": s.mode,
            "params": {
                "temperature": s.temperature,
                "max_retries": self.max_retries,
                "chunk_rows": self.chunk_rows,
                # the section's own text: a changed ingestion is a changed input
                "input": hashlib.sha256(section.text.encode("utf-8")).hexdigest()[:16],
            },
        }
        return json.dumps(parts, sort_keys=True, ensure_ascii=False)

    def _call(
        self, section: SectionInput, prompt: Prompt, doc_sha256: str, form_index: int
    ) -> tuple[BaseModel | None, LLMCall]:
        models = build_section_models(section)
        messages = [{"role": "user", "content": prompt.render(section.text)}]
        return self.client.extract(
            models.response,
            messages,
            context=validation_context(section, max_retries=self.max_retries),
            max_retries=self.max_retries,
            cache_key=self.cache_key(doc_sha256, form_index, section, prompt),
            section=section_label(section.name, section.chunk),
            prompt=prompt,
        )

    def extract(self, form: FormRegion, layout: LayoutText, *, doc_sha256: str) -> ExtractorOutput:
        return self.extract_sections(form, layout, doc_sha256=doc_sha256)

    def extract_sections(
        self,
        form: FormRegion,
        layout: LayoutText,
        *,
        doc_sha256: str,
        sections: Collection[str] | None = None,
        whole_form: bool = False,
    ) -> ExtractorOutput:
        """Read the named sections only (all when None). `whole_form`: the layout extractor
        found no structure it knows, so rows without an indicator header are read as
        indicator rows too (see `split_sections`)."""
        s = self.client.settings
        run = RunInfo(extractor=self.name, model=s.model, mode=s.mode)
        merge = _Merge(layout)
        indicator_offset = 0
        seen_prompts: dict[str, str] = {}
        calls: list[LLMCall] = []
        inputs = split_sections(layout, chunk_rows=self.chunk_rows, whole_form=whole_form)
        for section in inputs:
            if sections is not None and section.name not in sections:
                continue
            prompt = section_prompt(section.name)
            seen_prompts[prompt.ref] = prompt.sha256
            result, stats = self._call(section, prompt, doc_sha256, form.index)
            calls.append(stats)
            if result is None:
                merge.flags.append(_section_failed(section, stats))
                if section.name == "indicators":
                    indicator_offset += len(section.rows)
                continue
            ungrounded = list(getattr(result, "ungrounded", []))
            if section.name == "header":
                _merge_header(merge, result)
            elif section.name == "funding":
                _merge_funding(merge, result, ungrounded)
            elif section.name == "goals":
                _merge_goals(merge, result)
            elif section.name == "indicators":
                _merge_indicators(merge, result, ungrounded)
                indicator_offset += len(section.rows)
            else:
                _merge_totals(merge, result)
            for item in ungrounded:
                merge.flags.append(_ungrounded_flag(section, item))
        wanted = sections is None or "indicators" in sections
        if wanted and not any(sec.name == "indicators" for sec in inputs):
            merge.flags.append(
                Flag(
                    code="EXTRACTION_SECTION_MISSING",
                    severity="warning",
                    origin="extraction",
                    fields=["indicators"],
                    message="no indicator table (一级/三级指标 header) was found in this form",
                )
            )
        Usage.total(call.usage for call in calls).write_to(run)
        run.prompts = dict(sorted(seen_prompts.items()))
        run.prompt = ",".join(run.prompts)
        combined = "\n".join(f"{k}={v}" for k, v in run.prompts.items())
        run.prompt_sha256 = hashlib.sha256(combined.encode("utf-8")).hexdigest()
        unplaced = _unplaced(layout, merge.cited)
        return ExtractorOutput(
            record=merge.record,
            fields=merge.fields,
            flags=merge.flags,
            stats=run,
            unplaced=unplaced,
            calls=calls,
        )


def add_call_usage(run: RunInfo, call: LLMCall) -> None:
    """Add one call's requests, tokens, cache hit and seconds to a run's totals."""
    add_usage(run, call.usage)


def _section_failed(section: SectionInput, stats: LLMCall) -> Flag:
    return Flag(
        code="EXTRACTION_FAILED",
        severity="warning",
        origin="extraction",
        fields=[_SECTION_PATH[section.name]],
        message=f"the LLM could not read section {section.key}: {stats.error or 'no answer'}",
    )


_SECTION_PATH = {
    "header": "project_name",
    "funding": "funding",
    "goals": "goal_expected",
    "indicators": "indicators",
    "totals": "total_score",
}


def _ungrounded_flag(section: SectionInput, item: str) -> Flag:
    m = _UNGROUNDED_RE.match(item)
    if m is None:
        path, cited = _SECTION_PATH[section.name], item
    else:
        row, name, cited = m.groups()
        if section.name == "funding":
            path = f"funding[{row}].{name}"
        elif section.name == "indicators":
            # chunk-local row: the reviewer sees the chunk too
            path = f"indicators[{section.chunk}:{row}].{name}"
        else:
            path = name
    return Flag(
        code="EXTRACTION_UNGROUNDED",
        severity="warning",
        origin="extraction",
        fields=[path],
        message=f"the LLM cited a value the source does not show ({cited}); left empty",
        found=cited[:200],
    )


def _merge_header(m: _Merge, r: Any) -> None:
    rec = m.record
    rec.title = m.text("title", r.title)
    year_text = m.text("year", r.year)
    if year_text is not None:
        found = _YEAR_RE.search(year_text)
        rec.year = int(found.group()) if found else None
        if rec.year is None:
            m.fields.pop("year", None)
    rec.project_name = m.text("project_name", r.project_name)
    rec.competent_department = m.text("competent_department", r.competent_department)
    rec.implementing_unit = m.text("implementing_unit", r.implementing_unit)
    unit = m.text("funding_unit", r.funding_unit)
    if unit is not None:
        # the model may cite the whole "项目资金（万元）" label: keep the unit only
        unit = labels.money_unit(unit) or (unit if len(unit) <= 3 else None)
        if unit is None:
            m.fields.pop("funding_unit", None)
    rec.funding_unit = unit


_MONEY_FIELDS = ("initial_budget", "annual_budget", "executed", "weight", "execution_rate", "score")


def _merge_funding(m: _Merge, r: Any, ungrounded: list[str]) -> None:
    for row in r.rows:
        if row.label is None or not row.label.grounded:
            continue
        k = len(m.record.funding)
        label = m.text(f"funding[{k}].label", row.label)
        if label is None:
            continue
        values = {f: m.number(f"funding[{k}].{f}", getattr(row, f)) for f in _MONEY_FIELDS}
        if all(v is None for v in values.values()) and labels.funding_kind(label) == "other":
            # a header or block-label row, not a money row
            for f in ("label", *_MONEY_FIELDS):
                m.fields.pop(f"funding[{k}].{f}", None)
            continue
        m.record.funding.append(FundingRow(label=label, kind=labels.funding_kind(label), **values))


def _merge_goals(m: _Merge, r: Any) -> None:
    m.record.goal_expected = m.whole_cell("goal_expected", r.goal_expected)
    m.record.goal_actual = m.whole_cell("goal_actual", r.goal_actual)


def _merge_indicators(m: _Merge, r: Any, ungrounded: list[str]) -> None:
    for row in r.rows:
        k = len(m.record.indicators)
        name = m.text(f"indicators[{k}].name", row.name)
        if name is None:
            continue
        prev = m.record.indicators[-1] if m.record.indicators else None
        level1 = _level(m, f"indicators[{k}].level1", row.level1)
        level2 = _level(m, f"indicators[{k}].level2", row.level2)
        # merged level cells: a row that does not show its level inherits the one above
        if level1 is None and prev is not None:
            level1 = _inherit(m, k, "level1")
            if level2 is None:
                level2 = _inherit(m, k, "level2")
        elif level2 is None and prev is not None and prev.level1 == level1:
            level2 = _inherit(m, k, "level2")
        m.record.indicators.append(
            Indicator(
                level1=level1,
                level2=level2,
                name=name,
                target_text=m.text(f"indicators[{k}].target_text", row.target_text),
                actual_text=m.text(f"indicators[{k}].actual_text", row.actual_text),
                weight=m.number(f"indicators[{k}].weight", row.weight),
                score=m.number(f"indicators[{k}].score", row.score),
                deviation_reason=m.whole_cell(
                    f"indicators[{k}].deviation_reason", row.deviation_reason
                ),
            )
        )


def _inherit(m: _Merge, k: int, name: str) -> str | None:
    """The level of row k-1, with its provenance (the merged cell it was printed in)."""
    value: str | None = getattr(m.record.indicators[k - 1], name)
    source = m.fields.get(f"indicators[{k - 1}].{name}")
    if value is not None and source is not None:
        m.fields[f"indicators[{k}].{name}"] = source.model_copy()
    return value


def _level(m: _Merge, path: str, span: Any) -> str | None:
    text = m.text(path, span)
    return strip_weight_suffix(text) if text else None


def _merge_totals(m: _Merge, r: Any) -> None:
    m.record.total_weight = m.number("total_weight", r.total_weight)
    m.record.total_score = m.number("total_score", r.total_score)
    m.record.grade = m.text("grade", r.grade)


def _unplaced(layout: LayoutText, cited: set[str]) -> list[str]:
    """Cells holding a value-like text that no field cites (labels are not values)."""
    out = []
    for cid, ref in layout.cells.items():
        text = ref.text.strip()
        if cid in cited or not text or labels.classify_any(text) is not None:
            continue
        out.append(cid)
    return out


@contextlib.contextmanager
def open_llm_extractor(options: ExtractorOptions) -> Iterator[LLMExtractor]:
    """The `llm` extractor with its client; starts (and stops) the embedded server if needed."""
    from jixiao.config import LLMSettings
    from jixiao.extract.llm.client import open_client

    settings = LLMSettings.from_env(
        model=options.model, base_url=options.base_url, mode=options.mode
    )
    with open_client(settings) as client:
        yield LLMExtractor(client, **options.extra)
