"""Make the browser-printed fixtures of tests/ingest/test_hrule_tables.py (issue #14).

Each gold form (hrule_<form>.gold.json, written by hand) is laid out as an HTML table with
rowspans on 一级 / 二级 and the funding label, in one of several CSS templates, and printed by
headless Chromium. Run it again (from anywhere) after changing a gold file or a template:

    python tests/ingest/data/make_hrule_pdfs.py [--keep-html]

Fonts are CJK fonts the project's PyMuPDF renderers do not use (they draw with Droid Sans
Fallback); `fc-list :lang=zh` lists what is installed.
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"

BASE = """
body {{ font-family: {font}; font-size: {px}px; margin: 0; }}
h3, p.year {{ text-align: center; }}
table {{ border-collapse: collapse; width: {width}px; }}
td {{ padding: {pad}; vertical-align: middle; text-align: center; }}
td.lv {{ width: 48px; }}
td.name {{ width: 110px; }}
td.reason {{ width: 120px; text-align: left; }}
tr {{ break-inside: avoid; }}
"""

TEMPLATES: dict[str, dict[str, str]] = {
    # Full borders: the ruled path, which must keep reading these.
    "full": {
        "font": '"WenQuanYi Micro Hei"',
        "px": "12",
        "width": "680",
        "pad": "3px 4px",
        "rules": "td { border: 1px solid #000; }",
    },
    # border-bottom on every cell only: no rule above the first row, rowspans leave partial rules.
    "bottom": {
        "font": '"WenQuanYi Zen Hei"',
        "px": "12",
        "width": "680",
        "pad": "3px 4px",
        "rules": "td { border: none; border-bottom: 1px solid #000; }",
    },
    # A thick rule at the table's top and bottom, a thin one above every row; another font.
    "topbottom": {
        "font": '"WenQuanYi Zen Hei"',
        "px": "12",
        "width": "700",
        "pad": "4px 4px",
        "rules": (
            "table { border-top: 2px solid #000; border-bottom: 2px solid #000; }"
            " td { border: none; border-top: 1px solid #000; }"
        ),
    },
    # A larger font, so that the indicator table breaks across pages.
    "pagebreak": {
        "font": '"WenQuanYi Zen Hei Sharp"',
        "px": "17",
        "width": "690",
        "pad": "5px 4px",
        "rules": "td { border: none; border-bottom: 1px solid #000; }",
    },
}

# (gold form, template) of each fixture: hrule_<form>_<template>.pdf
FIXTURES = [
    ("a", "full"),
    ("a", "bottom"),
    ("a", "topbottom"),
    ("b", "bottom"),
    ("b", "topbottom"),
    ("b", "pagebreak"),
]


def _num(v: float | None, fmt: str = "{:g}") -> str:
    return "-" if v is None else fmt.format(v)


def _td(text: str, cls: str = "", rowspan: int = 1, colspan: int = 1) -> str:
    attrs = f' class="{cls}"' if cls else ""
    attrs += f' rowspan="{rowspan}"' if rowspan > 1 else ""
    attrs += f' colspan="{colspan}"' if colspan > 1 else ""
    return f"<td{attrs}>{html.escape(text)}</td>"


def _runs(keys: list[tuple[str, ...]]) -> list[int]:
    """Rowspan of each row's cell for a column whose equal neighbours merge (0: covered)."""
    out = [0] * len(keys)
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            out[start] = i - start
            start = i
    return out


def form_html(gold: dict, template: dict[str, str]) -> str:
    money = "{:.2f}"
    funding = gold["funding"]
    rows = [
        _td("项目名称") + _td(gold["project_name"], colspan=7),
        _td("主管部门")
        + _td(gold["competent_department"], colspan=3)
        + _td("实施单位")
        + _td(gold["implementing_unit"], colspan=3),
        _td(f"项目资金（{gold['funding_unit']}）", rowspan=len(funding) + 1)
        + _td("")
        + "".join(
            _td(h) for h in ("年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分")
        ),
    ]
    for f in funding:
        rows.append(
            _td(f["label"])
            + _td(money.format(f["initial_budget"]))
            + _td(money.format(f["annual_budget"]))
            + _td(money.format(f["executed"]))
            + _td(_num(f["weight"]))
            + _td(money.format(f["execution_rate"]) + "%")
            + _td(_num(f["score"]))
        )
    rows.append(
        _td("年度总体目标", rowspan=2) + _td("预期目标", colspan=3) + _td("实际完成情况", colspan=4)
    )
    rows.append(_td(gold["goal_expected"], colspan=3) + _td(gold["goal_actual"], colspan=4))
    rows.append(
        _td("一级指标", "lv")
        + _td("二级指标", "lv")
        + _td("三级指标", "name")
        + "".join(_td(h) for h in ("年度指标值", "实际完成值", "分值", "得分"))
        + _td("偏差原因分析及改进措施", "reason")
    )
    inds = gold["indicators"]
    span1 = _runs([(i["level1"],) for i in inds])
    span2 = _runs([(i["level1"], i["level2"]) for i in inds])
    for k, ind in enumerate(inds):
        cells = ""
        if span1[k]:
            cells += _td(ind["level1"], "lv", rowspan=span1[k])
        if span2[k]:
            cells += _td(ind["level2"], "lv", rowspan=span2[k])
        cells += (
            _td(ind["name"], "name")
            + _td(ind["target_text"])
            + _td(ind["actual_text"])
            + _td(_num(ind["weight"]))
            + _td(_num(ind["score"]))
            + _td(ind["deviation_reason"] or "", "reason")
        )
        rows.append(cells)
    rows.append(
        _td("总分", colspan=5)
        + _td(_num(gold["total_weight"]))
        + _td(_num(gold["total_score"]))
        + _td("")
    )
    body = "\n".join(f"<tr>{r}</tr>" for r in rows)
    style = BASE.format(**template) + template["rules"]
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<style>{style}</style></head><body>\n"
        f"<h3>{html.escape(gold['title'])}</h3>\n"
        f'<p class="year">（{gold["year"]}年度）</p>\n'
        f"<table>\n{body}\n</table></body></html>\n"
    )


def print_pdf(source: Path, out: Path) -> None:
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            source.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def main(argv: list[str]) -> int:
    keep = "--keep-html" in argv
    with tempfile.TemporaryDirectory() as tmp:
        for form, name in FIXTURES:
            gold = json.loads((HERE / f"hrule_{form}.gold.json").read_text("utf-8"))
            stem = f"hrule_{form}_{name}"
            page = (HERE if keep else Path(tmp)) / f"{stem}.html"
            page.write_text(form_html(gold, TEMPLATES[name]), "utf-8")
            out = HERE / f"{stem}.pdf"
            print_pdf(page, out)
            print(f"{out.name}: {out.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
