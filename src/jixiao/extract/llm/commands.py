"""`jixiao llm serve` and `jixiao llm check`; `jixiao.cli` calls `register(app)`."""

from __future__ import annotations

import signal
import time

import typer
from pydantic import BaseModel

from jixiao.errors import LLMUnavailable

llm_app = typer.Typer(
    help="The LLM endpoint: run the embedded server, check an endpoint.", no_args_is_help=True
)


class LLMCheckReply(BaseModel):
    """The smallest structured answer: proves the endpoint parses a tool/JSON schema."""

    ok: bool


CHECK_MESSAGES = [
    {"role": "user", "content": "Is the sky blue? Answer with ok=true or ok=false."},
]


@llm_app.command("serve")
def serve(
    port: int = typer.Option(0, "--port", "-p", help="Port on 127.0.0.1 (0: a free one)."),
) -> None:
    """Run the embedded llama.cpp server in the foreground until Ctrl-C; point other runs at it
    with JIXIAO_LLM_BASE_URL and JIXIAO_LLM_MODEL=gemma3-270m."""
    from jixiao.config import LLMSettings
    from jixiao.extract.llm.server import EmbeddedServer, sigterm_as_exit

    settings = LLMSettings.from_env(base_url=None)
    server = EmbeddedServer(settings, port=port or None)
    # A shell starting us with `&` sets SIGINT to ignored; a foreground server should stop on it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with sigterm_as_exit():
        try:
            server.start()
            server.wait_ready(timeout=120)
            typer.echo(
                f"serving {settings.model} at {server.base_url} "
                f"(ready in {server.start_seconds:.1f} s; log {server.log_path}); Ctrl-C stops it"
            )
            typer.echo(
                f"  export JIXIAO_LLM_BASE_URL={server.base_url} JIXIAO_LLM_MODEL={settings.model}"
            )
            while server.running:
                time.sleep(0.5)
            raise LLMUnavailable(
                str(server.log_path), f"the embedded server stopped: {server.log_tail()}"
            )
        except KeyboardInterrupt:
            typer.echo("stopping")
        finally:
            server.stop()


@llm_app.command("check")
def check(
    base_url: str | None = typer.Option(
        None, "--base-url", help="OpenAI-compatible endpoint (default: env, else embedded)."
    ),
    model: str | None = typer.Option(None, "--model", help="Model name at that endpoint."),
    mode: str | None = typer.Option(None, "--mode", help="tools | json_schema | json | md_json"),
    timeout: float | None = typer.Option(None, "--timeout", help="Seconds per request."),
) -> None:
    """Say which endpoint, model and mode are in use, and whether one tiny structured call
    gets a valid answer (exit code 12 when not)."""
    from jixiao.config import LLMSettings
    from jixiao.extract.llm.client import open_client

    settings = LLMSettings.from_env(
        base_url=base_url,
        model=model,
        mode=mode,
        timeout_s=timeout,
        max_transport_retries=1,  # a check should answer fast, not wait out a long backoff
    )
    where = "embedded llama.cpp server" if settings.embedded else settings.base_url
    typer.echo(f"endpoint: {where}")
    typer.echo(f"model:    {settings.model}")
    typer.echo(f"mode:     {settings.mode}")
    with open_client(settings) as client:
        if client.server is not None:
            typer.echo(f"started:  {client.base_url} in {client.server.start_seconds or 0:.1f} s")
        reply, stats = client.extract(LLMCheckReply, CHECK_MESSAGES, max_retries=0)
    if reply is None:
        raise LLMUnavailable(
            client.base_url,
            f"no valid structured answer: {stats.error}",
            "check the endpoint, model and mode (`--mode tools` works with most servers)",
        )
    typer.echo(
        f"answer:   ok ({stats.seconds:.2f} s, {stats.input_tokens} in / "
        f"{stats.output_tokens} out tokens, {stats.attempts} request(s))"
    )


def register(app: typer.Typer) -> None:
    """Add this package's commands to the top-level app."""
    app.add_typer(llm_app, name="llm")
