"""coinlab beside pgledger on one throwaway PostgreSQL cluster (bench/ledger.py --peer-sql DIR).

pgledger (a ledger written as PostgreSQL functions, one round trip per transfer) is
loaded at run time from DIR (`uuid-to-ulid.sql`, then `pgledger.sql`); nothing of it
is kept in this project. Both ledgers get the same accounts, funded the same way, and
the same client processes; rounds alternate which goes first.

- single durable transfers: each of ``clients`` processes loops over random pairs of
  accounts, one transfer per transaction, acknowledged once its COMMIT is durable.
  pgledger: ``pgledger_create_transfer`` (autocommit). coinlab: `Ledger.transfer`
  on a `SqlStore`, every transfer with an idempotency key (a per-request caller's
  retry protection; pgledger has none).
- shared commits (the service's path): one process whose ``threads`` callers call
  `Ledger.transfer` at once through the service's writer (service.batching), which
  commits whatever queued meanwhile as one transaction. Compared with pgledger's
  single-transfer figure of the same round.
- where the time goes: one client's transfers in sequence, the CPU per transfer of the
  client and of its server backend, for both (`cpu_per_transfer`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ledger import Ledger, Posting, TransferRequest
from ledger.sql import SqlStore

__all__ = ["load_peer", "run_peer_bench"]

FUND = 10**12  # enough that no transfer of 1 is ever refused for funds


def load_peer(dsn: str, sql_dir: Path) -> None:
    """Load pgledger's SQL from ``sql_dir`` into the database at ``dsn``."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in ("uuid-to-ulid.sql", "pgledger.sql"):
            conn.execute((sql_dir / name).read_text())  # type: ignore[arg-type]


def _names(prefix: str, n: int) -> list[str]:
    return [f"user:{prefix}{i}" for i in range(n)]


def setup_coinlab(url: str, names: Sequence[str]) -> None:
    ledger = Ledger(SqlStore(url))
    for i in range(0, len(names), 5000):
        ledger.post_many([TransferRequest((Posting("system:mint", a, "COIN", FUND),), "ADMIN_GRANT")
                          for a in names[i:i + 5000]])


def setup_pgledger(dsn: str, names: Sequence[str]) -> list[str]:
    """pgledger accounts named like coinlab's, no negative balances, each funded from a
    mint account that may go negative; returns their ids, in the order of ``names``."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        mint = conn.execute("SELECT id FROM pgledger_create_account('mint', 'COIN', true, true)").fetchone()
        assert mint is not None
        ids = [r[0] for r in conn.execute(
            "SELECT (pgledger_create_account(n, 'COIN', false, true)).id FROM unnest(%s::text[]) WITH ORDINALITY "
            "AS t(n, i) ORDER BY i", (list(names),))]
        for i in range(0, len(ids), 5000):
            conn.execute("SELECT count(*) FROM pgledger_create_transfers("
                         "(SELECT array_agg((%s, a, %s)::transfer_request) FROM unnest(%s::text[]) AS a))",
                         (mint[0], FUND, ids[i:i + 5000]))
    return ids


def analyze(dsn: str) -> None:
    """Give the planner statistics of the tables both ledgers just filled, as autovacuum
    would within a minute of a bulk load (it wakes once a minute; a run here starts
    seconds after). Without them it sees a fraction of the 100k balance rows and plans
    a shared commit's 100+ row lookups as a scan of the whole table (~15 ms twice a
    batch); pgledger's statements look rows up by id either way."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE")


def _pairs(rng: random.Random, n: int) -> tuple[int, int]:
    a = rng.randrange(n)
    return a, (a + 1 + rng.randrange(n - 1)) % n


def _wait(start_at: float) -> None:
    while time.time() < start_at:
        time.sleep(0.001)


def _peer_client(dsn: str, ids: list[str], seed: int, seconds: float, start_at: float, out: Any) -> None:
    import psycopg

    rng = random.Random(seed)
    with psycopg.connect(dsn, autocommit=True) as conn:
        _wait(start_at)
        done, deadline = 0, start_at + seconds
        while time.time() < deadline:
            a, b = _pairs(rng, len(ids))
            conn.execute("SELECT id FROM pgledger_create_transfer(%s, %s, 1)", (ids[a], ids[b])).fetchone()
            done += 1
    out.put(done)


def _coinlab_client(url: str, names: list[str], seed: int, seconds: float, start_at: float, out: Any) -> None:
    ledger, rng = Ledger(SqlStore(url, pool_size=1, max_overflow=0)), random.Random(seed)
    _wait(start_at)
    done, deadline = 0, start_at + seconds
    while time.time() < deadline:
        a, b = _pairs(rng, len(names))
        ledger.transfer(names[a], names[b], 1, key=f"bench:{seed}:{done}")
        done += 1
    out.put(done)


