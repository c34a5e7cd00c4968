"""Belt challenges and tournaments (tables defined in ledger/economy/schema.py).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "belt_challenges",
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("challenger", sa.String(120), nullable=False),
        sa.Column("belt_value", sa.BigInteger, nullable=False),
        sa.Column("entry_fee", sa.BigInteger, nullable=False),
        sa.Column("hold_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("winner", sa.String(120)),
        sa.Column("loser", sa.String(120)),
        sa.Column("tx_id", sa.String(40)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("settled_at", TZ),
    )
    op.create_table(
        "tournaments",
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("creator", sa.String(120), nullable=False),
        sa.Column("entry_fee", sa.BigInteger, nullable=False),
        sa.Column("prize_bps", sa.JSON, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("placements", sa.JSON),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("settled_at", TZ),
    )
    op.create_table(
        "tournament_entries",
        sa.Column("tournament_id", sa.String(60), primary_key=True),
        sa.Column("user_id", sa.String(120), primary_key=True),
        sa.Column("hold_id", sa.String(40)),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tournament_entries")
    op.drop_table("tournaments")
    op.drop_table("belt_challenges")
