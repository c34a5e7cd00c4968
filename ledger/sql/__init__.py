"""The SQL store (SQLAlchemy 2 Core; SQLite file by default, PostgreSQL in production)
and its Alembic migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from .store import SqlStore, make_engine, send_lists_in_binary

__all__ = ["DEFAULT_URL", "SqlStore", "make_engine", "send_lists_in_binary", "upgrade"]

DEFAULT_URL = "sqlite:///data/ledger.sqlite"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (creating a SQLite file's folder)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()
