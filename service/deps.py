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

The dependencies are ``async def`` although they do not await (but for a key missing
from the cache): FastAPI runs a plain ``def`` dependency in the thread pool, and
those hops cost more CPU than everything else a request's credentials need."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from .keys import USER_ID_RE, ApiKey
from .market_state import MarketState
from .middleware import idempotency_owner
from .problems import ApiError
from .state import ServiceState

__all__ = ["Admin", "Caller", "IdemKey", "Market", "ReadUser", "Server", "ServerUser", "StateDep", "WriteUser", "require_market"]

_bearer = HTTPBearer(auto_error=False, description="An API key or user token: ck_<id>_<secret>")
_user_header = APIKeyHeader(name="X-User-Id", auto_error=False,
                            description="The acting user, for app, admin and read keys")
WRITERS = frozenset({"app", "admin", "user"})
SERVERS = frozenset({"app", "admin"})


async def get_state(request: Request) -> ServiceState:
    return request.app.state.coinlab


StateDep = Annotated[ServiceState, Depends(get_state)]


async def authenticate(request: Request, state: StateDep,
                       bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> ApiKey:
    token = bearer.credentials if bearer is not None else request.headers.get("x-api-key")
    if not token:
        raise ApiError(401, "unauthenticated", "an API key or user token is required")
    cached = state.keys.cached(token)
    # not in the cache: a database read, so off the event loop
    key = await run_in_threadpool(state.keys.verify, token) if cached is False else cached
    if key is None:
        raise ApiError(401, "unauthenticated", "unknown or revoked credential")
    request.state.key_id = key.id
    return key


Caller = Annotated[ApiKey, Depends(authenticate)]


def _acting(request: Request, key: ApiKey, header: str | None) -> str:
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


async def read_user(request: Request, key: Caller, user: Annotated[str | None, Depends(_user_header)]) -> str:
    return _acting(request, key, user)


async def write_user(request: Request, key: Caller, user: Annotated[str | None, Depends(_user_header)]) -> str:
    _scope(key, WRITERS, "write")
    return _acting(request, key, user)


async def server_user(request: Request, key: Caller, user: Annotated[str | None, Depends(_user_header)]) -> str:
    _scope(key, SERVERS, "make this change (server-to-server only)")
    return _acting(request, key, user)


async def server(key: Caller) -> ApiKey:
    _scope(key, SERVERS, "make this change (server-to-server only)")
    return key


async def admin(key: Caller) -> ApiKey:
    _scope(key, frozenset({"admin"}), "use the admin routes")
    return key


ReadUser = Annotated[str, Depends(read_user)]
WriteUser = Annotated[str, Depends(write_user)]
ServerUser = Annotated[str, Depends(server_user)]
Server = Annotated[ApiKey, Depends(server)]
Admin = Annotated[ApiKey, Depends(admin)]


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
