"""The service's settings: one pydantic-settings class, read from ``COINLAB_*``
environment variables (``coinlab serve`` sets them for its uvicorn workers)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.sql import DEFAULT_URL

__all__ = ["Settings"]


class Settings(BaseSettings):
    """db: ledger database URL (SQLite file by default, postgresql://... in production).
    workers: how many uvicorn processes serve this database. The brand-coin market keeps
      its books in the memory of one process: with one worker it is that worker's; with
      more, a process of its own that the workers forward to (``market_socket``), or
      without one its routes answer 503.
    market_socket: the Unix socket of the market process (service.forward); ``coinlab
      serve --workers N`` starts that process and sets this for its workers.
    writer_socket: the Unix socket of the one writer of several processes
      (service.writer_socket): the market process serves it, the workers send their
      ledger writes to it. Set by ``coinlab serve --workers N``.
    economy_config: the economy TOML (None: data/economy.toml).
    stripe_*: the Stripe API key, an alternative API base (the local fake in tests) and
      the webhook signing secret.
    migrate: apply migrations when the app starts.
    group_commit: commit the ledger writes, and the stored Idempotency-Key responses, of
      concurrent requests together (one COMMIT per batch; see service.batching).
    key_cache_seconds: how long a verified API key is remembered in the process (a
      revoked key stops working within this time).
    freeze_gc: when the app starts, move every object built so far out of the cycle
      collector's reach (`gc.freeze`) and collect the young generation every 10,000
      allocations instead of 700. Set by ``coinlab serve``; off in-process (tests), since
      it changes the whole process's collector.
    max_body_bytes: the largest request body accepted (default 1 MiB); a larger one is
      answered 413 from its Content-Length, before it is read or anything else is done.
    log_requests: one JSON line per request on stdout.

    Without ``stripe_api_key`` or ``stripe_webhook_secret`` the service still starts, with
    a loud warning, and ``/healthz`` reports ``payments: not configured``: checkouts fail
    and every webhook is refused."""

    model_config = SettingsConfigDict(env_prefix="COINLAB_", extra="ignore")

    db: str = DEFAULT_URL
    workers: int = 1
    market_socket: str | None = None
    writer_socket: str | None = None
    economy_config: str | None = None
    stripe_api_key: str = "sk_test_unset"
    stripe_api_base: str | None = None
    stripe_webhook_secret: str = ""
    migrate: bool = True
    group_commit: bool = True
    key_cache_seconds: float = 5.0
    log_requests: bool = True
    freeze_gc: bool = False
    max_body_bytes: int = Field(default=1 << 20, ge=1)
