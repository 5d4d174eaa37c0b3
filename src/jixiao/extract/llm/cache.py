"""A file cache of validated LLM results, so re-running an unchanged document makes no LLM call.

One JSON file per entry under <cache_dir>/llm/<2 hex>/<sha256>.json, written atomically
(temp file + os.replace) so concurrent runs and Ctrl-C never leave a half-written entry. The
file name hashes the caller's key together with the model, the mode and the response model's
JSON schema: changing any of them is a miss, never a stale hit. Entries are re-validated on load
(with the caller's validation context) by the client, and a file that fails to parse is a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel

CACHE_FORMAT = 1


def schema_fingerprint(response_model: type[BaseModel]) -> str:
    schema = json.dumps(response_model.model_json_schema(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(schema.encode("utf-8")).hexdigest()[:16]


class ResultCache:
    """Validated results by key. `load` returns the stored JSON value or None."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def entry_id(
        self, cache_key: str, *, model: str, mode: str, response_model: type[BaseModel]
    ) -> str:
        parts = {
            "format": CACHE_FORMAT,
            "key": cache_key,
            "model": model,
            "mode": mode,
            "response_model": response_model.__name__,
            "schema": schema_fingerprint(response_model),
        }
        blob = json.dumps(parts, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()

    def path(self, entry_id: str) -> Path:
        return self.root / entry_id[:2] / f"{entry_id}.json"

    def load(self, entry_id: str) -> dict[str, Any] | None:
        path = self.path(entry_id)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or "value" not in data:
            return None
        return data

    def store(self, entry_id: str, value: Any, **meta: Any) -> None:
        """Write an entry; a cache that cannot be written is not an error (the run goes on)."""
        path = self.path(entry_id)
        record = {"format": CACHE_FORMAT, **meta, "value": value}
        text = json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)
