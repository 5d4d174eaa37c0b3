"""Database fixtures: every storage test runs on SQLite and on a real PostgreSQL.

The PostgreSQL side is the shared `postgres_url` fixture of tests/conftest.py (skipped locally
without JIXIAO_TEST_POSTGRES_URL, a failure under CI=true, one schema per test).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from jixiao.contract import (
    ExtractionResult,
    FieldProvenance,
    Flag,
    FormRecord,
    FundingRow,
    Indicator,
    RunInfo,
    SourceInfo,
)
from jixiao.store import db


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty database of each kind (PostgreSQL: tests/conftest.py's fresh schema)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jixiao.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = db.open_db(db_url)
    yield engine
    engine.dispose()


def make_result(
    file: str = "a.pdf",
    sha256: str = "a" * 64,
    *,
    executed: float = 95.0,
    confidence: float = 0.95,
    flags: list[Flag] | None = None,
) -> ExtractionResult:
    """A small but complete result: header, two funding rows, two indicators, provenance."""
    record = FormRecord(
        title="项目支出绩效自评表",
        year=2023,
        project_name="测试项目",
        funding_unit="万元",
        funding=[
            FundingRow(
                label="年度资金总额",
                kind="total",
                annual_budget=100.0,
                executed=executed,
                weight=10.0,
                execution_rate=95.0,
                score=9.5,
            ),
            FundingRow(label="其中：当年财政拨款", kind="fiscal", annual_budget=100.0),
        ],
        indicators=[
            Indicator(
                level1="产出指标", level2="数量指标", name="培训人数", weight=20.0, score=20.0
            ),
            Indicator(level1="效益指标", name="满意度", target_text="≥90%", weight=10.0, score=9.0),
        ],
        total_weight=100.0,
        total_score=91.5,
        grade="优",
    )
    prov = FieldProvenance(
        confidence=confidence,
        page=1,
        bbox=(10.0, 20.0, 30.0, 40.0),
        source_text=str(executed),
        extractor="layout",
        signals={"grounded": 1.0},
    )
    return ExtractionResult(
        source=SourceInfo(file=file, sha256=sha256, pages=[1]),
        form=record,
        fields={"funding[0].executed": prov, "project_name": prov.model_copy()},
        flags=flags
        if flags is not None
        else [
            Flag(
                code="EXEC_RATE_MISMATCH",
                severity="error",
                fields=["funding[0].execution_rate"],
                message="执行率不符",
                expected=95.0,
                found=96.0,
                rule="R1",
            )
        ],
        run=RunInfo(extractor="layout"),
    )
