"""A small production SQL ledger built through the real code paths: rewards, a grant,
transfers, votes, Stripe purchases (one refunded) and a brand coin with trades and a
resting order, over three days; on the last, a parimutuel pool resolved with a house fee
and rounding dust burned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ledger import Ledger
from ledger.economy import Economy
from ledger.economy.config import load_config
from ledger.sql import SqlStore
from market import coins as coin_ops
from service.database import upgrade
from service.fake_stripe import FakeStripe
from service.market_state import MarketState
from tests.support.clock import Clock

USERS = ["alice", "bob", "carol", "dave"]


def build(url: str, fake: FakeStripe) -> dict[str, Any]:
    """Populate the migrated ledger at ``url``; returns the ledger, economy, market and clock."""
    upgrade(url)
    clock = Clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    ledger = Ledger(SqlStore(url), clock=clock)
    economy = Economy.build(ledger, load_config(), stripe_client=fake.client(max_network_retries=0),
                            webhook_secret=fake.webhook_secret)
    market = MarketState(ledger, ledger.store.engine)  # type: ignore[attr-defined]
    world = {"ledger": ledger, "economy": economy, "market": market, "clock": clock, "fake": fake}
    day1(world)
    clock.now += timedelta(days=1)
    day2(world)
    clock.now += timedelta(days=1)
    day3(world)
    return world


def buy(world: dict[str, Any], user: str, package: str) -> str:
    e, fake = world["economy"], world["fake"]
    sid = e.payments.create_checkout(user, package).payment.session_id
    body, header = fake.signed(fake.complete(sid))
    e.payments.handle_webhook(body, header)
    return sid


def day1(world: dict[str, Any]) -> None:
    rules = world["economy"].rules
    for u in USERS:
        rules.signup_bonus(u)
        rules.daily_login(u)
    rules.admin_grant("alice", 100, admin="ops", reason="launch gift")
    buy(world, "alice", "small")


def day2(world: dict[str, Any]) -> None:
    rules, ledger = world["economy"].rules, world["ledger"]
    for u in USERS[:3]:
        rules.daily_login(u)
    rules.vote("bob", "claim-1")
    ledger.transfer("user:alice", "user:carol", 30, "COIN", "TRANSFER")
    sid = buy(world, "bob", "starter")
    fake = world["fake"]
    body, header = fake.signed(fake.refund(sid))
    world["economy"].payments.handle_webhook(body, header)
    buy(world, "carol", "medium")


def day3(world: dict[str, Any]) -> None:
    market, ledger = world["market"], world["ledger"]
    world["economy"].rules.daily_login("alice")
    coin = market.launch("SHOPX", "Shop X", "user:dave", initial_price=100, max_supply=10_000, allocation=0)
    coin_ops.earn(ledger, coin, "user:dave", 5_000, coins_per_usd=1)
    market.submit("SHOPX", account="user:dave", side="sell", quantity=20, price=100)
    market.submit("SHOPX", account="user:alice", side="buy", quantity=5, price=100)
    market.submit("SHOPX", account="user:carol", side="buy", quantity=3, price=100)
    market.submit("SHOPX", account="user:bob", side="buy", quantity=4, price=95)
    # Pot 351: a 3% house fee of 10 burned; 341 split 101:100 floors to 171 + 169, 1 coin of dust burned.
    pools = world["economy"].pools
    pools.create("cup-final", "Cup final", ["home", "away"])
    pools.stake("cup-final", "alice", "home", 101)
    pools.stake("cup-final", "carol", "home", 100)
    pools.stake("cup-final", "alice", "away", 150)
    pools.resolve("cup-final", "home")
