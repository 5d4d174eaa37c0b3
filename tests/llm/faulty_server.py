"""A loopback OpenAI-compatible server that fails on purpose, then answers.

`FaultyServer(faults=["drop", "429", "503", "slow"])` fails the first requests in that order, then
answers every later one with a chat completion copied from a real response of the embedded
server (gemma3-270m, TOOLS mode, model `LLMCheckReply(ok: bool)`), the tool name swapped for
the one the request asks for. It counts requests and keeps their JSON bodies.

Faults: "drop" closes the connection without answering; "401"/"429"/"500"/"503" answer that status
with an OpenAI-style error body (429 with `retry-after: 0`); "slow" waits `slow_s` before
answering (longer than the client's timeout).
"""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Body of a real /v1/chat/completions response from `python -m llama_cpp.server` serving
# gemma-3-270m-q4_k_m (llama-cpp-python 0.3.36, --chat_format gemma), recorded 2026-11-27.
REAL_TOOL_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-254433b2-0c09-4576-9983-b2dd4f90c420",
    "object": "chat.completion",
    "created": 1795756804,
    "model": "gemma3-270m",
    "choices": [
        {
            "index": 0,
            "message": {
                "content": None,
                "tool_calls": [
                    {
                        "id": "call__0_LLMCheckReply_cmpl-254433b2-0c09-4576-9983-b2dd4f90c420",
                        "type": "function",
                        "function": {"name": "LLMCheckReply", "arguments": '{ "ok": false } '},
                    }
                ],
                "role": "assistant",
                "function_call": {"name": "LLMCheckReply", "arguments": '{ "ok": false } '},
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 24, "completion_tokens": 9, "total_tokens": 33},
}

FAULTS = ("drop", "401", "429", "500", "503", "slow", "ok")


class FaultyServer:
    def __init__(
        self,
        faults: Sequence[str] = (),
        *,
        answer: dict[str, Any] | None = None,
        slow_s: float = 2.0,
        port: int = 0,
    ) -> None:
        unknown = [f for f in faults if f not in FAULTS]
        if unknown:
            raise ValueError(f"unknown faults {unknown}; use {FAULTS}")
        self.faults = list(faults)
        self.answer = answer or REAL_TOOL_ANSWER
        self.slow_s = slow_s
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0  # most requests being answered at the same time
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def start(self) -> FaultyServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FaultyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_fault(self, body: dict[str, Any], path: str) -> str:
        with self._lock:
            index = len(self.requests)
            self.requests.append({"path": path, "body": body})
            return self.faults[index] if index < len(self.faults) else "ok"

    def _completion_for(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = copy.deepcopy(self.answer)
        tools = body.get("tools") or []
        if tools:  # answer under the tool name the request asked for
            name = tools[0]["function"]["name"]
            message = answer["choices"][0]["message"]
            for call in message.get("tool_calls") or []:
                call["function"]["name"] = name
            if message.get("function_call"):
                message["function_call"]["name"] = name
        return answer

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

            def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None):
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send_json(200, {"object": "list", "data": [{"id": "gemma3-270m"}]})
                else:
                    self._send_json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                fault = server._next_fault(body, self.path)
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._answer(fault, body)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self, fault: str, body: dict[str, Any]) -> None:
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault in ("401", "429", "500", "503"):
                    status = int(fault)
                    error = {"error": {"message": f"injected {status}", "type": "server_error"}}
                    extra = {"retry-after": "0"} if status == 429 else None
                    self._send_json(status, error, extra)
                    return
                if fault == "slow":
                    time.sleep(server.slow_s)
                # the client may have given up (timeout): expected for "slow"
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send_json(200, server._completion_for(body))

        return Handler


if __name__ == "__main__":
    # `python faulty_server.py PORT`: a stand-in child process for server lifecycle tests.
    import sys

    fake = FaultyServer(port=int(sys.argv[1]))
    print(f"fake LLM server on {fake.base_url}", flush=True)
    fake._httpd.serve_forever()
