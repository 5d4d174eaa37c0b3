"""The throwaway-PostgreSQL fixture shared by the store and review tests.

PostgreSQL comes from JIXIAO_TEST_POSTGRES_URL (scripts/test.sh starts a loopback cluster and
sets it unless it is already set). Without it the PostgreSQL variants are skipped locally, but
fail under CI=true: a CI run must not pass by silently leaving PostgreSQL out. Each test gets its
own schema (search_path), dropped afterwards, so tests never see each other's rows.

It lives in the root conftest (not a module loaded by `pytest_plugins`) because tests run with
`--import-mode=importlib`, where `tests/` is not on sys.path under `.venv/bin/pytest`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from jixiao.store import db

POSTGRES_ENV = "JIXIAO_TEST_POSTGRES_URL"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to a fresh, empty schema on the PostgreSQL of JIXIAO_TEST_POSTGRES_URL."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(
                f"CI=true but {POSTGRES_ENV} is not set: the PostgreSQL tests must run in CI"
            )
        pytest.skip(f"{POSTGRES_ENV} not set (set it to run the PostgreSQL variant)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(db.database_url(base))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
