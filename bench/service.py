"""Service throughput: acknowledged durable writes/s and p50/p99 latency over HTTP on
PostgreSQL, beside a reference from the same run (the same writes through the Python
API, no HTTP).

    .venv/bin/python bench/service.py [--seconds 8] [--clients 64] [--no-idempotency-keys]

A throwaway PostgreSQL cluster on loopback (fsync on, synchronous_commit on). The
mixed write load cycles daily login (a new user each time, so a real credit), spend
(a vote on a new claim), transfer (COIN between funded users) and order (a one-coin
limit order on a brand coin at one price, so buys and sells cross and settle).
- http, 1 worker: `coinlab serve --workers 1`; the client ``--clients`` keep-alive
  connections in this process (asyncio).
- http, 2 workers: `coinlab serve --workers 2`: two workers, and the market process
  they forward orders to (service.forward).
- reference: the same writes through the service's objects without HTTP (ServiceState:
  EconomyRules, Ledger over the process's writer, MarketState) from ``--clients``
  threads in one process, on a fresh database of the same cluster.
The load is closed-loop (each client sends its next write when the last is answered),
so it needs enough clients to keep the server busy: a write waits for three group
commits in turn (its Idempotency-Key claim, the writer's batch, the stored response),
and with 32 clients the service sat latency-bound with CPU to spare. 64 is the default.
A write counts when its 200 response (or the Python call) returned: every one of them
is committed by then. The client and the server share the same 2 cores; each HTTP run
also prints the CPU time per write of the server (all its processes), of PostgreSQL and
of the load generator, to show where the machine's two cores go.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from ledger import Ledger, user_account  # noqa: E402
from ledger.sql import SqlStore, make_engine  # noqa: E402
from service.database import upgrade  # noqa: E402
from service.keys import KeyStore  # noqa: E402
from tests.service.server import Server  # noqa: E402
from tests.support.pg import PgCluster  # noqa: E402

USERS = 200
by_kind: dict[str, list[float]] = {}  # latencies of the last HTTP run, per kind of write
KINDS = ("login", "spend", "transfer", "order")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def _report(name: str, acked: int, failed: int, elapsed: float, lat: list[float]) -> dict[str, float]:
    rate = acked / elapsed
    p50, p99 = _pct(lat, 50) * 1000, _pct(lat, 99) * 1000
    print(f"{name:<34} {rate:8.0f} writes/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   "
          f"({acked} acknowledged, {failed} refused/failed, {elapsed:.1f} s)")
    return {"rate": rate, "p50": p50, "p99": p99}


def _tree_cpu(root: int) -> float:
    """CPU seconds used so far by process ``root`` and its descendants (Linux /proc),
    counting the children it has already reaped (PostgreSQL's exited backends)."""
    procs: dict[int, tuple[int, float]] = {}
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            f = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
        except (OSError, IndexError):
            continue
        procs[int(d)] = (int(f[1]), sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK"))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += procs.get(pid, (0, 0.0))[1]
        todo.extend(child for child, (ppid, _) in procs.items() if ppid == pid)
    return total


def _postmaster(cluster: PgCluster) -> int:
    return int((cluster.data / "postmaster.pid").read_text().split()[0])


def _prepare(url: str) -> None:
    upgrade(url)
    ledger = Ledger(SqlStore(url))
    from ledger import Posting, TransferRequest

    ledger.post_many([TransferRequest((Posting("system:mint", user_account(f"u{i}"), "COIN", 10**9),), "ADMIN_GRANT")
                      for i in range(USERS)])
    ledger.store.engine.dispose()


def _user(n: int) -> str:
    """Who makes write ``n``: four in a row each, then the next user, so that every user
    places orders (with ``n % USERS`` only the users of one residue mod 4 did, and at
    1,300 writes/s they hit the market's per-user rate limit, 60 orders a minute)."""
    return f"u{n // 4 % USERS}"


def _recipient(n: int) -> str:
    """Whom transfer ``n`` pays: one of the next seven users, never the payer."""
    return f"u{(n // 4 + 1 + n % 7) % USERS}"


def _request(kind: str, n: int, token: str, keys: bool) -> tuple[str, str, dict[str, str], dict | None]:
    user = _user(n)
    h = {"Authorization": f"Bearer {token}", "X-User-Id": user}
    if keys:
        h["Idempotency-Key"] = f"w{n}"
    if kind == "login":
        return "POST", "/api/coins/daily-login", {**h, "X-User-Id": f"login{n}"}, None
    if kind == "spend":
        return "POST", f"/api/claims/bench{n}/vote", h, None
    if kind == "transfer":
        return "POST", "/api/transfers", h, {"toUserId": _recipient(n), "amount": 1}
    return "POST", "/api/market/BENCH/orders", h, {"side": "buy" if (n // 4) % 2 else "sell", "quantity": 1, "price": 10}


class _Conn:
    """A bare HTTP/1.1 keep-alive connection: the load generator shares the 2 cores with
    the server, and httpx costs about 1.6 ms of CPU per request here, so the client
    speaks just enough HTTP (Content-Length bodies) to stay out of the way."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: dict | None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        payload = json.dumps(body).encode() if body is not None else b""
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{head}"
                          f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
                          + payload)
        assert self.reader is not None
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)


async def _http_load(url: str, token: str, kinds: tuple[str, ...], clients: int, seconds: float,
                     keys: bool, first: int = 0) -> tuple[int, int, float, list[float]]:
    """``first`` numbers the first write: runs against one server start apart, so no
    write replays an earlier run's (same Idempotency-Key, same new user)."""
    counter = iter(range(first, 10**9))
    lat: list[float] = []
    by_kind.clear()
    failed = 0
    host, port = url.removeprefix("http://").split(":")
    end = time.perf_counter() + seconds

    async def one() -> None:
        nonlocal failed
        conn = _Conn(host, int(port))
        while time.perf_counter() < end:
            n = next(counter)
            method, path, headers, body = _request(kinds[n % len(kinds)], n, token, keys)
            t0 = time.perf_counter()
            status, raw = await conn.request(method, path, headers, body)
            dt = time.perf_counter() - t0
            ok = status == 200 and (not path.endswith("/orders") or b'"status":"rejected"' not in raw)
            if ok:
                lat.append(dt)
                by_kind.setdefault(kinds[n % len(kinds)], []).append(dt)
            else:
                failed += 1
        if conn.writer is not None:
            conn.writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(clients)))
    return len(lat), failed, time.perf_counter() - start, lat


def bench_http(cluster: PgCluster, name: str, workers: int, kinds: tuple[str, ...], args: argparse.Namespace,
               log: Path) -> dict[str, float]:
    url = cluster.create_database(name)
    _prepare(url)
    engine = make_engine(url)
    token = KeyStore(engine).create("app")[1]
    engine.dispose()
    with Server(url, workers=workers, log=log) as server:
        if "order" in kinds:
            r = httpx.post(f"{server.url}/api/brand-coins", json={"symbol": "BENCH", "name": "b", "initialPrice": 10},
                           headers={"Authorization": f"Bearer {token}", "X-User-Id": "seller"}, timeout=30)
            r.raise_for_status()
            for i in range(USERS):  # every user holds coins to sell
                httpx.post(f"{server.url}/api/brand-coins/BENCH/earn", json={"usdCents": 100_000}, timeout=30,
                           headers={"Authorization": f"Bearer {token}", "X-User-Id": f"u{i}"}).raise_for_status()
        asyncio.run(_http_load(server.url, token, kinds, args.clients, 1.0, args.keys))  # warm-up
        assert server.proc is not None
        pids = (server.proc.pid, _postmaster(cluster))
        before = [_tree_cpu(p) for p in pids] + [time.process_time()]
        acked, failed, elapsed, lat = asyncio.run(_http_load(server.url, token, kinds, args.clients, args.seconds,
                                                             args.keys, first=10**7))
        used = [after - b for after, b in zip([_tree_cpu(p) for p in pids] + [time.process_time()], before,
                                              strict=True)]
    label = f"http, {workers} worker{'s' if workers > 1 else ''}" + ("" if "order" in kinds else ", no orders")
    out = _report(label, acked, failed, elapsed, lat)
    print("    p50/p99 ms by kind: " + ", ".join(
        f"{k} {_pct(v, 50) * 1000:.0f}/{_pct(v, 99) * 1000:.0f}" for k, v in sorted(by_kind.items())))
    per_write = [u / max(acked, 1) * 1000 for u in used]
    print("    CPU per write: server {:.2f} ms, PostgreSQL {:.2f} ms, load generator {:.2f} ms".format(*per_write)
          + f" (total {sum(per_write):.2f} ms; the server used {used[0] / elapsed:.0%} of a core)")
    return out


def bench_python(cluster: PgCluster, args: argparse.Namespace) -> dict[str, float]:
    """The same writes through the service's own objects (ServiceState: the writer, group
    commit, economy rules, market), called from threads without HTTP."""
    from service.settings import Settings
    from service.state import ServiceState

    url = cluster.create_database("reference")
    _prepare(url)
    state = ServiceState(Settings(db=url, migrate=False, log_requests=False))
    ledger, economy, market = state.ledger, state.economy, state.market
    assert market is not None
    market.launch("BENCH", "b", "user:seller", initial_price=10, max_supply=None, allocation=None)
    for i in range(USERS):
        market.run("BENCH", lambda ex, i=i: ex.earn("BENCH", user_account(f"u{i}"), 100_000))
    counter = iter(range(10**9))
    lock = threading.Lock()
    lat: list[float] = []
    failed = 0
    end = time.perf_counter() + args.seconds

    def write(n: int) -> bool:
        kind, user = KINDS[n % 4], _user(n)
        if kind == "login":
            economy.rules.daily_login(f"login{n}")
        elif kind == "spend":
            economy.rules.vote(user, f"bench{n}")
        elif kind == "transfer":
            ledger.transfer(user_account(user), user_account(_recipient(n)), 1)
        else:
            o = market.submit("BENCH", account=user_account(user), side="buy" if (n // 4) % 2 else "sell", quantity=1,
                              price=10)
            return o.status != "rejected"
        return True

    def worker() -> None:
        nonlocal failed
        mine = []
        bad = 0
        while time.perf_counter() < end:
            with lock:
                n = next(counter)
            t0 = time.perf_counter()
            try:
                ok = write(n)
            except Exception:
                ok = False
            if ok:
                mine.append(time.perf_counter() - t0)
            else:
                bad += 1
        with lock:
            lat.extend(mine)
            failed += bad

    gc.freeze()  # the same collector settings as `coinlab serve` gives the service (Settings.freeze_gc)
    gc.set_threshold(10_000, 10, 10)
    before = (time.process_time(), _tree_cpu(_postmaster(cluster)))
    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    used = (time.process_time() - before[0], _tree_cpu(_postmaster(cluster)) - before[1])
    state.close()
    out = _report("reference: Python API, no HTTP", len(lat), failed, elapsed, lat)
    print(f"    CPU per write: service objects {used[0] / max(len(lat), 1) * 1000:.2f} ms, "
          f"PostgreSQL {used[1] / max(len(lat), 1) * 1000:.2f} ms")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--no-idempotency-keys", dest="keys", action="store_false",
                   help="send POSTs without an Idempotency-Key (skips the stored-response round trips)")
    args = p.parse_args()
    cluster = PgCluster().start()
    log = Path(tempfile.mkdtemp(prefix="coinlab-bench-")) / "serve.log"
    try:
        print(f"mixed writes {'/'.join(KINDS)}, {args.clients} clients, {args.seconds:.0f} s each, "
              f"Idempotency-Key {'on' if args.keys else 'off'}; PostgreSQL fsync on; 2 shared cores")
        one = bench_http(cluster, "http1", 1, KINDS, args, log)
        two = bench_http(cluster, "http2", 2, KINDS, args, log)
        ref = bench_python(cluster, args)
        print(f"http/reference: 1 worker {one['rate'] / ref['rate']:.2f}x, 2 workers "
              f"{two['rate'] / ref['rate']:.2f}x; target >= 1000 writes/s with p99 < 100 ms")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
