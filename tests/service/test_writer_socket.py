"""One writer for several processes (service.writer_socket): a worker's ledger writes
travel over a Unix socket to the market process's writer and come back committed, or
as the same LedgerError the ledger raised; a writer that cannot be reached is a 503."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from ledger import InsufficientFunds, Ledger, Posting, TransferRequest, UnknownAsset, user_account
from ledger.sql import SqlStore
from service.app import create_app
from service.batching import BatchingStore
from service.state import ServiceState
from service.writer import Writer
from service.writer_socket import RemoteWriter, WriterServer, WriterUnavailable
from tests.support.batches import record_batch_sizes

from .conftest import settings_for


@pytest.fixture
def pair(pg_url, tmp_path):
    """A writer process's side (Writer + WriterServer) and a worker's (a Ledger over a
    RemoteWriter), in one test process; both on the same database."""
    path = str(tmp_path / "writer.sock")
    store = SqlStore(pg_url)
    writer = Writer(store)
    server = WriterServer(writer, path)
    remote = RemoteWriter(path)
    worker_store = SqlStore(pg_url)
    yield Ledger(BatchingStore(worker_store, writer=remote)), writer, server, remote, path
    remote.close()
    server.close()
    writer.close()
    store.engine.dispose()
    worker_store.engine.dispose()


def test_writes_are_applied_by_the_writer_process_and_come_back_committed(pair):
    ledger, writer, *_ = pair
    sizes = record_batch_sizes(writer._group)
    tx = ledger.mint(user_account("a"), 100)
    assert tx.entries[0].to_after == 100 and ledger.balance(user_account("a")) == 100
    moved = ledger.transfer(user_account("a"), user_account("b"), 30, key="k1")
    replay = ledger.transfer(user_account("a"), user_account("b"), 30, key="k1")
    assert replay.replayed and replay.id == moved.id and ledger.balance(user_account("b")) == 30
    assert sizes == [1, 1, 1]  # each went through the writer
    assert ledger.check().ok


def test_ledger_errors_come_back_as_themselves(pair):
    ledger, *_ = pair
    with pytest.raises(InsufficientFunds) as err:
        ledger.transfer(user_account("nobody"), user_account("b"), 5)
    assert err.value.details == {"account": "user:nobody", "asset": "COIN", "required": 5, "balance": 0}
    assert str(err.value) == "user:nobody has 0 COIN, needs 5" and err.value.code == "insufficient_funds"
    results = ledger.post_many([
        TransferRequest((Posting("system:mint", user_account("c"), "COIN", 7),), "ADMIN_GRANT"),
        TransferRequest((Posting("system:mint", user_account("c"), "NOPE", 7),), "ADMIN_GRANT"),
    ])
    assert results[0].entries[0].amount == 7 and isinstance(results[1], UnknownAsset)
    assert ledger.balance(user_account("c")) == 7


def test_concurrent_workers_threads_share_the_writers_batches(pair):
    ledger, writer, *_ = pair
    sizes = record_batch_sizes(writer._group)
    ledger.mint(user_account("rich"), 1_000)
    threads = [threading.Thread(target=ledger.transfer, args=(user_account("rich"), user_account(f"r{i}"), 10))
               for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.balance(user_account("rich")) == 600 and sum(sizes) == 41
    assert ledger.check().ok


def test_a_writer_that_went_away_is_unavailable_until_it_is_back(pair):
    ledger, writer, server, remote, path = pair
    ledger.mint(user_account("a"), 1)  # this thread now holds a connection
    server.close()
    with pytest.raises(WriterUnavailable):  # hung up on
        ledger.mint(user_account("a"), 1)
    with pytest.raises(WriterUnavailable):  # nobody listening
        ledger.mint(user_account("a"), 1)
    assert ledger.balance(user_account("a")) == 1
    again = WriterServer(writer, path)
    try:
        assert ledger.mint(user_account("a"), 1).entries[0].to_after == 2  # reconnected
    finally:
        again.close()


def test_a_worker_answers_503_when_the_writer_cannot_be_reached(sqlite_url, fake_stripe, tmp_path, creds):
    state = ServiceState(settings_for(sqlite_url, fake_stripe, workers=2, writer_socket=str(tmp_path / "no.sock")))
    assert state.writer is None and state.market is None
    with TestClient(create_app(state.settings, state)) as c:
        r = c.post("/api/coins/daily-login", headers=creds.h(creds.alice))
        assert r.status_code == 503 and r.json()["code"] == "writer_unavailable"
        assert c.get("/api/coins/balance", headers=creds.h(creds.alice)).json()["balance"] == 0  # reads still work
    state.close()


def test_the_market_process_serves_the_workers_writes(sqlite_url, fake_stripe, tmp_path, creds):
    path = str(tmp_path / "writer.sock")
    owner = ServiceState(settings_for(sqlite_url, fake_stripe, writer_socket=path))
    worker = ServiceState(settings_for(sqlite_url, fake_stripe, workers=2, writer_socket=path))
    try:
        assert owner.writer_server is not None and owner.market is not None
        sizes = record_batch_sizes(owner.writer._group)
        with TestClient(create_app(worker.settings, worker)) as c:
            r = c.post("/api/coins/daily-login", headers=creds.h(creds.alice))
            assert r.status_code == 200 and r.json()["balance"] > 0
        assert sizes and owner.ledger.balance(user_account("alice")) == r.json()["balance"]
    finally:
        worker.close()
        owner.close()


def test_a_writer_that_does_not_answer_times_out_and_its_late_answer_is_never_read(tmp_path):
    from multiprocessing.connection import Listener

    from ledger import Transaction

    path = str(tmp_path / "slow.sock")
    listener = Listener(path, family="AF_UNIX")
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
    thread.start()
    remote = RemoteWriter(path, timeout=0.2)
    request = TransferRequest((Posting("system:mint", user_account("a"), "COIN", 1),), "ADMIN_GRANT")
    try:
        with pytest.raises(WriterUnavailable, match="no answer within 0.2 s"):
            remote.apply(request, None)  # type: ignore[arg-type]
        thread.join(5)
        late = accepted[0]
        assert late.recv()[0] == "apply"
        with pytest.raises(OSError):  # the worker hung up: nobody reads the late answer
            for _ in range(100):
                late.send(("ok", Transaction("t", None, "ADMIN_GRANT", (), None, None)))  # type: ignore[arg-type]
    finally:
        remote.close()
        listener.close()
