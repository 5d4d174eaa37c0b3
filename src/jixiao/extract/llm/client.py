"""The one way the project calls an LLM: openai + instructor, retries, cache, token accounting.

Two retry layers, each for its own kind of failure, never stacked on the same error:
- transport (timeouts, refused/dropped connections, 429, 5xx): tenacity around the raw HTTP
  call, bounded, exponential backoff with full jitter (openai's own retries are off);
- validation (the answer does not parse or a validator rejects it): instructor re-asks with the
  error text, `max_retries` times. With `reask_as_user` (default for the embedded server) the
  re-ask's tool turns are sent as plain assistant/user turns, see `reask_turns_as_user`.
`LLMClient.extract` never raises for either: it returns (None, a call record with `error`). It
raises LLMUnavailable only for what no retry can fix (bad key, unknown model or URL). Every call
returns its `LLMCall` record (what was asked, tokens, attempts, seconds, cache hit, error).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import instructor
import openai
from instructor.core.exceptions import (
    IncompleteOutputException,
    InstructorError,
    InstructorRetryException,
)
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from jixiao.config import LLMSettings
from jixiao.errors import ConfigError, LLMUnavailable
from jixiao.extract.llm.cache import ResultCache
from jixiao.extract.llm.calls import LLMCall, Usage

if TYPE_CHECKING:
    from jixiao.extract.llm.prompts import Prompt
    from jixiao.extract.llm.server import EmbeddedServer

T = TypeVar("T", bound=BaseModel)

# instructor logs every failed attempt at ERROR; without a handler Python prints them on stderr,
# around our one-line errors. Failures are reported through LLMCall.error instead.
logging.getLogger("instructor").addHandler(logging.NullHandler())

INSTRUCTOR_MODES: dict[str, instructor.Mode] = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "json": instructor.Mode.JSON,
    "md_json": instructor.Mode.MD_JSON,
}

EMBEDDED_TIMEOUT_S = 600.0

# Errors that no retry can fix: the endpoint or key is wrong for every call of the run.
_FATAL_STATUS = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)


def is_transport_error(exc: BaseException) -> bool:
    """Worth retrying unchanged: the request never got a real answer."""
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return False


def build_openai_client(settings: LLMSettings, base_url: str | None = None) -> openai.OpenAI:
    """An OpenAI client for the configured endpoint; max_retries=0 (our tenacity layer retries)."""
    url = base_url or settings.base_url
    if url is None:
        raise ConfigError(None, "no LLM endpoint to connect to", "start one with `open_client()`")
    return openai.OpenAI(
        base_url=url, api_key=settings.api_key, timeout=settings.timeout_s, max_retries=0
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code} from the LLM endpoint: {_short(exc.message)}"
    if isinstance(exc, openai.APITimeoutError):
        return "the LLM endpoint timed out"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot connect to the LLM endpoint: {_short(str(exc.__cause__ or exc))}"
    if isinstance(exc, ValidationError):
        return f"invalid answer: {_short(str(exc))}"
    return f"{type(exc).__name__}: {_short(str(exc))}"


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _as_exact_type(response_model: type[T], value: BaseModel) -> T:
    """The same validated data as an instance of response_model itself (no re-validation:
    validators may have side effects on the context), private attributes included."""
    clean = response_model.model_construct(
        _fields_set=value.model_fields_set,
        **{name: getattr(value, name) for name in response_model.model_fields},
    )
    private = getattr(value, "__pydantic_private__", None) or {}
    for name in response_model.__private_attributes__:
        if name in private:
            setattr(clean, name, private[name])
    return clean


# instructor's text around a validation error, and pydantic's per-error boilerplate (the rejected
# input repeated, a docs URL): noise that a 270M model reads instead of the error itself.
_INSTRUCTOR_REASK_HEAD = "Validation Error found:\n"
_INSTRUCTOR_REASK_TAIL = "\nRecall the function correctly, fix the errors"
_PYDANTIC_INPUT_SUFFIX = re.compile(r" \[type=[\w.]+, input_value=.*, input_type=\w+\]$")
_PYDANTIC_URL_LINE = re.compile(r"^\s*For further information visit \S+$")


def _reask_error_text(tool_content: Any) -> str:
    """The validation error of an instructor re-ask turn, without instructor's and pydantic's
    boilerplate."""
    text = tool_content if isinstance(tool_content, str) else str(tool_content or "")
    text = text.removeprefix(_INSTRUCTOR_REASK_HEAD).removesuffix(_INSTRUCTOR_REASK_TAIL)
    lines = [
        _PYDANTIC_INPUT_SUFFIX.sub("", line)
        for line in text.splitlines()
        if not _PYDANTIC_URL_LINE.match(line)
    ]
    return "\n".join(lines).strip()


def has_tool_turns(messages: list[dict[str, Any]]) -> bool:
    """True when messages hold a tool call or a tool result (a re-ask; first attempts never do)."""
    return any(m.get("role") == "tool" or m.get("tool_calls") for m in messages)


def reask_turns_as_user(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages of a TOOLS-mode re-ask for chat templates that know only user/assistant
    turns (llama-cpp-python's `gemma` drops `tool` turns, so the model never saw the error).

    An assistant turn with `tool_calls` becomes an assistant turn whose content is the JSON
    arguments it sent; each run of `tool` turns becomes one user turn with the validation error
    and the instruction to call the tool again with corrected values. Other turns are kept as
    they are (the same objects); the input list is not changed."""
    rewritten: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []  # consecutive tool turns: one user turn

    def flush() -> None:
        if not pending:
            return
        errors = [_reask_error_text(turn.get("content")) for turn in pending]
        names = list(dict.fromkeys(str(turn.get("name") or "the tool") for turn in pending))
        rewritten.append(
            {
                "role": "user",
                "content": "Your answer was rejected:\n"
                + "\n".join(errors)
                + f"\nAnswer again by calling {' and '.join(names)} with corrected values.",
            }
        )
        pending.clear()

    for message in messages:
        if message.get("role") == "tool":
            pending.append(message)
            continue
        flush()
        calls = message.get("tool_calls")
        if message.get("role") == "assistant" and calls:
            arguments = [str((call.get("function") or {}).get("arguments") or "") for call in calls]
            rewritten.append({"role": "assistant", "content": "\n".join(arguments)})
        else:
            rewritten.append(message)
    flush()
    return rewritten


