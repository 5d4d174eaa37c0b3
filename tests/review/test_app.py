"""Every route of the review app: pages, images, decisions, errors and the security rules."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from sqlmodel import select

from jixiao.errors import ConfigError
from jixiao.review.app import create_app
from jixiao.review.commands import server_settings
from jixiao.store import db
from jixiao.store.tables import Document, ReviewDecision

from .conftest import CSRF, THRESHOLD, Batch

JSON_HEADERS = {"X-CSRF-Token": CSRF, "Content-Type": "application/json"}


def client(batch: Batch, **kwargs: Any) -> TestClient:
    app = create_app(
        batch.engine, reviewer="tester", threshold=THRESHOLD, csrf_token=CSRF, **kwargs
    )
    return TestClient(app)


def post(c: TestClient, form_id: int, body: dict[str, Any], headers: dict[str, str] | None = None):
    return c.post(
        f"/api/forms/{form_id}/decisions",
        content=json.dumps(body),
        headers=JSON_HEADERS if headers is None else headers,
    )


def flag_codes(state: dict[str, Any]) -> set[str]:
    return {f["code"] for f in state["flags"]}


def field(state: dict[str, Any], path: str) -> dict[str, Any]:
    return next(f for f in state["fields"] if f["path"] == path)


# --- queue ----------------------------------------------------------------------------------


def test_queue_lists_error_form_first_and_escapes_text(batch: Batch) -> None:
    c = client(batch)
    r = c.get("/")
    assert r.status_code == 200
    ids = [int(x) for x in _row_ids(r.text)]
    assert ids[0] == batch.error_form
    assert sorted(ids) == [1, 2, 3, 4]
    assert "EXEC_RATE_MISMATCH" in r.text
    assert "<script>alert" not in r.text
    assert "&lt;script&gt;alert" in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'none'")


def _row_ids(html: str) -> list[str]:
    import re

    return re.findall(r'class="qrow[^"]*" data-id="(\d+)"', html)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("flag=EXEC_RATE_MISMATCH", [1]),
        ("department=财政局", [2, 4]),
        ("document=form02", [3]),
        ("document=3", [3]),
        ("extractor=llm", []),
        ("extractor=layout", [1, 2, 3, 4]),
        ("confidence=0.6", [1, 2, 3, 4]),
        ("confidence=0.3", []),
        ("status=done", []),
    ],
)
def test_queue_filters(batch: Batch, query: str, expected: list[int]) -> None:
    r = client(batch).get(f"/?{query}")
    assert r.status_code == 200
    assert sorted(int(x) for x in _row_ids(r.text)) == expected


@pytest.mark.parametrize("query", ["confidence=abc", "confidence=2", "status=nope"])
def test_queue_rejects_bad_filters(batch: Batch, query: str) -> None:
    r = client(batch).get(f"/?{query}")
    assert r.status_code == 422


def test_queue_api(batch: Batch) -> None:
    c = client(batch)
    data = c.get("/api/queue").json()
    assert data[0]["id"] == batch.error_form
    assert all(row["pending"] > 0 for row in data)
    assert c.get("/api/queue?status=bogus").status_code == 422


# --- form view --------------------------------------------------------------------------------


def test_form_page_escapes_hostile_text_everywhere(batch: Batch) -> None:
    assert batch.hostile_form is not None
    r = client(batch).get(f"/forms/{batch.hostile_form}")
    assert r.status_code == 200
    assert "<script>alert" not in r.text  # neither in the HTML nor in the embedded JSON
    assert "&lt;script&gt;alert" in r.text
    assert "\\u003cscript\\u003e" in r.text


def test_form_api_shows_provenance_alternative_and_flags(batch: Batch) -> None:
    state = client(batch).get(f"/api/forms/{batch.error_form}").json()
    assert "EXEC_RATE_MISMATCH" in flag_codes(state)
    rate = field(state, "funding[0].execution_rate")
    assert rate["pending"] and rate["flags"] and rate["bbox"] and rate["page"] == 1
    name = field(state, "project_name")
    assert name["pending"] and name["confidence"] == 0.5
    assert name["has_alternative"] and name["alternative"] == "其他读法"
    assert name["signals"]["label_match"] == 0.6
    assert state["pending"] == 4  # project name + the three values of the wrong rate


@pytest.mark.parametrize("url", ["/forms/999", "/api/forms/999", "/forms/999/pages/1.png"])
def test_missing_form_is_404(batch: Batch, url: str) -> None:
    assert client(batch).get(url).status_code == 404


def test_non_numeric_form_id_is_422(batch: Batch) -> None:
    assert client(batch).get("/forms/abc").status_code == 422


# --- images -----------------------------------------------------------------------------------


def test_page_image_and_crop(batch: Batch) -> None:
    c = client(batch)
    page = c.get(f"/forms/{batch.error_form}/pages/1.png")
    assert page.status_code == 200 and page.headers["content-type"] == "image/png"
    assert page.content.startswith(b"\x89PNG")
    crop = c.get(f"/forms/{batch.error_form}/crop.png", params={"path": "project_name"})
    assert crop.status_code == 200 and crop.content.startswith(b"\x89PNG")
    assert len(crop.content) < len(page.content)


def test_images_refuse_what_is_not_in_the_database(batch: Batch) -> None:
    c = client(batch)
    assert c.get(f"/forms/{batch.error_form}/pages/2.png").status_code == 404
    assert c.get(f"/forms/{batch.error_form}/pages/..%2F..%2Fetc%2Fpasswd.png").status_code in (
        404,
        422,
    )
    assert c.get(f"/forms/{batch.error_form}/crop.png", params={"path": "nope"}).status_code == 404
    # a leaf with no value has no provenance, so nothing to crop
    r = c.get(f"/forms/{batch.error_form}/crop.png", params={"path": "funding[0].initial_budget"})
    assert r.status_code == 404
    assert c.get(f"/forms/{batch.error_form}/crop.png").status_code == 422


def test_moved_document_is_404_with_one_line(batch: Batch) -> None:
    with Session(batch.engine) as session:
        doc = session.get(Document, 1)
        assert doc is not None
        doc.path = str(batch.folder / "gone.pdf")
        session.commit()
    r = client(batch).get(f"/forms/{batch.error_form}/pages/1.png")
    assert r.status_code == 404
    assert "\n" not in r.json()["error"] and "moved or deleted" in r.json()["error"]


# --- decisions --------------------------------------------------------------------------------


def test_correction_reruns_checks_and_is_stored_with_who_old_new(batch: Batch) -> None:
    c = client(batch)
    body = {"path": "funding[0].execution_rate", "action": "correct", "value": "95.00%"}
    r = post(c, batch.error_form, body)
    assert r.status_code == 200, r.text
    state = r.json()
    assert "EXEC_RATE_MISMATCH" not in flag_codes(state)
    rate = field(state, "funding[0].execution_rate")
    assert rate["value"] == 95.0 and rate["status"] == "correct" and not rate["pending"]
    assert state["pending"] == 1  # only the low-confidence name is left
    with Session(batch.engine) as session:
        rows = list(session.scalars(select(ReviewDecision)))
    assert [(d.path, d.old_value, d.new_value, d.reviewer, d.reason) for d in rows] == [
        ("funding[0].execution_rate", 96.0, 95.0, "tester", "correct")
    ]
    assert rows[0].decided_at is not None


def test_correction_survives_a_restart(batch: Batch) -> None:
    body = {"path": "funding[0].execution_rate", "action": "correct", "value": "95"}
    assert post(client(batch), batch.error_form, body).status_code == 200
    batch.engine.dispose()
    engine = db.open_db(batch.url)
    try:
        app = create_app(engine, reviewer="other", threshold=THRESHOLD, csrf_token=CSRF)
        state = TestClient(app).get(f"/api/forms/{batch.error_form}").json()
    finally:
        engine.dispose()
    assert field(state, "funding[0].execution_rate")["value"] == 95.0
    assert "EXEC_RATE_MISMATCH" not in flag_codes(state)


def test_review_round_trip_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    from .conftest import build_batch

    made = build_batch(tmp_path, 3, url=postgres_url)
    try:
        c = client(made)
        assert _row_ids(c.get("/").text)[0] == str(made.error_form)
        body = {"path": "funding[0].execution_rate", "action": "correct", "value": "95"}
        assert "EXEC_RATE_MISMATCH" not in flag_codes(post(c, made.error_form, body).json())
        state = post(c, made.error_form, {"path": "project_name", "action": "accept"}).json()
        assert state["pending"] == 0 and state["next_form"] is not None
    finally:
        made.engine.dispose()
    engine = db.open_db(postgres_url)
    try:
        app = create_app(engine, reviewer="t", threshold=THRESHOLD, csrf_token=CSRF)
        state = TestClient(app).get(f"/api/forms/{made.error_form}").json()
        assert field(state, "funding[0].execution_rate")["value"] == 95.0
    finally:
        engine.dispose()


def test_accept_form_wrong_and_skip(batch: Batch) -> None:
    c = client(batch)
    form = batch.error_form
    state = post(c, form, {"path": "project_name", "action": "skip"}).json()
    assert field(state, "project_name")["pending"]  # a skip settles nothing
    assert field(state, "project_name")["history"][0]["action"] == "skip"
    state = post(c, form, {"path": "project_name", "action": "accept"}).json()
    assert field(state, "project_name")["status"] == "accept"
    assert not field(state, "project_name")["pending"]
    note = "原表执行率填写错误"
    state = post(
        c, form, {"path": "funding[0].execution_rate", "action": "form_wrong", "note": note}
    ).json()
    rate = field(state, "funding[0].execution_rate")
    assert rate["value"] == 96.0 and rate["status"] == "form_wrong"
    assert rate["history"][-1]["note"] == note
    # the flag stays (the form is wrong), but now it is the source's, not the extraction's
    flag = next(f for f in state["flags"] if f["code"] == "EXEC_RATE_MISMATCH")
    assert flag["origin"] == "source"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"path": "funding[0].execution_rate", "action": "correct", "value": "九五"}, 422),
        ({"path": "funding[0].label", "action": "correct", "value": "  "}, 422),
        ({"path": "funding[0].kind", "action": "correct", "value": "salary"}, 422),
        ({"path": "year", "action": "correct", "value": "2023.5"}, 422),
        ({"path": "form_type", "action": "correct", "value": "x"}, 422),
        ({"path": "nonexistent", "action": "accept"}, 404),
        ({"path": "funding[9].score", "action": "accept"}, 404),
        ({"path": "project_name", "action": "delete"}, 422),
        ({"path": "project_name"}, 422),
        ({"path": "project_name", "action": "accept", "extra": 1}, 422),
    ],
)
def test_bad_decisions_are_refused_and_store_nothing(
    batch: Batch, body: dict[str, Any], status: int
) -> None:
    r = post(client(batch), batch.error_form, body)
    assert r.status_code == status, r.text
    assert r.json()["error"]
    with Session(batch.engine) as session:
        assert list(session.scalars(select(ReviewDecision))) == []


def test_decision_on_missing_form_is_404(batch: Batch) -> None:
    r = post(client(batch), 999, {"path": "title", "action": "accept"})
    assert r.status_code == 404


def test_malformed_json_is_422(batch: Batch) -> None:
    r = client(batch).post(
        f"/api/forms/{batch.error_form}/decisions", content=b"{not json", headers=JSON_HEADERS
    )
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Type": "application/json"}, 403),
        ({"Content-Type": "application/json", "X-CSRF-Token": "wrong"}, 403),
        ({**JSON_HEADERS, "Origin": "http://evil.example"}, 403),
        ({"X-CSRF-Token": CSRF, "Content-Type": "text/plain"}, 415),
    ],
)
def test_mutations_need_csrf_same_origin_and_json(
    batch: Batch, headers: dict[str, str], status: int
) -> None:
    r = post(client(batch), batch.error_form, {"path": "title", "action": "accept"}, headers)
    assert r.status_code == status
    with Session(batch.engine) as session:
        assert list(session.scalars(select(ReviewDecision))) == []


def test_form_page_carries_the_csrf_token(batch: Batch) -> None:
    r = client(batch).get(f"/forms/{batch.error_form}")
    assert f'name="csrf-token" content="{CSRF}"' in r.text


def test_clearing_a_form_points_to_the_next_waiting_one(batch: Batch) -> None:
    c = client(batch)
    post(c, 1, {"path": "funding[0].execution_rate", "action": "correct", "value": "95"})
    state = post(c, 1, {"path": "project_name", "action": "accept"}).json()
    assert state["pending"] == 0
    assert state["next_form"] in {2, 3, 4}
    queue = c.get("/api/queue?status=done").json()
    assert [row["id"] for row in queue] == [1]


# --- token and host ----------------------------------------------------------------------------


def test_token_required_on_every_request_when_set(batch: Batch) -> None:
    token = "t" * 32
    c = client(batch, token=token)
    for url in ["/", f"/forms/{batch.error_form}", "/api/queue", "/static/review.js"]:
        assert c.get(url).status_code == 401, url
    assert c.get("/", headers={"X-Jixiao-Token": "wrong"}).status_code == 401
    assert c.get("/", headers={"X-Jixiao-Token": token}).status_code == 200
    first = c.get(f"/?token={token}")
    assert first.status_code == 200 and "jixiao_token" in first.headers["set-cookie"]
    assert c.get("/api/queue").status_code == 200  # the cookie now carries it
    r = post(c, batch.error_form, {"path": "title", "action": "accept"})
    assert r.status_code == 200


def test_unknown_host_is_refused_on_loopback(batch: Batch) -> None:
    c = client(batch, allowed_hosts={"127.0.0.1", "localhost"})
    assert c.get("/", headers={"Host": "evil.example"}).status_code == 400
    assert c.get("/", headers={"Host": "127.0.0.1:8000"}).status_code == 200


def test_non_loopback_bind_needs_a_token() -> None:
    with pytest.raises(ConfigError):
        server_settings("0.0.0.0", None)
    with pytest.raises(ConfigError):
        server_settings("192.168.1.5", "short")
    assert server_settings("0.0.0.0", "x" * 20) == ("x" * 20, None)
    token, hosts = server_settings("127.0.0.1", None)
    assert token is None and hosts is not None and "localhost" in hosts


def test_cli_refuses_public_bind_without_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from jixiao import cli

    monkeypatch.delenv("JIXIAO_REVIEW_TOKEN", raising=False)
    argv = ["jixiao", "review", "--host", "0.0.0.0", "--db", f"sqlite:///{tmp_path / 'x.db'}"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == ConfigError.exit_code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "JIXIAO_REVIEW_TOKEN" in err


def _serve(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> dict[str, Any]:
    """Run `jixiao review …` with uvicorn.run replaced, returning what it would serve."""
    import uvicorn
    from typer.testing import CliRunner

    from jixiao.cli import app as cli_app

    seen: dict[str, Any] = {}

    def fake_run(app: Any, **kwargs: Any) -> None:
        seen.update(kwargs, app=app)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    result = CliRunner().invoke(cli_app, ["review", *args])
    assert result.exit_code == 0, result.output
    seen["output"] = result.output
    return seen


def test_review_command_serves_loopback_without_token(
    batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JIXIAO_REVIEW_TOKEN", raising=False)
    seen = _serve(monkeypatch, ["--db", batch.url, "--port", "8123", "--reviewer", "ann"])
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123
    c = TestClient(seen["app"], base_url="http://127.0.0.1:8123")
    assert c.get("/").status_code == 200
    assert c.get("/", headers={"Host": "attacker.example"}).status_code == 400


def test_review_command_on_a_public_address_requires_the_token(
    batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "s" * 24
    monkeypatch.setenv("JIXIAO_REVIEW_TOKEN", token)
    seen = _serve(monkeypatch, ["--db", batch.url, "--host", "0.0.0.0"])
    assert seen["host"] == "0.0.0.0" and "?token=" in seen["output"] and token not in seen["output"]
    c = TestClient(seen["app"], base_url="http://192.0.2.1:8000")
    assert c.get("/").status_code == 401
    assert c.get("/", headers={"X-Jixiao-Token": token}).status_code == 200


def test_empty_database_static_and_favicon(tmp_path: Path) -> None:
    engine = db.open_db(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        c = TestClient(create_app(engine, reviewer="t", threshold=THRESHOLD, csrf_token=CSRF))
        r = c.get("/")
        assert r.status_code == 200 and "no forms match" in r.text
        assert c.get("/api/queue").json() == []
        js = c.get("/static/review.js")
        assert js.status_code == 200 and "textContent" in js.text and "innerHTML =" not in js.text
        assert c.get("/static/../app.py").status_code == 404
        assert c.get("/favicon.ico").status_code == 204
    finally:
        engine.dispose()
