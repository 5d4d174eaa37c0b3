"""The review web app (FastAPI, server-rendered Jinja, one small vendored script).

Security, since forms come from strangers and the app can write to the database:
- it binds to loopback by default; a non-loopback bind needs a token on every request
  (`X-Jixiao-Token` header, `jixiao_token` cookie, or `?token=` once, which sets the cookie);
- on loopback the Host header must be a loopback name (no DNS rebinding from a web page);
- every mutation needs the per-process CSRF token from the page (`X-CSRF-Token`), a JSON body,
  and a same-origin Origin when the browser sends one;
- templates autoescape and the script only ever sets `textContent`; a strict CSP forbids inline
  script;
- page images are looked up by form id: no request parameter ever names a file.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from pathlib import Path
from threading import Lock
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from jixiao.errors import JixiaoError
from jixiao.ingest.render import render_page_png
from jixiao.review.service import ACTIONS, Filters, ReviewError, ReviewService

HERE = Path(__file__).parent
PAGE_DPI = 110
CROP_DPI = 200
CROP_PAD = 12.0  # points around a field's bbox in the zoomed crop
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
TOKEN_COOKIE = "jixiao_token"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(max_length=200)
    action: str = Field(max_length=20)
    value: str | None = Field(None, max_length=20000)
    note: str | None = Field(None, max_length=2000)


class _PngCache:
    """A few rendered pages kept in memory: j/k over one form must not re-render its page."""

    def __init__(self, size: int = 32):
        self.size = size
        self.items: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self.lock = Lock()

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        with self.lock:
            png = self.items.get(key)
            if png is not None:
                self.items.move_to_end(key)
            return png

    def put(self, key: tuple[Any, ...], png: bytes) -> None:
        with self.lock:
            self.items[key] = png
            while len(self.items) > self.size:
                self.items.popitem(last=False)


class _Guard(BaseHTTPMiddleware):
    def __init__(self, app: Any, *, token: str | None, allowed_hosts: set[str] | None):
        super().__init__(app)
        self.token = token
        self.allowed_hosts = allowed_hosts

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if self.allowed_hosts is not None:
            host = (request.headers.get("host") or "").rsplit(":", 1)[0]
            if request.headers.get("host", "").startswith("[::1]"):
                host = "[::1]"
            if host not in self.allowed_hosts:
                return PlainTextResponse("jixiao review: unexpected Host header", status_code=400)
        set_cookie = False
        if self.token is not None:
            given = (
                request.headers.get("x-jixiao-token")
                or request.cookies.get(TOKEN_COOKIE)
                or request.query_params.get("token")
            )
            if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
                return PlainTextResponse(
                    "jixiao review: token required — open the URL with "
                    "?token=<JIXIAO_REVIEW_TOKEN>",
                    status_code=401,
                )
            set_cookie = request.query_params.get("token") is not None
        response = await call_next(request)
        if set_cookie and self.token is not None:
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response


def create_app(
    engine: Engine,
    *,
    reviewer: str,
    threshold: float,
    token: str | None = None,
    allowed_hosts: set[str] | None = None,
    csrf_token: str | None = None,
) -> FastAPI:
    """The app over one database. `token`: required on every request when set (the CLI sets it
    for non-loopback binds). `allowed_hosts`: Host names accepted (None: any)."""
    service = ReviewService(engine, threshold=threshold)
    csrf = csrf_token or secrets.token_urlsafe(32)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    pages = _PngCache()
    app = FastAPI(title="jixiao review", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(_Guard, token=token, allowed_hosts=allowed_hosts)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.state.service = service

    def problem(message: str, status: int) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    def html_problem(request: Request, message: str, status: int) -> HTMLResponse:
        return templates.TemplateResponse(
            request, "error.html", {"message": message, "csrf": csrf}, status_code=status
        )

    def check_mutation(request: Request) -> JSONResponse | None:
        given = request.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(given.encode(), csrf.encode()):
            return problem("missing or wrong CSRF token: reload the page", 403)
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).netloc != request.headers.get("host"):
            return problem("cross-origin request refused", 403)
        if not request.headers.get("content-type", "").startswith("application/json"):
            return problem("send JSON (Content-Type: application/json)", 415)
        return None

    @app.get("/", response_class=HTMLResponse)
    def queue_page(
        request: Request,
        document: str | None = None,
        department: str | None = None,
        flag: str | None = None,
        extractor: str | None = None,
        confidence: str | None = None,
        status: str = "all",
    ) -> Response:
        try:
            max_conf = float(confidence) if confidence not in (None, "") else None
        except ValueError:
            return html_problem(request, f"confidence {confidence!r} is not a number", 422)
        if max_conf is not None and not 0 <= max_conf <= 1:
            return html_problem(request, "confidence must be between 0 and 1", 422)
        if status not in ("all", "pending", "done"):
            return html_problem(request, "status must be all, pending or done", 422)
        filters = Filters(
            document=document or None,
            department=department or None,
            flag=flag or None,
            extractor=extractor or None,
            max_confidence=max_conf,
            status=status,  # type: ignore[arg-type]
        )
        views = service.queue(filters)
        rows = [
            {
                "id": v.id,
                "document": v.document_name,
                "document_id": v.document_id,
                "form_index": v.form_index,
                "project_name": v.project_name,
                "department": v.department,
                "extractor": v.extractor,
                "errors": v.errors,
                "warnings": sum(1 for f in v.flags if f.severity == "warning"),
                "low": v.low_confidence,
                "pending": len(v.pending),
                "codes": sorted({f.code for f in v.flags}),
            }
            for v in views
        ]
        return templates.TemplateResponse(
            request,
            "queue.html",
            {
                "rows": rows,
                "filters": {
                    "document": document or "",
                    "department": department or "",
                    "flag": flag or "",
                    "extractor": extractor or "",
                    "confidence": confidence or "",
                    "status": status,
                },
                "queue_ids": [r["id"] for r in rows],
                "csrf": csrf,
                "threshold": threshold,
            },
        )

    @app.get("/forms/{form_id}", response_class=HTMLResponse)
    def form_page(request: Request, form_id: int) -> Response:
        try:
            view = service.form(form_id)
        except ReviewError as err:
            return html_problem(request, err.message, err.status)
        return templates.TemplateResponse(
            request,
            "form.html",
            {
                "view": view,
                "state": view.to_json(),
                "csrf": csrf,
                "page_dpi": PAGE_DPI,
            },
        )

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/api/queue")
    def queue_api(status: str = "pending") -> Response:
        if status not in ("all", "pending", "done"):
            return problem("status must be all, pending or done", 422)
        views = service.queue(Filters(status=status))  # type: ignore[arg-type]
        return JSONResponse(
            [
                {"id": v.id, "pending": len(v.pending), "errors": v.errors, "name": v.project_name}
                for v in views
            ]
        )

    @app.get("/api/forms/{form_id}")
    def form_api(form_id: int) -> Response:
        try:
            return JSONResponse(service.form(form_id).to_json())
        except ReviewError as err:
            return problem(err.message, err.status)

    @app.post("/api/forms/{form_id}/decisions")
    async def decide(request: Request, form_id: int) -> Response:
        refused = check_mutation(request)
        if refused is not None:
            return refused
        try:
            body = DecisionIn.model_validate_json(await request.body())
        except ValueError as err:
            return problem(f"bad request body ({str(err).splitlines()[0]})", 422)
        if body.action not in ACTIONS:
            return problem(f"unknown action {body.action!r} (use {', '.join(ACTIONS)})", 422)
        from starlette.concurrency import run_in_threadpool

        try:
            view = await run_in_threadpool(
                service.decide,
                form_id,
                body.path,
                body.action,
                reviewer=reviewer,
                value=body.value,
                note=body.note,
            )
        except ReviewError as err:
            return problem(err.message, err.status)
        state = view.to_json()
        state["next_form"] = (
            await run_in_threadpool(service.next_pending, form_id) if not view.pending else None
        )
        return JSONResponse(state)

    def png(body: bytes) -> Response:
        return Response(body, media_type="image/png")

    @app.get("/forms/{form_id}/pages/{page}.png")
    def page_image(form_id: int, page: int) -> Response:
        try:
            path, allowed = service.document_of(form_id)
        except ReviewError as err:
            return problem(err.message, err.status)
        if page not in allowed:
            return problem(f"page {page} is not a page of form {form_id}", 404)
        key = (path, page, PAGE_DPI)
        cached = pages.get(key)
        if cached is None:
            try:
                cached = render_page_png(path, page, dpi=PAGE_DPI)
            except JixiaoError as err:
                return problem(err.line(), 404)
            pages.put(key, cached)
        return png(cached)

    @app.get("/forms/{form_id}/crop.png")
    def crop_image(form_id: int, path: str) -> Response:
        try:
            view = service.form(form_id)
        except ReviewError as err:
            return problem(err.message, err.status)
        found = next((f for f in view.fields if f.path == path), None)
        if found is None:
            return problem(f"form {form_id} has no field {path!r}", 404)
        if found.bbox is None or found.page is None:
            return problem(f"{path} has no position on the page", 404)
        x0, y0, x1, y1 = found.bbox
        clip = (x0 - CROP_PAD, y0 - CROP_PAD, x1 + CROP_PAD, y1 + CROP_PAD)
        try:
            return png(render_page_png(view.document_path, found.page, dpi=CROP_DPI, clip=clip))
        except JixiaoError as err:
            return problem(err.line(), 404)

    return app