class LLMClient:
    """Structured calls against one endpoint. Thread-safe: per-call state lives in the call."""

    def __init__(
        self,
        settings: LLMSettings,
        *,
        base_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_concurrent: int | None = None,
    ) -> None:
        if settings.mode not in INSTRUCTOR_MODES:
            raise ConfigError(None, f"unknown LLM mode {settings.mode!r}")
        self.settings = settings
        self.base_url = base_url or settings.base_url
        self._openai = build_openai_client(settings, self.base_url)
        self._mode = INSTRUCTOR_MODES[settings.mode]
        self.reask_as_user = (
            settings.embedded if settings.reask_as_user is None else settings.reask_as_user
        )
        self._cache = ResultCache(settings.cache_dir / "llm")
        self._sleep = sleep
        self._lock = threading.Lock()
        # A single-slot server (the embedded one) queues requests, and the queue time counts
        # against the timeout: hold them here instead, so the timeout measures only the work.
        self._slots = threading.BoundedSemaphore(max_concurrent) if max_concurrent else None
        self.totals = Usage()  # summed over every call of this client
        self.server: EmbeddedServer | None = None  # set by open_client when it started one

    def _wait_seconds(self, state: RetryCallState) -> float:
        """Exponential backoff with full jitter, capped; honours a server's Retry-After (capped)."""
        import random

        cap = self.settings.backoff_max_s
        base = self.settings.backoff_initial_s * 2 ** (state.attempt_number - 1)
        wait = random.uniform(0, min(cap, base))
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, openai.APIStatusError):
            retry_after = exc.response.headers.get("retry-after")
            with contextlib.suppress(TypeError, ValueError):
                wait = max(wait, min(cap, float(retry_after or "")))
        return wait

    def extract(
        self,
        response_model: type[T],
        messages: list[dict[str, str]],
        *,
        context: dict[str, Any] | None = None,
        max_retries: int | None = None,
        cache_key: str | None = None,
        max_tokens: int | None = None,
        section: str | None = None,
        prompt: Prompt | None = None,
    ) -> tuple[T | None, LLMCall]:
        """One structured answer, validated with `context`, and the call's record; (None, a
        record with `error`) on failure.

        `max_tokens`: a smaller bound on the answer than the settings' (a field question's
        answer is one cell id). `section` (what the call reads: a section or a question) and
        `prompt` are only recorded."""
        stats = LLMCall(
            section=section,
            prompt=prompt.ref if prompt is not None else None,
            prompt_sha256=prompt.sha256 if prompt is not None else None,
            cache_key_sha256=(
                hashlib.sha256(cache_key.encode("utf-8")).hexdigest() if cache_key else None
            ),
            model=self.settings.model,
        )
        started = time.monotonic()
        try:
            return self._extract(
                response_model, messages, context, max_retries, cache_key, stats, max_tokens
            )
        finally:
            stats.seconds = time.monotonic() - started
            with self._lock:
                self.totals += stats.usage

    def _extract(
        self,
        response_model: type[T],
        messages: list[dict[str, str]],
        context: dict[str, Any] | None,
        max_retries: int | None,
        cache_key: str | None,
        stats: LLMCall,
        max_tokens: int | None = None,
    ) -> tuple[T | None, LLMCall]:
        entry_id = None
        if cache_key is not None:
            entry_id = self._cache.entry_id(
                cache_key,
                model=self.settings.model,
                mode=self.settings.mode,
                response_model=response_model,
            )
            cached = self._cache.load(entry_id)
            if cached is not None:
                try:
                    value = response_model.model_validate(cached["value"], context=context)
                except ValidationError:
                    pass  # stale under today's context: ask again
                else:
                    stats.cache_hit = True
                    return value, stats

        retrying = Retrying(
            stop=stop_after_attempt(self.settings.max_transport_retries + 1),
            wait=self._wait_seconds,
            retry=retry_if_exception(is_transport_error),
            sleep=self._sleep,
            reraise=True,
        )

        def create(*args: Any, **kwargs: Any) -> Any:
            # The one place transport errors are retried; counts every request and its tokens.
            # Re-ask turns are rewritten here, on the way out, rather than in an instructor reask
            # handler or hook: hooks cannot change the request, the handler registry is global
            # and version-specific, while this sees exactly what is sent whichever mode or
            # instructor version built it. A first attempt has no tool turns and passes through
            # untouched (same kwargs, same bytes); instructor's own list is not changed, so each
            # later re-ask is rewritten from its original turns.
            messages = kwargs.get("messages")
            if self.reask_as_user and isinstance(messages, list) and has_tool_turns(messages):
                kwargs = {**kwargs, "messages": reask_turns_as_user(messages)}
            for attempt in retrying:
                with attempt, self._slot():
                    stats.attempts += 1
                    response = self._openai.chat.completions.create(*args, **kwargs)
            usage = getattr(response, "usage", None)
            if usage is not None:
                stats.input_tokens += usage.prompt_tokens or 0
                stats.output_tokens += usage.completion_tokens or 0
            return response

        patched = instructor.patch(create=create, mode=self._mode)
        retries = self.settings.max_validation_retries if max_retries is None else max_retries
        try:
            result = patched(
                response_model=response_model,
                messages=messages,
                context=context,
                max_retries=retries,
                model=self.settings.model,
                temperature=self.settings.temperature,
                max_tokens=max_tokens or self.settings.max_tokens,
            )
        except InstructorRetryException as err:
            cause = err.__cause__ or err
            if isinstance(cause, _FATAL_STATUS):
                raise self._unavailable(cause) from cause
            stats.error = _describe(cause)
            if not is_transport_error(cause) and err.n_attempts:
                stats.error = f"no valid answer after {err.n_attempts} attempt(s): {stats.error}"
            return None, stats
        except _FATAL_STATUS as err:
            raise self._unavailable(err) from err
        except IncompleteOutputException:
            stats.error = (
                f"the answer was cut off at max_tokens={max_tokens or self.settings.max_tokens}"
            )
            return None, stats
        except (openai.OpenAIError, ValidationError, ValueError, InstructorError) as err:
            stats.error = _describe(err)
            return None, stats

        # instructor returns an instance of its own subclass of response_model carrying the raw
        # response; hand back the caller's exact type (== and type() behave as expected).
        result = _as_exact_type(response_model, result)
        if entry_id is not None:
            self._cache.store(
                entry_id,
                result.model_dump(mode="json"),
                key=cache_key,
                model=self.settings.model,
                mode=self.settings.mode,
                response_model=response_model.__name__,
            )
        return result, stats

    @contextlib.contextmanager
    def _slot(self) -> Iterator[None]:
        if self._slots is None:
            yield
            return
        with self._slots:
            yield

    def _unavailable(self, err: BaseException) -> LLMUnavailable:
        return LLMUnavailable(
            self.base_url,
            f"the LLM endpoint refused the request ({_describe(err)})",
            "check JIXIAO_LLM_BASE_URL, JIXIAO_LLM_MODEL and JIXIAO_LLM_API_KEY; "
            "`jixiao llm check` tests them",
        )

    def close(self) -> None:
        self._openai.close()


