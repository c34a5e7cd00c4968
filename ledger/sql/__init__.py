"""The SQL store (SQLAlchemy 2 Core; SQLite file by default, PostgreSQL in production)
and the Alembic migrations of the database (ledger.sql.migrate).

The store and the migration runner are imported on first use: the engine reads its
limits from ``ledger.sql.schema`` (ledger.limits), and importing the schema must not
import the store, which imports the engine."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .migrate import LEDGER, SchemaLayer, alembic_config, upgrade
    from .store import SqlStore, make_engine, send_lists_in_binary

__all__ = [
    "DEFAULT_URL", "LEDGER", "SchemaLayer", "SqlStore", "alembic_config", "make_engine",
    "send_lists_in_binary", "upgrade",
]

DEFAULT_URL = "sqlite:///data/ledger.sqlite"

_LAZY = {
    "LEDGER": "migrate", "SchemaLayer": "migrate", "alembic_config": "migrate", "upgrade": "migrate",
    "SqlStore": "store", "make_engine": "store", "send_lists_in_binary": "store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
