"""The whole database's one Alembic history (service.database): the ledger core's
revision, the economy layer's and the service's, each beside its tables."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from ledger.sql import make_engine
from service import database

PRE_LAYOUT = Path(__file__).resolve().parent / "pre_layout_migrations"
_names = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    return request.getfixturevalue("pg_cluster").create_database(f"prelayout{next(_names)}")


def _upgrade_with_the_pre_layout_history(url: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(PRE_LAYOUT))
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    engine.dispose()


def _state(url: str) -> tuple[tuple[str, ...], set[str]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        revisions, tables = MigrationContext.configure(conn).get_current_heads(), set(inspect(conn).get_table_names())
    engine.dispose()
    return revisions, tables


def test_the_history_is_one_line_through_every_layer():
    script = ScriptDirectory.from_config(database.config())
    assert [r.revision for r in script.walk_revisions()] == ["0004", "0003", "0002", "0001"]
    assert script.get_heads() == ["0004"]


def test_a_database_upgraded_before_the_layout_upgrades_to_the_code_schema(empty_url):
    """The pre-layout history stopped at 0003; the layered one carries it on from there."""
    _upgrade_with_the_pre_layout_history(empty_url)
    assert _state(empty_url)[0] == ("0003",)

    database.upgrade(empty_url)
    head = ScriptDirectory.from_config(database.config()).get_current_head()
    assert _state(empty_url)[0] == (head,)
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), database.metadata) == []
    engine.dispose()