def _shared_commit_client(url: str, names: list[str], threads: int, tag: str, seconds: float, start_at: float,
                          out: Any) -> None:
    from service.batching import BatchingStore

    store = BatchingStore(SqlStore(url, pool_size=2, max_overflow=0))
    ledger = Ledger(store)  # type: ignore[arg-type]
    counts = [0] * threads

    def caller(i: int) -> None:
        rng = random.Random(1000 + i)
        _wait(start_at)
        deadline = start_at + seconds
        while time.time() < deadline:
            a, b = _pairs(rng, len(names))
            ledger.transfer(names[a], names[b], 1, key=f"shared:{tag}:{i}:{counts[i]}")
            counts[i] += 1

    workers = [threading.Thread(target=caller, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    store.close()
    out.put(sum(counts))


def _run(target: Callable[..., None], args_for: Callable[[int], tuple[Any, ...]], procs: int,
         seconds: float) -> float:
    ctx = mp.get_context("fork")
    out: Any = ctx.Queue()
    start_at = time.time() + 1.5  # every process connects first
    ps = [ctx.Process(target=target, args=(*args_for(i), seconds, start_at, out)) for i in range(procs)]
    for p in ps:
        p.start()
    total = sum(out.get() for _ in ps)
    for p in ps:
        p.join()
    return total / seconds


def _backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_transfer(url: str, dsn: str, names: Sequence[str], ids: Sequence[str], n: int = 2000) -> str:
    """Where the time goes: one client making ``n`` transfers in sequence (no contention),
    CPU per transfer of the client and of its server backend, coinlab then pgledger.
    (Needs the cluster on this machine: the backend's CPU is read from /proc.)"""
    import psycopg

    rng = random.Random(7)
    store = SqlStore(url, pool_size=1, max_overflow=0)  # one connection: one backend to read
    ledger = Ledger(store)
    ledger.transfer(names[0], names[1], 1, key=f"cpu:warm:{len(names)}")
    raw = store.engine.raw_connection()
    pid = raw.driver_connection.info.backend_pid
    raw.close()
    client, server = time.process_time(), _backend_cpu(pid)
    for i in range(n):
        a, b = _pairs(rng, len(names))
        ledger.transfer(names[a], names[b], 1, key=f"cpu:{len(names)}:{i}")
    ours = ((time.process_time() - client) / n, (_backend_cpu(pid) - server) / n)
    store.engine.dispose()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT id FROM pgledger_create_transfer(%s, %s, 1)", (ids[0], ids[1])).fetchone()
        pid = conn.info.backend_pid
        client, server = time.process_time(), _backend_cpu(pid)
        for _ in range(n):
            a, b = _pairs(rng, len(ids))
            conn.execute("SELECT id FROM pgledger_create_transfer(%s, %s, 1)", (ids[a], ids[b])).fetchone()
        peer = ((time.process_time() - client) / n, (_backend_cpu(pid) - server) / n)
    return (f"  one client, {n:,} transfers in sequence, CPU per transfer: coinlab client {ours[0] * 1e3:.2f} ms "
            f"+ server {ours[1] * 1e3:.2f} ms; pgledger client {peer[0] * 1e3:.2f} ms + server {peer[1] * 1e3:.2f} ms")


def _summary(values: Sequence[float], fmt: str) -> str:
    return f"median {fmt.format(statistics.median(values))} (range {fmt.format(min(values))}-{fmt.format(max(values))})"


def run_peer_bench(url: str, dsn: str, sql_dir: Path, *, rounds: int, seconds: float, clients: int,
                   threads: int, sizes: Sequence[int]) -> list[str]:
    """Run the comparison; returns the report's lines."""
    load_peer(dsn, sql_dir)
    lines: list[str] = []
    for size in sizes:
        names = _names(f"p{size}x", size)
        setup_coinlab(url, names)
        ids = setup_pgledger(dsn, names)
        analyze(dsn)
        ours, peer, shared = [], [], []
        for r in range(rounds):
            order = ("peer", "ours") if r % 2 == 0 else ("ours", "peer")
            seed = size * 1000 + r * 100  # keys never repeat across rounds and sizes
            for who in order:
                if who == "peer":
                    peer.append(_run(_peer_client, lambda i, ids=ids, seed=seed: (dsn, ids, seed + i), clients, seconds))
                else:
                    ours.append(_run(_coinlab_client, lambda i, names=names, seed=seed: (url, names, seed + i),
                                     clients, seconds))
            shared.append(_run(_shared_commit_client, lambda i, names=names, seed=seed: (url, names, threads, str(seed)),
                               1, seconds))
            print(f"  {size:>7,} accounts, round {r + 1}: pgledger {peer[-1]:8,.0f}/s  coinlab {ours[-1]:8,.0f}/s "
                         f"({ours[-1] / peer[-1]:.2f}x)  shared commits {shared[-1]:8,.0f}/s "
                         f"({shared[-1] / peer[-1]:.2f}x)", flush=True)
        costs = cpu_per_transfer(url, dsn, names, ids)
        print(costs, flush=True)
        ratios = [o / p for o, p in zip(ours, peer, strict=True)]
        shared_ratios = [s / p for s, p in zip(shared, peer, strict=True)]
        lines += [
            f"{size:,} accounts, {clients} processes, single durable transfers:",
            f"  pgledger {_summary(peer, '{:,.0f}')}/s; coinlab {_summary(ours, '{:,.0f}')}/s; "
            f"ratio {_summary(ratios, '{:.2f}')}x",
            f"{size:,} accounts, one process, {threads} callers sharing commits:",
            f"  coinlab {_summary(shared, '{:,.0f}')}/s; vs pgledger {_summary(shared_ratios, '{:.2f}')}x",
            costs,
        ]
    return lines
