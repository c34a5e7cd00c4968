"""API keys and user tokens. A credential is ``ck_<id>_<secret>``; only sha256 of the
whole string is stored, so a database leak does not leak working keys.

Scopes: ``app`` acts for any user (server to server, the user in ``X-User-Id``);
``admin`` is app plus the admin routes; ``read`` may only read (any user);
``user`` is a user token that acts for exactly one user."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Literal, NamedTuple

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from service.tables import api_keys

__all__ = ["SCOPES", "ApiKey", "KeyStore", "hash_secret"]

SCOPES = ("app", "admin", "read", "user")
USER_ID_RE = re.compile(r"^[A-Za-z0-9_.@\-]{1,120}$")


def _utc(t: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every time here is UTC
    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t


def hash_secret(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiKey(NamedTuple):
    """A stored credential: ``user_id`` is set only for scope ``user``."""

    id: str
    scope: str
    user_id: str | None
    name: str
    created_at: datetime
    revoked_at: datetime | None = None


class KeyStore:
    def __init__(self, engine: Engine, cache_seconds: float = 5.0) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def create(self, scope: str, *, user_id: str | None = None, name: str = "") -> tuple[ApiKey, str]:
        """A new key; returns it and the secret token (shown once, never stored)."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        if (scope == "user") != (user_id is not None):
            raise ValueError("a user token needs --user; other scopes take no user")
        if user_id is not None and not USER_ID_RE.match(user_id):
            raise ValueError(f"bad user id {user_id!r}")
        key_id = secrets.token_hex(8)
        token = f"ck_{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(key_id, scope, user_id, name, datetime.now(UTC))
        with self.engine.begin() as conn:
            conn.execute(insert(api_keys).values(id=key.id, secret_hash=hash_secret(token), scope=scope,
                                                 user_id=user_id, name=name, created_at=key.created_at))
        return key, token

    def revoke(self, key_id: str) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                                .values(revoked_at=datetime.now(UTC))).rowcount
        with self._lock:
            self._cache.clear()
        return bool(done)

    def list(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at)).all()
        return [ApiKey(r.id, r.scope, r.user_id, r.name, _utc(r.created_at), _utc(r.revoked_at)) for r in rows]  # type: ignore[arg-type]

    def cached(self, token: str) -> ApiKey | None | Literal[False]:
        """What `verify` would answer from the cache alone; False when it must read the database."""
        hit = self._cache.get(hash_secret(token))
        if hit is not None and time.monotonic() - hit[0] < self.cache_seconds:
            return hit[1]
        return False

    def verify(self, token: str) -> ApiKey | None:
        """The live key this token belongs to, or None."""
        digest = hash_secret(token)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < self.cache_seconds:
            return hit[1]
        with self.engine.connect() as conn:
            r = conn.execute(select(api_keys).where(api_keys.c.secret_hash == digest)).first()
        key = None
        if r is not None and r.revoked_at is None:
            key = ApiKey(r.id, r.scope, r.user_id, r.name, _utc(r.created_at), None)  # type: ignore[arg-type]
        with self._lock:
            if len(self._cache) > 10000:
                self._cache.clear()
            self._cache[digest] = (now, key)
        return key
