"""The embedded server's lifecycle.

Most tests swap the llama.cpp command for a stand-in child (tests/llm/faulty_server.py run as a
script, or a shell) so they run in a second; the `live` ones start the real server
(`pytest -m live tests/llm/test_server.py`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from jixiao.config import LLMSettings
from jixiao.errors import LLMUnavailable
from jixiao.extract.llm import server as server_module
from jixiao.extract.llm.client import open_client
from jixiao.extract.llm.commands import CHECK_MESSAGES, LLMCheckReply
from jixiao.extract.llm.server import EmbeddedServer

FAKE_SERVER = Path(__file__).with_name("faulty_server.py")
loopback = pytest.mark.block_network(allowed_hosts=[r"127\.0\.0\.1"])


def port_is_free(port: int) -> bool:
    """Nobody listens there and a new server could (SO_REUSEADDR, as servers bind: the closed
    connections may sit in TIME_WAIT for a minute)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
        return True


def process_gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if _is_zombie(pid):  # exited; PID 1 of a container may never reap it
            return True
        # a zombie child of ours counts as gone once reaped; others are reaped by init
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return False


def _is_zombie(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return any(line.startswith("State:") and "Z" in line.split()[1] for line in status.splitlines())


@pytest.fixture
def fake_llama(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Replace the llama.cpp command by the fake OpenAI server; returns the commands run."""
    launched: list[list[str]] = []

    def command(self: EmbeddedServer, model: Path, port: int) -> list[str]:
        cmd = [sys.executable, str(FAKE_SERVER), str(port)]
        launched.append(cmd)
        return cmd

    monkeypatch.setattr(server_module, "_missing_modules", lambda: [])
    monkeypatch.setattr(server_module, "model_path", lambda: Path("/nonexistent/model.gguf"))
    monkeypatch.setattr(EmbeddedServer, "command", command)
    return launched


def settings(tmp_path: Path) -> LLMSettings:
    return LLMSettings(cache_dir=tmp_path / "cache", backoff_initial_s=0.01)


def test_command_line_of_the_real_server(tmp_path: Path) -> None:
    cmd = EmbeddedServer(settings(tmp_path), n_threads=1).command(Path("/m.gguf"), 4321)
    assert cmd[1:3] == ["-m", "llama_cpp.server"]
    args = dict(zip(cmd[3::2], cmd[4::2], strict=True))
    assert args["--model"] == "/m.gguf" and args["--chat_format"] == "gemma"
    assert args["--host"] == "127.0.0.1" and args["--port"] == "4321"
    assert args["--n_ctx"] == "8192" and args["--n_threads"] == "1"
    # a small batch keeps the 262k-vocabulary logits buffer, and the server, under 2 GB
    assert args["--n_batch"] == args["--n_ubatch"] == "128"
    assert args["--logits_all"] == "false"  # else one long prompt holds GBs of logits
    assert args["--model_alias"] == "gemma3-270m"


def test_missing_install_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "_missing_modules", lambda: ["llama_cpp"])
    with pytest.raises(LLMUnavailable) as raised:
        EmbeddedServer(settings(tmp_path)).start()
    line = raised.value.line()
    assert "llama_cpp" in line and "scripts/setup.sh" in line and "'.[local]'" in line
    assert raised.value.exit_code == 12


def test_server_dying_during_start_reports_the_log_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_llama: list[list[str]]
) -> None:
    script = "import sys; print('error: cannot load model: bad magic', flush=True); sys.exit(3)"
    monkeypatch.setattr(
        EmbeddedServer, "command", lambda self, model, port: [sys.executable, "-c", script]
    )
    server = EmbeddedServer(settings(tmp_path)).start()
    with pytest.raises(LLMUnavailable) as raised:
        server.wait_ready(timeout=10)
    line = raised.value.line()
    assert "exited during start (code 3)" in line and "bad magic" in line
    assert str(server.log_path) in line and "\n" not in line
    assert not server.running


def test_wait_ready_times_out_and_stops_the_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_llama: list[list[str]]
) -> None:
    monkeypatch.setattr(EmbeddedServer, "command", lambda self, model, port: ["sleep", "30"])
    server = EmbeddedServer(settings(tmp_path)).start()
    assert server.process is not None
    pid = server.process.pid
    with pytest.raises(LLMUnavailable, match="did not answer within"):
        server.wait_ready(timeout=0.5)
    assert process_gone(pid)


def test_stop_kills_the_whole_process_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_llama: list[list[str]]
) -> None:
    # a child that starts a grandchild and ignores SIGTERM: stop() must still end both
    script = "trap '' TERM; sleep 30 & echo $! ; wait"
    monkeypatch.setattr(EmbeddedServer, "command", lambda self, model, port: ["sh", "-c", script])
    server = EmbeddedServer(settings(tmp_path)).start()
    assert server.process is not None and server.log_path is not None
    pid = server.process.pid
    deadline = time.monotonic() + 5
    while not server.log_path.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int(server.log_path.read_text().split()[0])
    server.stop(grace=0.5)
    assert process_gone(pid) and process_gone(grandchild)


@loopback
def test_open_client_starts_uses_and_stops_the_server(
    tmp_path: Path, fake_llama: list[list[str]]
) -> None:
    with open_client(settings(tmp_path)) as client:
        server = client.server
        assert server is not None and server.port is not None and server.process is not None
        assert client.base_url == f"http://127.0.0.1:{server.port}/v1"
        reply, stats = client.extract(LLMCheckReply, CHECK_MESSAGES)
        again, _ = client.extract(LLMCheckReply, CHECK_MESSAGES)
        assert reply is not None and again is not None and stats.error is None
        pid, port = server.process.pid, server.port
    assert len(fake_llama) == 1  # one server for every call of the run
    assert process_gone(pid) and port_is_free(port)


@loopback
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_open_client_stops_the_server_when_the_run_fails(
    tmp_path: Path, fake_llama: list[list[str]], error: type[BaseException]
) -> None:
    # KeyboardInterrupt is what Ctrl-C raises in the run
    with pytest.raises(error), open_client(settings(tmp_path)) as client:
        assert client.server is not None and client.server.process is not None
        pid, port = client.server.process.pid, client.server.port
        raise error("boom")
    assert process_gone(pid) and port is not None and port_is_free(port)


PARENT = """
import sys, time
from jixiao.config import LLMSettings
from jixiao.extract.llm.client import open_client
with open_client(LLMSettings(cache_dir=sys.argv[1])) as client:
    print(client.server.process.pid, client.server.port, flush=True)
    time.sleep(120)
"""


def run_parent_and_signal(cache: Path, sig: signal.Signals, env: dict[str, str]) -> tuple[int, int]:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(cache)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert parent.stdout is not None
    line = parent.stdout.readline()
    assert line, "the parent did not start the server"
    child_pid, port = (int(x) for x in line.split())
    parent.send_signal(sig)
    parent.wait(timeout=20)
    return child_pid, port


@loopback
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_child_server_dies_with_its_parent(tmp_path: Path, sig: signal.Signals) -> None:
    # SIGTERM: open_client turns it into SystemExit and stops the server in `finally`;
    # SIGKILL: nothing runs in the parent, the kernel's parent-death signal ends the child.
    env = {**os.environ, "PYTHONPATH": str(_fake_via_env(tmp_path))}
    child_pid, port = run_parent_and_signal(tmp_path / "cache", sig, env)
    assert process_gone(child_pid, within=10), f"server {child_pid} survived {sig.name}"
    assert port_is_free(port)


def _fake_via_env(tmp_path: Path) -> Path:
    """A sitecustomize.py that swaps the llama.cpp command for the fake server in a subprocess."""
    folder = tmp_path / "site"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        "import sys\n"
        "from pathlib import Path\n"
        "from jixiao.extract.llm import server as s\n"
        "s._missing_modules = lambda: []\n"
        "s.model_path = lambda: Path('/nonexistent.gguf')\n"
        f"fake = {str(FAKE_SERVER)!r}\n"
        "s.EmbeddedServer.command = lambda self, m, p: [sys.executable, fake, str(p)]\n",
        encoding="utf-8",
    )
    return folder


# --- the real thing --------------------------------------------------------------------------


@pytest.mark.live
@loopback
def test_real_server_lifecycle(tmp_path: Path, record_property: Any) -> None:
    started = time.monotonic()
    with open_client(LLMSettings(cache_dir=tmp_path)) as client:
        assert client.server is not None and client.server.process is not None
        ready = time.monotonic() - started
        pid, port = client.server.process.pid, client.server.port
        reply, stats = client.extract(LLMCheckReply, CHECK_MESSAGES, max_retries=0)
        assert reply is not None, stats.error
        assert stats.input_tokens > 0 and stats.output_tokens > 0
    assert process_gone(pid) and port is not None and port_is_free(port)
    record_property("start_s", round(ready, 2))
    record_property("call_s", round(stats.seconds, 2))
    print(f"embedded server ready in {ready:.1f} s; one tiny call {stats.seconds:.2f} s")


@pytest.mark.live
@loopback
def test_real_server_killed_when_the_run_fails(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), open_client(LLMSettings(cache_dir=tmp_path)) as client:
        assert client.server is not None and client.server.process is not None
        pid, port = client.server.process.pid, client.server.port
        raise KeyboardInterrupt  # what Ctrl-C raises
    assert process_gone(pid) and port is not None and port_is_free(port)


@loopback
def test_embedded_runs_get_a_long_timeout_and_one_request_at_a_time(
    tmp_path: Path, fake_llama: list[list[str]]
) -> None:
    with open_client(settings(tmp_path)) as client:
        assert client.settings.timeout_s == 600.0
        assert client._slots is not None
    explicit = LLMSettings(cache_dir=tmp_path, timeout_s=30)
    with open_client(explicit) as client:
        assert client.settings.timeout_s == 30
