"""Parimutuel pools: holds, caps, pro-rata floored payouts, fee and dust burned."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import BURN, ESCROW, InsufficientFunds, Ledger, LedgerError, MemoryStore
from ledger.economy.config import load_config
from ledger.economy.errors import PoolStateError, StakeCapExceeded
from ledger.economy.pools import Pools, pool_account, split_pot


def _funded(pools, *users, coins=1000):
    for u in users:
        pools.ledger.mint(f"user:{u}", coins)


def test_stakes_are_held_in_escrow(make_economy):
    e = make_economy()
    _funded(e.pools, "alice")
    e.pools.create("p1", "Rain?", ["yes", "no"])
    stake = e.pools.stake("p1", "alice", "yes", 300)
    assert e.ledger.balance("user:alice") == 700 and e.ledger.balance(ESCROW) == 300
    assert e.ledger.get_hold(stake.hold_id).ref_id == "p1"


def test_resolve_pays_winners_pro_rata_and_burns_fee_and_dust(make_economy):
    e = make_economy()
    _funded(e.pools, "a", "b", "c")
    e.pools.create("p1", "Rain?", ["yes", "no"])
    e.pools.stake("p1", "a", "yes", 100)
    e.pools.stake("p1", "b", "yes", 200)
    e.pools.stake("p1", "c", "no", 701)
    r = e.pools.resolve("p1", "yes")
    # pot 1001, fee floor(1001 * 3%) = 30, 971 shared 1:2 -> 323 and 647, dust 1
    assert (r.pot, r.fee, r.payouts, r.dust) == (1001, 30, {"a": 323, "b": 647}, 1)
    assert e.ledger.balance("user:a") == 1223 and e.ledger.balance("user:c") == 299
    assert e.ledger.balance(BURN) == 31
    assert e.ledger.balance(ESCROW) == 0 and e.ledger.balance(pool_account("p1")) == 0
    assert e.ledger.check().problems == ()


def test_the_house_fee_comes_from_the_config():
    for bps, fee in ((300, 30), (500, 50), (0, 0)):
        payouts, got, dust = split_pot([("a", "y", 500), ("b", "n", 500)], "y", bps)
        assert got == fee and payouts == {"a": 1000 - fee} and dust == 0
    pools = Pools(Ledger(MemoryStore()), load_config(overrides={"pools": {"house_fee_bps": 1000}}))
    _funded(pools, "a", "b")
    pools.create("p", "t", ["y", "n"])
    pools.stake("p", "a", "y", 100)
    pools.stake("p", "b", "n", 100)
    assert pools.resolve("p", "y").fee == 20


def test_void_returns_every_stake(make_economy):
    e = make_economy()
    _funded(e.pools, "a", "b")
    e.pools.create("p1", "Rain?", ["yes", "no"])
    e.pools.stake("p1", "a", "yes", 100)
    e.pools.stake("p1", "b", "no", 50)
    e.pools.void("p1")
    assert e.ledger.balance("user:a") == 1000 and e.ledger.balance("user:b") == 1000
    assert e.ledger.balance(BURN) == 0
    with pytest.raises(PoolStateError):
        e.pools.stake("p1", "a", "yes", 1)


def test_an_outcome_nobody_backed_returns_the_stakes(make_mem_economy):
    e = make_mem_economy()
    _funded(e.pools, "a")
    e.pools.create("p1", "t", ["yes", "no"])
    e.pools.stake("p1", "a", "yes", 100)
    r = e.pools.resolve("p1", "no")
    assert r.payouts == {} and e.ledger.balance("user:a") == 1000


def test_the_stake_cap_is_per_user_per_pool(make_economy):
    e = make_economy({"pools": {"max_stake_per_user": 150}})
    _funded(e.pools, "a", "b")
    e.pools.create("p1", "t", ["yes", "no"])
    e.pools.stake("p1", "a", "yes", 100)
    with pytest.raises(StakeCapExceeded):
        e.pools.stake("p1", "a", "no", 51)
    e.pools.stake("p1", "a", "no", 50)
    e.pools.stake("p1", "b", "yes", 150)
    assert e.ledger.balance("user:a") == 850


def test_concurrent_stakes_cannot_pass_the_cap(make_sql_economy):
    e = make_sql_economy({"pools": {"max_stake_per_user": 100}})
    _funded(e.pools, "a")
    e.pools.create("p1", "t", ["yes", "no"])

    def stake(_):
        try:
            return e.pools.stake("p1", "a", "yes", 30)
        except StakeCapExceeded:
            return None

    with ThreadPoolExecutor(8) as pool:
        made = [s for s in pool.map(stake, range(8)) if s is not None]
    assert len(made) == 3 and e.ledger.balance("user:a") == 910


def test_a_stake_without_coins_is_refused_and_not_counted(make_mem_economy):
    e = make_mem_economy()
    _funded(e.pools, "a", coins=10)
    e.pools.create("p1", "t", ["yes", "no"])
    with pytest.raises(InsufficientFunds):
        e.pools.stake("p1", "a", "yes", 11)
    assert e.pools.store.stakes("p1") == []


def test_a_keyed_stake_retry_is_not_staked_twice(make_mem_economy):
    e = make_mem_economy()
    _funded(e.pools, "a")
    e.pools.create("p1", "t", ["yes", "no"])
    first = e.pools.stake("p1", "a", "yes", 10, key="k")
    again = e.pools.stake("p1", "a", "yes", 10, key="k")
    assert first.hold_id == again.hold_id and e.ledger.balance("user:a") == 990


def test_resolving_twice_pays_once_and_a_different_outcome_is_refused(make_economy):
    e = make_economy()
    _funded(e.pools, "a", "b")
    e.pools.create("p1", "t", ["yes", "no"])
    e.pools.stake("p1", "a", "yes", 100)
    e.pools.stake("p1", "b", "no", 100)
    first = e.pools.resolve("p1", "yes")
    again = e.pools.resolve("p1", "yes")
    assert first.tx_id == again.tx_id and e.ledger.balance("user:a") == 1094
    with pytest.raises(PoolStateError):
        e.pools.resolve("p1", "no")


@pytest.mark.parametrize("bad", [
    lambda p: p.stake("p1", "a", "maybe", 10),
    lambda p: p.stake("p1", "a", "yes", 0),
    lambda p: p.stake("p1", "a", "yes", 2.5),
    lambda p: p.create("p2", "t", ["only"]),
    lambda p: p.create("p1", "t", ["x", "y"]),
])
def test_bad_input_is_refused(bad):
    pools = Pools(Ledger(MemoryStore()), load_config())
    _funded(pools, "a")
    pools.create("p1", "t", ["yes", "no"])
    with pytest.raises(LedgerError):
        bad(pools)
    assert pools.ledger.balance("user:a") == 1000


stakes_strategy = st.lists(
    st.tuples(st.sampled_from(["u1", "u2", "u3", "u4", "u5"]), st.sampled_from(["a", "b", "c"]),
              st.integers(1, 400)),
    min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(stakes=stakes_strategy, winner=st.sampled_from(["a", "b", "c"]), fee_bps=st.integers(0, 2000))
def test_conservation_stakes_in_equal_payouts_plus_burn(stakes, winner, fee_bps):
    ledger = Ledger(MemoryStore())
    pools = Pools(ledger, load_config(overrides={"pools": {"house_fee_bps": fee_bps, "max_stake_per_user": 10_000}}))
    _funded(pools, "u1", "u2", "u3", "u4", "u5", coins=10_000)
    pools.create("p", "t", ["a", "b", "c"])
    for user, outcome, amount in stakes:
        pools.stake("p", user, outcome, amount)
    r = pools.resolve("p", winner)
    pot = sum(a for _, _, a in stakes)
    returned = pot if not r.payouts else 0
    assert sum(r.payouts.values()) + r.fee + r.dust + returned == pot
    assert ledger.balance(BURN) == r.fee + r.dust
    assert sum(ledger.balance(f"user:{u}") for u in ("u1", "u2", "u3", "u4", "u5")) == 50_000 - r.fee - r.dust
    assert ledger.balance(ESCROW) == 0 and ledger.balance(pool_account("p")) == 0
    # each winner gets at least their floor share, never more than the exact share
    backed = {}
    for u, o, a in stakes:
        if o == winner:
            backed[u] = backed.get(u, 0) + a
    for u, paid in r.payouts.items():
        assert paid * sum(backed.values()) <= (pot - r.fee) * backed[u]
    assert ledger.check().problems == ()
