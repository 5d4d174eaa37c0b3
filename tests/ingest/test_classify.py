"""Form classification (issue #16): every form of a 部门预算 / 部门决算 gets its kind and the
reason for it; ordinary tables are summarised by page run; only self-evaluations are extracted.

Fixtures: tests/ingest/classify_data/*.pdf, drawn by make_classify_pdfs.py, which also writes the
truth of each file (kind and pages of every form, title and pages of every ordinary table) to
expected.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jixiao.cli import app
from jixiao.corpus.render import render_pdf
from jixiao.corpus.synth import generate_forms
from jixiao.extract.base import open_extractor
from jixiao.extract.pipeline import extract_document
from jixiao.ingest import ingest_pdf
from jixiao.ingest.classify import classify_form, is_form_title, is_table_title, read_title
from jixiao.ingest.model import IngestResult

DATA = Path(__file__).with_name("classify_data")
EXPECTED = json.loads((DATA / "expected.json").read_text(encoding="utf-8"))
_CACHE: dict[str, IngestResult] = {}


def ingested(name: str) -> IngestResult:
    if name not in _CACHE:
        _CACHE[name] = ingest_pdf(DATA / name)
    return _CACHE[name]


def _plain(text: str) -> str:
    return "".join(text.split())


# --- whole documents --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_form_has_its_kind_and_pages(name: str) -> None:
    result = ingested(name)
    truth = EXPECTED[name]
    assert [(f.kind, f.pages[0], f.pages[-1]) for f in result.forms] == [
        (f["kind"], *f["pages"]) for f in truth["forms"]
    ]
    # Every form says why, and is numbered in document order.
    assert all(f.kind_reason for f in result.forms)
    assert [f.index for f in result.forms] == list(range(len(result.forms)))
    # Ordinary tables are found with their pages (a "（续）" page continues its table) and
    # are never forms.
    assert [(_plain(t.title), t.pages[0], t.pages[-1]) for t in result.tables] == [
        (_plain(t["title"]), *t["pages"]) for t in truth["tables"]
    ]
    assert all(t.kind == "other" and "ordinary table" in t.kind_reason for t in result.tables)


def test_budget_document_target_forms_and_one_summary_line() -> None:
    result = ingested("budget.pdf")
    first, second = result.forms
    # Both target forms start mid-page, under the last budget table of page 8.
    assert first.regions[0].page == 8 and first.regions[0].bbox[1] > 200
    assert first.title == "项目支出绩效目标表" and second.title == "财政项目支出绩效目标填报表"
    for form in result.forms:
        assert "绩效目标" in form.kind_reason and "指标值" in form.kind_reason
        assert "项目名称" in form.kind_reason
        # 预算执行率 is one of its indicators, not an execution column.
        assert "执行数," not in form.kind_reason
        assert "not extracted" in (form.reason or "")
    # The 项目支出表 above them has a 项目名称 column but is an ordinary table.
    assert result.tables[-1].title == "项目支出表"
    assert result.warnings == [
        "forms 1-2 (page 8): 2 forms:"
        " 项目支出绩效目标表 (target-setting form) is not extracted yet",
        "pages 1-7: 7 pages of other tables and text (2024年部门收支总表, 部门收入总表,"
        " 部门支出总表, 财政拨款收支总表 and 1 more), no form content",
    ]


def test_final_accounts_document() -> None:
    result = ingested("final.pdf")
    project1, project2, department = result.forms
    for form in (project1, project2):
        assert form.reason is None
        assert "自评" in form.kind_reason and "完成值" in form.kind_reason
    assert department.kind == "department"
    assert "年度主要任务" in department.kind_reason and "自评" in department.kind_reason
    # The table printed after the department form does not run on into it.
    cells = {c.text for g in department.grids for c in g.cells}
    assert "国有资产占用情况表" not in cells and "房屋" not in cells
    assert result.tables[-1].title == "国有资产占用情况表"
    assert result.warnings == [
        "form 3 (page 8): 部门整体支出绩效自评表 (whole-department form) is not supported yet",
        "pages 1-5: 5 pages of other tables and text (收入支出决算总表, 财政拨款收入支出决算总表,"
        " 一般公共预算财政拨款支出决算表, “三公”经费支出决算表), no form content",
    ]
    # One line for the run, not one "no form content" line per page.
    assert sum("no form content" in w for w in result.warnings) == 1


def test_ocr_noisy_titles_and_conflicts() -> None:
    white, target, dept_target, ambiguous, conflict = ingested("noisy.pdf").forms
    assert "OCR-tolerant" in white.kind_reason and white.kind == "project"
    assert target.title == "项目支出缋效目标表" and target.kind == "project_target"
    assert "~部门整体" in dept_target.kind_reason and dept_target.kind == "department_target"
    # Title one character from both 自评 and 目标: said so, and the columns decide.
    assert (
        "both 自评 and 目标" in ambiguous.kind_reason and "columns decide" in ambiguous.kind_reason
    )
    # A target title over self-evaluation columns is not guessed to be either.
    assert conflict.kind == "other" and "conflict" in conflict.kind_reason
    assert "form of unknown kind" in (conflict.reason or "")


ExtractAll = Callable[[str], list[str | None]]


@pytest.fixture(scope="module")
def extract_names() -> ExtractAll:
    def run(name: str) -> list[str | None]:
        with open_extractor("layout") as extractor:
            results = extract_document(DATA / name, extractor=extractor, on_warning=lambda _m: None)
        return [r.form.project_name for r in results]

    return run


def test_only_self_evaluations_come_out_as_records(extract_names: ExtractAll) -> None:
    # Target, department and unknown forms never become self-evaluation records.
    assert extract_names("budget.pdf") == []
    assert extract_names("noisy.pdf") == ["癌症早筛项目", "慢病管理项目"]
    names = extract_names("final.pdf")
    assert len(names) == 2 and all(names)


def test_inspect_shows_kind_and_reason() -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["inspect", "--json", str(DATA / "noisy.pdf")])
    assert out.exit_code == 0, out.output
    forms = json.loads(out.stdout)["files"][0]["forms"]
    assert [f["kind"] for f in forms] == [f["kind"] for f in EXPECTED["noisy.pdf"]["forms"]]
    assert all(f["kind_reason"] for f in forms)
    human = runner.invoke(app, ["inspect", str(DATA / "budget.pdf")])
    assert human.exit_code == 0
    assert "kind=project_target" in human.stdout and "why project_target: title" in human.stdout
    assert "other table pages=2-2 title=2024年部门收支总表" in human.stdout


# --- the self-evaluations we already read stay "project" ---------------------------------------


@pytest.mark.parametrize("name", ["ruled", "cross_repeat", "two_on_page", "bundle", "borderless"])
def test_existing_fixtures_are_still_project(pdfs: dict[str, Path], name: str) -> None:
    result = ingest_pdf(pdfs[name])
    assert result.forms and all(f.kind == "project" for f in result.forms)
    assert all("自评" in f.kind_reason for f in result.forms)


@pytest.mark.parametrize("family", ["ruled", "ab-labels", "borderless", "split-target", "bundle"])
def test_corpus_families_are_project(tmp_path: Path, family: str) -> None:
    # Seed 4: its bundle opens with a 部门整体支出绩效自评表 page.
    forms = [f.record for f in generate_forms(4, 3)]
    out = tmp_path / f"{family}.pdf"
    expected = render_pdf(family, forms, out, seed=4)
    result = ingest_pdf(out)
    kinds = [f.kind for f in result.forms]
    assert kinds.count("project") == len(expected)
    assert set(kinds) <= {"project", "department"}
    assert all(f.title.startswith("部门整体") for f in result.forms if f.kind == "department")


# --- the signals, one by one ------------------------------------------------------------------

SELF_COLUMNS = [
    "项目名称",
    "一级指标",
    "二级指标",
    "三级指标",
    "年度指标值",
    "实际完成值",
    "分值",
    "得分",
]
TARGET_COLUMNS = ["项目名称", "年度总体目标", "一级指标", "二级指标", "三级指标", "指标值"]


@pytest.mark.parametrize(
    ("title", "texts", "kind"),
    [
        ("财政项目支出绩效自评表", SELF_COLUMNS, "project"),
        ("项目支出绩效目标申报表", TARGET_COLUMNS, "project_target"),
        ("部门整体支出绩效自评表", ["部门名称", "年度主要任务", "得分", "绩效指标"], "department"),
        ("部门整体支出绩效目标表", ["部门(单位)名称", "一级指标", "指标值"], "department_target"),
        # No title: the columns decide.
        ("", SELF_COLUMNS, "project"),
        ("", TARGET_COLUMNS, "project_target"),
        # A target form listing 预算执行率 as an indicator stays a target form.
        ("项目支出绩效目标表", [*TARGET_COLUMNS, "预算执行率", "≥90%"], "project_target"),
        # Conflicts and look-alikes: never guessed.
        ("项目支出绩效目标表", SELF_COLUMNS, "other"),
        ("项目支出绩效自评表", TARGET_COLUMNS, "other"),
        ("部门整体支出绩效自评表", ["项目名称", "一级指标", "实际完成值", "得分"], "other"),
        ("项目支出绩效评价表", SELF_COLUMNS, "other"),
        ("项目绩效运行监控表", SELF_COLUMNS, "other"),
        ("项目支出绩效自评表", [*SELF_COLUMNS, "部门决策", "项目管理", "项目绩效"], "other"),
        ("", ["项目名称", "一级指标", "二级指标"], "other"),
    ],
)
def test_classify_form(title: str, texts: list[str], kind: str) -> None:
    found = classify_form(title, texts)
    assert found.kind == kind, found.reason
    assert found.is_form and found.reason


def test_ordinary_tables_are_not_forms() -> None:
    # Words that look like ours (预算数, 执行数, 合计, even 项目名称) make no form.
    for title, texts in [
        ("收入支出决算总表", ["项目", "年初预算数", "全年预算数", "执行数", "合计", "1,200.00"]),
        ("项目支出表", ["单位名称", "项目名称", "预算数", "合计"]),
        ("", ["科目名称", "预算数", "合计"]),
    ]:
        found = classify_form(title, texts)
        assert (found.kind, found.is_form) == ("other", False), found.reason
        assert "ordinary table" in found.reason


@pytest.mark.parametrize(
    ("title", "stage", "scope"),
    [
        ("项目支出绩效自评价表", "self", "project"),
        ("项目支出绩效自评衣", "self", "project"),
        ("项目支出绩效白评表", "self", "project"),
        ("项 目 支 出 绩 效 目 标 表（2024年度）", "target", "project"),
        ("财政项目支出绩效目标填报表", "target", "project"),
        ("部门整休支出绩效自评表", "self", "department"),
        ("部门整体支出绩效目标表", "target", "department"),
        ("项目支出绩效评价表", "evaluation", "project"),
        ("项目绩效目标完成情况表", "progress", "project"),
        ("项目支出绩效自标表", None, "project"),  # one character from both: undecided
    ],
)
def test_read_title(title: str, stage: str | None, scope: str | None) -> None:
    signal = read_title(title)
    assert (signal.stage, signal.scope) == (stage, scope)
    assert signal.performance


def test_title_lines() -> None:
    assert is_form_title("财政项目支出绩效目标填报表")
    assert is_form_title("部门整体支出绩效自评表")
    assert not is_form_title("部门项目支出绩效自评情况说明")  # a report's heading
    assert not is_form_title("项目名称：绩效自评表")
    assert is_table_title("2023年收入支出决算总表")
    assert not is_table_title("公开01表")
    assert not is_table_title("收入支出决算总表（续）")
    assert not is_table_title("单位：万元")
