"""The Idempotency-Key store on SQLite and PostgreSQL, where claims and finishes of
concurrent requests are committed in groups by the event loop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from ledger.sql import make_engine
from service.idempotency import Claim, Finish, IdempotencyStore
from service.tables import http_idempotency


@pytest.fixture(params=["sqlite", "postgres"])
def store(request):
    yield from _open(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture
def pg_store(pg_url):
    """What only the PostgreSQL store has: its set-based groups (`_pg_batch`)."""
    yield from _open(pg_url)


def _open(url):
    engine = make_engine(url)
    s = IdempotencyStore(engine)
    yield s
    s.close()
    engine.dispose()


def _claim(store, key="k", fp="f" * 64, owner="o"):
    return asyncio.run(store.claim(owner, key, fp))


def _finish(store, **kw):
    return asyncio.run(store.finish("o", "k", **kw))


def _group(store, ops):
    """One group through the store's PostgreSQL path, on a connection of its own."""
    return asyncio.run(store._run_group(ops))


def _rows(store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(http_idempotency)).scalar_one()


def test_first_claim_runs_then_a_retry_replays_and_another_body_conflicts(store):
    assert _claim(store) == ("run", None)
    assert _claim(store) == ("busy", None)  # the first is still running
    _finish(store, keep=True, status=201, content_type="application/json", body=b'{"a":1}')
    assert _claim(store) == ("replay", (201, "application/json", b'{"a":1}'))
    assert _claim(store, fp="g" * 64) == ("conflict", None)
    assert _claim(store, owner="other") == ("run", None)  # keys are per owner


def test_a_dropped_claim_lets_a_retry_run(store):
    assert _claim(store) == ("run", None)
    _finish(store, keep=False, status=401, content_type="application/json", body=b"")
    assert _rows(store) == 0
    assert _claim(store) == ("run", None)


def test_concurrent_claims_of_one_key_run_it_once(store):
    async def sixteen():
        return await asyncio.gather(*(store.claim("o", "k", "f" * 64) for _ in range(16)))

    verdicts = [v for v, _ in asyncio.run(sixteen())]
    assert sorted(verdicts) == ["busy"] * 15 + ["run"]
    assert _rows(store) == 1


def test_many_concurrent_keys_each_run_once_in_groups(store):
    async def many():
        return await asyncio.gather(*(store.claim("o", f"k{i % 50}", "f" * 64) for i in range(200)))

    sizes: list[int] = []
    run_group = store._run_group

    async def recorded(ops):
        sizes.append(len(ops))
        return await run_group(ops)

    store._run_group = recorded
    verdicts = [v for v, _ in asyncio.run(many())]
    assert verdicts.count("run") == 50 and verdicts.count("busy") == 150
    assert _rows(store) == 50
    if store._grouped:  # PostgreSQL: two lanes took the first two, the rest queued meanwhile
        assert sum(sizes) == 200 and len(sizes) < 10 and max(sizes) > 100


def test_a_store_used_from_a_new_event_loop_starts_over_there(pg_store):
    assert _claim(pg_store, key="a") == ("run", None)  # one asyncio.run: one loop
    assert _claim(pg_store, key="b") == ("run", None)  # another: new connections, same rows
    assert _claim(pg_store, key="a") == ("busy", None)
    pg_store.close()
    with pytest.raises(RuntimeError, match="closed"):
        _claim(pg_store, key="c")


def test_a_lost_connection_is_replaced_and_its_group_redone_row_by_row(pg_store):
    async def scenario():
        assert await pg_store.claim("o", "a", "f" * 64) == ("run", None)
        (conn,) = pg_store._idle
        lost = conn.pgconn.backend_pid
        with pg_store.engine.connect() as c:  # e.g. a PostgreSQL restart, or a proxy dropping it
            c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": lost})
        assert await pg_store.claim("o", "b", "f" * 64) == ("run", None)  # made row by row
        assert await pg_store.claim("o", "b", "f" * 64) == ("busy", None)
        return lost, [c.pgconn.backend_pid for c in pg_store._idle]

    lost, idle = asyncio.run(scenario())
    assert idle and lost not in idle and _rows(pg_store) == 2


def test_a_group_finishes_before_it_claims(pg_store):
    """A finish and a retry of the same key committed in one group: the retry replays."""
    store = pg_store
    assert _claim(store) == ("run", None)
    at = datetime.now(UTC)
    out = _group(store, [Claim("o", "k", "f" * 64, at), Finish("o", "k", True, 200, "text/plain", b"hi"),
                           Claim("o", "new", "f" * 64, at), Claim("o", "new", "f" * 64, at)])
    # the group's finish is applied before its claims, whatever their order in the queue
    assert out[0] == ("replay", (200, "text/plain", b"hi")) and out[1] is None
    assert out[2:] == [("run", None), ("busy", None)]  # the same new key twice: one runs


def test_a_group_drops_before_it_claims_and_a_failed_group_does_not_drop_twice(pg_store):
    store = pg_store
    assert _claim(store, key="k") == ("run", None)
    at = datetime.now(UTC)
    drop = Finish("o", "k", False, 401, "application/problem+json", b"")
    out = _group(store, [Claim("o", "k", "f" * 64, at), drop])
    assert out == [("run", None), None]  # the denial's claim was dropped first: the retry runs
    # The drop is done, then the group's statement fails (a key longer than the
    # column) and the rest is redone one by one: the retry's claim runs, and the
    # drop is not done again (it would delete that new claim).
    assert _claim(store, key="d") == ("run", None)
    out = _group(store, [Claim("o", "d", "f" * 64, at), Claim("o", "x" * 300, "f" * 64, at),
                           Finish("o", "d", False, 500, "text/plain", b"")])
    assert out[0] == ("run", None) and isinstance(out[1], Exception) and out[2] is None
    assert _claim(store, key="d") == ("busy", None)  # the new claim of d stands


def test_one_bad_request_in_a_group_fails_alone(pg_store):
    store = pg_store
    _claim(store, key="warm")
    at = datetime.now(UTC)
    # a key longer than the column fails the group's INSERT: the group is redone row by row
    out = _group(store, [Claim("o", "a", "f" * 64, at), Claim("o", "x" * 300, "f" * 64, at),
                           Claim("o", "b", "f" * 64, at)])
    assert out[0] == ("run", None) and out[2] == ("run", None)
    assert isinstance(out[1], Exception)
    assert _rows(store) == 3  # warm, a, b
