"""Alembic migrations of the SQL database, one history for the whole of it.

The ledger core's tables come from ledger/migrations/versions/. Each layer built on the
core brings a `SchemaLayer`: its tables' MetaData and the directory of the migrations
that create them (ledger.economy.schema, service.tables). The revisions of every layer
form one line (0001 ledger, 0002 economy, 0003 service, ...): a new migration revises
the head, in the directory of the layer whose tables it changes. So a database is
upgraded with all the layers it was built with; `service.database.upgrade` does the
whole database. The core imports none of the layers: they pass themselves in."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from . import schema
from .store import make_engine

__all__ = ["LEDGER", "MIGRATIONS", "SchemaLayer", "alembic_config", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


@dataclass(frozen=True)
class SchemaLayer:
    """The tables one layer adds to the database (``metadata``) and the folder of the
    Alembic revisions that create them (``versions``)."""

    metadata: MetaData
    versions: Path


LEDGER = SchemaLayer(schema.metadata, MIGRATIONS / "versions")


def alembic_config(layers: Sequence[SchemaLayer] = ()) -> Config:
    """The Alembic configuration of the ledger core plus ``layers``: their revisions are
    the history, their MetaData what autogenerate compares against."""
    every = (LEDGER, *layers)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(str(layer.versions) for layer in every))
    cfg.attributes["target_metadata"] = [layer.metadata for layer in every]
    return cfg


def upgrade(url: str, revision: str = "head", layers: Sequence[SchemaLayer] = ()) -> None:
    """Bring the database at ``url`` to ``revision`` of the history of the ledger core
    plus ``layers`` (creating a SQLite file's folder)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    cfg = alembic_config(layers)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()
