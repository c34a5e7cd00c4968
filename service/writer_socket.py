"""One writer for several processes. With ``coinlab serve --workers N`` the market
process's writer (service.writer) applies the ledger writes of every worker too: the
workers send their `TransferRequest`s over a Unix socket and wait for the committed
`Transaction` (or the `LedgerError`) to come back.

Why not a writer per process: the market's fills lock balance rows one after another,
in no global order, so a market batch and a worker's batch could lock the same rows in
opposite orders, and wait for PostgreSQL's deadlock detector (a second each time);
and every reward and fee locks the same few system accounts' rows, so writers in
several processes queue behind each other's transactions anyway. One writer has no
one to deadlock with and puts every write of the service in the same group commits.

`WriterServer` is the market process's side (a thread per connected worker thread);
`RemoteWriter` the workers' (what `BatchingStore` needs of a writer: `apply`,
`apply_many`, `close`), one connection per thread. Messages are pickled tuples
(multiprocessing.connection). If the writer process cannot be reached, or does not
answer within 30 s, the call raises `WriterUnavailable`, answered 503: a write whose connection broke mid-way may have been
applied, so the client retries it with its Idempotency-Key."""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence
from datetime import datetime
from multiprocessing.connection import Client, Connection, Listener
from typing import Any

from ledger import LedgerError, Transaction, TransferRequest

__all__ = ["RemoteWriter", "WriterServer", "WriterUnavailable"]


class WriterUnavailable(Exception):
    """The writer process did not answer (not running, restarting, or died mid-call)."""


def _ledger_error(cls: type[LedgerError], message: str, details: dict[str, Any]) -> LedgerError:
    # Rebuilt by hand: the subclasses' constructors take other arguments than their message.
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.details = details
    return err


class WriterServer:
    def __init__(self, writer: Any, path: str) -> None:
        self.writer = writer  # a service.writer.Writer
        self._listener = Listener(path, family="AF_UNIX")
        self._conns: set[Connection] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="writer-socket", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn = self._listener.accept()
            except OSError:  # closed
                return
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="writer-socket-conn", daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        try:
            self._serve_calls(conn)
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def _serve_calls(self, conn: Connection) -> None:
        while True:
            try:
                op, payload, now = conn.recv()
            except (EOFError, OSError):
                return
            try:
                if op == "apply":
                    reply: tuple[Any, ...] = ("ok", self.writer.apply(payload, now))
                else:
                    reply = ("ok", self.writer.apply_many(payload, now))
            except LedgerError as err:
                reply = ("ledger_error", type(err), str(err), err.details)
            except Exception as err:  # e.g. the database is gone: the worker's request fails
                reply = ("failed", f"{type(err).__name__}: {err}")
            try:
                conn.send(reply)
            except OSError:
                return

    def close(self) -> None:
        """Stop listening and hang up on every worker (as a dying process would)."""
        self._listener.close()
        with self._lock:
            for conn in self._conns:  # shutdown, not close: it wakes the thread blocked reading it
                with socket.fromfd(conn.fileno(), socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.shutdown(socket.SHUT_RDWR)


class RemoteWriter:
    def __init__(self, path: str, *, timeout: float = 30.0) -> None:
        self.path, self.timeout = path, timeout
        self._local = threading.local()
        self._conns: list[Connection] = []
        self._lock = threading.Lock()

    def apply(self, request: TransferRequest, now: datetime) -> Transaction:
        tx: Transaction = self._call("apply", request, now)
        return tx

    def apply_many(self, requests: Sequence[TransferRequest], now: datetime) -> list[Transaction | LedgerError]:
        results: list[Transaction | LedgerError] = self._call("apply_many", list(requests), now)
        return results

    def close(self) -> None:
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()

    def _call(self, op: str, payload: Any, now: datetime) -> Any:
        conn: Connection | None = getattr(self._local, "conn", None)
        try:
            if conn is None:
                conn = self._local.conn = Client(self.path, family="AF_UNIX")
                with self._lock:
                    self._conns.append(conn)
            conn.send((op, payload, now))
            if not conn.poll(self.timeout):  # hung: hang up, so a late answer is never read as another's
                raise TimeoutError(f"no answer within {self.timeout:g} s")
            reply = conn.recv()
        except (OSError, EOFError) as err:
            self._local.conn = None  # reconnect on the next call
            if conn is not None:
                conn.close()
                with self._lock:
                    self._conns.remove(conn)
            raise WriterUnavailable(f"the writer process did not answer: {str(err) or type(err).__name__}") from err
        if reply[0] == "ok":
            return reply[1]
        if reply[0] == "ledger_error":
            raise _ledger_error(*reply[1:])
        raise RuntimeError(f"the writer process failed: {reply[1]}")
