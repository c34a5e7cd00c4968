"""Service fixtures: the app over a migrated SQLite file (PostgreSQL where a test asks),
the fake Stripe server, and one credential of every scope."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.fake_stripe import FakeStripe
from service.keys import KeyStore
from service.settings import Settings
from service.state import ServiceState


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


def settings_for(url: str, fake: FakeStripe | None = None, **kw: Any) -> Settings:
    stripe = {"stripe_api_key": fake.api_key, "stripe_api_base": fake.url,
              "stripe_webhook_secret": fake.webhook_secret} if fake else {}
    return Settings(**{"db": url, "migrate": False, "log_requests": False, "key_cache_seconds": 0, **stripe, **kw})


@pytest.fixture
def state(sqlite_url: str, fake_stripe: FakeStripe) -> Iterator[ServiceState]:
    s = ServiceState(settings_for(sqlite_url, fake_stripe))
    yield s
    s.close()


@pytest.fixture
def client(state: ServiceState) -> Iterator[TestClient]:
    with TestClient(create_app(state.settings, state)) as c:
        yield c


class Creds:
    """Tokens of every scope; ``h(...)`` builds request headers."""

    def __init__(self, keys: KeyStore) -> None:
        self.app = keys.create("app")[1]
        self.admin = keys.create("admin")[1]
        self.read = keys.create("read")[1]
        self.alice = keys.create("user", user_id="alice")[1]
        self.bob = keys.create("user", user_id="bob")[1]

    @staticmethod
    def h(token: str | None = None, user: str | None = None, key: str | None = None) -> dict[str, str]:
        out = {}
        if token:
            out["Authorization"] = f"Bearer {token}"
        if user:
            out["X-User-Id"] = user
        if key:
            out["Idempotency-Key"] = key
        return out

    def app_as(self, user: str, **kw: Any) -> dict[str, str]:
        return self.h(self.app, user, **kw)

    def admin_h(self, **kw: Any) -> dict[str, str]:
        return self.h(self.admin, **kw)


@pytest.fixture
def creds(state: ServiceState) -> Creds:
    return Creds(state.keys)


@pytest.fixture
def fund(state: ServiceState) -> Callable[[str, int], None]:
    """Give a user coins directly through the ledger (test setup, not under test)."""
    from ledger import user_account

    def give(user: str, amount: int, asset: str = "COIN") -> None:
        state.ledger.mint(user_account(user), amount, asset)

    return give
