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

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPBearer
from fastapi.security.base import SecurityBase
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from .keys import USER_ID_RE, ApiKey
from .market_state import MarketState
from .middleware import idempotency_owner
from .problems import ApiError
from .state import ServiceState

__all__ = ["Admin", "Caller", "IdemKey", "Market", "ReadUser", "Server", "ServerUser", "StateDep", "WriteUser", "document",
           "require_market"]

F = TypeVar("F", bound=Callable[..., Any])

# What the routes' credentials look like, for the OpenAPI document only (see `document`):
# resolved as FastAPI dependencies they cost more CPU than the checks themselves.
_bearer = HTTPBearer(auto_error=False, description="An API key or user token: ck_<id>_<secret>")
_user_header = APIKeyHeader(name="X-User-Id", auto_error=False,
                            description="The acting user, for app, admin and read keys")
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


def _documents(*schemes: SecurityBase) -> Callable[[F], F]:
    """Mark a dependency with the security schemes `document` lists for its routes."""
    def mark(fn: F) -> F:
        fn.__security__ = schemes  # type: ignore[attr-defined]
        return fn
    return mark


@_documents(_bearer)
async def authenticate(request: Request) -> ApiKey:
    return await _key(request)


@_documents(_bearer, _user_header)
async def read_user(request: Request) -> str:
    return _acting(request, await _key(request))


@_documents(_bearer, _user_header)
async def write_user(request: Request) -> str:
    key = await _key(request)
    _scope(key, WRITERS, "write")
    return _acting(request, key)


@_documents(_bearer, _user_header)
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


def document(schema: dict[str, Any], routes: Iterable[BaseRoute]) -> None:
    """Add to an OpenAPI ``schema`` the credentials each route's dependencies check (as
    FastAPI would have, had they been its HTTPBearer and APIKeyHeader dependencies)."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    for route in routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        used: dict[str, SecurityBase] = {}
        todo = list(route.dependant.dependencies)
        while todo:
            dep = todo.pop()
            todo.extend(dep.dependencies)
            for scheme in getattr(dep.call, "__security__", ()):
                used.setdefault(scheme.scheme_name, scheme)
        if not used:
            continue
        for name, scheme in used.items():
            schemes[name] = jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)
        ordered = sorted(used, key=lambda n: n != _bearer.scheme_name)  # the credential first
        for method in route.methods or ():
            schema["paths"][route.path_format][method.lower()]["security"] = [{n: []} for n in ordered]


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


def require_market(state: ServiceState) -> MarketState:
    if state.market is None:
        raise ApiError(503, "market_single_worker",
                       "the brand-coin market runs only when the service has one worker (--workers 1)")
    return state.market


async def market(state: StateDep) -> MarketState:
    return require_market(state)


Market = Annotated[MarketState, Depends(market)]
