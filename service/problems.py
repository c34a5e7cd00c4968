"""Errors as RFC 9457 problem+json with a stable machine-readable ``code``. One place
maps every ledger/market error to its HTTP status, so bad input is a 4xx, never a 500."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

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


class Problem(BaseModel):
    """An error. ``code`` is stable (clients switch on it); ``detail`` is for people;
    other fields carry the facts (insufficient_funds: ``required`` and ``balance``)."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    code: str
    detail: str


class ApiError(Exception):
    """An error raised by the service itself (auth, routing, market availability)."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


def problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": f"https://coinlab.dev/problems/{code}", "title": code.replace("_", " "),
            "status": status, "code": code, "detail": detail, **extra}
    return JSONResponse(json.loads(json.dumps(body, default=str)), status, media_type=PROBLEM)


def _ledger_error(_: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, LedgerError)
    extra = {k: v for k, v in err.details.items() if k not in ("code", "detail", "status", "type", "title")}
    if err.code == "insufficient_funds":
        # the seeds' insufficient-coins shape, for the app's "Buy coins" modal
        extra |= {"insufficientCoins": True, "requiredCoins": err.details.get("required"),
                  "currentBalance": err.details.get("balance")}
    return problem(STATUS.get(err.code, 400), err.code, str(err), **extra)


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


def _http(_: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(err.status_code, "http_error")
    return problem(err.status_code, code, str(err.detail))


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
