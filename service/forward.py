"""Several workers, one market: the brand-coin market keeps its order books in the
memory of one process, so with ``coinlab serve --workers N`` (N > 1) a market process
(this same app, one worker, on a Unix socket) owns them, and each HTTP worker hands it
the requests the market answers. Everything else stays in the worker that received it.

`MarketForwarder` is the worker's side: an ASGI middleware that sends a market request
over a pooled keep-alive HTTP/1.1 connection to the socket and relays the answer. It
sits outside the Idempotency-Key middleware, so the market process, which runs the
whole request, is the one that claims the key and stores the response. The client
speaks just the HTTP our own uvicorn answers with (Content-Length bodies): httpx cost
about 1.6 ms of CPU per request here, more than the server spends on a whole write.

If the market process cannot be reached, or does not answer within 30 s, the request
gets 503 ``market_unavailable`` (a write whose connection broke mid-way may have been
applied: retry it with the same Idempotency-Key)."""

from __future__ import annotations

import asyncio
import contextlib
import json

from starlette.types import ASGIApp, Receive, Scope, Send

from .middleware import read_body, replaying
from .problems import problem

__all__ = ["MarketForwarder", "UnixHttpPool", "Unreachable", "for_market"]

MARKET_PREFIXES = ("/api/brand-coins", "/api/market/", "/api/portfolio", "/api/leaderboards")
_HOP_BY_HOP = {b"host", b"content-length", b"connection", b"keep-alive", b"transfer-encoding", b"date", b"server"}


def _may_be_market(path: str) -> bool:
    """Whether the market might answer: only then is the body read to decide."""
    return path.startswith(MARKET_PREFIXES) or path == "/api/transfers"


def for_market(method: str, path: str, body: bytes) -> bool:
    """Does the market process answer this request? Its routes, and transfers of a brand
    coin (COIN transfers, and bodies the worker will refuse, stay in the worker)."""
    if path.startswith(MARKET_PREFIXES):
        return True
    if method != "POST" or path != "/api/transfers":
        return False
    try:
        asset = json.loads(body).get("asset", "COIN")
    except (ValueError, AttributeError, RecursionError):  # the worker's own routes refuse such a body
        return False
    return isinstance(asset, str) and asset not in ("COIN", "USD")


class Unreachable(Exception):
    """The market process did not answer (not running, restarting, or died mid-request)."""


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def close(self) -> None:
        self.writer.close()


