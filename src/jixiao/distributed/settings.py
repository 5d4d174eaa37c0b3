"""Settings of the distributed mode, from the environment (the same on every machine):

- JIXIAO_BROKER_URL: the Redis broker, e.g. redis://127.0.0.1:6379/0 (required);
- JIXIAO_DATABASE_URL: the results database, as for every command (PostgreSQL for several
  machines; an SQLite file works for workers on one machine);
- JIXIAO_MAX_CRASHES (2): a document whose processing killed its worker this often is failed;
- JIXIAO_INLINE_MAX_BYTES (16 MiB): PDFs up to this size travel inside the task; larger ones
  by path (which every worker must then see: a shared or network file system);
- JIXIAO_BROKER_VISIBILITY_TIMEOUT (3600 s): after this long an unacknowledged task (its worker
  died) is delivered again; it must exceed the longest document's processing time;
- JIXIAO_DB_MAX_RETRIES (6): database (or LLM endpoint) outages a task waits out, with
  exponential backoff capped at JIXIAO_RETRY_MAX_S (300 s), before the document is failed;
- JIXIAO_LLM_RPM, JIXIAO_LLM_MAX_CONCURRENT: requests per minute and calls in flight allowed
  on the LLM endpoint across all workers (unset: no shared bound).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from jixiao.errors import ConfigError

QUEUE = "jixiao"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as err:
        raise ConfigError(None, f"{name}={raw!r} is not a whole number") from err


def _float_or_none(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError as err:
        raise ConfigError(None, f"{name}={raw!r} is not a number") from err


def broker_url(required: bool = True) -> str | None:
    url = os.environ.get("JIXIAO_BROKER_URL", "").strip()
    if not url and required:
        raise ConfigError(
            None,
            "no broker configured (JIXIAO_BROKER_URL)",
            "set JIXIAO_BROKER_URL=redis://host:6379/0, or run `jixiao batch` without --queue",
        )
    return url or None


def redact(url: str) -> str:
    return re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", url)


@dataclass(frozen=True, slots=True)
class DistributedSettings:
    max_crashes: int = 2
    inline_max_bytes: int = 16 << 20
    visibility_timeout: int = 3600
    db_max_retries: int = 6
    retry_max_s: int = 300
    llm_rpm: float | None = None
    llm_max_concurrent: int | None = None

    @classmethod
    def from_env(cls) -> DistributedSettings:
        concurrent = _float_or_none("JIXIAO_LLM_MAX_CONCURRENT")
        return cls(
            max_crashes=max(1, _int("JIXIAO_MAX_CRASHES", 2)),
            inline_max_bytes=_int("JIXIAO_INLINE_MAX_BYTES", 16 << 20),
            visibility_timeout=max(1, _int("JIXIAO_BROKER_VISIBILITY_TIMEOUT", 3600)),
            db_max_retries=max(0, _int("JIXIAO_DB_MAX_RETRIES", 6)),
            retry_max_s=max(1, _int("JIXIAO_RETRY_MAX_S", 300)),
            llm_rpm=_float_or_none("JIXIAO_LLM_RPM"),
            llm_max_concurrent=int(concurrent) if concurrent else None,
        )

    def backoff(self, retries: int) -> int:
        """Seconds before retry number `retries` + 1: 2, 4, 8, … capped."""
        return int(min(self.retry_max_s, 2 ** (retries + 1)))
