"""A small database of extracted forms over real (tiny) PDFs, for the review app's tests.

Each document is a one-page PDF on which every value of its form is printed where its
provenance says, so page images and crops show the real text. Form 0 of a batch carries an
arithmetic error (执行率 96 where 95 ÷ 100 = 95 %) and a low-confidence project name; every other
form has one low-confidence value.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pymupdf
import pytest
from sqlalchemy import Engine

from jixiao.contract import (
    ExtractionResult,
    FieldProvenance,
    FormRecord,
    FundingRow,
    Indicator,
    RunInfo,
    SourceInfo,
)
from jixiao.store import db

THRESHOLD = 0.9
CSRF = "test-csrf-token"
HOSTILE = "<script>alert('x')</script>恶意项目"


def make_record(i: int, *, execution_rate: float = 95.0, name: str | None = None) -> FormRecord:
    return FormRecord(
        title="项目支出绩效自评表",
        year=2023,
        project_name=name or f"测试项目{i:02d}",
        competent_department="上海市大数据中心" if i % 2 == 0 else "上海市财政局",
        implementing_unit="上海市大数据中心",
        funding_unit="万元",
        funding=[
            FundingRow(
                label="年度资金总额",
                kind="total",
                annual_budget=100.0,
                executed=95.0,
                weight=10.0,
                execution_rate=execution_rate,
                score=9.5,
            ),
            FundingRow(
                label="其中：当年财政拨款", kind="fiscal", annual_budget=100.0, executed=95.0
            ),
        ],
        goal_expected="完成年度服务目标",
        goal_actual="已完成年度服务目标",
        indicators=[
            Indicator(
                level1="产出指标",
                level2="数量指标",
                name="培训人数",
                target_text="100人",
                actual_text="100人",
                weight=50.0,
                score=50.0,
            ),
            Indicator(
                level1="效益指标",
                level2="社会效益指标",
                name="服务覆盖",
                target_text="≥90%",
                actual_text="95%",
                weight=30.0,
                score=30.0,
            ),
            Indicator(
                level1="满意度指标",
                level2="服务对象满意度指标",
                name="满意度",
                target_text="≥90%",
                actual_text="95%",
                weight=10.0,
                score=10.0,
            ),
        ],
        total_weight=100.0,
        total_score=99.5,
        grade="优",
    )


def write_pdf(path: Path, record: FormRecord, low: set[str]) -> dict[str, FieldProvenance]:
    """Print each valued leaf on its own line; its provenance points at the printed text."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    fields: dict[str, FieldProvenance] = {}
    leaves, texts = [], []
    y = 40.0
    for leaf, value in db.leaf_values(record):
        if value is None or leaf == "form_type":
            continue
        text = str(value)[:40]
        width = pymupdf.get_text_length(text, fontname="china-s", fontsize=8)
        fields[leaf] = FieldProvenance(
            confidence=0.5 if leaf in low else 0.97,
            page=1,
            bbox=(200.0, y - 8.0, 200.0 + width, y + 2.0),
            source_text=text,
            extractor="layout",
            signals={"grounded": 1.0, "label_match": 0.6 if leaf in low else 1.0},
            alternative="其他读法" if leaf in low and isinstance(value, str) else None,
        )
        leaves.append(leaf)
        texts.append(text)
        y += 11.0
    # one multi-line insert per column (11 pt apart): per-line inserts cost seconds a batch
    page.insert_text((200, 40), "\n".join(texts), fontname="china-s", fontsize=8, lineheight=1.375)
    page.insert_text((40, 40), "\n".join(leaves), fontsize=7, lineheight=11 / 7)
    doc.save(path)
    doc.close()
    return fields


@dataclass
class Batch:
    url: str
    engine: Engine
    folder: Path
    pdfs: list[Path]
    error_form: int  # form id of the form with EXEC_RATE_MISMATCH
    hostile_form: int | None


def build_batch(
    folder: Path, count: int, *, hostile: bool = False, url: str | None = None
) -> Batch:
    url = url or f"sqlite:///{folder / 'review.db'}"
    engine = db.open_db(url)
    run_id = db.start_run(engine, "layout")
    pdfs = []
    for i in range(count):
        if i == 0:
            record, low = make_record(i, execution_rate=96.0), {"project_name"}
        elif hostile and i == 1:
            record, low = make_record(i, name=HOSTILE), {"project_name"}
        else:
            record, low = make_record(i), {"indicators[1].actual_text" if i % 2 else "grade"}
        pdf = folder / f"form{i:02d}.pdf"
        fields = write_pdf(pdf, record, low)
        sha = f"{i:064x}"
        result = ExtractionResult(
            source=SourceInfo(file=str(pdf), sha256=sha, pages=[1]),
            form=record,
            fields=fields,
            flags=[],
            run=RunInfo(extractor="layout"),
        )
        outcome = db.DocumentOutcome(
            path=str(pdf), sha256=sha, extractor="layout", pages=1, results=[result]
        )
        db.save_document(engine, run_id, outcome)
        pdfs.append(pdf)
    # save_document numbers forms in order from 1 on a fresh database
    return Batch(url, engine, folder, pdfs, error_form=1, hostile_form=2 if hostile else None)


@pytest.fixture(scope="session")
def batch_template(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    """Built once (migrations and PDFs cost seconds); each test gets a copy of its database."""
    made = build_batch(tmp_path_factory.mktemp("review-batch"), 4, hostile=True)
    made.engine.dispose()
    return made


@pytest.fixture
def batch(batch_template: Batch, tmp_path: Path) -> Iterator[Batch]:
    target = tmp_path / "review.db"
    shutil.copyfile(batch_template.folder / "review.db", target)
    url = f"sqlite:///{target}"
    engine = db.open_db(url)
    made = replace(batch_template, url=url, engine=engine, folder=tmp_path)
    yield made
    engine.dispose()


# `postgres_url` (a fresh PostgreSQL schema) is the shared fixture of tests/conftest.py.
