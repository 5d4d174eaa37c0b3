"""A loopback HTTP server that answers LLM requests from a recorded cassette, for commands run in
a subprocess (vcrpy only patches the process it runs in).

Each request is answered with the response recorded for the same method, path and JSON body
(key order and whitespace do not matter), the matcher of tests/llm/conftest.py; each recording
answers once. A request with no recording gets HTTP 404 and is kept in `unmatched`, so a test
can say plainly that a prompt, schema or parameter changed. Nothing is made up: every byte sent
back is a recorded response of the real embedded server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml


@dataclass
class Recording:
    method: str
    path: str
    body: Any  # parsed JSON
    status: int
    content_type: str
    response: bytes


def _text(holder: dict[str, Any], key: str) -> str:
    """A body as stored by the readable serializer: parsed JSON, or the raw string."""
    if "parsed_body" in holder:
        return json.dumps(holder["parsed_body"], ensure_ascii=False)
    value = holder.get(key) or ""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def load_cassette(path: Path) -> list[Recording]:
    cassette = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for interaction in cassette["interactions"]:
        request, response = interaction["request"], interaction["response"]
        headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        content_type = (headers.get("content-type") or ["application/json"])[0]
        out.append(
            Recording(
                method=request["method"].upper(),
                path=urlsplit(request["uri"]).path,
                body=json.loads(_text(request, "body") or "null"),
                status=int(response["status"]["code"]),
                content_type=content_type,
                response=_text(response["body"], "string").encode("utf-8"),
            )
        )
    return out


@dataclass
class RecordedLLM:
    recordings: list[Recording]
    base_url: str = ""
    played: list[int] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, method: str, path: str, raw: bytes) -> Recording | None:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self.lock:
            for n, rec in enumerate(self.recordings):
                if n in self.played:
                    continue
                if (rec.method, rec.path, rec.body) == (method, path, body):
                    self.played.append(n)
                    return rec
            self.unmatched.append({"method": method, "path": path, "body": body})
            return None

    @property
    def unplayed(self) -> int:
        return len(self.recordings) - len(self.played)


@contextmanager
def serve_cassette(path: Path) -> Iterator[RecordedLLM]:
    """RecordedLLM with `base_url` (http://127.0.0.1:<free port>/v1), serving until exit."""
    state = RecordedLLM(load_cassette(path))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the openai client expects

        def _reply(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            rec = state.answer(self.command, urlsplit(self.path).path, raw)
            if rec is None:
                status, ctype = 404, "application/json"
                payload = json.dumps({"error": {"message": "no recording for this request"}})
                data = payload.encode("utf-8")
            else:
                status, ctype, data = rec.status, rec.content_type, rec.response
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = _reply
        do_GET = _reply

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
