"""`html`: each form as an HTML page (a web system's "print" view) printed by headless Chromium.

The 一级/二级 labels are `rowspan` cells whose text the browser wraps; the indicator table's
`<thead>` is repeated by the browser on continuation pages when the template says so. Templates:
`grid` and `grid-shaded` draw every cell border, `rules-top` (dev) and `rules` (test) only
horizontal rules (border-top with a closing rule under the table, or border-bottom),
as many web reports do. The font stack is one no other renderer uses. Settings: `settings.py`.
"""

from __future__ import annotations

import html
import random
import tempfile
from pathlib import Path

import pymupdf

from jixiao.contract import FormRecord
from jixiao.corpus.render.blocks import (
    DEFAULT_TITLE,
    Labels,
    central_labels,
    level1_label,
    level_groups,
    synonym_labels,
    text,
)
from jixiao.corpus.render.draw import fmt_money, fmt_num, fmt_plain
from jixiao.corpus.render.settings import Settings, Split, html_settings
from jixiao.corpus.render.tools import html_to_pdf, normalized

PageRange = tuple[int, int]

_CSS = {
    "grid": """
table { border-collapse: collapse; }
td, th { border: 1px solid #000; }
""",
    "grid-shaded": """
table { border-collapse: collapse; }
td, th { border: 0.75pt solid #333; }
th, td.label { background: #e8e8e8; }
""",
    "rules-top": """
table { border-collapse: collapse; border-bottom: 1pt solid #000; }
td, th { border: none; border-top: 0.75pt solid #444; }
""",
    "rules": """
table { border-collapse: collapse; border-top: 1.5pt solid #000; border-bottom: 1.5pt solid #000; }
td, th { border: none; border-bottom: 0.5pt solid #666; }
thead th { border-bottom: 1pt solid #000; }
""",
}


def render(
    forms: list[FormRecord], seed: int, split: Split
) -> tuple[pymupdf.Document, list[PageRange], Settings, list[FormRecord]]:
    rng = random.Random(f"html:{seed}")
    settings = html_settings(split, rng)
    out = pymupdf.open()
    pages: list[PageRange] = []
    with tempfile.TemporaryDirectory(prefix="jixiao-html-") as tmp:
        for i, record in enumerate(forms):
            page = Path(tmp) / f"form{i}.html"
            page.write_text(
                page_html(record, settings, random.Random(f"html:{seed}:{i}")), encoding="utf-8"
            )
            with normalized(html_to_pdf(page, Path(tmp) / f"form{i}.pdf")) as part:
                first = out.page_count + 1
                out.insert_pdf(part)
                pages.append((first, out.page_count))
    return out, pages, settings, list(forms)


def _e(value: str | None) -> str:
    return html.escape(value or "").replace("\n", "<br>")


def page_html(record: FormRecord, settings: Settings, rng: random.Random) -> str:
    """The whole printable page of one form."""
    labels = central_labels(rng) if settings["labels"] == "central" else synonym_labels(rng)
    size = "A4 landscape" if settings["landscape"] else "A4"
    thead_display = "table-header-group" if settings["repeat_header"] else "table-row-group"
    css = f"""
@page {{ size: {size}; margin: {settings["margin_mm"]}mm; }}
body {{ font-family: {settings["font"]}; font-size: {settings["font_px"]}px; margin: 0; }}
h1 {{ text-align: center; font-size: 1.6em; margin: 0 0 0.2em; }}
.year {{ text-align: center; margin-bottom: 0.8em; }}
table {{ width: 100%; margin-bottom: -1px; table-layout: fixed; }}
td, th {{ padding: 3px 4px; vertical-align: middle; text-align: center; font-weight: normal;
  overflow-wrap: anywhere; }}
td.l {{ text-align: left; }}
td.r {{ text-align: right; }}
thead {{ display: {thead_display}; }}
tr {{ break-inside: avoid; }}
{_CSS[str(settings["template"])]}
"""
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>{_e(record.project_name)}</title><style>{css}</style></head><body>",
        f"<h1>{_e(record.title or DEFAULT_TITLE)}</h1>",
    ]
    if record.year is not None:
        parts.append(f"<div class='year'>（{record.year}年度）</div>")
    parts.append(_header(record, labels))
    if record.funding:
        parts.append(_funding(record, labels))
    parts.append(_goals(record, labels))
    parts.append(_indicators(record, labels, rng))
    parts.append("</body></html>")
    return "\n".join(parts)


def _colgroup(weights: list[float]) -> str:
    total = sum(weights)
    return (
        "<colgroup>"
        + "".join(f"<col style='width:{w / total:.1%}'>" for w in weights)
        + "</colgroup>"
    )


