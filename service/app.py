"""`create_app`: the FastAPI application. ``uvicorn --factory service.app:create_app``
builds it from ``COINLAB_*`` settings (what `coinlab serve` does in each worker)."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import select
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from . import problems
from .deps import document
from .forward import MarketForwarder
from .middleware import BodyGuard, IdempotencyMiddleware, RequestLogMiddleware
from .problems import Problem
from .routes import admin, coins, contests, health, market, pools, webhooks
from .settings import Settings
from .state import ServiceState

__all__ = ["create_app"]

API_DESCRIPTION = """The coin economy's HTTP API: platform coins and their purchase through Stripe,
rewards and spends, parimutuel pools, belt challenges and tournaments, brand coins and
their market (with a live feed), admin.

**Credentials**: `Authorization: Bearer ck_...`. An app key acts for the user named in
`X-User-Id` (server to server); a user token acts for its own user only; a read key only
reads; admin routes need an admin key. The Stripe webhook needs only Stripe's signature.

**Conventions**: JSON bodies in camelCase, errors included; users are named by their
user id. Errors are `application/problem+json` with a stable `code` (e.g.
`insufficient_funds` with `required` and `balance`). Amounts are integers in the
asset's minor unit (COIN is whole coins). Enumerations are accepted in any case.
Every POST honours `Idempotency-Key`. Lists page with `limit`/`offset`. Bodies are
limited in size (413) and in JSON nesting (400); text with control characters is 422.
"""


class _BufferedLines(logging.Handler):
    """Whole lines gathered and written together, when 4 KiB have gathered, every second
    (the app's lifespan) and at shutdown: not one write to stdout per request, each of
    which handed the GIL to the writer thread and left the event loop waiting to get it
    back (up to the 5 ms switch interval). A write is at most PIPE_BUF bytes of whole
    lines, so the lines of several workers sharing one stdout pipe never mix mid-line.
    A SIGKILL loses at most the last second's lines."""

    def __init__(self) -> None:
        super().__init__()
        self.fd = os.dup(sys.stdout.fileno())  # its own descriptor, for the life of the process
        self.lines: list[bytes] = []
        self.size = 0

    def emit(self, record: logging.LogRecord) -> None:  # called under the handler's lock
        try:
            line = (self.format(record) + "\n").encode()
            if self.size + len(line) > select.PIPE_BUF:
                self._write()
            self.lines.append(line)
            self.size += len(line)
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            self._write()

    def _write(self) -> None:
        data, self.lines, self.size = b"".join(self.lines), [], 0
        while data:
            data = data[os.write(self.fd, data):]


def _json_logs() -> list[logging.Handler]:
    """One JSON object per line on stdout (the messages are already JSON); buffered
    unless stdout is a terminal. Returns the handlers, to flush."""
    loggers = [logging.getLogger(name) for name in ("coinlab.access", "coinlab.service")]
    if not all(logger.handlers for logger in loggers):
        try:
            handler: logging.Handler = (_BufferedLines() if not sys.stdout.isatty()
                                        else logging.StreamHandler(sys.stdout))
        except (AttributeError, OSError, ValueError):  # stdout is no file (e.g. captured)
            handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        for logger in loggers:
            if not logger.handlers:
                logger.addHandler(handler)
                logger.setLevel(logging.INFO)
                logger.propagate = False
    return list({h: None for logger in loggers for h in logger.handlers})


async def _flush_every_second(handlers: list[logging.Handler]) -> None:
    while True:
        await asyncio.sleep(1)
        for handler in handlers:
            handler.flush()


PAYMENTS_WARNING = (
    "\n" + "!" * 78 + "\n"
    "WARNING: payments are NOT configured: {missing} unset.\n"
    "  Checkouts cannot be opened and every Stripe webhook is refused (401), so no purchase\n"
    "  is ever credited. Set COINLAB_STRIPE_API_KEY and COINLAB_STRIPE_WEBHOOK_SECRET.\n"
    "  /healthz reports payments: not configured.\n" + "!" * 78 + "\n")


def _warn_unless_payments(state: ServiceState) -> None:
    """Loud, on stderr and in the service log: a service without Stripe credentials
    answers every webhook 401, which looks like Stripe's fault from the outside."""
    if state.payments_configured:
        return
    s = state.settings
    missing = [name for name, ok in (("COINLAB_STRIPE_API_KEY", s.stripe_api_key not in ("", "sk_test_unset")),
                                     ("COINLAB_STRIPE_WEBHOOK_SECRET", bool(s.stripe_webhook_secret))) if not ok]
    sys.stderr.write(PAYMENTS_WARNING.format(missing=" and ".join(missing)))
    sys.stderr.flush()
    logging.getLogger("coinlab.service").warning(
        '{"event": "payments_not_configured", "missing": %s}', json.dumps(missing))


def create_app(settings: Settings | None = None, state: ServiceState | None = None) -> FastAPI:
    settings = settings or Settings()
    state = state or ServiceState(settings)

    log_handlers = _json_logs() if settings.log_requests else []
    _warn_unless_payments(state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        flusher = asyncio.create_task(_flush_every_second(log_handlers))
        if settings.freeze_gc:
            # What exists now (modules, the app, the market's books) lives as long as the
            # process. Left in the collector's generations, each full collection walked all
            # of it: a ~100 ms pause of every request in flight, which was the service
            # bench's p99. Young collections every 700 allocations cost ~8% of the CPU.
            gc.freeze()
            gc.set_threshold(10_000, 10, 10)
        yield
        flusher.cancel()
        state.close()
        for handler in log_handlers:
            handler.flush()

    # No OpenTelemetry here: with it on (FastAPI's default), every request first asked
    # the global tracer, meter and logger providers whether anyone was listening.
    app = FastAPI(title="coinlab", version="0.1.0", lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False},
                  description=API_DESCRIPTION)
    app.state.coinlab = state
    problems.install(app)
    modules = (coins, webhooks, pools, contests, market, admin, health)
    for module in modules:
        # The routes themselves, not include_router: FastAPI 0.165 wraps an included
        # router and matches every request through the wrapper too, a scan of each
        # router's routes with scope bookkeeping per route (7% more writes/s in an A/B
        # without it). The routers set no prefix-wide dependencies, so the routes carry
        # all they need (their path, tags and error responses).
        app.router.routes.extend(module.router.routes)
    app.add_middleware(IdempotencyMiddleware, store=state.idempotency)
    if settings.market_socket:  # outside the Idempotency-Key middleware: the market process claims the key
        app.add_middleware(MarketForwarder, socket=settings.market_socket)
    # outside everything but the log: a body too large is refused before any other work
    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes)
    if settings.log_requests:
        app.add_middleware(RequestLogMiddleware)

    # Problem is referenced by every route's error responses: make sure the schema is published.
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(problem.pop("$defs", {}))
            components["Problem"] = problem
            for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's; our 422 is a Problem
                components.pop(name, None)
            for model in components.values():  # the enumerations' example: their first value
                if "enum" in model and "examples" not in model:
                    model["examples"] = [model["enum"][0]]
            document(schema, [route for module in modules for route in module.router.routes])
            _examples(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _examples(schema: dict[str, Any]) -> None:
    """Give each operation's JSON request and success response the example of its model
    (every model has one), so a generated SDK's docs and a reader see one per operation."""
    models = schema.get("components", {}).get("schemas", {})

    def example_of(content: dict[str, Any]) -> Any:
        ref = content.get("schema", {}).get("$ref", "")
        found = models.get(ref.rsplit("/", 1)[-1], {}).get("examples")
        return found[0] if found else None

    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            bodies = [op.get("requestBody", {}).get("content", {}).get("application/json")]
            bodies += [r.get("content", {}).get(t) for code, r in op.get("responses", {}).items()
                       if code.startswith("2") for t in ("application/json", "application/problem+json")]
            bodies += [r.get("content", {}).get("application/problem+json")
                       for code, r in op.get("responses", {}).items() if not code.startswith("2")]
            for content in bodies:
                if content and "example" not in content:
                    ex = example_of(content)
                    if ex is not None:
                        content["example"] = ex
