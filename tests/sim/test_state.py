"""Reading a warehouse source's state at the end of a day, and starting a model from it."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, timedelta

import duckdb
import pytest

from ledger import BURN, MINT
from sim.forecast import _alive_chance, start_model
from sim.scenario import load_scenario
from sim.state import ESCROW, StateError, read_state

DAY20 = date(2026, 1, 20)


def _entries(root, run_id):
    return f"read_parquet('{root}/entries/run_id={run_id}/*.parquet')"


def test_the_state_on_the_last_day_is_the_runs_final_balances(forecast_source):
    root, rid, model = forecast_source
    st = read_state(root, rid)
    assert st.day == date(2026, 1, 30)
    final = {k: v for k, v in model.ledger.store.book.balances.items() if v}
    assert st.balances == final


def test_the_state_at_a_day_replays_only_that_days_journal(forecast_source):
    root, rid, _ = forecast_source
    st = read_state(root, rid, DAY20)
    con = duckdb.connect()
    out, back = con.execute(
        f"SELECT sum(amount) FILTER (WHERE from_account = '{MINT}'), "
        f"coalesce(sum(amount) FILTER (WHERE to_account = '{MINT}'), 0) FROM {_entries(root, rid)} "
        "WHERE asset = 'COIN' AND time < TIMESTAMPTZ '2026-01-21 00:00:00+00'").fetchall()[0]
    con.close()
    assert st.totals["issued"] == out - back
    for asset in {s for _, s in st.balances}:
        assert sum(v for (_, s), v in st.balances.items() if s == asset) == 0, asset


def test_open_holds_explain_the_escrow(forecast_source):
    root, rid, _ = forecast_source
    st = read_state(root, rid, DAY20)
    held: dict[str, int] = defaultdict(int)
    for h in st.open_holds:
        held[h.asset] += h.amount
    assert held and all(held[a] == st.balance(ESCROW, a) for a in held)


def test_user_histories_count_sessions_streaks_and_purchases(forecast_source):
    root, rid, model = forecast_source
    st = read_state(root, rid)
    by_account = {u.account: u for u in st.users}
    live = {u.account: u for u in model.users}
    assert set(by_account) == set(live)  # app users only: no shops, traders or whales
    for acct in list(by_account)[:200]:
        h, agent = by_account[acct], live[acct]
        assert h.sessions == agent.sessions
        assert h.purchases <= agent.purchases  # the agent counts checkouts; the journal the paid ones
        if h.last_session is not None:
            assert (h.last_session - date(2026, 1, 1)).days == agent.last_day
            assert h.streak == agent.streak
    assert any(h.bettor for h in st.users) and any(h.spent_cents > 0 for h in st.users)


def test_a_model_started_from_a_state_opens_every_balance_through_the_ledger(forecast_source):
    root, rid, _ = forecast_source
    st = read_state(root, rid, DAY20)
    m = start_model(load_scenario("baseline"), st, days=3, seed=1, check_each_day=True)
    m.assert_invariants()
    locked: dict[tuple[str, str], int] = defaultdict(int)
    for h in st.open_holds:
        locked[(h.account, h.asset)] += h.amount
    relocked: dict[tuple[str, str], int] = defaultdict(int)
    for h in m.ledger.store.all_holds():
        if h.status == "LOCKED":
            relocked[(h.account, h.asset)] += h.amount
    for (acct, asset), bal in st.balances.items():
        if acct != ESCROW:
            assert m.ledger.balance(acct, asset) + relocked[(acct, asset)] == bal + locked[(acct, asset)], acct
    opening = [e for e in m.ledger.store.book.journal if e.entry_type == "OPENING_BALANCE"]
    assert opening and all(type(e.amount) is int for e in opening)
    assert m.ledger.balance("system:opening", "COIN") == 0


def test_supply_continues_across_the_opening(forecast_source):
    root, rid, _ = forecast_source
    st = read_state(root, rid, DAY20)
    m = start_model(load_scenario("baseline"), st, days=2, seed=1)
    assert -m.ledger.balance(MINT) == st.totals["issued"] and m.ledger.balance(BURN) == st.totals["burned"]
    m.step()
    day1 = m.today
    assert day1["day"] == DAY20 + timedelta(days=1)
    assert day1["issued"] - day1["issued_today"] == st.totals["issued"]
    assert day1["issued_today"] == day1["free_issued_today"] + day1["purchased_issued_today"] + day1["bonus_issued_today"]
    assert day1["users"] >= len(st.users)


def test_started_users_carry_their_history_and_new_users_get_new_ids(forecast_source):
    root, rid, _ = forecast_source
    st = read_state(root, rid, DAY20)
    m = start_model(load_scenario("baseline"), st, days=2, seed=1)
    origin_ids = {u.account for u in st.users}
    hist = {u.account: u for u in st.users}
    assert m.users and all(u.account in origin_ids for u in m.users)
    for u in m.users[:100]:
        h = hist[u.account]
        assert (u.sessions, u.streak, u.purchases) == (h.sessions, h.streak, h.purchases)
        assert u.joined <= 0
    m.run_days(2)
    new = [u for u in m.users if u.account not in origin_ids]
    assert new and all(int(u.uid[1:]) > len(st.users) for u in new)


def test_payers_are_drawn_with_a_higher_willingness_to_pay(forecast_source):
    """Traits are posterior draws given the history: the users who paid get a willingness
    to pay well above the others' (no longer a rank assignment: not every payer above
    every other user)."""
    root, rid, _ = forecast_source
    st = read_state(root, rid, DAY20)
    m = start_model(load_scenario("baseline"), st, days=1, seed=2)
    spent = {u.account: u.spent_cents for u in st.users}
    alive = [u for u in m.users if u.account in spent]
    payers = [u.traits.wtp_cents for u in alive if spent[u.account] > 0]
    others = [u.traits.wtp_cents for u in alive if spent[u.account] == 0]
    assert payers and others
    assert statistics.median(payers) > 3 * statistics.median(others)
    assert statistics.median(payers) > m.behaviour.wtp_median_cents


def test_a_user_long_unseen_is_less_likely_alive():
    assert _alive_chance(0.05, 0.5, 0) == 1.0
    chances = [_alive_chance(0.05, 0.5, d) for d in (1, 3, 10)]
    assert chances == sorted(chances, reverse=True) and chances[-1] < 0.01


def test_a_state_outside_the_source_or_of_an_unknown_source_is_refused(forecast_source, tmp_path):
    root, rid, _ = forecast_source
    with pytest.raises(StateError, match="outside"):
        read_state(root, rid, date(2025, 12, 1))
    with pytest.raises(StateError, match="no warehouse source 'nope'"):
        read_state(root, "nope")


def test_the_state_holds_the_accounts_present_and_the_payments_as_they_stood(forecast_source):
    """Agents without an arrival reward (traders) are present; each checkout created before
    the cut is there with its status at the cut (paid then, or not), none after it."""
    root, rid, _ = forecast_source
    st = read_state(root, rid, DAY20)
    traders = {a for a in st.present if a.startswith("user:trader")}
    assert traders and not traders & {u.account for u in st.users}
    assert {u.account for u in st.users} <= st.present
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    glob = str(root / "payments" / f"run_id={rid}" / "*.parquet")
    n, paid = con.execute(f"SELECT count(*), count(*) FILTER (WHERE paid_at < ?1) FROM read_parquet('{glob}') "
                          "WHERE created_at < ?1", [st.at]).fetchall()[0]
    con.close()
    assert len(st.payments) == n and sum(p.status == "paid" for p in st.payments) == paid
    assert all(p.created_at < st.at for p in st.payments)
    spent = {u.account: u.spent_cents for u in st.users}
    for acct, cents in spent.items():
        if cents:
            assert cents == sum(p.price_cents for p in st.payments if f"user:{p.user_id}" == acct and p.status == "paid")
            break


def test_active_days_carry_sessions_balances_and_settled_bets(forecast_source):
    root, rid, model = forecast_source
    st = read_state(root, rid)
    for h in st.users[:200]:
        assert sum(d.session for d in h.days) == h.sessions
        if h.days:
            assert h.days[-1].balance == st.balance(h.account) or h.days[-1].day < st.day
    bets = [n for h in st.users for d in h.days for n in d.bets]
    assert any(n < 0 for n in bets) and any(n > 0 for n in bets)
