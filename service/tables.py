"""SQL tables the HTTP service persists (SQLAlchemy Core, on a MetaData of its own):
API keys, stored responses for the ``Idempotency-Key`` header, and the brand-coin
market's launched coins, orders and trade tape, so the books survive a restart.
Migration 0003 (service/migrations/) creates them; `LAYER` puts both in the database's
one Alembic history (service.database)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

from ledger.sql.migrate import SchemaLayer

__all__ = ["LAYER", "api_keys", "brand_coins", "http_idempotency", "market_orders", "market_trades", "metadata"]

metadata = MetaData()
LAYER = SchemaLayer(metadata, Path(__file__).resolve().parent / "migrations")

TZ = DateTime(timezone=True)

# A credential is stored only as sha256 of its secret; ``scope`` is app, admin, read or
# user (then ``user_id`` is the one user it may act for).
api_keys = Table(
    "api_keys", metadata,
    Column("id", String(24), primary_key=True),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("scope", String(10), nullable=False),
    Column("user_id", String(120)),
    Column("name", String(120), nullable=False, server_default=""),
    Column("created_at", TZ, nullable=False),
    Column("revoked_at", TZ),
)

# The first response to each (caller, Idempotency-Key); ``status`` is NULL while the
# first request is still running.
http_idempotency = Table(
    "http_idempotency", metadata,
    Column("owner", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status", Integer),
    Column("content_type", String(100)),
    Column("body", LargeBinary),
    Column("created_at", TZ, nullable=False),
)

brand_coins = Table(
    "brand_coins", metadata,
    Column("symbol", String(16), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("seller", String(160), nullable=False),
    Column("max_supply", BigInteger, nullable=False),
    Column("initial_price", BigInteger, nullable=False),
    Column("launched_at", TZ, nullable=False),
    Column("allocation", BigInteger, nullable=False),
    Column("cliff_days", Integer, nullable=False),
    Column("vesting_days", Integer, nullable=False),
    Column("floor_price", BigInteger),
)

market_orders = Table(
    "market_orders", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("symbol", String(16), nullable=False),
    Column("account", String(160), nullable=False),
    Column("side", String(4), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("filled", BigInteger, nullable=False),
    Column("tif", String(4), nullable=False),
    Column("post_only", Boolean, nullable=False),
    Column("expires_at", TZ),
    Column("status", String(10), nullable=False),
    Column("hold_id", String(40)),
    Column("locked", BigInteger, nullable=False),
    Column("reason", String(60)),
    Column("created_at", TZ, nullable=False),
    Index("ix_market_orders_status", "status", "symbol"),
    Index("ix_market_orders_account", "account", "id"),
)

market_trades = Table(
    "market_trades", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("symbol", String(16), nullable=False),
    Column("time", TZ, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("quote", BigInteger, nullable=False),
    Column("buyer", String(160), nullable=False),
    Column("seller", String(160), nullable=False),
    Column("taker_side", String(4), nullable=False),
    Column("maker_order_id", BigInteger),
    Column("taker_order_id", BigInteger),
    Column("buyer_fee", BigInteger, nullable=False),
    Column("seller_fee", BigInteger, nullable=False),
    Index("ix_market_trades_symbol", "symbol", "id"),
)
