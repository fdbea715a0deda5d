"""The dispatch service: ``create_app(settings)`` builds the FastAPI application.

The lifespan opens the store, loads the region once, builds each tenant's setup and
recovers its engine from the durable log. Errors are RFC 9457 problem details
(``application/problem+json``): 422 for bad input (naming the field), 404 for what the
caller may not see, 409 for conflicts, 413 for a body over the size limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.jobs import JobQueueFullError, PlanJobs
from api.routes import console, deliveries, plan_jobs, plans, rides, service, vehicles
from api.service import ServiceSetup, TenantService, setup_from_region
from api.settings import Settings
from dispatch.errors import (
    DispatchError,
    DuplicateRequestError,
    InvalidRequestError,
    InvalidTransitionError,
    OfferExpiredError,
    PlanRejectedError,
    UnknownRequestError,
    UnknownVehicleError,
)
from dispatch.store import Store, StoreConflictError, StoreError
from routing.errors import ProblemError, RoutingError

logger = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large",
           422: "Unprocessable Content", 503: "Service Unavailable"}
_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (UnknownRequestError, 404), (UnknownVehicleError, 404),
    (StoreConflictError, 409), (DuplicateRequestError, 409), (InvalidTransitionError, 409),
    (OfferExpiredError, 409), (PlanRejectedError, 409), (InvalidRequestError, 422),
    (StoreError, 503), (JobQueueFullError, 503), (ProblemError, 422), (RoutingError, 422),
)


def problem(status: int, detail: str, **extra: Any) -> JSONResponse:
    """Return an RFC 9457 problem-details response."""
    body = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status,
            "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(x) for x in loc if x not in ("body", "query", "path", "header"))


async def _on_validation(_req: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _field(tuple(e.get("loc", ()))) or "body",
               "problem": str(e.get("msg", "invalid"))} for e in exc.errors()]
    first = errors[0] if errors else {"field": "body", "problem": "invalid"}
    return problem(422, f"{first['field']}: {first['problem']}", errors=errors)


async def _on_http(req: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    resp = problem(exc.status_code, str(exc.detail))
    for k, v in (exc.headers or {}).items():
        resp.headers[k] = v
    if exc.status_code == 405:  # every method of every route on this path, not the first's
        allowed = {m for r in req.app.routes if isinstance(r, APIRoute)
                   and r.matches(req.scope)[0] is not Match.NONE for m in (r.methods or ())}
        resp.headers["Allow"] = ", ".join(sorted(allowed))
    return resp


async def _on_dispatch(_req: Request, exc: Exception) -> JSONResponse:
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 422)
    if isinstance(exc, StoreError):
        logger.error("store failure: %s", exc)
    resp = problem(status, str(exc))
    if status == 503:
        resp.headers["Retry-After"] = "5"
    return resp


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 (declared or streamed)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        """Pass the request on, counting body bytes."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            msg = await receive()
            if msg.get("type") == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLargeError
            return msg

        try:
            await self.app(scope, limited, send)
        except _TooLargeError:
            await self._refuse(send)

    async def _refuse(self, send: Callable[[Any], Awaitable[None]]) -> None:
        body = json.dumps({"type": "about:blank", "title": _TITLES[413], "status": 413,
                           "detail": f"request body over {self.max_bytes} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", PROBLEM.encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLargeError(Exception):
    pass


async def _maintain_forever(services: dict[str, TenantService], every_s: float) -> None:
    """Merge finished re-optimizations, start due ones and take due snapshots, off the
    request path."""
    while True:
        await asyncio.sleep(min(1.0, every_s / 4) if every_s > 0 else 1.0)
        for svc in services.values():
            try:
                await run_in_threadpool(svc.tick)
            except Exception:  # a failed run must never take the service down
                logger.exception("re-optimization of tenant %s failed", svc.tenant)
            try:
                await run_in_threadpool(svc.maintain)
            except Exception:
                logger.exception("snapshot of tenant %s failed", svc.tenant)


def _with_problems(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """Return an OpenAPI generator that documents the problem-details error responses."""
    from fastapi.openapi.utils import get_openapi

    from api.schemas import Problem

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = get_openapi(title=app.title, version=app.version,
                           description=app.description, routes=app.routes)
        comps = spec.setdefault("components", {}).setdefault("schemas", {})
        comps["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        comps.update(comps["Problem"].pop("$defs", {}))
        content = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path in spec.get("paths", {}).values():
            for op in path.values():
                responses = op.setdefault("responses", {})
                for code in ("400", "401", "403", "404", "405", "409", "413", "422", "503"):
                    responses[code] = {"description": _TITLES[int(code)], "content": content}
        app.openapi_schema = spec
        return spec

    return openapi


def create_app(settings: Settings | None = None, *, setup: ServiceSetup | None = None,
               store: Store | None = None, region: Any = None) -> FastAPI:
    """Return the dispatch service.

    Parameters
    ----------
    settings
        Service settings (default: :func:`api.settings.settings_from_env`).
    setup
        A prebuilt tenant setup (tests); by default built from the region at start-up.
    store
        An open store (tests); by default ``Store(settings.database_url)``.
    region
        The loaded region (tests); by default loaded at start-up unless ``setup`` is
        given (then plans need inline matrices).
    """
    from api.settings import settings_from_env

    cfg = settings or settings_from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        st = store or Store(cfg.database_url)
        reg = region if region is not None or setup is not None else cfg.load_region()
        built = setup or setup_from_region(
            reg, vehicles=cfg.vehicles, max_stops=cfg.max_stops, service_date=cfg.day(),
            timezone=cfg.timezone, vans=cfg.vans, drones=cfg.drones,
            did_policy=cfg.did_policy)
        app.state.store = st
        app.state.region = reg
        services = {cfg.tenant: TenantService(cfg.tenant, built, st, clock=cfg.clock)}
        app.state.services = services
        # a service set up without a region has none for its plan jobs either
        jobs_region = None if reg is None and setup is not None else cfg
        app.state.jobs = PlanJobs(jobs_region, workers=cfg.plan_workers,
                                  max_queued=cfg.plan_queue)
        logger.info("serving tenant %s with %d boarding points", cfg.tenant,
                    len(built.places) - 1)
        if cfg.reopt_every_s > 0:
            for svc in services.values():
                svc.start_reoptimizer(cfg.reopt_every_s, cfg.reopt_time_limit_s)
        ticker = asyncio.create_task(_maintain_forever(services, cfg.reopt_every_s))
        if cfg.freeze_gc:
            # the region and the engines are millions of long-lived objects: a full
            # collection scanning them stalls every booking for tenths of a second
            gc.collect()
            gc.freeze()
        yield
        # graceful: the server has finished the requests in flight; then the ticker,
        # the re-optimization worker and the log writer (after its last commit) stop
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        app.state.jobs.close()
        for svc in services.values():
            svc.close()
        if store is None:
            st.close()

    app = FastAPI(title="Hakobu dispatch API", version="1", lifespan=lifespan,
                  description="Ride requests, vehicles and the live plan of an on-demand "
                              "transport service. Times are ISO 8601 with time zone.")
    app.openapi = _with_problems(app)  # type: ignore[method-assign]
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(DispatchError, _on_dispatch)
    app.add_exception_handler(RoutingError, _on_dispatch)
    for r in (service.router, rides.router, deliveries.router, vehicles.router, plans.router,
              plan_jobs.router, console.router):
        app.include_router(r)
    app.mount("/console", StaticFiles(directory=console.WEB, html=True), name="console")
    if cfg.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cfg.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["*"])
    app.add_middleware(GZipMiddleware, minimum_size=4096)  # the road map; not event streams
    app.add_middleware(BodyLimit, max_bytes=cfg.max_body_bytes)
    return app