@contextlib.contextmanager
def open_client(settings: LLMSettings | None = None) -> Iterator[LLMClient]:
    """An LLMClient for the run. With no endpoint configured, starts the embedded server on a free
    loopback port, reuses it for every call, and stops it on exit (also on errors, Ctrl-C and
    SIGTERM)."""
    from jixiao.extract.llm.server import EmbeddedServer, sigterm_as_exit

    settings = settings or LLMSettings.from_env()
    if settings.embedded and settings.mode == "json_schema":
        raise ConfigError(
            None,
            "mode json_schema does not work with the embedded llama.cpp server (HTTP 500)",
            "use JIXIAO_LLM_MODE=tools, or set JIXIAO_LLM_BASE_URL to an endpoint that has it",
        )
    if settings.embedded and "timeout_s" not in settings.model_fields_set:
        # The local server is never down, only slow on busy cores; and it finishes an answer
        # even after the client gave up, so a timeout + retry only doubles its work.
        settings = settings.model_copy(update={"timeout_s": EMBEDDED_TIMEOUT_S})
    with sigterm_as_exit():
        server: EmbeddedServer | None = None
        try:
            if settings.embedded:
                server = EmbeddedServer(settings).start()
                server.wait_ready(timeout=120.0)
            client = LLMClient(
                settings,
                base_url=server.base_url if server else None,
                max_concurrent=1 if server else None,
            )
            client.server = server
            try:
                yield client
            finally:
                client.close()
        finally:
            if server is not None:
                server.stop()
