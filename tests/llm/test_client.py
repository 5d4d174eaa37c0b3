"""LLMClient: transport retries, validation re-asks, cache, settings, `jixiao llm check`.

Transport tests run against a loopback fault-injecting server (tests/llm/faulty_server.py); the
validation re-ask runs on a cassette recorded against the real embedded server.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from jixiao.config import LLMSettings
from jixiao.errors import ConfigError, LLMUnavailable
from jixiao.extract.llm.client import (
    LLMClient,
    has_tool_turns,
    open_client,
    reask_turns_as_user,
)
from jixiao.extract.llm.commands import CHECK_MESSAGES, LLMCheckReply

sys.path.insert(0, str(Path(__file__).parent))
from faulty_server import REAL_TOOL_ANSWER, FaultyServer

loopback = pytest.mark.block_network(allowed_hosts=[r"127\.0\.0\.1"])

ANSWER_USAGE = REAL_TOOL_ANSWER["usage"]


def settings_for(url: str, tmp_path: Path, **overrides: Any) -> LLMSettings:
    values: dict[str, Any] = {
        "base_url": url,
        "model": "gemma3-270m",
        "cache_dir": tmp_path / "cache",
        "timeout_s": 5.0,
        "backoff_initial_s": 0.05,
        "backoff_max_s": 0.2,
    }
    values.update(overrides)
    return LLMSettings(**values)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- transport errors: one tenacity layer --------------------------------------------------


@loopback
@pytest.mark.parametrize("faults", [["drop"], ["429"], ["503"], ["drop", "429", "500"]])
def test_transport_errors_are_retried_then_answer(tmp_path: Path, faults: list[str]) -> None:
    waits: list[float] = []
    with FaultyServer(faults) as server:
        client = LLMClient(settings_for(server.base_url, tmp_path), sleep=waits.append)
        reply, stats = client.extract(LLMCheckReply, CHECK_MESSAGES)
    assert reply == LLMCheckReply(ok=False)  # the canned (real) answer
    assert stats.error is None
    assert server.count == len(faults) + 1 == stats.attempts
    # one backoff before each retry, bounded by backoff_max_s (full jitter: may be 0)
    assert len(waits) == len(faults)
    assert all(0.0 <= w <= 0.2 for w in waits), waits
    # tokens are those of the one response that arrived
    assert (stats.input_tokens, stats.output_tokens) == (24, 9)


@loopback
def test_backoff_grows_exponentially_up_to_the_cap(tmp_path: Path) -> None:
    # Full jitter makes single waits random; the cap of attempt n is initial * 2**(n-1).
    waits: list[float] = []
    settings = settings_for(
        "http://unused", tmp_path, max_transport_retries=5, backoff_initial_s=0.01
    )
    with FaultyServer(["503"] * 5) as server:
        client = LLMClient(
            settings.model_copy(update={"base_url": server.base_url}), sleep=waits.append
        )
        reply, stats = client.extract(LLMCheckReply, CHECK_MESSAGES)
    assert reply is not None and stats.attempts == 6
    caps = [min(0.2, 0.01 * 2**i) for i in range(5)]
    assert all(w <= cap for w, cap in zip(waits, caps, strict=True)), (waits, caps)


@loopback
def test_timeout_is_a_transport_error_and_retried(tmp_path: Path) -> None:
    with FaultyServer(["slow"], slow_s=1.5) as server:
        client = LLMClient(
            settings_for(server.base_url, tmp_path, timeout_s=0.3), sleep=lambda s: None
        )
        reply, stats = client.extract(LLMCheckReply, CHECK_MESSAGES)
    assert reply is not None
    assert stats.attempts == 2 == server.count
    assert stats.seconds < 1.4  # did not wait for the slow answer


@loopback
def test_transport_budget_spent_returns_none_with_error(tmp_path: Path) -> None:
    waits: list[float] = []
    with FaultyServer(["503"] * 10) as server:
        settings = settings_for(server.base_url, tmp_path, max_transport_retries=2)
        client = LLMClient(settings, sleep=waits.append)
        reply, stats = client.extract(LLMCheckReply, CHECK_MESSAGES)
    assert reply is None
    assert stats.error is not None and "HTTP 503" in stats.error
    assert stats.attempts == 3 == server.count
    assert len(waits) == 2
    assert stats.input_tokens == 0


@loopback
def test_connection_refused_returns_none_with_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    client = LLMClient(settings_for(url, tmp_path, max_transport_retries=1), sleep=lambda s: None)
    reply, stats = client.extract(LLMCheckReply, CHECK_MESSAGES)
    assert reply is None
    assert stats.error is not None and "cannot connect" in stats.error
    assert stats.attempts == 2


@loopback
def test_bad_credentials_raise_one_clear_error(tmp_path: Path) -> None:
    with FaultyServer(["401"]) as server:
        client = LLMClient(settings_for(server.base_url, tmp_path), sleep=lambda s: None)
        with pytest.raises(LLMUnavailable) as raised:
            client.extract(LLMCheckReply, CHECK_MESSAGES)
    assert server.count == 1  # not retried
    assert "401" in raised.value.line() and "\n" not in raised.value.line()


# --- validation errors: instructor's re-ask loop --------------------------------------------


class MustBeTrue(BaseModel):
    ok: bool

    @field_validator("ok")
    @classmethod
    def _wanted(cls, value: bool, info: ValidationInfo) -> bool:
        if info.context and info.context.get("want") is not None and value != info.context["want"]:
            raise ValueError(f"ok must be {info.context['want']}")
        return value


@loopback
def test_validation_budget_spent_returns_none_and_counts_every_attempt(tmp_path: Path) -> None:
    # The server always answers ok=false; the context demands true: 1 try + 2 re-asks fail.
    with FaultyServer() as server:
        client = LLMClient(settings_for(server.base_url, tmp_path), sleep=lambda s: None)
        reply, stats = client.extract(
            MustBeTrue, CHECK_MESSAGES, context={"want": True}, max_retries=2
        )
    assert reply is None
    assert (
        stats.error is not None and "3 attempt" in stats.error and "ok must be True" in stats.error
    )
    assert stats.attempts == 3 == server.count
    assert stats.input_tokens == 3 * ANSWER_USAGE["prompt_tokens"]
    assert stats.output_tokens == 3 * ANSWER_USAGE["completion_tokens"]
    # the re-asks carry the validation error back to the model
    last_messages = server.requests[-1]["body"]["messages"]
    assert any("ok must be True" in str(m.get("content")) for m in last_messages)


class Span(BaseModel):
    """A piece of the given text, copied exactly."""

    text: str = Field(max_length=16)  # bounds the grammar: a 270M model runs on in a free string

    @field_validator("text")
    @classmethod
    def _grounded(cls, value: str, info: ValidationInfo) -> str:
        context = info.context or {}
        if value.strip() not in context.get("source", ""):
            raise ValueError(f"{value!r} is not copied from the text; copy a part of it exactly")
        # Reject the first grounded answer so the re-ask path always runs (recorded once).
        rejected: list[str] = context.setdefault("rejected", [])
        if not rejected:
            rejected.append(value)
            raise ValueError(f"{value!r} was rejected: answer with a different part of the text")
        return value


SPAN_SOURCE = "项目名称：一网通办平台运维 年度预算：16,124.45万元"


@pytest.mark.vcr
def test_validation_failure_then_successful_reask(
    make_llm_client: Callable[..., LLMClient], vcr: Any
) -> None:
    # the embedded server's default: its gemma chat template drops `tool` turns
    llm_client = make_llm_client(max_tokens=48, reask_as_user=True)
    messages = [
        {
            "role": "user",
            "content": f"Copy the project name (项目名称) exactly from this text:\n{SPAN_SOURCE}",
        }
    ]
    context: dict[str, Any] = {"source": SPAN_SOURCE}
    reply, stats = llm_client.extract(Span, messages, context=context, max_retries=3)
    assert reply is not None, stats.error
    assert reply.text.strip() in SPAN_SOURCE
    assert context["rejected"], "the first answer should have been rejected"
    assert stats.attempts >= 2 and stats.error is None
    assert stats.input_tokens > 0 and stats.output_tokens > 0
    assert len(vcr.requests) == stats.attempts
    # the second request carries the validation error of the first answer, as a user turn
    second = json.loads(vcr.requests[1].body)["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert "was rejected" in second[2]["content"] and "calling Span" in second[2]["content"]


# --- re-asks as user turns (chat templates without a `tool` role) ----------------------------

# A re-ask as instructor (TOOLS mode) builds it from a llama-cpp-python answer, as recorded in
# cassettes/test_client/ before the rewrite: the assistant turn carries the legacy function_call
# JSON as content, the error rides in a `tool` turn that the gemma chat format drops.
RECORDED_REASK: list[dict[str, Any]] = [
    {"role": "user", "content": "Copy the project name (项目名称) exactly from this text: …"},
    {
        "role": "assistant",
        "content": '{"arguments": "{ \\"text\\": \\"\\u4e00\\u7f51\\"}", "name": "Span"}',
        "tool_calls": [
            {
                "id": "call__0_Span_cmpl-1",
                "function": {"arguments": '{ "text": "一网" }', "name": "Span"},
                "type": "function",
            }
        ],
    },
    {
        "role": "tool",
        "tool_call_id": "call__0_Span_cmpl-1",
        "name": "Span",
        "content": "Validation Error found:\n1 validation error for Span\ntext\n"
        "  Value error, '一网' was rejected: answer with a different part of the text"
        " [type=value_error, input_value='一网', input_type=str]\n"
        "    For further information visit https://errors.pydantic.dev/2.14/v/value_error\n"
        "Recall the function correctly, fix the errors",
    },
]


def test_reask_turns_become_assistant_json_and_a_user_error_turn() -> None:
    original = json.loads(json.dumps(RECORDED_REASK))
    rewritten = reask_turns_as_user(RECORDED_REASK)
    assert original == RECORDED_REASK, "the caller's list must not change"
    assert [m["role"] for m in rewritten] == ["user", "assistant", "user"]
    assert rewritten[0] is RECORDED_REASK[0]
    assert rewritten[1] == {"role": "assistant", "content": '{ "text": "一网" }'}
    error = rewritten[2]["content"]
    assert "'一网' was rejected: answer with a different part of the text" in error
    assert "calling Span with corrected values" in error
    # pydantic's and instructor's boilerplate is gone; only the error itself is read
    assert "input_value" not in error and "errors.pydantic.dev" not in error
    assert "Recall the function" not in error
    # a re-ask of a re-ask: every earlier tool turn is rewritten as well
    second = reask_turns_as_user(RECORDED_REASK + RECORDED_REASK[1:])
    assert [m["role"] for m in second] == ["user", "assistant", "user", "assistant", "user"]
    assert second[3:] == rewritten[1:] and not has_tool_turns(second)


def test_parallel_tool_turns_become_one_user_turn() -> None:
    calls = [
        {"id": f"c{i}", "function": {"arguments": f'{{"n": {i}}}', "name": f"T{i}"}} for i in (1, 2)
    ]
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "c1", "name": "T1", "content": "n must be 3"},
        {"role": "tool", "tool_call_id": "c2", "name": "T2", "content": "n must be 4"},
    ]
    rewritten = reask_turns_as_user(messages)
    assert [m["role"] for m in rewritten] == ["user", "assistant", "user"]
    assert rewritten[1]["content"] == '{"n": 1}\n{"n": 2}'
    assert "n must be 3\nn must be 4" in rewritten[2]["content"]
    assert "T1 and T2" in rewritten[2]["content"]


def test_first_attempts_have_no_tool_turns() -> None:
    assert not has_tool_turns(
        [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]
    )
    assert has_tool_turns(RECORDED_REASK)


def _raw_requests(client: LLMClient) -> list[bytes]:
    """Capture the exact bytes every request of `client` sends."""
    import httpx
    import openai

    sent: list[bytes] = []
    http = httpx.Client(event_hooks={"request": [lambda request: sent.append(request.read())]})
    client._openai = openai.OpenAI(
        base_url=client.base_url, api_key="sk-local", max_retries=0, http_client=http
    )
    return sent


@loopback
@pytest.mark.parametrize("reask_as_user", [False, True])
def test_reask_as_user_changes_only_the_reasks(tmp_path: Path, reask_as_user: bool) -> None:
    with FaultyServer() as server:
        baseline = LLMClient(settings_for(server.base_url, tmp_path, reask_as_user=False))
        plain = _raw_requests(baseline)
        baseline.extract(MustBeTrue, CHECK_MESSAGES, context={"want": True}, max_retries=2)
        client = LLMClient(settings_for(server.base_url, tmp_path, reask_as_user=reask_as_user))
        sent = _raw_requests(client)
        client.extract(MustBeTrue, CHECK_MESSAGES, context={"want": True}, max_retries=2)
    assert len(plain) == len(sent) == 3
    # the first attempt is byte-for-byte what it was before the option existed
    assert sent[0] == plain[0]
    reasks = [json.loads(body)["messages"] for body in sent[1:]]
    if not reask_as_user:
        assert sent == plain
        assert all(any(m["role"] == "tool" for m in messages) for messages in reasks)
        return
    assert sent[1:] != plain[1:]
    for n, messages in enumerate(reasks, 1):
        assert [m["role"] for m in messages] == ["user"] + ["assistant", "user"] * n
        assert not has_tool_turns(messages)
        assert messages[1] == {"role": "assistant", "content": '{ "ok": false } '}
        assert "ok must be True" in messages[2]["content"]
        assert "calling MustBeTrue with corrected values" in messages[2]["content"]


def test_reask_as_user_defaults_to_the_embedded_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JIXIAO_LLM_REASK_AS_USER", raising=False)
    local = "http://127.0.0.1:9/v1"  # never contacted
    embedded = LLMSettings(cache_dir=tmp_path)
    assert embedded.embedded and LLMClient(embedded, base_url=local).reask_as_user
    remote = settings_for(local, tmp_path)
    assert not remote.embedded and not LLMClient(remote).reask_as_user
    monkeypatch.setenv("JIXIAO_LLM_REASK_AS_USER", "1")
    monkeypatch.setenv("JIXIAO_LLM_BASE_URL", local)
    monkeypatch.setenv("JIXIAO_LLM_MODEL", "m")
    assert LLMClient(LLMSettings.from_env()).reask_as_user
    monkeypatch.setenv("JIXIAO_LLM_REASK_AS_USER", "0")
    monkeypatch.delenv("JIXIAO_LLM_BASE_URL")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    forced_off = LLMSettings.from_env()
    assert forced_off.embedded and not LLMClient(forced_off, base_url=local).reask_as_user


# --- cache ----------------------------------------------------------------------------------


@loopback
def test_cache_hit_makes_zero_requests(tmp_path: Path) -> None:
    with FaultyServer() as server:
        client = LLMClient(settings_for(server.base_url, tmp_path))
        first, stats1 = client.extract(LLMCheckReply, CHECK_MESSAGES, cache_key="doc1/header")
        second, stats2 = client.extract(LLMCheckReply, CHECK_MESSAGES, cache_key="doc1/header")
        assert server.count == 1
        assert first == second
        assert (stats1.cache_hit, stats2.cache_hit) == (False, True)
        assert (stats2.attempts, stats2.input_tokens) == (0, 0)
        # a new client on the same cache dir (a second run) hits as well
        again, stats3 = LLMClient(client.settings).extract(
            LLMCheckReply, CHECK_MESSAGES, cache_key="doc1/header"
        )
        assert again == first and stats3.cache_hit and server.count == 1
        # another key, or no key, asks the model
        client.extract(LLMCheckReply, CHECK_MESSAGES, cache_key="doc1/funding")
        client.extract(LLMCheckReply, CHECK_MESSAGES)
        assert server.count == 3


@loopback
def test_cached_value_is_revalidated_with_the_callers_context(tmp_path: Path) -> None:
    with FaultyServer() as server:
        client = LLMClient(settings_for(server.base_url, tmp_path))
        stored, _ = client.extract(
            MustBeTrue, CHECK_MESSAGES, context={"want": False}, cache_key="k"
        )
        assert stored == MustBeTrue(ok=False) and server.count == 1
        # under a context the cached value fails, the cache is a miss and the model is asked
        reply, stats = client.extract(
            MustBeTrue, CHECK_MESSAGES, context={"want": True}, cache_key="k", max_retries=0
        )
        assert reply is None and not stats.cache_hit and server.count == 2


@loopback
def test_cache_separates_models(tmp_path: Path) -> None:
    with FaultyServer() as server:
        settings = settings_for(server.base_url, tmp_path)
        LLMClient(settings).extract(LLMCheckReply, CHECK_MESSAGES, cache_key="k")
        other = LLMClient(settings.model_copy(update={"model": "other-model"}))
        _, stats = other.extract(LLMCheckReply, CHECK_MESSAGES, cache_key="k")
        assert not stats.cache_hit and server.count == 2


# --- settings -------------------------------------------------------------------------------


def test_settings_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JIXIAO_LLM_BASE_URL", "JIXIAO_LLM_MODEL", "JIXIAO_LLM_MODE", "JIXIAO_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://openai-env/v1/")
    monkeypatch.setenv("OPENAI_MODEL", "gpt-env")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    settings = LLMSettings.from_env()
    assert (settings.base_url, settings.model, settings.api_key) == (
        "http://openai-env/v1",
        "gpt-env",
        "sk-env",
    )
    assert not settings.embedded
    monkeypatch.setenv("JIXIAO_LLM_BASE_URL", "http://jixiao-env/v1")
    monkeypatch.setenv("JIXIAO_LLM_MODE", "JSON_SCHEMA")
    settings = LLMSettings.from_env(model="flag-model")
    assert (settings.base_url, settings.model, settings.mode) == (
        "http://jixiao-env/v1",
        "flag-model",
        "json_schema",
    )


def test_settings_default_to_the_embedded_server(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JIXIAO_LLM_BASE_URL", "OPENAI_BASE_URL", "JIXIAO_LLM_MODEL", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("JIXIAO_LLM_MODE", raising=False)
    settings = LLMSettings.from_env()
    assert settings.embedded and settings.model == "gemma3-270m" and settings.mode == "tools"


def test_settings_errors_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JIXIAO_LLM_MODEL", raising=False)
    monkeypatch.delenv("OPENAI_MODEL", raising=False)
    monkeypatch.setenv("JIXIAO_LLM_MODE", "xml")
    with pytest.raises(ConfigError, match="mode"):
        LLMSettings.from_env()
    monkeypatch.delenv("JIXIAO_LLM_MODE")
    with pytest.raises(ConfigError, match="no model name"):
        LLMSettings.from_env(base_url="http://somewhere/v1")


def test_json_schema_mode_is_refused_for_the_embedded_server(tmp_path: Path) -> None:
    settings = LLMSettings(mode="json_schema", cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="json_schema"), open_client(settings):
        pass


# --- jixiao llm check -----------------------------------------------------------------------


def run_cli(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    from jixiao import cli

    monkeypatch.setattr(sys, "argv", ["jixiao", *args])
    try:
        cli.main()
    except SystemExit as done:
        return int(done.code or 0)
    return 0


@loopback
def test_llm_check_against_an_answering_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JIXIAO_CACHE_DIR", str(tmp_path))
    with FaultyServer() as server:
        code = run_cli(["llm", "check", "--base-url", server.base_url, "--model", "m"], monkeypatch)
    out = capsys.readouterr().out
    assert code == 0
    assert server.base_url in out and "model:    m" in out and "mode:     tools" in out
    assert "answer:   ok" in out
    assert server.count == 1 and "tools" in server.requests[0]["body"]


@loopback
def test_llm_check_against_a_closed_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JIXIAO_CACHE_DIR", str(tmp_path))
    url = f"http://127.0.0.1:{closed_port()}/v1"
    code = run_cli(["llm", "check", "--base-url", url, "--model", "m"], monkeypatch)
    err = capsys.readouterr().err
    assert code == LLMUnavailable.exit_code
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert url in lines[0] and "cannot connect" in lines[0]


# --- concurrency ----------------------------------------------------------------------------


@loopback
@pytest.mark.parametrize("limit", [1, None])
def test_max_concurrent_holds_requests_in_the_client(tmp_path: Path, limit: int | None) -> None:
    # The embedded server has one slot: open_client sets max_concurrent=1 so queued requests
    # wait here, not on the server's clock.
    from concurrent.futures import ThreadPoolExecutor

    with FaultyServer(["slow", "slow", "slow"], slow_s=0.3) as server:
        client = LLMClient(settings_for(server.base_url, tmp_path), max_concurrent=limit)
        with ThreadPoolExecutor(3) as pool:
            results = list(
                pool.map(lambda _: client.extract(LLMCheckReply, CHECK_MESSAGES), range(3))
            )
    assert all(reply is not None for reply, _ in results)
    assert server.max_in_flight == (1 if limit == 1 else 3)
    assert client.totals.attempts == 3


# --- the recording configuration itself -----------------------------------------------------


def test_remote_network_is_blocked_in_tests() -> None:
    with pytest.raises(RuntimeError, match="Network is disabled"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)  # TEST-NET-1, never routed


def test_cassette_matching_is_on_the_json_body() -> None:
    from vcr.request import Request

    from .conftest import match_json_body

    def req(body: str) -> Request:
        return Request("POST", "http://127.0.0.1:1/v1/chat/completions", body.encode(), {})

    match_json_body(req('{"a": 1, "b": "项目"}'), req('{"b":"项目","a":1}'))  # order, spacing
    with pytest.raises(AssertionError, match="differ"):
        match_json_body(req('{"messages": ["v1 prompt"]}'), req('{"messages": ["v2 prompt"]}'))


def test_cassettes_are_readable_and_round_trip() -> None:
    from .conftest import ReadableJSONSerializer

    body = {"messages": [{"role": "user", "content": "项目名称：\n一网通办"}]}
    cassette = {
        "version": 1,
        "interactions": [
            {
                "request": {"method": "POST", "uri": "u", "body": json.dumps(body), "headers": {}},
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {},
                    "body": {"string": json.dumps({"ok": "是"})},
                },
            }
        ],
    }
    text = ReadableJSONSerializer.serialize(json.loads(json.dumps(cassette)))
    assert "项目名称" in text and "\\u" not in text  # CJK stored as is
    assert "parsed_body" in text
    back = ReadableJSONSerializer.deserialize(text)
    assert json.loads(back["interactions"][0]["request"]["body"]) == body
    assert json.loads(back["interactions"][0]["response"]["body"]["string"]) == {"ok": "是"}


class WithPrivate(BaseModel):
    ok: bool
    _seen: str = PrivateAttr(default="unset")

    @model_validator(mode="after")
    def _note(self) -> WithPrivate:
        self._seen = f"validated ok={self.ok}"
        return self


@loopback
def test_result_is_the_callers_exact_type_with_private_state(tmp_path: Path) -> None:
    with FaultyServer() as server:
        client = LLMClient(settings_for(server.base_url, tmp_path))
        reply, _ = client.extract(WithPrivate, CHECK_MESSAGES)
    assert type(reply) is WithPrivate
    assert reply == WithPrivate(ok=False)
    assert reply._seen == "validated ok=False"