class UnixHttpPool:
    """Keep-alive HTTP/1.1 connections to one Unix socket, reused one request at a time."""

    def __init__(self, path: str, *, timeout: float = 30.0) -> None:
        self.path, self.timeout = path, timeout
        self._idle: list[_Conn] = []

    async def request(self, method: str, target: bytes, headers: list[tuple[bytes, bytes]],
                      body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        conn = await self._take()
        try:
            async with asyncio.timeout(self.timeout):
                status, out, payload, reuse = await self._exchange(conn, method, target, headers, body)
        except TimeoutError as err:  # a late answer must not be read as the next request's
            conn.close()
            raise Unreachable(f"no answer within {self.timeout:g} s") from err
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as err:
            conn.close()
            raise Unreachable(str(err) or type(err).__name__) from err
        except BaseException:  # cancelled mid-request: the connection's state is unknown
            conn.close()
            raise
        if reuse:
            self._idle.append(conn)
        else:
            conn.close()
        return status, out, payload

    @staticmethod
    async def _exchange(conn: _Conn, method: str, target: bytes, headers: list[tuple[bytes, bytes]],
                        body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        head = b"".join(k + b": " + v + b"\r\n" for k, v in headers if k not in _HOP_BY_HOP)
        conn.writer.write(b"%s %s HTTP/1.1\r\nhost: market\r\n%scontent-length: %d\r\n\r\n%s" % (
            method.encode(), target, head, len(body), body))
        status_line = await conn.reader.readline()
        if not status_line:
            raise Unreachable("the market process closed the connection")
        status = int(status_line.split()[1])
        out: list[tuple[bytes, bytes]] = []
        length, reuse = None, True
        while (line := await conn.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.rstrip(b"\r\n").partition(b":")
            name, value = name.strip().lower(), value.strip()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.lower() == b"close":
                reuse = False
            if name not in _HOP_BY_HOP:
                out.append((name, value))
        if length is None:  # our routes answer with a length; anything else is not ours
            raise Unreachable("the market process answered without a Content-Length")
        return status, out, await conn.reader.readexactly(length), reuse

    async def _take(self) -> _Conn:
        while self._idle:
            conn = self._idle.pop()
            if not conn.reader.at_eof():
                return conn
            conn.close()
        try:
            return _Conn(*await asyncio.open_unix_connection(self.path))
        except OSError as err:
            raise Unreachable(str(err)) from err


class MarketForwarder:
    def __init__(self, app: ASGIApp, socket: str) -> None:
        self.app = app
        self.pool = UnixHttpPool(socket)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not _may_be_market(path):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if not for_market(scope["method"], path, body):
            await self.app(scope, replaying(body, receive), send)
            return
        target = scope.get("raw_path") or path.encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        if scope["method"] == "GET" and path.endswith("/stream"):
            await self._stream(scope, receive, send, target)
            return
        try:
            status, headers, payload = await self.pool.request(scope["method"], target, scope["headers"], body)
        except Unreachable as err:
            await problem(503, "market_unavailable", f"the market process did not answer: {err}; "
                          "retry (with the same Idempotency-Key for a write)")(scope, receive, send)
            return
        scope.setdefault("state", {})["forwarded"] = True
        headers.append((b"content-length", b"%d" % len(payload)))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _stream(self, scope: Scope, receive: Receive, send: Send, target: bytes) -> None:
        """Relay a streamed answer (the live feed's Server-Sent Events) over a connection
        of its own, chunk by chunk as the market process sends them, until either side
        goes away."""
        try:
            reader, writer = await asyncio.open_unix_connection(self.pool.path)
        except OSError as err:
            await problem(503, "market_unavailable", f"the market process did not answer: {err}")(
                scope, receive, send)
            return
        try:
            head = b"".join(k + b": " + v + b"\r\n" for k, v in scope["headers"] if k not in _HOP_BY_HOP)
            writer.write(b"GET %s HTTP/1.1\r\nhost: market\r\n%sconnection: close\r\n\r\n" % (target, head))
            status_line = await reader.readline()
            if not status_line:
                raise Unreachable("the market process closed the connection")
            status = int(status_line.split()[1])
            headers, length, chunked = [], None, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.rstrip(b"\r\n").partition(b":")
                name, value = name.strip().lower(), value.strip()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    chunked = b"chunked" in value.lower()
                if name not in _HOP_BY_HOP and name != b"transfer-encoding":
                    headers.append((name, value))
        except (OSError, ValueError, IndexError, Unreachable) as err:
            writer.close()
            await problem(503, "market_unavailable", f"the market process did not answer: {err}")(
                scope, receive, send)
            return
        scope.setdefault("state", {})["forwarded"] = True
        if not chunked:  # a whole answer (a problem): relay it as one body
            payload = await reader.readexactly(length or 0)
            writer.close()
            await send({"type": "http.response.start", "status": status,
                        "headers": [*headers, (b"content-length", b"%d" % len(payload))]})
            await send({"type": "http.response.body", "body": payload})
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})

        async def relay() -> None:
            try:
                while True:
                    size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        return
                    chunk = await reader.readexactly(size)
                    await reader.readexactly(2)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except (OSError, ValueError, asyncio.IncompleteReadError):  # the market process went away
                return

        async def client_gone() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        tasks = [asyncio.ensure_future(relay()), asyncio.ensure_future(client_gone())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            writer.close()
        with contextlib.suppress(OSError, RuntimeError):  # the client may be gone
            await send({"type": "http.response.body", "body": b"", "more_body": False})
