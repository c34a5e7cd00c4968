"""Errors as RFC 9457 problem+json with a stable machine-readable ``code``. One place
maps every ledger/market error to its HTTP status, so bad input is a 4xx, never a 500."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ledger import LedgerError

from .writer_socket import WriterUnavailable

__all__ = ["PROBLEM", "ApiError", "Problem", "error_responses", "install", "problem"]

PROBLEM = "application/problem+json"
log = logging.getLogger("coinlab.service")

# code -> HTTP status; anything else a LedgerError raises is a 400.
STATUS = {
    "not_found": 404, "hold_not_found": 404, "unknown_asset": 404, "unknown_coin": 404,
    "insufficient_funds": 409, "account_frozen": 409, "idempotency_conflict": 409,
    "checkout_already_open": 409, "invalid_state": 409, "hold_not_locked": 409,
    "hold_expired": 409, "not_eligible": 409, "purchase_limit_exceeded": 409,
    "invalid_signature": 401, "payment_provider_error": 502,
}


class ValidationIssue(BaseModel):
    """One field a request got wrong: where (``loc``: body/query/path/header, then the
    field) and what."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"loc": ["body", "amount"],
                                                               "msg": "Input should be greater than 0"}]})
    loc: list[str]
    msg: str


class Problem(BaseModel):
    """An error (RFC 9457 problem+json). ``code`` is stable (clients switch on it);
    ``detail`` is for people; the optional fields carry the facts of some codes, in
    camelCase like every body: ``insufficient_funds`` has ``required`` and ``balance``
    (and ``asset``); ``order_rejected`` has ``reason`` and ``orderId``;
    ``validation_error`` has ``errors``; ``payload_too_large`` has ``limit``. Other
    codes may add facts of their own (e.g. ``poolId``, ``sessionId``)."""

    model_config = ConfigDict(
        extra="allow", alias_generator=to_camel, populate_by_name=True,
        json_schema_extra={"examples": [{
            "type": "https://coinlab.dev/problems/insufficient_funds", "title": "insufficient funds",
            "status": 409, "code": "insufficient_funds", "detail": "alice has 3 COIN, needs 5",
            "asset": "COIN", "required": 5, "balance": 3, "insufficientCoins": True, "requiredCoins": 5,
            "currentBalance": 3}]})
    type: str = Field(description="a URI naming the problem's code")
    title: str = Field(description="the code, in words")
    status: int = Field(description="the HTTP status")
    code: str = Field(description="stable, machine-readable: what a client switches on")
    detail: str = Field(description="for people: what went wrong")
    required: int | None = Field(None, description="insufficient_funds: the amount the request needed")
    balance: int | None = Field(None, description="insufficient_funds: the spendable amount there was")
    asset: str | None = Field(None, description="insufficient_funds: the asset short (COIN or a brand coin)")
    insufficient_coins: bool | None = Field(None, description="insufficient_funds: always true (the seeds' shape)")
    required_coins: int | None = Field(None, description="insufficient_funds: = required (the seeds' shape)")
    current_balance: int | None = Field(None, description="insufficient_funds: = balance (the seeds' shape)")
    reason: str | None = Field(None, description="order_rejected, insufficient_funds on an order, rate_limited: "
                                                 "why the market refused the order (e.g. price_band, "
                                                 "circuit_breaker, rate_limit, insufficient_funds)")
    order_id: int | None = Field(None, description="a refused order's id")
    errors: list[ValidationIssue] | None = Field(None, description="validation_error: each field that is wrong")
    limit: int | None = Field(None, description="payload_too_large: the largest body accepted, in bytes")


class ApiError(Exception):
    """An error raised by the service itself (auth, routing, market availability)."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


_RESERVED = frozenset({"type", "title", "status", "code", "detail"})


def problem(status: int, code: str, detail: str, /, headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    """A problem+json response. Extra facts are named in camelCase like every body
    (``session_id`` becomes ``sessionId``); they cannot replace the five standard fields."""
    facts = {to_camel(k) if "_" in k else k: v for k, v in extra.items() if k not in _RESERVED}
    body = {"type": f"https://coinlab.dev/problems/{code}", "title": code.replace("_", " "),
            "status": status, "code": code, "detail": detail, **facts}
    return JSONResponse(json.loads(json.dumps(body, default=str)), status, headers=headers, media_type=PROBLEM)


def _ledger_error(_: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, LedgerError)
    extra = dict(err.details)
    if "status" in extra:  # a record's state (e.g. a pool's), not the HTTP status
        extra["state"] = extra.pop("status")
    # an account address names a user, or an internal account: a body shows neither
    account = extra.pop("account", None)
    if isinstance(account, str) and account.startswith("user:"):
        extra["user_id"] = account[5:]
    if err.code == "insufficient_funds":
        extra |= insufficient_extras(err.details.get("required"), err.details.get("balance"))
    return problem(STATUS.get(err.code, 400), err.code, _public(str(err)), **extra)


def insufficient_extras(required: Any, balance: Any) -> dict[str, Any]:
    """The seeds' insufficient-coins shape, for the app's "Buy coins" modal, beside
    ``required`` and ``balance``."""
    return {"required": required, "balance": balance, "insufficientCoins": True, "requiredCoins": required,
            "currentBalance": balance}


def _public(detail: str) -> str:
    """A message without account addresses: ``user:alice`` reads ``alice``."""
    return detail.replace("user:", "")


def _api_error(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, ApiError)
    if err.status in (401, 403):
        log.warning(json.dumps({"event": "denied", "status": err.status, "code": err.code,
                                "method": request.method, "path": request.url.path, "detail": err.detail}))
    return problem(err.status, err.code, err.detail, **err.extra)


def _validation(_: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, RequestValidationError)
    errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in err.errors()]
    return problem(422, "validation_error", "the request does not match the schema", errors=errors)


def _http(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, StarletteHTTPException)
    if err.status_code == 405:
        # Starlette names only the methods of the first route whose path matched
        return problem(405, "method_not_allowed", f"{request.method} is not allowed here",
                       headers={"Allow": ", ".join(allowed_methods(request))})
    if err.status_code == 400:  # FastAPI could not read the body (e.g. JSON nested past Python's limit)
        return problem(400, "invalid_body", str(err.detail))
    code = {404: "not_found"}.get(err.status_code, "http_error")
    return problem(err.status_code, code, str(err.detail))


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of this path answers."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if route.matches(request.scope)[0] != Match.NONE:  # PARTIAL: the path, not the method
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _value_error(request: Request, err: Exception) -> JSONResponse:
    # market/portfolio helpers raise ValueError on bad input: the client's fault. A
    # pydantic ValidationError here is a response the service built wrongly: ours.
    if isinstance(err, ValidationError):
        log.error(json.dumps({"event": "error", "path": request.url.path, "error": str(err)}))
        return problem(500, "internal_error", "the service built an invalid response")
    return problem(400, "invalid_request", str(err))


def install(app: FastAPI) -> None:
    app.add_exception_handler(LedgerError, _ledger_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(ValueError, _value_error)
    app.add_exception_handler(WriterUnavailable, _writer_unavailable)


def _writer_unavailable(_: Request, err: Exception) -> JSONResponse:
    return problem(503, "writer_unavailable", f"{err}; retry (with the same Idempotency-Key)")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route may give."""
    ref = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {s: {"description": "problem", "content": {PROBLEM: ref}} for s in statuses}
