"""A local OpenAI-compatible chat endpoint for throughput benchmarks: answers after a fixed latency.

    .venv/bin/python benchmarks/stub_llm_server.py [--port 0] [--latency 1.0] [--responses FILE]

Prints `READY <port>` on stdout when listening (loopback only). Each POST to
/v1/chat/completions sleeps `--latency` seconds (in its own thread, so concurrent requests
overlap like a real server's), then answers:
- the recorded answer for this request, when `--responses` holds one: a JSON object mapping
  sha256(canonical JSON of the request's messages + tool name) → the answer object;
- otherwise the smallest answer the request's own schema allows: every field null, arrays
  with `minItems` filled with that many rows of nulls. The extractor then validates it like any
  answer (the values come back null, so the benchmark measures plumbing, not accuracy).
Tool calls when the request has `tools` (instructor TOOLS mode), else JSON in `content`.
GET /v1/models lists one model, so `jixiao llm check` works against it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def request_key(body: dict[str, Any]) -> str:
    tool = _tool(body)
    name = tool["function"]["name"] if tool else None
    blob = json.dumps(
        {"messages": body.get("messages"), "tool": name}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _tool(body: dict[str, Any]) -> dict[str, Any] | None:
    tools = body.get("tools") or []
    return tools[0] if tools else None


def minimal_answer(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """The smallest answer of an object schema: every field null, arrays at minItems rows (each
    row again all null). The extractor's models accept null for any value: "not found"."""
    defs = defs if defs is not None else schema.get("$defs", {})
    schema = _resolve(schema, defs)
    return {name: _field(prop, defs) for name, prop in schema.get("properties", {}).items()}


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _field(prop: dict[str, Any], defs: dict[str, Any]) -> Any:
    prop = _resolve(prop, defs)
    if prop.get("type") == "array":
        count = int(prop.get("minItems", 0))
        return [minimal_answer(prop.get("items", {}), defs) for _ in range(count)]
    return None


def _schema(body: dict[str, Any]) -> dict[str, Any]:
    tool = _tool(body)
    if tool is not None:
        return dict(tool["function"].get("parameters") or {})
    fmt = body.get("response_format") or {}
    return dict((fmt.get("json_schema") or {}).get("schema") or {})


class StubState:
    def __init__(self, latency: float, responses: dict[str, Any]) -> None:
        self.latency = latency
        self.responses = responses
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()


def make_handler(state: StubState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _send(self, code: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, {"object": "list", "data": [{"id": "stub", "object": "model"}]})
            elif self.path.rstrip("/").endswith("/stats"):
                self._send(200, {"requests": state.requests, "max_in_flight": state.max_in_flight})
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            with state.lock:
                state.requests += 1
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                time.sleep(state.latency)
                answer = state.responses.get(request_key(body))
                if answer is None:
                    answer = minimal_answer(_schema(body))
                self._send(200, completion(body, answer))
            finally:
                with state.lock:
                    state.in_flight -= 1

    return Handler


def completion(body: dict[str, Any], answer: Any) -> dict[str, Any]:
    text = json.dumps(answer, ensure_ascii=False)
    prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
    tool = _tool(body)
    if tool is not None:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": tool["function"]["name"], "arguments": text},
                }
            ],
        }
        finish = "tool_calls"
    else:
        message, finish = {"role": "assistant", "content": text}, "stop"
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "stub"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt_chars,
            "completion_tokens": len(text),
            "total_tokens": prompt_chars + len(text),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--responses", type=Path, default=None)
    args = parser.parse_args()
    responses = json.loads(args.responses.read_text("utf-8")) if args.responses else {}
    state = StubState(args.latency, responses)
    ThreadingHTTPServer.request_queue_size = 128  # many clients connect at once
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(state))
    server.daemon_threads = True
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
