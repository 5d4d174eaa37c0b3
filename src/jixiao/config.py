"""Settings read from the environment (JIXIAO_*, then OPENAI_*) and command-line overrides.

Only the LLM settings live here for now. Precedence: explicit override > JIXIAO_LLM_* >
OPENAI_* > default. No endpoint configured means "start the embedded llama.cpp server".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jixiao.errors import ConfigError

EMBEDDED_MODEL = "gemma3-270m"
LLM_MODES = ("tools", "json_schema", "json", "md_json")

# (field, JIXIAO_ variable, OPENAI_ fallback or None)
_ENV_VARS: tuple[tuple[str, str, str | None], ...] = (
    ("base_url", "JIXIAO_LLM_BASE_URL", "OPENAI_BASE_URL"),
    ("model", "JIXIAO_LLM_MODEL", "OPENAI_MODEL"),
    ("api_key", "JIXIAO_LLM_API_KEY", "OPENAI_API_KEY"),
    ("mode", "JIXIAO_LLM_MODE", None),
    ("timeout_s", "JIXIAO_LLM_TIMEOUT_S", None),
    ("max_transport_retries", "JIXIAO_LLM_MAX_TRANSPORT_RETRIES", None),
    ("max_validation_retries", "JIXIAO_LLM_MAX_VALIDATION_RETRIES", None),
    ("temperature", "JIXIAO_LLM_TEMPERATURE", None),
    ("max_tokens", "JIXIAO_LLM_MAX_TOKENS", None),
    ("reask_as_user", "JIXIAO_LLM_REASK_AS_USER", None),
    ("n_ctx", "JIXIAO_LLM_N_CTX", None),
    ("n_batch", "JIXIAO_LLM_N_BATCH", None),
    ("n_threads", "JIXIAO_LLM_THREADS", None),
    ("cache_dir", "JIXIAO_CACHE_DIR", None),
)


class LLMSettings(BaseModel):
    """Where the LLM is and how to talk to it. Build with `LLMSettings.from_env(...)`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str | None = None
    model: str = EMBEDDED_MODEL
    api_key: str = "sk-local"
    mode: str = "tools"
    timeout_s: float = Field(default=120.0, gt=0)
    max_transport_retries: int = Field(default=3, ge=0)
    max_validation_retries: int = Field(default=2, ge=0)
    temperature: float = Field(default=0.0, ge=0)
    # A bound on each answer: a small model can run on inside a JSON string, and a single-slot
    # server stays busy with a runaway answer even after the client has timed out.
    max_tokens: int = Field(default=1024, ge=1)
    n_ctx: int = Field(default=8192, ge=512)
    # Prompt tokens the embedded server evaluates at once. Gemma 3's 262k-token vocabulary makes
    # the logits buffer n_batch x 262144 floats: 512 (llama.cpp's default) held 2.7 GB at peak,
    # 128 holds under 2 GB for the same answers.
    n_batch: int = Field(default=128, ge=16)
    # Send validation re-asks as plain assistant/user turns (chat templates without a `tool`
    # role drop the error); None: on for the embedded server only.
    reask_as_user: bool | None = None
    # Embedded server threads; None: 2 on an idle machine, 1 when the cores are already busy
    # (measured: under load 6 on 2 cores, 2 threads decode 4-5x slower than 1).
    n_threads: int | None = Field(default=None, ge=1)
    cache_dir: Path = Path(".jixiao/cache")
    # Transport backoff: exponential with full jitter, capped; tests shrink these.
    backoff_initial_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=20.0, ge=0)

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in LLM_MODES:
            raise ValueError(f"mode must be one of {', '.join(LLM_MODES)}, not {value!r}")
        return value

    @field_validator("base_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip().rstrip("/") or None if value is not None else None

    @property
    def embedded(self) -> bool:
        """True when no endpoint is configured: the run starts its own llama.cpp server."""
        return self.base_url is None

    @classmethod
    def from_env(cls, **overrides: Any) -> LLMSettings:
        """Read the environment; keyword overrides (e.g. from CLI flags) win when not None."""
        values: dict[str, Any] = {}
        for name, primary, fallback in _ENV_VARS:
            raw = os.environ.get(primary) or (os.environ.get(fallback) if fallback else None)
            if raw:
                values[name] = raw
        explicit_model = overrides.get("model") is not None or "model" in values
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            settings = cls(**values)
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "settings"
            raise ConfigError(
                None,
                f"invalid LLM setting {field}: {first['msg']}",
                "fix the JIXIAO_LLM_* environment variable or the command-line flag",
            ) from None
        if not settings.embedded and not explicit_model:
            raise ConfigError(
                None,
                f"an LLM endpoint is set ({settings.base_url}) but no model name",
                "set JIXIAO_LLM_MODEL (or OPENAI_MODEL) or pass --model",
            )
        return settings
