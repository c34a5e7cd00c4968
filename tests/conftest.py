"""Shared fixtures: a throwaway PostgreSQL cluster and a factory of ledgers over every store."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Iterator

import pytest

from ledger import Ledger, MemoryStore
from tests.support.pg import PgCluster

STORES = ["memory", "sqlite", "postgres"]
_db_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """A new, empty, migrated database on the throwaway cluster."""
    from service.database import upgrade

    url = pg_cluster.create_database(f"t{next(_db_names)}")
    upgrade(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    from service.database import upgrade

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    upgrade(url)
    return url


@pytest.fixture(params=STORES)
def store_kind(request) -> str:
    return request.param


@pytest.fixture
def make_ledger(store_kind: str, request) -> Callable[..., Ledger]:
    """`make_ledger(clock=...)` builds a Ledger over the store under test (memory, SQLite, PostgreSQL)."""

    def make(**kw) -> Ledger:
        if store_kind == "memory":
            return Ledger(MemoryStore(), **kw)
        from ledger.sql import SqlStore

        url = request.getfixturevalue("sqlite_url" if store_kind == "sqlite" else "pg_url")
        return Ledger(SqlStore(url), **kw)

    return make


_exit_status = 0


def pytest_sessionfinish(session, exitstatus) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config) -> None:
    """End the process as soon as pytest has reported. DuckDB's nanobind bindings print
    pages of "leaked instance" warnings when the interpreter finalizes while library
    caches (Streamlit's AppTest, polars) still hold DuckDB objects, burying the summary
    line. Every fixture has been torn down by now (the PostgreSQL cluster is stopped, Ray
    shut down), so nothing is lost by skipping interpreter finalization. Not under
    mutmut (`make mutate`), which runs pytest inside its own process and goes on."""
    if "MUTANT_UNDER_TEST" in os.environ:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
