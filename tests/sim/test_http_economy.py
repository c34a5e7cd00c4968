"""The two economies an agent can act on give the same ledger effects: the in-process one
(the real rules over an in-memory ledger) and the HTTP one (sim/http_economy.py, the real
service). Each test does the same agent calls on both and compares what the agents read
back and what the user's journal shows, so the two backends cannot drift apart."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from coinlab_cli.demo import DemoClock, running_service
from ledger import Ledger
from ledger.errors import InsufficientFunds
from ledger.sql import SqlStore
from service.database import upgrade
from service.fake_stripe import FakeStripe
from sim.agents import DAY, _credited, checkout
from sim.http_economy import HttpBackend, Tape
from sim.model import EconomyModel
from sim.scenario import load_scenario

USER = "alice"


def _scenario() -> Any:
    """The demo's population config with nobody in it (the tests are the only actors) and a
    Stripe whose customers always pay at once, as the fake server's do."""
    sc = load_scenario("demo")
    pop = sc.population
    pop = pop.model_copy(update={
        "users": 0,
        "market": pop.market.model_copy(update={"sellers": 0}),
        "betting": pop.betting.model_copy(update={"bettors_share": 0.0}),
        "stripe": pop.stripe.model_copy(update={"abandon_share": 0.0, "async_share": 0.0, "refund_share": 0.0,
                                                "dispute_share": 0.0}),
    })
    return sc.model_copy(update={"population": pop})


@pytest.fixture()
def both(tmp_path) -> Iterator[tuple[EconomyModel, EconomyModel, Ledger]]:
    """(in-process model, HTTP model, the service's ledger read directly)."""
    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    upgrade(db)
    clock = DemoClock()
    fake = FakeStripe().start()
    try:
        with running_service(db, fake, clock) as svc:
            fake.webhook_url = f"{svc.url}/api/webhooks/stripe"
            token = svc.state.keys.create("app", name="equivalence test")[1]
            backend = HttpBackend(svc.url, token, fake, clock.at, key_prefix="eq", tape=tmp_path / "tape.jsonl")
            local = EconomyModel(_scenario(), days=2)
            remote = EconomyModel(_scenario(), days=2, backend=backend)
            yield local, remote, Ledger(SqlStore(db))
            backend.close()
    finally:
        fake.stop()


def _journal(ledger: Ledger, user: str) -> list[tuple[str, str, int]]:
    return sorted((i.entry_type, i.asset, i.amount) for i in ledger.history(f"user:{user}", limit=1000))


def _act(m: EconomyModel) -> list[int]:
    """A new user's first day as the agents live it: the one-time rewards, the daily login
    (twice: the second is a replay), a vote, an unlock, a purchase paid on Stripe and, once
    the coins are in, a stake. Returns the coins each reward credited, as the agents read it."""
    rules = m.economy.rules
    got = [_credited(rules.guest_initial(USER)), _credited(rules.signup_bonus(USER)),
           _credited(rules.newsletter_bonus(USER))]
    for _ in range(2):
        res = rules.daily_login(USER)
        got += [_credited(res.login), _credited(res.streak)]
    rules.vote(USER, "0.1")
    rules.unlock_deep_analysis(USER, "0.1")
    assert checkout(m, USER, "small") is None
    m.env.run(until=DAY / 2)  # the simulated Stripe pays within minutes; the fake at once
    m.economy.pools.create("p1", "Is claim 0.1 upheld?", ("yes", "no"))
    m.economy.pools.stake("p1", USER, "yes", 10, key="stake-1")
    return got


def test_rewards_spends_a_purchase_and_a_stake_leave_the_same_journal_in_both_economies(both):
    local, remote, service_ledger = both
    assert _act(local) == _act(remote)
    assert _journal(local.ledger, USER) == _journal(service_ledger, USER)
    assert {"DAILY_LOGIN", "VOTE_SPENT", "DEEP_ANALYSIS_UNLOCK", "COIN_PURCHASE", "STAKE"} <= {
        t for t, _, _ in _journal(service_ledger, USER)}
    assert local.ledger.balance(f"user:{USER}") == remote.ledger.balance(f"user:{USER}")
    assert service_ledger.check().ok


def test_a_spend_the_balance_cannot_cover_is_refused_alike_and_changes_nothing(both):
    local, remote, service_ledger = both
    for m in (local, remote):
        with pytest.raises(InsufficientFunds):
            m.economy.rules.unlock_deep_analysis("bob", "0.1")
    assert _journal(service_ledger, "bob") == _journal(local.ledger, "bob") == []


def test_the_tape_keeps_every_answer_and_drops_a_torn_last_line(tmp_path):
    path = tmp_path / "tape.jsonl"
    tape = Tape(path)
    tape.record((200, {"a": 1}))  # type: ignore[arg-type]
    tape.record((409, {"code": "insufficient_funds"}))  # type: ignore[arg-type]
    tape.close()
    path.write_text(path.read_text() + '[200, {"tor')  # the process died writing the third
    again = Tape(path)
    assert [tuple(r) for r in again.replay] == [(200, {"a": 1}), (409, {"code": "insufficient_funds"})]
    assert again.next() is not None and again.next() is not None and again.next() is None
    assert path.read_text().count("\n") == 2


def test_a_purchase_refunded_on_the_fake_stripe_server_over_http_is_taken_back_by_the_service(both):
    """The bank's side the demo plays over HTTP (`HttpStripe`): pay, then a refund; the
    service's webhook takes the coins back. A refund that is not a whole number of cents
    is refused by the fake and changes nothing."""
    _, remote, service_ledger = both
    stripe = remote.stripe
    sid = remote.economy.payments.create_checkout(USER, "small").payment.session_id
    assert stripe._fake(sid, "complete").status == 200
    paid = remote.ledger.balance(f"user:{USER}")
    assert paid > 0
    assert stripe._fake(sid, "refund", {"amount": "all"}).status == 400
    assert remote.ledger.balance(f"user:{USER}") == paid
    assert stripe._fake(sid, "refund").status == 200
    assert remote.ledger.balance(f"user:{USER}") == 0
    assert stripe._fake(sid, "teleport").status == 404
    assert service_ledger.check().ok
