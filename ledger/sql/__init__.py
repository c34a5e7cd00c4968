"""The SQL store (SQLAlchemy 2 Core; SQLite file by default, PostgreSQL in production)
and the Alembic migrations of the database (ledger.sql.migrate)."""

from __future__ import annotations

from .migrate import LEDGER, SchemaLayer, alembic_config, upgrade
from .store import SqlStore, make_engine, send_lists_in_binary

__all__ = [
    "DEFAULT_URL", "LEDGER", "SchemaLayer", "SqlStore", "alembic_config", "make_engine",
    "send_lists_in_binary", "upgrade",
]

DEFAULT_URL = "sqlite:///data/ledger.sqlite"
