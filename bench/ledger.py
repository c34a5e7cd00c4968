"""Ledger throughput: transfers/s per store, each beside a reference from the same run.

    .venv/bin/python bench/ledger.py [--seconds 4] [--batch 50] [--skip-postgres]
    .venv/bin/python bench/ledger.py --peer-sql ../shared/peers/pgledger [--rounds 5]

- memory: `Ledger.transfer` on the in-memory store vs a bare dict-update loop that
  also appends a journal tuple (the least a ledger can do in Python).
- sqlite: durable (WAL, synchronous=FULL) single transfers and batches.
- postgresql (a throwaway cluster on loopback, fsync on): 1 and 16 client processes,
  single transfers (one commit each) and batches (one commit per batch), vs the
  reference of a single-row INSERT + COMMIT per transfer with the same clients.
Durable means acknowledged only after COMMIT returned.

With ``--peer-sql DIR`` it runs only the comparison with pgledger (bench/ledger_peer.py):
single durable transfers from 16 processes over 50 and over 100k accounts, and the
shared-commit path, in alternating rounds; then `check` over the whole database.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ledger import Ledger, MemoryStore, Posting, TransferRequest  # noqa: E402
from ledger.sql import SqlStore  # noqa: E402
from service.database import upgrade  # noqa: E402

USERS = 100_000  # a live app has many users; 1,000 would make every batch fight over the same rows


def _requests(rng: random.Random, n: int) -> list[TransferRequest]:
    out = []
    for _ in range(n):
        a = rng.randrange(USERS)
        b = (a + 1 + rng.randrange(USERS - 1)) % USERS
        out.append(TransferRequest((Posting(f"user:u{a}", f"user:u{b}", "COIN", 1),), "TRANSFER"))
    return out


def _fund(ledger: Ledger) -> None:
    ledger.post_many([TransferRequest((Posting("system:mint", f"user:u{i}", "COIN", 10**9),), "ADMIN_GRANT")
                      for i in range(USERS)])


def bench_memory(seconds: float) -> tuple[float, float]:
    ledger = Ledger(MemoryStore())
    _fund(ledger)
    pairs = [(f"user:u{i % USERS}", f"user:u{(i * 7 + 1) % USERS}") for i in range(10_000)]
    transfer, n, deadline = ledger.transfer, 0, time.process_time() + seconds
    start = time.process_time()
    while time.process_time() < deadline:
        for a, b in pairs:
            if a != b:
                transfer(a, b, 1)
                n += 1
    ours = n / (time.process_time() - start)

    balances = {f"user:u{i}": 10**9 for i in range(USERS)}
    journal: list[tuple] = []
    n, deadline = 0, time.process_time() + seconds
    start = time.process_time()
    while time.process_time() < deadline:
        for a, b in pairs:
            if a != b:
                balances[a] -= 1
                balances[b] += 1
                journal.append((a, b, 1))
                n += 1
    return ours, n / (time.process_time() - start)


def _client(url: str, seed: int, batch: int, seconds: float, start_at: float, out: mp.Queue) -> None:
    ledger, rng = Ledger(SqlStore(url, pool_size=1, max_overflow=0) if url.startswith("postgres") else SqlStore(url)), random.Random(seed)
    while time.time() < start_at:
        time.sleep(0.001)
    done, deadline = 0, start_at + seconds
    while time.time() < deadline:
        if batch == 1:
            ledger.post(_requests(rng, 1)[0])
            done += 1
        else:
            done += sum(not isinstance(r, Exception) for r in ledger.post_many(_requests(rng, batch)))
    out.put(done)


def _reference_client(dsn: str, seconds: float, start_at: float, out: mp.Queue) -> None:
    import psycopg

    with psycopg.connect(dsn) as conn:
        while time.time() < start_at:
            time.sleep(0.001)
        done, deadline = 0, start_at + seconds
        while time.time() < deadline:
            conn.execute("INSERT INTO ref_transfers (a, b, amount) VALUES (%s, %s, 1)", ("user:u1", "user:u2"))
            conn.commit()
            done += 1
    out.put(done)


def _run_clients(target, args_for, clients: int, seconds: float) -> float:
    ctx = mp.get_context("fork")
    out: mp.Queue = ctx.Queue()
    start_at = time.time() + 1.5  # let every process connect first
    procs = [ctx.Process(target=target, args=(*args_for(i), seconds, start_at, out)) for i in range(clients)]
    for p in procs:
        p.start()
    total = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    return total / seconds


def bench_sql(url: str, clients: int, batch: int, seconds: float) -> float:
    return _run_clients(_client, lambda i: (url, i, batch), clients, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    # 50: larger batches lock more rows at once, and with 16 clients overlapping batches
    # queue behind each other (at 100 the 16-client figure drops by two thirds).
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--peer-sql", type=Path, help="pgledger's SQL folder: run only the comparison with it")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of the pgledger comparison")
    parser.add_argument("--clients", type=int, default=16, help="client processes of the pgledger comparison")
    parser.add_argument("--threads", type=int, default=64, help="callers of the shared-commit process")
    parser.add_argument("--sizes", default="50,100000", help="account counts of the pgledger comparison")
    args = parser.parse_args()
    if args.peer_sql is not None:
        peer_main(args)
        return
    rows: list[tuple[str, float, str]] = []

    ours, ref = bench_memory(args.seconds)
    rows += [("memory, Ledger.transfer, 1 core", ours, f"{ours / ref:.2f}x of bare dict loop"),
             ("  reference: bare dict-update loop", ref, "")]

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite"
        upgrade(url)
        _fund(Ledger(SqlStore(url)))
        rows.append(("sqlite, 1 client, single transfers", bench_sql(url, 1, 1, args.seconds), ""))
        rows.append((f"sqlite, 1 client, batches of {args.batch}", bench_sql(url, 1, args.batch, args.seconds), ""))

    if not args.skip_postgres:
        from tests.support.pg import PgCluster

        cluster = PgCluster().start()
        try:
            url = cluster.create_database("bench")
            upgrade(url)
            _fund(Ledger(SqlStore(url)))
            dsn = f"host=127.0.0.1 port={cluster.port} user=postgres dbname=bench"
            import psycopg

            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("CREATE TABLE ref_transfers (id bigserial primary key, a text, b text, amount bigint)")
            for clients in (1, 16):
                ref = _run_clients(_reference_client, lambda i: (dsn,), clients, args.seconds)
                single = bench_sql(url, clients, 1, args.seconds)
                batched = bench_sql(url, clients, args.batch, args.seconds)
                rows += [
                    (f"postgresql, {clients} client(s), single transfers", single, f"{single / ref:.2f}x of reference"),
                    (f"postgresql, {clients} client(s), batches of {args.batch}", batched, f"{batched / ref:.2f}x of reference"),
                    ("  reference: INSERT + COMMIT per transfer", ref, ""),
                ]
            cluster_check = Ledger(SqlStore(url)).check()
            rows.append((f"postgresql check after the run: {'ok' if cluster_check.ok else cluster_check.problems[:3]}", 0, ""))
        finally:
            cluster.stop()

    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}}  {'transfers/s':>12}  vs reference")
    for name, rate, note in rows:
        print(f"{name:<{width}}  {rate:>12,.0f}  {note}" if rate else name)


def peer_main(args: argparse.Namespace) -> None:
    from bench.ledger_peer import run_peer_bench
    from tests.support.pg import PgCluster

    cluster = PgCluster().start()
    try:
        url = cluster.create_database("peer")
        upgrade(url)
        dsn = f"host=127.0.0.1 port={cluster.port} user=postgres dbname=peer"
        print(f"coinlab vs pgledger ({args.peer_sql}): {args.clients} client processes, {args.seconds:g} s a run, "
              "fsync on", flush=True)
        lines = run_peer_bench(url, dsn, args.peer_sql, rounds=args.rounds, seconds=args.seconds,
                               clients=args.clients, threads=args.threads,
                               sizes=[int(n) for n in args.sizes.split(",")])
        report = Ledger(SqlStore(url)).check()
        lines.append(f"coinlab check after the run: {'clean' if report.ok else report.problems[:3]} "
                     f"({report.entries:,} entries)")
    finally:
        cluster.stop()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
