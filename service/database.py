"""The whole database: the ledger core's tables, the economy layer's and the service's
own, built and upgraded by one Alembic history (0001 ledger, 0002 economy, 0003 service).
Everything that opens the production database (`coinlab serve`, `coinlab db upgrade`,
the tests' databases) migrates it here."""

from __future__ import annotations

from alembic.config import Config

from ledger.economy.schema import LAYER as ECONOMY
from ledger.sql import LEDGER, alembic_config
from ledger.sql import upgrade as _upgrade

from .tables import LAYER as SERVICE

__all__ = ["LAYERS", "config", "metadata", "upgrade"]

LAYERS = (ECONOMY, SERVICE)  # on top of the ledger core, in the order of their revisions
metadata = tuple(layer.metadata for layer in (LEDGER, *LAYERS))  # every table the code queries


def config() -> Config:
    """The Alembic configuration of the whole database."""
    return alembic_config(LAYERS)


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the whole database at ``url`` to ``revision`` (creating a SQLite file's folder)."""
    _upgrade(url, revision, LAYERS)
