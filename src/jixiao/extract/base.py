"""The small interface every extractor implements, and a registry of extractors by name.

Core code (pipeline, CLI) sees only `Extractor` and `open_extractor(name, options)`; it never
imports a provider. Each extractor module exposes a factory, found lazily by a "module:attr"
path, so `jixiao extract --extractor layout` does not import openai and `llm` does not import the
layout code.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from jixiao.contract import FieldProvenance, Flag, FormRecord, RunInfo
from jixiao.errors import ConfigError
from jixiao.extract.llm.calls import LLMCall  # plain data: imports no provider
from jixiao.ingest.model import FormRegion, LayoutText


@dataclass(slots=True)
class ExtractorOutput:
    """What an extractor returns for one form.

    `fields` holds provenance keyed by JSON path into `record` ("funding[0].executed");
    `flags` are extraction findings (origin "extraction"), not the arithmetic checks;
    `stats` counts calls, tokens and seconds; `unplaced` lists source cell ids the extractor
    saw but did not put anywhere (a reviewer's hint that something may have been missed);
    `calls` is the record of every LLM call made for this form (cache hits and failures
    included), in order: what `jixiao batch` stores, one row each.
    """

    record: FormRecord
    fields: dict[str, FieldProvenance] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)
    stats: RunInfo = field(default_factory=lambda: RunInfo(extractor="unknown"))
    unplaced: list[str] = field(default_factory=list)
    calls: list[LLMCall] = field(default_factory=list)


@runtime_checkable
class Extractor(Protocol):
    name: str

    def extract(self, form: FormRegion, layout: LayoutText, *, doc_sha256: str) -> ExtractorOutput:
        """Read one form. Must not raise on a bad form: return nulls and flags instead."""
        ...


@dataclass(slots=True)
class ExtractorOptions:
    """Options from the command line; each extractor takes what it understands."""

    model: str | None = None
    base_url: str | None = None
    mode: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # the hybrid's EscalationPolicy fields (llm, max_calls, max_tokens, threshold, routing_path)
    escalation: dict[str, Any] = field(default_factory=dict)


ExtractorFactory = Callable[[ExtractorOptions], Any]
"""`(options) -> Extractor`, or a context manager yielding one (when it holds a server)."""

# name -> factory, or the "module:attr" path of one (imported only when that name is used).
_REGISTRY: dict[str, str | ExtractorFactory] = {
    "llm": "jixiao.extract.llm.extractor:open_llm_extractor",
    "layout": "jixiao.extract.layout:open_layout_extractor",
    "hybrid": "jixiao.extract.hybrid:open_hybrid_extractor",
}


def register_extractor(name: str, target: str | ExtractorFactory) -> None:
    """Add or replace an extractor: a "module:attr" path (imported lazily) or a factory."""
    _REGISTRY[name] = target


def extractor_names() -> list[str]:
    return sorted(_REGISTRY)


def _load_factory(name: str) -> ExtractorFactory:
    target = _REGISTRY.get(name)
    if target is None:
        raise ConfigError(
            None,
            f"unknown extractor {name!r}",
            f"use one of: {', '.join(extractor_names())}",
        )
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        factory: ExtractorFactory = getattr(module, attr)
    except (ImportError, AttributeError) as err:
        raise ConfigError(
            None,
            f"extractor {name!r} is not available ({err})",
            f"use one of the installed extractors, e.g. --extractor {_fallback(name)}",
        ) from err
    return factory


def _fallback(name: str) -> str:
    return "layout" if name != "layout" else "llm"


@contextlib.contextmanager
def open_extractor(name: str, options: ExtractorOptions | None = None) -> Iterator[Extractor]:
    """The named extractor, ready to use; resources it holds (a server) close on exit."""
    made = _load_factory(name)(options or ExtractorOptions())
    if hasattr(made, "__enter__") and hasattr(made, "__exit__"):
        with made as extractor:
            yield extractor
    else:
        yield made
