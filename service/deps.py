"""Request dependencies as typed aliases (the fastapi full-stack template's style).

Credentials: ``Authorization: Bearer ck_...`` (or ``X-API-Key``). The acting user is
the token's own user for a user token, otherwise the ``X-User-Id`` header.
- `Caller`: any valid credential (401 without one).
- `ReadUser`: the acting user, for reads (every scope).
- `WriteUser`: the acting user, for writes (app, admin, user; a read key gets 403).
- `Server`: a server-to-server write with no acting user (app or admin).
- `ServerUser`: a write only the app's server may make for a user (rewards, brand-coin
  earnings: a user token must not pay itself).
- `Admin`: admin scope.
Every denial raises ApiError(401/403), which is logged and changes nothing.

Each is ONE dependency that reads the headers itself, and ``async def`` although it does
not await (but for a key missing from the cache): FastAPI runs a plain ``def``
dependency in the thread pool, and resolves every sub-dependency (HTTPBearer,
APIKeyHeader, the key) on each request, which cost more CPU than the checks. The
OpenAPI document still shows the credentials: `document` adds them from marks on these
functions."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Path, Request
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from fastapi.security.base import SecurityBase
from pydantic.alias_generators import to_camel
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from .keys import USER_ID_RE, ApiKey
from .market_state import MarketState
from .middleware import idempotency_owner
from .problems import ApiError
from .state import ServiceState, require_market

__all__ = ["Admin", "Caller", "ChallengeId", "ClaimId", "IdemKey", "Market", "PackageId", "PoolId", "ReadUser", "Server",
           "ServerUser", "StateDep", "SymbolPath", "TournamentId", "WriteUser", "document", "operation_id",
           "require_market"]

F = TypeVar("F", bound=Callable[..., Any])

# What the routes' credentials look like, for the OpenAPI document only (see `document`):
# resolved as FastAPI dependencies they cost more CPU than the checks themselves.
_bearer = HTTPBearer(auto_error=False, scheme_name="ApiKey",
                     description="An API key (scope app, admin or read) or a user token: `ck_<id>_<secret>`, "
                                 "sent as `Authorization: Bearer ck_...`.")
# The acting user is not a credential: it names whom an app, admin or read key acts for.
# Published as the header parameter it is (see `document`).
USER_HEADER = {
    "name": "X-User-Id", "in": "header", "required": False,
    "description": "The user this request acts for: required with an app, admin or read key; with a user "
                   "token, omit it or give the token's own user.",
    "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_.@\-]{1,120}$"}, "example": "alice",
}
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Makes a retry safe: the first response is stored per (credential, acting user, key) and "
                   "replayed (with `Idempotent-Replayed: true`); the same key with another request is 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[\\x20-\\x7e]+$"},
    "example": "order-7f3c2a",
}
WRITERS = frozenset({"app", "admin", "user"})
SERVERS = frozenset({"app", "admin"})


async def get_state(request: Request) -> ServiceState:
    return request.app.state.coinlab


StateDep = Annotated[ServiceState, Depends(get_state)]


def _token(request: Request) -> str | None:
    """The credential: ``Authorization: Bearer <token>`` (as HTTPBearer reads it), else
    ``X-API-Key``."""
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return token
    return request.headers.get("x-api-key")


async def _key(request: Request) -> ApiKey:
    state: ServiceState = request.app.state.coinlab
    token = _token(request)
    if not token:
        raise ApiError(401, "unauthenticated", "an API key or user token is required")
    cached = state.keys.cached(token)
    # not in the cache: a database read, so off the event loop
    key = await run_in_threadpool(state.keys.verify, token) if cached is False else cached
    if key is None:
        raise ApiError(401, "unauthenticated", "unknown or revoked credential")
    request.state.key_id = key.id
    return key


def _acting(request: Request, key: ApiKey) -> str:
    header = request.headers.get("x-user-id")
    if key.scope == "user":
        if header is not None and header != key.user_id:
            raise ApiError(403, "forbidden", "a user token acts only for its own user")
        user = key.user_id
    else:
        if not header:
            raise ApiError(400, "missing_user", "X-User-Id names the user this request acts for")
        if not USER_ID_RE.match(header):
            raise ApiError(400, "invalid_request", "X-User-Id must be 1-120 letters, digits or _.@-")
        user = header
    request.state.user = user
    return user  # type: ignore[return-value]


def _scope(key: ApiKey, allowed: frozenset[str], what: str) -> None:
    if key.scope not in allowed:
        raise ApiError(403, "forbidden", f"a {key.scope} credential may not {what}", scope=key.scope)


def _documents(*schemes: SecurityBase | dict[str, Any]) -> Callable[[F], F]:
    """Mark a dependency with the security schemes (and the acting-user header) that
    `document` lists for its routes, and the problems it may answer with."""
    def mark(fn: F) -> F:
        fn.__security__ = schemes  # type: ignore[attr-defined]
        return fn
    return mark


# Problem statuses a dependency may answer with (see `document`).
_ERRORS: dict[str, tuple[int, ...]] = {
    "authenticate": (401,), "read_user": (400, 401, 403), "write_user": (400, 401, 403),
    "server_user": (400, 401, 403), "server": (401, 403), "admin": (401, 403), "market": (503,),
}


@_documents(_bearer)
async def authenticate(request: Request) -> ApiKey:
    return await _key(request)


@_documents(_bearer, USER_HEADER)
async def read_user(request: Request) -> str:
    return _acting(request, await _key(request))


@_documents(_bearer, USER_HEADER)
async def write_user(request: Request) -> str:
    key = await _key(request)
    _scope(key, WRITERS, "write")
    return _acting(request, key)


@_documents(_bearer, USER_HEADER)
async def server_user(request: Request) -> str:
    key = await _key(request)
    _scope(key, SERVERS, "make this change (server-to-server only)")
    return _acting(request, key)


@_documents(_bearer)
async def server(request: Request) -> ApiKey:
    key = await _key(request)
    _scope(key, SERVERS, "make this change (server-to-server only)")
    return key


@_documents(_bearer)
async def admin(request: Request) -> ApiKey:
    key = await _key(request)
    _scope(key, frozenset({"admin"}), "use the admin routes")
    return key


Caller = Annotated[ApiKey, Depends(authenticate)]
ReadUser = Annotated[str, Depends(read_user)]
WriteUser = Annotated[str, Depends(write_user)]
ServerUser = Annotated[str, Depends(server_user)]
Server = Annotated[ApiKey, Depends(server)]
Admin = Annotated[ApiKey, Depends(admin)]


def operation_id(route: APIRoute) -> str:
    """A route's operationId: its function's name in camelCase (``place_order`` ->
    ``placeOrder``), so generated SDK methods read well."""
    return to_camel(route.name)


def document(schema: dict[str, Any], routes: Iterable[BaseRoute]) -> None:
    """Complete an OpenAPI ``schema`` from what each route really does: the credential
    its dependencies check (as FastAPI would have, had they been its HTTPBearer
    dependency), the acting-user header, the Idempotency-Key header on every POST (the
    middleware honours it on all of them), and the problem responses it can give: those
    of its dependencies (401/403 without the right credential, 400 without an acting
    user, 503 without the market), 422 when it validates input, 400 and 413 when it
    reads a body, 409 and 422 for an Idempotency-Key, 503 when it writes (the writer or
    the market process unreachable), and those the route declares itself."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    for route in routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        used: dict[str, SecurityBase] = {}
        user_header = False
        errors: set[int] = set()
        todo = list(route.dependant.dependencies)
        while todo:
            dep = todo.pop()
            todo.extend(dep.dependencies)
            errors.update(_ERRORS.get(getattr(dep.call, "__name__", ""), ()))
            for scheme in getattr(dep.call, "__security__", ()):
                if isinstance(scheme, dict):
                    user_header = True
                else:
                    used.setdefault(scheme.scheme_name, scheme)
        for name, scheme in used.items():
            schemes[name] = jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)
        for method in route.methods or ():
            op = schema["paths"][route.path_format][method.lower()]
            if used:
                op["security"] = [{n: []} for n in used]
            validates = bool(op.get("parameters")) or "requestBody" in op or method == "POST"
            params = op.setdefault("parameters", [])
            names = {p["name"].lower() for p in params}
            if user_header and "x-user-id" not in names:
                params.append(dict(USER_HEADER))
            if method == "POST":
                params[:] = [p for p in params if p["name"].lower() != "idempotency-key"]
                params.append(dict(IDEMPOTENCY_HEADER))
            if not params:
                del op["parameters"]
            statuses = set(errors) | {413}  # the body limit holds on every path, from Content-Length alone
            if validates:  # its parameters, its body, or (a POST) the Idempotency-Key
                statuses.add(422)
            if "requestBody" in op or method == "POST":  # the Idempotency-Key middleware reads every POST's body
                statuses.add(400)
            if method == "POST":
                statuses.add(409)
            if method in ("POST", "PATCH", "DELETE"):
                statuses.add(503)
            responses = op["responses"]
            responses.pop("422", None)  # FastAPI's HTTPValidationError: ours is a Problem
            for status in sorted(statuses):
                responses.setdefault(str(status), _problem_response(status))


