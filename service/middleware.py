"""Three pure ASGI middlewares: one JSON log line per request; the guard on request
bodies (a size limit answered 413 before anything else happens, and JSON nested too
deep refused with 400); and the ``Idempotency-Key`` header on every POST (the first
response is stored; a replay returns it; the same key with a different body is 409).
Pure ASGI rather than BaseHTTPMiddleware: cheaper per request, and the request body
can be read once and handed on."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from datetime import UTC, datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .idempotency import IdempotencyStore
from .problems import problem

__all__ = ["BodyGuard", "IdempotencyMiddleware", "RequestLogMiddleware", "idempotency_owner", "json_too_deep",
           "read_body", "replaying"]

access_log = logging.getLogger("coinlab.access")


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1")
    return None


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        msg = await receive()
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body"):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


MAX_JSON_DEPTH = 32  # far deeper than any body the API takes (a Stripe event nests ~6)
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Do the body's arrays and objects nest more than ``limit`` deep? Strings are cut
    out, then each pass drops the innermost level of what brackets remain: C-speed
    work of about ``limit`` passes, whatever the body holds."""
    if body.count(b"[") + body.count(b"{") <= limit:  # the usual case: no scan at all
        return False
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        shorter = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if shorter == brackets:
            break
        brackets = shorter
    return bool(brackets)


class BodyGuard:
    """The request body's limits, ahead of everything else the app does: a body larger
    than ``max_bytes`` is answered 413 ``payload_too_large`` from its Content-Length
    alone, before a byte of it is read and before authentication, idempotency or
    routing (a body sent without a length is cut off as soon as it passes the limit);
    a JSON body nested deeper than ``max_depth`` is 400 ``json_too_deep``, on every
    path, before anything else looks at it. The body is read here once and handed on."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.app, self.max_bytes, self.max_depth = app, max_bytes, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is None:
            if _header(scope, b"transfer-encoding") is None:  # no body at all
                await self.app(scope, receive, send)
                return
        elif not length.isdigit() or int(length) == 0:
            await self.app(scope, receive, send)
            return
        elif int(length) > self.max_bytes:
            await self._refuse(413, scope, receive, send)
            return
        chunks, seen = [], 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":  # the client went away
                return
            chunk = msg.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._refuse(413, scope, receive, send)
                return
            chunks.append(chunk)
            if not msg.get("more_body"):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if json_too_deep(body, self.max_depth):
            await self._refuse(400, scope, receive, send)
            return
        await self.app(scope, replaying(body, receive), send)

    async def _refuse(self, status: int, scope: Scope, receive: Receive, send: Send) -> None:
        if status == 413:
            response = problem(413, "payload_too_large", f"request bodies are limited to {self.max_bytes} bytes",
                               headers={"connection": "close"}, limit=self.max_bytes)
        else:
            response = problem(400, "json_too_deep",
                               f"JSON bodies may nest arrays and objects at most {self.max_depth} deep")
        await response(scope, receive, send)


def replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the app behind a middleware that has read the request body."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def idempotency_owner(authorization: str | None, user: str | None) -> str:
    """Whose key space an Idempotency-Key lives in: the credential and the acting user."""
    return hashlib.sha256(f"{authorization or ''}|{user or ''}".encode()).hexdigest()


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            state = scope.get("state") or {}
            access_log.info(json.dumps({
                "ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "method": scope["method"],
                "path": scope["path"], "status": status,
                "ms": round((time.perf_counter() - start) * 1000, 2),
                "key": state.get("key_id"), "user": state.get("user"),
                "replayed": state.get("replayed", False), "forwarded": state.get("forwarded", False),
            }))


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, store: IdempotencyStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = _header(scope, b"idempotency-key")
        if key is None:
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if not 1 <= len(key) <= 200 or not key.isprintable() or not key.isascii():
            await problem(422, "validation_error", "Idempotency-Key must be 1-200 printable ASCII characters",
                          errors=[{"loc": ["header", "Idempotency-Key"],
                                   "msg": "1-200 printable ASCII characters"}])(scope, receive, send)
            return
        owner = idempotency_owner(_header(scope, b"authorization") or _header(scope, b"x-api-key"),
                                  _header(scope, b"x-user-id"))
        fingerprint = hashlib.sha256(b"%s %s?%s\n%s" % (
            scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body)).hexdigest()
        verdict, stored = await self.store.claim(owner, key, fingerprint)
        if verdict == "conflict":
            await problem(409, "idempotency_conflict",
                          "this Idempotency-Key was used with a different request", key=key)(scope, receive, send)
            return
        if verdict == "busy":
            await problem(409, "request_in_progress",
                          "the first request with this Idempotency-Key is still running; retry later",
                          key=key)(scope, receive, send)
            return
        if verdict == "replay":
            assert stored is not None
            status, content_type, payload = stored
            scope.setdefault("state", {})["replayed"] = True
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", content_type.encode()),
                                    (b"content-length", str(len(payload)).encode()),
                                    (b"idempotent-replayed", b"true")]})
            await send({"type": "http.response.body", "body": payload})
            return

        status, content_type, chunks = 500, "application/json", []

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                for k, v in message.get("headers", ()):
                    if k == b"content-type":
                        content_type = v.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replaying(body, receive), capture)
        finally:
            # Keep what a client may act on; forget denials and server errors so a
            # retry (with credentials, or after the fault) runs for real.
            keep = status < 500 and status not in (401, 403, 429)
            await self.store.finish(owner, key, keep=keep, status=status, content_type=content_type,
                                    body=b"".join(chunks))
