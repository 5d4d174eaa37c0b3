"""CLI commands of this package; `jixiao.cli` calls `register(app)`: `review` (serve the web
app) and `review export-gold`."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer

from jixiao.errors import ConfigError

DB_HELP = "Database URL (default: JIXIAO_DATABASE_URL, else sqlite:///jixiao.db)."
TOKEN_ENV = "JIXIAO_REVIEW_TOKEN"

review_app = typer.Typer(
    help="Review what the checks and the confidence put in doubt, in a local web app.",
    invoke_without_command=True,
)


def default_reviewer() -> str:
    try:
        return os.environ.get("JIXIAO_REVIEWER") or getpass.getuser()
    except (KeyError, OSError):
        return "reviewer"


def server_settings(host: str, token: str | None) -> tuple[str | None, set[str] | None]:
    """(token to require, Host names to accept) for a bind address. A non-loopback bind
    without a token is refused: anyone on the network could otherwise rewrite the data."""
    from jixiao.review.app import LOOPBACK_HOSTS, is_loopback

    if is_loopback(host):
        return (token or None, set(LOOPBACK_HOSTS) | {host})
    if not token:
        raise ConfigError(
            None,
            f"binding to {host} (not loopback) needs a token",
            f"set {TOKEN_ENV} to a long random string, or bind to 127.0.0.1",
        )
    if len(token) < 16:
        raise ConfigError(None, f"{TOKEN_ENV} is too short", "use at least 16 random characters")
    return (token, None)


@review_app.callback()
def review(
    ctx: typer.Context,
    db_url: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    reviewer: Annotated[
        str | None,
        typer.Option("--reviewer", help="Name stored with each decision (default: $USER)."),
    ] = None,
) -> None:
    """Serve the review app: the queue of forms by need, each form's page with its fields, and
    keyboard actions (accept, correct, form-is-wrong, skip). A non-loopback --host needs
    JIXIAO_REVIEW_TOKEN, then required on every request."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"db": db_url}
        return
    import uvicorn

    from jixiao.confidence import review_threshold
    from jixiao.review.app import create_app
    from jixiao.store import db

    token, allowed_hosts = server_settings(host, os.environ.get(TOKEN_ENV))
    engine = db.open_db(db_url)
    app = create_app(
        engine,
        reviewer=reviewer or default_reviewer(),
        threshold=review_threshold(),
        token=token,
        allowed_hosts=allowed_hosts,
    )
    shown = f"[{host}]" if ":" in host else host
    suffix = "?token=<JIXIAO_REVIEW_TOKEN>" if token else ""
    typer.echo(f"jixiao review on http://{shown}:{port}/{suffix} (Ctrl-C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@review_app.command("export-gold")
def export_gold(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the gold JSON files.")
    ] = Path("evals/gold/reviewed"),
    db_url: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    include_pending: Annotated[
        bool,
        typer.Option("--include-pending", help="Also forms with fields still waiting for review."),
    ] = False,
) -> None:
    """Write every reviewed form (nothing left waiting) as gold FormRecord JSON, named
    review-<sha8>-<form>.json, to grow evals/gold."""
    from jixiao.confidence import review_threshold
    from jixiao.review.service import ReviewService
    from jixiao.review.service import export_gold as run_export
    from jixiao.store import db

    url = db_url or (ctx.obj or {}).get("db")
    engine = db.open_db(url)
    service = ReviewService(engine, threshold=review_threshold())
    written = run_export(service, out, include_pending=include_pending)
    for path in written:
        typer.echo(str(path))
    typer.echo(f"{len(written)} reviewed form(s) written to {out}", err=True)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the top-level app."""
    app.add_typer(review_app, name="review")