_DESCRIPTIONS = {
    400: "Bad request: no acting user, a body that is not JSON or nests too deep, or a request the domain "
         "refuses (code says which)",
    401: "No valid credential (or, for the webhook, no valid Stripe signature)",
    403: "The credential may not do this",
    404: "Not found (code not_found)",
    409: "Conflict: insufficient funds (with required and balance), a state that forbids it, or an "
         "Idempotency-Key used for another request",
    413: "The body is larger than the service's limit",
    422: "The request does not match the schema (errors lists each field)",
    429: "Too many requests",
    502: "The payment provider failed",
    503: "Unavailable for now (the database, the writer or the market process): retry with the same "
         "Idempotency-Key",
}


def _problem_response(status: int) -> dict[str, Any]:
    return {"description": _DESCRIPTIONS.get(status, "problem"),
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


_ident = r"^[A-Za-z0-9_\-]{1,60}$"
ClaimId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:\-]{1,120}$", description="the claim's id", examples=["c1"])]
PoolId = Annotated[str, Path(pattern=_ident, description="the pool's id", examples=["final-2026"])]
PackageId = Annotated[str, Path(pattern=_ident, description="the package's id", examples=["small"])]
ChallengeId = Annotated[str, Path(pattern=_ident, description="the belt challenge's id", examples=["ch-1"])]
TournamentId = Annotated[str, Path(pattern=_ident, description="the tournament's id", examples=["spring-cup"])]
SymbolPath = Annotated[str, Path(pattern=r"^[A-Z][A-Z0-9]{1,15}$", description="the brand coin's symbol",
                                 examples=["HEATHER"])]


async def idem_key(request: Request, idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> str | None:
    """The ledger idempotency key for this request's Idempotency-Key (scoped to the
    caller), so a ledger write made by a request that died before its response was
    stored is replayed, not repeated, when the client retries."""
    if idempotency_key is None:
        return None
    owner = idempotency_owner(request.headers.get("authorization") or request.headers.get("x-api-key"),
                              request.headers.get("x-user-id"))
    return "http:" + hashlib.sha256(f"{owner}|{request.url.path}|{idempotency_key}".encode()).hexdigest()[:48]


IdemKey = Annotated[str | None, Depends(idem_key)]


async def market(state: StateDep) -> MarketState:
    return require_market(state)


Market = Annotated[MarketState, Depends(market)]
