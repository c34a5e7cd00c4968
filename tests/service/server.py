"""A real `coinlab serve` in a child process (its own process group, so SIGKILL takes
every worker with it), and a small load generator: the helpers the PostgreSQL load and
crash tests and bench/service.py share."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

__all__ = ["Server", "free_port", "run_load"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM it when the process that started it dies
    (Linux's PR_SET_PDEATHSIG). A test run killed outright (a timeout's SIGKILL) then
    takes its servers with it; left behind, a server whose database was gone kept
    respawning workers and held a 2-core machine at load 30 for an hour."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1: PR_SET_PDEATHSIG


def _coinlab() -> list[str]:
    """The installed `coinlab` entry point (what an operator runs), else the module."""
    script = Path(sys.executable).with_name("coinlab")
    return [str(script)] if script.exists() else [sys.executable, "-m", "coinlab_cli.main"]


class Server:
    def __init__(self, db: str, *, workers: int = 1, log: Path | None = None, port: int | None = None) -> None:
        self.db, self.workers, self.log = db, workers, log
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> Server:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*_coinlab(), "serve", "--db", self.db, "--port", str(self.port), "--workers", str(self.workers)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ},
            preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"coinlab serve exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("coinlab serve did not become healthy")

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown, no flushing."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


Request = tuple[str, str, dict[str, str], Any]  # method, path, headers, json


def run_load(url: str, make: Callable[[int, int], Request], *, clients: int, seconds: float | None = None,
             per_client: int | None = None, stop: threading.Event | None = None) -> list[dict[str, Any]]:
    """``clients`` threads, each sending ``make(client, i)`` in a loop (for ``seconds`` or
    ``per_client`` requests, or until ``stop``). Returns one record per request sent:
    client, i, method, path, headers, body, status (None: no response), response
    JSON, latency (s)."""
    records: list[dict[str, Any]] = []
    lock = threading.Lock()
    end = time.monotonic() + seconds if seconds else None

    def worker(c: int) -> None:
        mine = []
        with httpx.Client(base_url=url, timeout=30) as http:
            i = 0
            while True:
                if (per_client is not None and i >= per_client) or (end and time.monotonic() >= end) \
                        or (stop is not None and stop.is_set()):
                    break
                method, path, headers, body = make(c, i)
                t0 = time.perf_counter()
                rec = {"client": c, "i": i, "method": method, "path": path, "headers": headers, "body": body,
                       "status": None, "json": None}
                try:
                    r = http.request(method, path, headers=headers, json=body)
                    rec["status"], rec["json"] = r.status_code, (r.json() if r.content else None)
                except httpx.HTTPError:
                    pass  # no response: not acknowledged
                rec["latency"] = time.perf_counter() - t0
                mine.append(rec)
                i += 1
        with lock:
            records.extend(mine)

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return records
