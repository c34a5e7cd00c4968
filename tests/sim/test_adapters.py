"""The simulator's indexes answer exactly what the production code's journal scans answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger import Ledger, MemoryStore
from ledger.economy.config import load_config
from ledger.economy.payment_store import MemoryPaymentStore, PaymentRecord, StoredEvent
from ledger.economy.pools import MemoryPoolStore, Pools
from ledger.economy.rules import EconomyRules
from sim.adapters import IndexedMemoryStore, IndexedPaymentStore, IndexedPoolStore, SimRules
from tests.support.clock import Clock


def test_sim_rules_pay_the_same_streaks_and_logins_as_the_journal_scan():
    cfg = load_config()
    clock = Clock(datetime(2026, 1, 1, 9, tzinfo=UTC))
    real = EconomyRules(Ledger(MemoryStore(), clock=clock), cfg)
    sim = SimRules(Ledger(IndexedMemoryStore(), clock=clock), cfg)
    pattern = [1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1]
    for day, logs_in in enumerate(pattern):
        clock.now = datetime(2026, 1, 1, 9, tzinfo=UTC) + timedelta(days=day)
        if logs_in:
            a, b = real.daily_login("alice"), sim.daily_login("alice")
            again = sim.daily_login("alice")
            assert (a.streak is None, a.streak_length) == (b.streak is None, b.streak_length)
            assert again.login.replayed
    assert sorted(real.ledger.store.stored_balances()) == sorted(sim.ledger.store.stored_balances())


def test_the_login_index_prunes_old_days_without_changing_a_streak():
    """Past 40 indexed days the index drops those over 30 days old: a long daily habit
    with gaps pays what the journal scan pays, and the index stays small."""
    cfg = load_config()
    clock = Clock(datetime(2026, 1, 1, 9, tzinfo=UTC))
    real = EconomyRules(Ledger(MemoryStore(), clock=clock), cfg)
    sim = SimRules(Ledger(IndexedMemoryStore(), clock=clock), cfg)
    for day in range(150):
        if day % 23 == 22 or day % 37 == 36:
            continue
        clock.now = datetime(2026, 1, 1, 9, tzinfo=UTC) + timedelta(days=day)
        a, b = real.daily_login("alice"), sim.daily_login("alice")
        assert (a.streak is None, a.streak_length) == (b.streak is None, b.streak_length), day
    assert sorted(real.ledger.store.stored_balances()) == sorted(sim.ledger.store.stored_balances())
    days = sim.ledger.store.day_credits[("user:alice", "DAILY_LOGIN")]
    today = clock.now.date()
    assert today in days and len(days) <= 41 and min(days) >= today - timedelta(days=40)
    assert {today - timedelta(days=n) for n in range(31) if (149 - n) % 23 != 22 and (149 - n) % 37 != 36} <= days


def test_staked_on_follows_the_stakes_in_the_journal():
    cfg = load_config(overrides={"phase2": {"daily_bonus_requires_stake": True}})
    clock = Clock(datetime(2026, 1, 1, 9, tzinfo=UTC))
    for rules in (EconomyRules(Ledger(MemoryStore(), clock=clock), cfg),
                  SimRules(Ledger(IndexedMemoryStore(), clock=clock), cfg)):
        rules.ledger.mint("user:bob", 50)
        pools = Pools(rules.ledger, cfg)
        pools.create("p1", "x", ("yes", "no"))
        assert not rules.staked_on("bob", clock.now.date())
        pools.stake("p1", "bob", "yes", 5)
        assert rules.staked_on("bob", clock.now.date())
        assert not rules.staked_on("bob", clock.now.date() + timedelta(days=1))


def _rec(sid: str, user: str, pi: str | None = None) -> PaymentRecord:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    return PaymentRecord(sid, user, "small", 999, "usd", 999, 25, None, "open", t, t, payment_intent=pi)


def test_indexed_payment_store_answers_like_the_scanning_one():
    stores = (MemoryPaymentStore(), IndexedPaymentStore())
    t = datetime(2026, 1, 1, tzinfo=UTC)
    for s in stores:
        s.add(_rec("cs1", "a"))
        s.add(_rec("cs2", "b", "pi2"))
        s.add(_rec("cs3", "a"))
        s.update("cs1", payment_intent="pi1")
        s.record_event(StoredEvent("e1", "charge.refunded", "pending", "pi1", t, {}))
        s.record_event(StoredEvent("e2", "charge.refunded", "processed", "pi1", t, {}))
    plain, fast = stores
    assert fast.for_user("a") == plain.for_user("a") and fast.for_user("zz") == []
    assert fast.by_payment_intent("pi1") == plain.by_payment_intent("pi1")
    assert fast.by_payment_intent("pi2").session_id == "cs2"
    assert fast.pending_events("pi1") == plain.pending_events("pi1") and len(fast.pending_events("pi1")) == 1


def test_indexed_pool_store_keeps_caps_and_stakes_per_pool():
    cfg = load_config(overrides={"pools": {"max_stake_per_user": 10}})
    results = []
    for store in (MemoryPoolStore(), IndexedPoolStore()):
        ledger = Ledger(MemoryStore())
        ledger.mint("user:c", 100)
        pools = Pools(ledger, cfg, store)
        pools.create("p1", "x", ("yes", "no"))
        pools.create("p2", "y", ("yes", "no"))
        pools.stake("p1", "c", "yes", 6)
        pools.stake("p2", "c", "no", 10)
        try:
            pools.stake("p1", "c", "yes", 5)
        except Exception as err:  # the cap
            results.append(type(err).__name__)
        results.append([(s.pool_id, s.amount) for s in store.stakes("p1")])
    assert results[:2] == results[2:] and results[0] == "StakeCapExceeded"


def test_concentration_is_gini_and_top_share_from_one_sort():
    import math
    import random

    from sim.model import concentration, gini, top_share

    def reference(values: list[int]) -> tuple[float, float]:
        xs = sorted(v for v in values if v > 0)
        n, total = len(xs), sum(xs)
        if not n:
            return 0.0, 0.0
        g = (2.0 * sum((i + 1) * x for i, x in enumerate(xs))) / (n * total) - (n + 1.0) / n
        top = sorted(xs, reverse=True)[:max(1, math.ceil(n * 0.01))]
        return g, sum(top) / total

    r = random.Random(5)
    for values in ([], [0, 0], [-3, 0, 7], [5], [1, 1, 1, 1], [r.randrange(-50, 5000) for _ in range(777)]):
        assert concentration(values) == reference(values) == (gini(values), top_share(values))


def test_the_sim_rules_read_account_age_and_activity_as_the_journal_scan_does():
    from ledger import Ledger
    from ledger.economy.config import load_config
    from ledger.economy.rules import EconomyRules
    from sim.adapters import IndexedMemoryStore, SimRules

    cfg = load_config(overrides={"antisybil": {"min_activity": 3, "min_account_age_days": 1}})
    ledger = Ledger(IndexedMemoryStore())
    sim_rules, prod_rules = SimRules(ledger, cfg), EconomyRules(ledger, cfg)
    sim_rules.guest_initial("a")
    ledger.mint("user:a", 20)
    for claim in ("c1", "c2"):
        sim_rules.vote("a", claim)
    sim_rules.unlock_deep_analysis("a", "c1")
    for user in ("a", "nobody"):
        assert sim_rules.account_opened(user) == prod_rules.account_opened(user)
        assert sim_rules.activity(user, 3) == prod_rules.activity(user, 3)
    assert sim_rules.activity("a", 10) == prod_rules.activity("a", 10) == 3
