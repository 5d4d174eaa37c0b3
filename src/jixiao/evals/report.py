"""Reports of one run: a plain-text summary for the terminal and one self-contained HTML page
(inline CSS and SVG drawn here: no script, no CDN, nothing fetched), so a report opens anywhere,
offline, and can be attached to a review as one file."""

from __future__ import annotations

import html
from typing import Any

from jixiao.evals.compare import GROUPS

_W = 560  # chart width in px


def _pct(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{v * 100:.{digits}f}%"


def _num(v: float | int | None, digits: int = 2) -> str:
    if v is None:
        return "-"
    return f"{v:,}" if isinstance(v, int) else f"{v:,.{digits}f}"


def format_summary(run: dict[str, Any]) -> str:
    """A few lines: overall, per group, per family, rows, long text, calibration, cost."""
    s = run["summary"]
    fa = s["field_accuracy"]
    lines = [
        f"{run['extractor']} on {run['split']} (model {run.get('model') or 'none'}): field accuracy"
        f" {_pct(fa['accuracy'])} ({fa['correct']}/{fa['total']}), forms matched"
        f" {s['forms']['matched']}/{s['forms']['gold']}"
    ]
    lines.append(
        "  groups: "
        + "  ".join(f"{g} {_pct(b['accuracy'])}" for g, b in fa.get("groups", {}).items())
    )
    for fam, block in s["families"].items():
        groups = " ".join(f"{g}={_pct(b['accuracy'], 1)}" for g, b in block["groups"].items())
        lines.append(f"  {fam:13s} {_pct(block['accuracy'])} ({block['total']} leaves)  {groups}")
    rows = "  ".join(
        f"{k} P={_num(v['precision'], 3)} R={_num(v['recall'], 3)} F1={_num(v['f1'], 3)}"
        for k, v in s["rows"].items()
    )
    lines.append(f"  rows: {rows}")
    lines.append(f"  long text mean ratio {_num(s['long_text']['mean_ratio'], 4)}")
    cal = s["calibration"]
    lines.append(
        f"  confidence ≥ {cal['threshold']:g}: coverage {_pct(cal['coverage'])}, accuracy above"
        f" {_pct(cal['above']['accuracy'])}, below {_pct(cal['below']['accuracy'])},"
        f" ECE {_num(cal['ece'], 3)}; wrong values sent to review {_pct(cal.get('wrong_below'))}"
        f" ({cal.get('wrong_above', '?')} wrong above)"
    )
    for kind, one in (s.get("calibration_by", {}).get("input_kind") or {}).items():
        lines.append(
            f"    {kind:<5} coverage {_pct(one['coverage'])}, accuracy above"
            f" {_pct(one['above']['accuracy'])}, wrong sent to review {_pct(one['wrong_below'])}"
            f" ({one['wrong_above']} wrong above); 99.5% above needs a threshold of"
            f" {_num(one.get('threshold_needed'), 4)}"
        )
    esc = s.get("escalation")
    if esc:
        levels = ", ".join(
            f"{level} {row['asked']}/{row['planned']} asked (rescued {row['rescued']},"
            f" broke {row['broke']})"
            for level, row in esc["levels"].items()
            if row["planned"]
        )
        lines.append(
            f"  LLM questions: median {_num(esc['median_llm_calls_per_form'])} calls/form;"
            f" {levels or 'none planned'}"
        )
    chk = s["checks"]["end_to_end"]["overall"]
    lines.append(
        f"  checks vs planted: precision {_pct(chk['precision'])} recall {_pct(chk['recall'])}"
    )
    c = s["cost"]
    lines.append(
        f"  cost: {c['llm_calls']} LLM calls, {c['input_tokens']}+{c['output_tokens']} tokens,"
        f" {c['seconds']:.1f} s ({_num(c['seconds_per_form'])} s/form)"
    )
    return "\n".join(lines)


# -- HTML -----------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;
margin:24px auto;max-width:1100px;color:#1d2433;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde}
.meta{color:#556;font-size:13px}.meta code{font-size:12px}
.kpis{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.kpi{border:1px solid #dde;border-radius:6px;padding:8px 14px;min-width:120px}
.kpi b{display:block;font-size:22px}.kpi span{font-size:12px;color:#556}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border:1px solid #dde;padding:3px 8px;text-align:right}
th{background:#f3f5fa}td.l,th.l{text-align:left}
.bad{color:#b00020}.row{display:flex;flex-wrap:wrap;gap:28px;align-items:flex-start}
svg text{font-family:inherit;font-size:11px}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _heat(acc: float | None) -> str:
    """Background colour of a table cell: red at 50 % and below, green at 100 %."""
    if acc is None:
        return "#fff"
    t = max(0.0, min(1.0, (acc - 0.5) / 0.5))
    r, g = int(250 - 90 * t), int(200 + 40 * t)
    return f"rgb({r},{g},{int(200 - 20 * t)})"


def bar_chart(items: list[tuple[str, float | None]], title: str) -> str:
    """Horizontal bars of accuracies (0..1), labelled; an inline SVG."""
    row_h, label_w = 22, 130
    h = row_h * len(items) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{h}" role="img"'
        f' aria-label="{_e(title)}">',
        f'<text x="0" y="12" font-weight="bold">{_e(title)}</text>',
    ]
    span = _W - label_w - 60
    for i, (label, acc) in enumerate(items):
        y = 22 + i * row_h
        width = 0 if acc is None else span * acc
        out.append(f'<text x="0" y="{y + 14}">{_e(label)}</text>')
        out.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{span}" height="{row_h - 6}" fill="#eef1f7"/>'
        )
        out.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{width:.1f}" height="{row_h - 6}"'
            f' fill="#3b6fd8"/>'
        )
        out.append(f'<text x="{label_w + span + 6}" y="{y + 14}">{_pct(acc, 1)}</text>')
    out.append("</svg>")
    return "".join(out)


def reliability_chart(cal: dict[str, Any]) -> str:
    """Reliability diagram: accuracy per confidence bin against the diagonal; bar width = bin,
    the count printed above each bar; the review threshold as a dashed line."""
    size, pad = 320, 36
    inner = size - 2 * pad

    def x(v: float) -> float:
        return pad + v * inner

    def y(v: float) -> float:
        return size - pad - v * inner

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img"'
        ' aria-label="reliability diagram">',
        f'<rect x="{pad}" y="{pad}" width="{inner}" height="{inner}" fill="#f7f8fb"'
        ' stroke="#99a"/>',
        f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="#999"'
        ' stroke-dasharray="4 3"/>',
    ]
    for b in cal.get("bins", []):
        x0, x1 = x(b["lo"]), x(b["hi"])
        top = y(b["accuracy"])
        out.append(
            f'<rect x="{x0 + 1:.1f}" y="{top:.1f}" width="{x1 - x0 - 2:.1f}"'
            f' height="{y(0) - top:.1f}" fill="#3b6fd8" fill-opacity="0.8"/>'
        )
        out.append(
            f'<circle cx="{x(b["mean_confidence"]):.1f}" cy="{y(b["mean_confidence"]):.1f}"'
            ' r="2.5" fill="#d33"/>'
        )
        out.append(
            f'<text x="{(x0 + x1) / 2:.1f}" y="{top - 3:.1f}" text-anchor="middle">{b["n"]}</text>'
        )
    t = cal.get("threshold")
    if t is not None:
        out.append(
            f'<line x1="{x(t):.1f}" y1="{y(0)}" x2="{x(t):.1f}" y2="{y(1)}" stroke="#d80"'
            ' stroke-dasharray="2 2"/>'
        )
    for v in (0.0, 0.5, 1.0):
        out.append(f'<text x="{x(v):.1f}" y="{size - pad + 14}" text-anchor="middle">{v:g}</text>')
        out.append(f'<text x="{pad - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    out.append(
        f'<text x="{size / 2}" y="{size - 6}" text-anchor="middle">confidence</text>'
        f'<text x="10" y="{size / 2}" transform="rotate(-90 10 {size / 2})"'
        ' text-anchor="middle">accuracy</text></svg>'
    )
    return "".join(out)


def _family_table(s: dict[str, Any]) -> str:
    groups = [g for g in GROUPS if any(g in b["groups"] for b in s["families"].values())]
    head = "".join(f"<th>{_e(g)}</th>" for g in groups)
    rows = []
    for fam, block in [*s["families"].items(), ("all", s["field_accuracy"])]:
        cells = []
        for g in groups:
            acc = block["groups"].get(g, {}).get("accuracy")
            cells.append(f'<td style="background:{_heat(acc)}">{_pct(acc, 1)}</td>')
        acc = block["accuracy"]
        rows.append(
            f'<tr><td class="l">{_e(fam)}</td>{"".join(cells)}'
            f'<td style="background:{_heat(acc)}"><b>{_pct(acc, 1)}</b></td>'
            f"<td>{block['total']}</td></tr>"
        )
    return (
        f'<table><tr><th class="l">family</th>{head}<th>all</th><th>leaves</th></tr>'
        f"{''.join(rows)}</table>"
    )


def _fields_table(s: dict[str, Any]) -> str:
    items = sorted(s["fields"].items(), key=lambda kv: (kv[1]["accuracy"] or 0.0, kv[0]))
    rows = "".join(
        f'<tr><td class="l">{_e(k)}</td><td style="background:{_heat(v["accuracy"])}">'
        f"{_pct(v['accuracy'], 1)}</td><td>{v['correct']}/{v['total']}</td></tr>"
        for k, v in items
    )
    return f'<table><tr><th class="l">field</th><th>accuracy</th><th>n</th></tr>{rows}</table>'


def _checks_table(s: dict[str, Any]) -> str:
    e2e, gold = s["checks"]["end_to_end"], s["checks"]["on_gold"]
    codes = sorted(set(e2e["by_code"]) | set(gold["by_code"]))
    rows = []
    for code in [*codes, "overall"]:
        a = e2e["overall"] if code == "overall" else e2e["by_code"].get(code, {})
        b = gold["overall"] if code == "overall" else gold["by_code"].get(code, {})
        rows.append(
            f'<tr><td class="l">{_e(code)}</td><td>{a.get("tp", 0)}</td><td>{a.get("fp", 0)}</td>'
            f"<td>{a.get('fn', 0)}</td><td>{_pct(a.get('precision'), 0)}</td>"
            f"<td>{_pct(a.get('recall'), 0)}</td><td>{_pct(b.get('precision'), 0)}</td>"
            f"<td>{_pct(b.get('recall'), 0)}</td></tr>"
        )
    return (
        '<table><tr><th class="l">code</th><th>tp</th><th>fp</th><th>fn</th><th>precision</th>'
        "<th>recall</th><th>precision on gold</th><th>recall on gold</th></tr>"
        f"{''.join(rows)}</table>"
    )


def _cost_table(s: dict[str, Any]) -> str:
    c = s["cost"]
    items = [
        ("forms", c["forms"]),
        ("seconds", c["seconds"]),
        ("seconds per form", c["seconds_per_form"]),
        ("LLM calls", c["llm_calls"]),
        ("LLM calls per form", c["llm_calls_per_form"]),
        ("input tokens", c["input_tokens"]),
        ("output tokens", c["output_tokens"]),
        ("tokens per form", c["tokens_per_form"]),
        ("cache hits", c["cache_hits"]),
    ]
    rows = "".join(f'<tr><td class="l">{_e(k)}</td><td>{_num(v)}</td></tr>' for k, v in items)
    return f"<table>{rows}</table>"


def _examples(run: dict[str, Any], limit: int = 30) -> str:
    rows: list[str] = []
    for form in run.get("forms", []):
        for path, gold, pred, page, conf in form["wrong"]:
            if len(rows) >= limit:
                break
            rows.append(
                f'<tr><td class="l">{_e(form["doc"])}</td><td>{_e(page or "")}</td>'
                f'<td class="l">{_e(path)}</td><td class="l">{_e(repr(gold)[:80])}</td>'
                f'<td class="l bad">{_e(repr(pred)[:80])}</td><td>{_num(conf)}</td></tr>'
            )
    return (
        '<table><tr><th class="l">document</th><th>page</th><th class="l">field</th>'
        '<th class="l">gold</th><th class="l">predicted</th><th>conf.</th></tr>'
        f"{''.join(rows)}</table>"
    )


def render_html(runs: dict[str, Any] | list[dict[str, Any]]) -> str:
    """The whole report as one HTML string (see the module docstring): one run, or the runs of
    a baseline one after the other."""
    many = runs if isinstance(runs, list) else [runs]
    first = many[0]
    body = "\n".join(_run_section(run) for run in many)
    return (
        '<!DOCTYPE html>\n<html lang="zh"><head><meta charset="utf-8">'
        f"<title>jixiao eval {_e(first['extractor'])} "
        f"{_e(', '.join(str(r['split']) for r in many))}</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>\n"
    )


def _run_section(run: dict[str, Any]) -> str:
    s = run["summary"]
    fa, cal = s["field_accuracy"], s["calibration"]
    rows = s.get("rows", {})
    kpis = [
        ("field accuracy", _pct(fa["accuracy"])),
        ("forms matched", f"{s['forms']['matched']}/{s['forms']['gold']}"),
        *[(f"{k} row F1", _num(v["f1"], 3)) for k, v in rows.items()],
        ("long-text mean ratio", _num(s["long_text"]["mean_ratio"], 3)),
        (f"coverage ≥ {cal['threshold']:g}", _pct(cal["coverage"], 1)),
        ("accuracy above threshold", _pct(cal["above"]["accuracy"], 1)),
        ("ECE", _num(cal["ece"], 3)),
        ("seconds / form", _num(s["cost"]["seconds_per_form"])),
    ]
    prompts = ", ".join(f"{k} <code>{v[:12]}</code>" for k, v in run.get("prompts", {}).items())
    meta = (
        f"split <b>{_e(run['split'])}</b> · extractor <b>{_e(run['extractor'])}</b> · model "
        f"<b>{_e(run.get('model') or 'none')}</b> · mode {_e(run.get('mode') or '-')} · commit "
        f"<code>{_e((run.get('commit') or '-')[:12])}</code>"
        f"{' (dirty)' if run.get('dirty') else ''} · corpus seed "
        f"{_e(run['manifest']['seed'])} · {_e(run['created'])}"
        f"<br>prompts: {prompts or 'none'}"
    )
    fam_bars = bar_chart([(f, b["accuracy"]) for f, b in s["families"].items()], "per family")
    group_bars = bar_chart(
        [(g, b["accuracy"]) for g, b in fa.get("groups", {}).items()], "per field group"
    )
    kpi_html = "".join(f"<div class='kpi'><b>{v}</b><span>{_e(k)}</span></div>" for k, v in kpis)
    body = f"""<section><h1>jixiao eval — {_e(run.get("name") or run["extractor"])},
{_e(run["split"])} split</h1>
<div class="meta">{meta}</div>
<div class="kpis">{kpi_html}</div>
<h2>Accuracy per layout family and field group</h2>
<div class="row">{fam_bars}{group_bars}</div>
{_family_table(s)}
<h2>Confidence calibration</h2>
<div class="row">{reliability_chart(cal)}
<table><tr><th class="l"></th><th>leaves</th><th>accuracy</th></tr>
<tr><td class="l">confidence ≥ {cal["threshold"]:g}</td><td>{cal["above"]["total"]}</td>
<td>{_pct(cal["above"]["accuracy"])}</td></tr>
<tr><td class="l">below (sent to review)</td><td>{cal["below"]["total"]}</td>
<td>{_pct(cal["below"]["accuracy"])}</td></tr>
<tr><td class="l">no confidence (nothing predicted)</td>
<td>{cal["without_confidence"]}</td><td></td></tr>
<tr><td class="l">ECE</td><td colspan="2">{_num(cal["ece"], 3)}</td></tr></table></div>
<h2>Cost</h2>{_cost_table(s)}
<h2>Checks against planted / expected flags</h2>{_checks_table(s)}
<h2>Per field (worst first)</h2>{_fields_table(s)}
<h2>Examples of wrong values</h2>{_examples(run)}</section>
"""
    return body


def numbers_table(baselines: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Markdown: field accuracy per family × extractor-model, dev / test, from baseline files
    ({file stem: {split: run}}); each row says how many forms it scored."""
    families: list[str] = []
    for runs in baselines.values():
        for run in runs.values():
            for fam in run["summary"]["families"]:
                if fam not in families:
                    families.append(fam)
    order = ("ruled", "ab-labels", "borderless", "split-target", "bundle", "scan")
    families.sort(key=lambda f: (order.index(f) if f in order else len(order), f))
    head = "| baseline | split | forms | " + " | ".join(families) + " | all |"
    lines = [head, "|" + "---|" * (len(families) + 4)]
    for name, runs in baselines.items():
        for split in ("dev", "test"):
            one = runs.get(split)
            if one is None:
                continue
            s = one["summary"]
            cells = [
                _pct(s["families"][f]["accuracy"], 1) if f in s["families"] else "–"
                for f in families
            ]
            lines.append(
                f"| {name} | {split} | {s['forms']['gold']} | "
                + " | ".join(cells)
                + f" | **{_pct(s['field_accuracy']['accuracy'], 1)}** |"
            )
    return "\n".join(lines)
