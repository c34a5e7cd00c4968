"""SQL tables of the ledger core (SQLAlchemy Core). Migration 0001 creates them; this
module is what the store queries and what the migration test compares against. The
layers built on the core keep their tables on MetaData of their own
(ledger.economy.schema, service.tables)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

__all__ = [
    "APPEND_ONLY", "accounts", "assets", "balances", "entries", "holds", "idempotency_keys", "journal_head", "metadata",
    "transactions",
]

metadata = MetaData()

# Tables rows are only ever added to: triggers refuse UPDATE, DELETE and TRUNCATE, and
# the service's role may only read and insert them (service.database.grant_app_role).
APPEND_ONLY = ("entries", "transactions", "idempotency_keys")

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Address = String(160)
Code = String(16)
Id = String(40)
Hash = String(64)  # SHA-256, hex

assets = Table(
    "assets", metadata,
    Column("code", Code, primary_key=True),
    Column("scale", SmallInteger, nullable=False),
    Column("name", String(100), nullable=False, server_default=""),
)

accounts = Table(
    "accounts", metadata,
    Column("address", Address, primary_key=True),
    Column("allow_negative", Boolean, nullable=False, server_default="0"),
    Column("frozen", Boolean, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# The current balance of each (account, asset); rows are locked to serialize writers.
balances = Table(
    "balances", metadata,
    Column("account", Address, primary_key=True),
    Column("asset", Code, primary_key=True),
    Column("balance", BigInteger, nullable=False),
)

transactions = Table(
    "transactions", metadata,
    Column("id", Id, primary_key=True),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("entry_type", String(40), nullable=False),
    Column("idempotency_key", String(200)),
    Column("hold_id", Id),
)

# The journal: append-only (triggers in the migrations refuse UPDATE, DELETE and
# TRUNCATE). ``hash`` chains each entry to the one before (ledger.engine.entry_hash).
entries = Table(
    "entries", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("tx_id", Id, nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("entry_type", String(40), nullable=False),
    Column("asset", Code, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("from_account", Address, nullable=False),
    Column("to_account", Address, nullable=False),
    Column("from_before", BigInteger, nullable=False),
    Column("from_after", BigInteger, nullable=False),
    Column("to_before", BigInteger, nullable=False),
    Column("to_after", BigInteger, nullable=False),
    Column("ref_type", String(60)),
    Column("ref_id", String(200)),
    Column("idempotency_key", String(200)),
    Column("metadata", JSON),
    Column("note", Text),
    Column("hash", Hash),
    Index("ix_entries_tx_id", "tx_id"),
    Index("ix_entries_from_account", "from_account", "id"),
    Index("ix_entries_to_account", "to_account", "id"),
    Index("ix_entries_time", "time"),
)

# The chain's head: one row (id 1), the last journal id and its hash. A batch locks it
# to number and chain its entries after the last committed one, so journal ids never
# skip and follow commit order.
journal_head = Table(
    "journal_head", metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("last_id", BigInteger, nullable=False),
    Column("hash", Hash, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("key", String(200), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("tx_id", Id, nullable=False),
)

holds = Table(
    "holds", metadata,
    Column("id", Id, primary_key=True),
    Column("account", Address, nullable=False),
    Column("asset", Code, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("settled_at", DateTime(timezone=True)),
    Column("ref_type", String(60)),
    Column("ref_id", String(200)),
    Index("ix_holds_account_status", "account", "status"),
    Index("ix_holds_status", "status"),
)
