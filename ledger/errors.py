"""Ledger errors. Each carries a stable machine-readable ``code`` (the HTTP service maps
it to problem+json) and the facts a client needs to act on it. Raising any of them
means nothing was changed."""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccountFrozen",
    "HoldExpired",
    "HoldNotFound",
    "HoldNotLocked",
    "IdempotencyConflict",
    "InsufficientFunds",
    "InvalidRequest",
    "LedgerError",
    "UnknownAsset",
]


class LedgerError(Exception):
    code = "ledger_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "detail": str(self), **self.details}


class InvalidRequest(LedgerError):
    """Malformed input: a non-positive or non-integer amount, a bad address, ..."""

    code = "invalid_request"


class UnknownAsset(LedgerError):
    code = "unknown_asset"

    def __init__(self, asset: str) -> None:
        super().__init__(f"unknown asset {asset!r}", asset=asset)


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"

    def __init__(self, account: str, asset: str, required: int, balance: int) -> None:
        super().__init__(
            f"{account} has {balance} {asset}, needs {required}",
            account=account,
            asset=asset,
            required=required,
            balance=balance,
        )


class AccountFrozen(LedgerError):
    code = "account_frozen"

    def __init__(self, account: str) -> None:
        super().__init__(f"{account} is frozen", account=account)


class IdempotencyConflict(LedgerError):
    code = "idempotency_conflict"

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was used with a different payload", key=key)


class HoldNotFound(LedgerError):
    code = "hold_not_found"

    def __init__(self, hold_id: str) -> None:
        super().__init__(f"no hold {hold_id!r}", hold_id=hold_id)


class HoldNotLocked(LedgerError):
    code = "hold_not_locked"

    def __init__(self, hold_id: str, status: str) -> None:
        super().__init__(f"hold {hold_id!r} is {status}, not LOCKED", hold_id=hold_id, status=status)


class HoldExpired(LedgerError):
    code = "hold_expired"

    def __init__(self, hold_id: str) -> None:
        super().__init__(f"hold {hold_id!r} has expired", hold_id=hold_id)
