"""The HTTP service: API keys, stored Idempotency-Key responses, brand coins, market
orders and the trade tape (tables defined in ledger/service_schema.py).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("user_id", sa.String(120)),
        sa.Column("name", sa.String(120), nullable=False, server_default=""),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ),
    )
    op.create_table(
        "http_idempotency",
        sa.Column("owner", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("content_type", sa.String(100)),
        sa.Column("body", sa.LargeBinary),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "brand_coins",
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("seller", sa.String(160), nullable=False),
        sa.Column("max_supply", sa.BigInteger, nullable=False),
        sa.Column("initial_price", sa.BigInteger, nullable=False),
        sa.Column("launched_at", TZ, nullable=False),
        sa.Column("allocation", sa.BigInteger, nullable=False),
        sa.Column("cliff_days", sa.Integer, nullable=False),
        sa.Column("vesting_days", sa.Integer, nullable=False),
        sa.Column("floor_price", sa.BigInteger),
    )
    op.create_table(
        "market_orders",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("account", sa.String(160), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("remaining", sa.BigInteger, nullable=False),
        sa.Column("filled", sa.BigInteger, nullable=False),
        sa.Column("tif", sa.String(4), nullable=False),
        sa.Column("post_only", sa.Boolean, nullable=False),
        sa.Column("expires_at", TZ),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("hold_id", sa.String(40)),
        sa.Column("locked", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(60)),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_market_orders_status", "market_orders", ["status", "symbol"])
    op.create_index("ix_market_orders_account", "market_orders", ["account", "id"])
    op.create_table(
        "market_trades",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("time", TZ, nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("quote", sa.BigInteger, nullable=False),
        sa.Column("buyer", sa.String(160), nullable=False),
        sa.Column("seller", sa.String(160), nullable=False),
        sa.Column("taker_side", sa.String(4), nullable=False),
        sa.Column("maker_order_id", sa.BigInteger),
        sa.Column("taker_order_id", sa.BigInteger),
        sa.Column("buyer_fee", sa.BigInteger, nullable=False),
        sa.Column("seller_fee", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_market_trades_symbol", "market_trades", ["symbol", "id"])


def downgrade() -> None:
    op.drop_index("ix_market_trades_symbol", "market_trades")
    op.drop_table("market_trades")
    op.drop_index("ix_market_orders_account", "market_orders")
    op.drop_index("ix_market_orders_status", "market_orders")
    op.drop_table("market_orders")
    op.drop_table("brand_coins")
    op.drop_table("http_idempotency")
    op.drop_table("api_keys")
