"""Many writers at once on a real PostgreSQL server: no overdraft, no double-applied
key, and nothing acknowledged lost when a writer is killed mid-batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select, text
from typer.testing import CliRunner

from coinlab_cli.main import app
from ledger import IdempotencyConflict, InsufficientFunds, Ledger, Posting, TransferRequest
from ledger.sql import SqlStore, make_engine
from ledger.sql.schema import entries, idempotency_keys

WORKERS = 16


def _race(n: int, work) -> list:
    """Run ``work(i)`` in n threads released together; return what each returned or raised."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as err:  # noqa: BLE001 - the test inspects what each racer got
            results[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_racing_withdrawals_never_overdraw(pg_url):
    Ledger(SqlStore(pg_url)).mint("user:pot", 1000)
    stores = [SqlStore(pg_url) for _ in range(WORKERS)]

    def withdraw_until_refused(i: int) -> int:
        ledger, taken = Ledger(stores[i]), 0
        for attempt in range(40):
            try:
                ledger.transfer("user:pot", f"user:w{i}", 7 + (i + attempt) % 23)
                taken += 7 + (i + attempt) % 23
            except InsufficientFunds:
                pass
        return taken

    taken = _race(WORKERS, withdraw_until_refused)
    ledger = Ledger(SqlStore(pg_url))
    assert all(isinstance(t, int) for t in taken), taken
    assert ledger.balance("user:pot") >= 0
    assert ledger.balance("user:pot") == 1000 - sum(taken)
    assert [ledger.balance(f"user:w{i}") for i in range(WORKERS)] == taken
    assert ledger.check().ok


def test_racing_duplicate_keys_apply_once(pg_url):
    Ledger(SqlStore(pg_url)).mint("user:payer", 100)
    stores = [SqlStore(pg_url) for _ in range(WORKERS)]
    results = _race(WORKERS, lambda i: Ledger(stores[i]).transfer("user:payer", "user:payee", 10, key="pay-once"))
    ledger = Ledger(SqlStore(pg_url))
    assert {r.id for r in results} == {results[0].id}
    assert sum(not r.replayed for r in results) == 1
    assert ledger.balance("user:payer") == 90
    assert ledger.balance("user:payee") == 10
    assert len(ledger.history("user:payee")) == 1


def test_racing_reuse_of_a_key_with_other_payloads_applies_one(pg_url):
    Ledger(SqlStore(pg_url)).mint("user:payer", 1000)
    stores = [SqlStore(pg_url) for _ in range(WORKERS)]
    results = _race(WORKERS, lambda i: Ledger(stores[i]).transfer("user:payer", "user:payee", 1 + i, key="k"))
    applied = [r for r in results if not isinstance(r, Exception) and not r.replayed]
    assert len(applied) == 1
    amount = applied[0].entries[0].amount
    assert all(isinstance(r, IdempotencyConflict) or r.entries[0].amount == amount for r in results)
    assert Ledger(SqlStore(pg_url)).balance("user:payee") == amount


def test_concurrent_batches_over_shared_accounts_conserve_money(pg_url):
    Ledger(SqlStore(pg_url)).mint("user:hub", 10_000)
    stores = [SqlStore(pg_url) for _ in range(WORKERS)]

    def shuffle(i: int) -> int:
        ledger = Ledger(stores[i])
        requests = [TransferRequest((Posting("user:hub", f"user:s{(i + j) % 5}", "COIN", 3),
                                     Posting(f"user:s{(i + j) % 5}", f"user:s{(i + j + 1) % 5}", "COIN", 1)),
                                    "TRANSFER") for j in range(50)]
        return sum(not isinstance(r, Exception) for r in ledger.post_many(requests))

    applied = _race(WORKERS, shuffle)
    ledger = Ledger(SqlStore(pg_url))
    assert ledger.balance("user:hub") == 10_000 - 3 * sum(applied)
    assert ledger.check().ok


def test_writers_on_separate_accounts_commit_in_several_chains_that_all_check(pg_url):
    stores = [SqlStore(pg_url) for _ in range(WORKERS)]

    def own_accounts(i: int) -> None:
        ledger = Ledger(stores[i])
        ledger.mint(f"user:w{i}", 100)
        for _ in range(20):
            ledger.transfer(f"user:w{i}", f"user:v{i}", 1)

    assert not any(_race(WORKERS, own_accounts))
    store = SqlStore(pg_url)
    chains = [c for _e, c, _h in store.iter_chain()]
    assert len(chains) == WORKERS * 21
    assert len(set(chains)) > 1  # racing writers did not queue behind one head
    ledger = Ledger(store)
    assert [ledger.balance(f"user:v{i}") for i in range(WORKERS)] == [20] * WORKERS
    report = ledger.check()
    assert report.ok, report.problems
    assert report.anchor.count(",") == len(set(chains)) - 1  # one part per chain used


def test_sigkill_mid_batch_loses_nothing_acknowledged(pg_url, tmp_path: Path):
    Ledger(SqlStore(pg_url)).mint("user:source", 10**9)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    writers = [
        subprocess.Popen([sys.executable, str(Path(__file__).with_name("crash_writer.py")), pg_url, str(w)],
                         stdout=(tmp_path / f"acked{w}").open("w"), env=env)
        for w in range(4)
    ]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(len((tmp_path / f"acked{w}").read_text().split()) >= 200 for w in range(4)):
            break
        time.sleep(0.05)
    for proc in writers:
        proc.send_signal(signal.SIGKILL)
    for proc in writers:
        proc.wait()

    acked = {key for w in range(4) for key in (tmp_path / f"acked{w}").read_text().split()}
    assert len(acked) >= 800
    with make_engine(pg_url).connect() as conn:
        stored = set(conn.scalars(select(idempotency_keys.c.key)))
        legs_per_tx = set(conn.scalars(
            select(func.count()).select_from(entries).where(entries.c.tx_id != "").group_by(entries.c.tx_id)))
    assert acked <= stored
    assert legs_per_tx <= {1, 2}  # the grant (1 leg) and whole two-leg transfers, never half of one
    result = CliRunner().invoke(app, ["check", "--db", pg_url])
    assert result.exit_code == 0, result.output


def _wait_for_a_lock_wait(url: str) -> None:
    """Until some backend of the database at ``url`` waits for a row lock."""
    with make_engine(url).connect() as conn:
        for _ in range(200):
            if conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")):
                return
            time.sleep(0.05)
    raise AssertionError("no backend started waiting for a lock")


def test_a_key_committed_while_a_transfer_waits_for_its_rows_is_found_on_the_retry(pg_url):
    # A transfer outside a session takes no advisory lock on its key: it looks the key up
    # in the statement that locks its balance rows. If another writer commits the same key
    # while it waits for those rows, its insert of the key fails on the primary key and
    # it is retried: it then finds the key (another payload: a conflict), applies nothing.
    ledger = Ledger(SqlStore(pg_url))
    for who in ("user:payer", "user:other"):
        ledger.mint(who, 100)
    blocker = make_engine(pg_url).connect()
    blocker.execute(text("SELECT balance FROM balances WHERE account = 'user:payer' FOR UPDATE"))
    outcome: list = []
    waiter = threading.Thread(target=lambda: outcome.append(_try(
        lambda: Ledger(SqlStore(pg_url)).transfer("user:payer", "user:payee", 10, key="shared"))))
    waiter.start()
    _wait_for_a_lock_wait(pg_url)
    first = Ledger(SqlStore(pg_url)).transfer("user:other", "user:payee", 7, key="shared")
    blocker.rollback()
    blocker.close()
    waiter.join(30)
    assert isinstance(outcome[0], IdempotencyConflict)
    assert (ledger.balance("user:payer"), ledger.balance("user:other"), ledger.balance("user:payee")) == (100, 93, 7)
    assert ledger.transfer("user:other", "user:payee", 7, key="shared").id == first.id
    assert ledger.check().ok


def _try(fn):
    try:
        return fn()
    except Exception as err:  # noqa: BLE001 - the test inspects what was raised
        return err