def _header(record: FormRecord, labels: Labels) -> str:
    return (
        "<table>" + _colgroup([1.2, 3.3, 1.2, 3.3])
        + f"<tr><td class='label'>{_e(labels.project)}</td>"
        f"<td class='l' colspan='3'>{_e(record.project_name)}</td></tr>"
        f"<tr><td class='label'>{_e(labels.department)}</td>"
        f"<td class='l'>{_e(record.competent_department)}</td>"
        f"<td class='label'>{_e(labels.unit)}</td>"
        f"<td class='l'>{_e(record.implementing_unit)}</td></tr>"
        "</table>"
    )  # fmt: skip


def _funding(record: FormRecord, labels: Labels) -> str:
    block = labels.funding_block + (f"（{record.funding_unit}）" if record.funding_unit else "")
    heads = [labels.initial, labels.annual, labels.executed, labels.funding_weight, labels.rate]
    rows = [
        f"<tr><td class='label' rowspan='{len(record.funding) + 1}'>{_e(block)}</td><td></td>"
        + "".join(f"<th>{_e(h)}</th>" for h in heads)
        + f"<th>{_e(labels.funding_score)}</th></tr>"
    ]
    for row in record.funding:
        indent = "" if row.kind == "total" or row.label.startswith("其中") else labels.indent
        cells = [f"<td class='l'>{_e(indent + row.label)}</td>"]
        cells += [
            f"<td class='r'>{fmt_money(v)}</td>"
            for v in (row.initial_budget, row.annual_budget, row.executed)
        ]
        cells += [f"<td>{fmt_num(v)}</td>" for v in (row.weight, row.execution_rate, row.score)]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        "<table>"
        + _colgroup([1.0, 2.1, 1.3, 1.3, 1.3, 0.75, 1.0, 0.75])
        + "".join(rows)
        + "</table>"
    )


def _goals(record: FormRecord, labels: Labels) -> str:
    indent = labels.indent
    expected = indent + record.goal_expected if record.goal_expected else ""
    actual = indent + record.goal_actual if record.goal_actual else ""
    return (
        "<table>" + _colgroup([1.05, 4.4, 4.4])
        + f"<tr><td class='label' rowspan='2'>{_e(labels.goals)}</td>"
        f"<th>{_e(labels.expected)}</th><th>{_e(labels.actual)}</th></tr>"
        f"<tr><td class='l'>{_e(expected)}</td><td class='l'>{_e(actual)}</td></tr></table>"
    )  # fmt: skip


def _indicators(record: FormRecord, labels: Labels, rng: random.Random) -> str:
    heads = [
        labels.level1, labels.level2, labels.name, labels.target, labels.actual_value,
        labels.weight, labels.score, labels.reason,
    ]  # fmt: skip
    inds = record.indicators
    starts1 = {a: b for a, b in level_groups(inds, 1)}
    starts2 = {a: b for a, b in level_groups(inds, 2)}
    body = []
    for i, ind in enumerate(inds):
        cells = []
        if i in starts1:
            label = level1_label(inds, i, starts1[i], labels.level1_with_weight)
            cells.append(f"<td rowspan='{starts1[i] - i + 1}'>{_e(label)}</td>")
        if i in starts2:
            cells.append(f"<td rowspan='{starts2[i] - i + 1}'>{_e(ind.level2)}</td>")
        cells += [
            f"<td class='l'>{_e(ind.name)}</td>",
            f"<td>{_e(text(ind.target_text))}</td>",
            f"<td>{_e(text(ind.actual_text))}</td>",
            f"<td>{fmt_num(ind.weight, null='')}</td>",
            f"<td>{fmt_num(ind.score, null='')}</td>",
            f"<td class='l'>{_e(ind.deviation_reason)}</td>",
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    body.append(
        f"<tr><td colspan='5'>{_e(labels.total)}</td><td>{fmt_plain(record.total_weight)}</td>"
        f"<td>{fmt_plain(record.total_score)}</td><td></td></tr>"
    )
    if record.grade is not None:
        body.append(
            f"<tr><td colspan='5'>{_e(labels.grade)}</td>"
            f"<td colspan='3'>{_e(record.grade)}</td></tr>"
        )
    widths = [0.95, 0.95, 2.5, 1.35, 1.2, 0.75, 0.75, 2.3]
    widths = [w * rng.uniform(0.9, 1.1) for w in widths]
    return (
        "<table>" + _colgroup(widths)
        + "<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in heads) + "</tr></thead>"
        + "<tbody>" + "".join(body) + "</tbody></table>"
    )  # fmt: skip
