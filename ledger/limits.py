"""The limits a request must respect, read from the SQL schema (ledger.sql.schema), so
the engine refuses, identically for every store, what the database could not hold, and
the two cannot drift apart: a column made wider or narrower moves its limit with it."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, SmallInteger, String

from .sql import schema as s

__all__ = [
    "ADDRESS", "AMOUNT_MAX", "ASSET_CODE", "ASSET_NAME", "BALANCE_MAX", "BALANCE_MIN", "HOLD_ID", "KEY",
    "NOTE", "REF_ID", "REF_TYPE", "SCALE_MAX",
]


def _width(*columns: Column) -> int:
    """The narrowest of these string columns (they hold the same value in several tables)."""
    widths = []
    for col in columns:
        assert isinstance(col.type, String) and col.type.length is not None, f"{col} has no width"
        widths.append(col.type.length)
    return min(widths)


def _int_max(*columns: Column) -> int:
    """The largest value every one of these integer columns holds."""
    bits = []
    for col in columns:
        # SmallInteger and BigInteger subclass Integer: test the narrow/wide ones first.
        t = col.type
        bits.append(16 if isinstance(t, SmallInteger) else 64 if isinstance(t, BigInteger)
                    else 32 if isinstance(t, Integer) else 0)
        assert bits[-1], f"{col} is not an integer column"
    return 2 ** (min(bits) - 1) - 1


e, h = s.entries.c, s.holds.c
ADDRESS = _width(e.from_account, e.to_account, s.accounts.c.address, s.balances.c.account, h.account)
ASSET_CODE = _width(s.assets.c.code, e.asset, s.balances.c.asset, h.asset)
ASSET_NAME = _width(s.assets.c.name)
KEY = _width(e.idempotency_key, s.transactions.c.idempotency_key, s.idempotency_keys.c.key)
REF_TYPE = _width(e.ref_type, h.ref_type)
REF_ID = _width(e.ref_id, h.ref_id)
HOLD_ID = _width(h.id, s.transactions.c.hold_id)
NOTE = getattr(e.note.type, "length", None)  # Text: no width (None), but no NUL either
AMOUNT_MAX = _int_max(e.amount, h.amount)
BALANCE_MAX = _int_max(s.balances.c.balance, e.from_before, e.from_after, e.to_before, e.to_after)
BALANCE_MIN = -BALANCE_MAX - 1
SCALE_MAX = _int_max(s.assets.c.scale)
