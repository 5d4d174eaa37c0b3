"""What LLM calls cost and what each one was: `Usage` (summed) and `LLMCall` (one record).

The client returns an `LLMCall` for every `extract` (cache hits and failures included); the
extractors carry them in `ExtractorOutput.calls`, and `jixiao batch` stores one `llm_calls` row
for each. Every sum of calls, tokens, cache hits and seconds goes through `Usage.__add__`;
`RunInfo` (the contract) keeps its flat fields, read and written by `Usage.of_run`/`write_to`.

Pure data: imported by the core (`extract.base`) without importing a provider.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


class _UsageFields(Protocol):
    """RunInfo and LLMQuestion: the contract's flat usage fields."""

    llm_calls: int
    input_tokens: int
    output_tokens: int
    cache_hits: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Usage:
    """Requests, tokens, cache hits and seconds of one or more calls."""

    attempts: int = 0  # HTTP requests sent (transport retries and validation re-asks included)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_hits: int = 0
    seconds: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            attempts=self.attempts + other.attempts,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_hits=self.cache_hits + other.cache_hits,
            seconds=self.seconds + other.seconds,
        )

    @classmethod
    def total(cls, parts: Iterable[Usage]) -> Usage:
        return sum(parts, cls())

    @classmethod
    def of_run(cls, run: _UsageFields) -> Usage:
        return cls(
            attempts=run.llm_calls,
            input_tokens=run.input_tokens,
            output_tokens=run.output_tokens,
            cache_hits=run.cache_hits,
            seconds=run.seconds,
        )

    def write_to(self, run: _UsageFields) -> None:
        """Set a RunInfo's (or LLMQuestion's) usage fields to this usage."""
        run.llm_calls = self.attempts
        run.input_tokens = self.input_tokens
        run.output_tokens = self.output_tokens
        run.cache_hits = self.cache_hits
        run.seconds = round(self.seconds, 3)


def add_usage(run: _UsageFields, more: Usage) -> None:
    """Add `more` to a RunInfo's (or LLMQuestion's) usage fields."""
    (Usage.of_run(run) + more).write_to(run)


@dataclass(slots=True)
class LLMCall:
    """One `LLMClient.extract` call: what was asked (section or question, prompt, cache key)
    and what it cost, failed attempts included. A cache hit is a call with no request."""

    section: str | None = None  # "header", "indicators#2" (chunk 2), "field:funding[0].executed"
    prompt: str | None = None  # name@version
    prompt_sha256: str | None = None
    cache_key_sha256: str | None = None
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    attempts: int = 0  # HTTP requests sent (transport retries and validation re-asks included)
    seconds: float = 0.0
    cache_hit: bool = False
    error: str | None = None

    @property
    def usage(self) -> Usage:
        return Usage(
            attempts=self.attempts,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_hits=int(self.cache_hit),
            seconds=self.seconds,
        )


def section_label(name: str, chunk: int = 0) -> str:
    """The `section` of a section call: its name, with the chunk when there are several."""
    return f"{name}#{chunk}" if chunk else name


def question_label(path: str) -> str:
    """The `section` of a field question: the path of the value asked for."""
    return f"field:{path}"


__all__ = ["LLMCall", "Usage", "add_usage", "question_label", "section_label"]
