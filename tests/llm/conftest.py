"""Recording of LLM calls: the one place that configures pytest-recording / vcrpy.

Replay (default; pyproject addopts `--record-mode=none --block-network`): tests marked
`@pytest.mark.vcr` answer from `cassettes/<test module>/<test name>.yaml`; a request that has no
recording fails at once, and nothing else may open a socket.

Re-record (starts the embedded llama.cpp server once for the session; slow on busy cores):

    .venv/bin/pytest tests/llm --record-mode=rewrite            # every cassette, from scratch
    .venv/bin/pytest tests/llm --record-mode=once               # only the missing ones
    .venv/bin/pytest tests/llm -k NAME --record-mode=rewrite    # one test

Cassettes are readable YAML: JSON bodies stored parsed (`parsed_body`), CJK unescaped,
compressed responses decoded, credentials and `x-*` headers scrubbed. Requests are matched on
method + path + JSON body (not host/port: the embedded server takes a free port), so a change of
prompt, schema, model or parameters breaks the cassette on purpose: re-record then.

Fixtures for tests: `llm_settings`, `llm_client` (pointed at the recorded endpoint),
`make_llm_client(**setting_overrides)`, `embedded_server` (session; recording and live tests),
`recording` (True when recording).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from jixiao.config import EMBEDDED_MODEL, LLMSettings
from jixiao.extract.llm.client import LLMClient

REPO = Path(__file__).resolve().parents[2]
CASSETTES = REPO / "cassettes"
# Replay talks to this address; vcrpy answers before any socket is opened.
REPLAY_BASE_URL = "http://127.0.0.1:8765/v1"

_SCRUB_HEADERS = {"authorization", "cookie", "set-cookie", "openai-organization", "openai-project"}
# Stored bodies are re-serialised, so a recorded length would lie; dates make needless diffs.
_DROP_HEADERS = {"content-length", "date", "server"}


def _scrubbed(name: str) -> bool:
    name = name.lower()
    return name in _SCRUB_HEADERS or name.startswith("x-")


def _scrub_request(request: Any) -> Any:
    for name in list(request.headers):
        if _scrubbed(name) or name.lower() in _DROP_HEADERS:
            del request.headers[name]
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers") or {}
    for name in list(headers):
        if _scrubbed(name) or name.lower() in _DROP_HEADERS:
            del headers[name]
    return response


# --- a readable serializer ------------------------------------------------------------------


class _ReadableDumper(yaml.SafeDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ReadableDumper.add_representer(str, _represent_str)


def _parse_body(holder: dict[str, Any], key: str) -> None:
    body = holder.get(key)
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            return
    if isinstance(body, str) and body.strip()[:1] in ("{", "["):
        try:
            holder["parsed_body"] = json.loads(body)
        except ValueError:
            return
        del holder[key]


def _unparse_body(holder: dict[str, Any], key: str) -> None:
    if "parsed_body" in holder:
        holder[key] = json.dumps(holder.pop("parsed_body"), ensure_ascii=False)


class ReadableJSONSerializer:
    """YAML with parsed JSON bodies and unescaped CJK (vcrpy serializer protocol)."""

    @staticmethod
    def serialize(cassette: dict[str, Any]) -> str:
        for interaction in cassette["interactions"]:
            _parse_body(interaction["request"], "body")
            _parse_body(interaction["response"]["body"], "string")
        return yaml.dump(
            cassette, Dumper=_ReadableDumper, allow_unicode=True, sort_keys=False, width=100
        )

    @staticmethod
    def deserialize(text: str) -> dict[str, Any]:
        cassette: dict[str, Any] = yaml.safe_load(text)
        for interaction in cassette["interactions"]:
            _unparse_body(interaction["request"], "body")
            _unparse_body(interaction["response"]["body"], "string")
        return cassette


def _json_or_raw(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        return json.loads(body) if body else None
    except (TypeError, ValueError):
        return body


def match_json_body(r1: Any, r2: Any) -> None:
    """vcrpy matcher: equal JSON bodies (key order and whitespace do not matter)."""
    left, right = _json_or_raw(r1.body), _json_or_raw(r2.body)
    if left != right:
        raise AssertionError("request JSON bodies differ (prompt, schema or parameters changed?)")


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    vcr.register_serializer("yaml", ReadableJSONSerializer)
    vcr.register_matcher("json_body", match_json_body)


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    return str(CASSETTES / request.path.stem)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    return {
        "serializer": "yaml",
        "match_on": ["method", "path", "json_body"],
        "before_record_request": _scrub_request,
        "before_record_response": _scrub_response,
        "decode_compressed_response": True,
        # One request, one answer: a repeated identical request must find its own recording.
        "allow_playback_repeats": False,
    }


# --- endpoints ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def recording(request: pytest.FixtureRequest) -> bool:
    """True when cassettes are being written (`--record-mode` other than none)."""
    return (request.config.getoption("--record-mode") or "none") != "none"


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real embedded server, started once per session (skipped where it is not installed)."""
    from jixiao.errors import LLMUnavailable
    from jixiao.extract.llm.server import EmbeddedServer

    cache = tmp_path_factory.mktemp("llm-server")
    # JIXIAO_LLM_THREADS pins llama.cpp's threads (e.g. 2 on idle cores for a long recording)
    threads = LLMSettings.from_env().n_threads
    server = EmbeddedServer(LLMSettings(cache_dir=cache, n_threads=threads))
    try:
        server.start()
        server.wait_ready(timeout=120)
    except LLMUnavailable as err:
        pytest.skip(f"embedded LLM not available here: {err.line()}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def llm_settings(tmp_path: Path) -> LLMSettings:
    """Settings of the recorded runs: embedded model, TOOLS mode, a fresh cache per test."""
    return LLMSettings(
        base_url=REPLAY_BASE_URL,
        model=EMBEDDED_MODEL,
        mode="tools",
        cache_dir=tmp_path / "cache",
        max_transport_retries=0,  # a missing recording must fail fast, not back off
    )


@pytest.fixture(scope="session", autouse=True)
def _server_for_recording(request: pytest.FixtureRequest, recording: bool) -> Any:
    """While recording, start the embedded server before any cassette opens (its readiness
    polls must not land in a cassette)."""
    return request.getfixturevalue("embedded_server") if recording else None


@pytest.fixture
def make_llm_client(
    llm_settings: LLMSettings, _server_for_recording: Any
) -> Iterator[Callable[..., LLMClient]]:
    """Factory: `make_llm_client(max_validation_retries=1, ...)` → LLMClient at the recorded
    endpoint (replay URL, or the real embedded server while recording) with those overrides."""
    clients: list[LLMClient] = []

    def make(**overrides: Any) -> LLMClient:
        settings = llm_settings.model_copy(update=overrides)
        base_url = _server_for_recording.base_url if _server_for_recording else None
        client = LLMClient(settings, base_url=base_url)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def llm_client(make_llm_client: Callable[..., LLMClient]) -> LLMClient:
    """LLMClient at the recorded endpoint with `llm_settings`. Use it in tests marked
    `@pytest.mark.vcr`."""
    return make_llm_client()
