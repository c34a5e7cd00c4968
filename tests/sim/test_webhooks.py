"""Webhook chaos (late, duplicated, reordered, unpaid-then-paid, refunded, disputed) credits
each paid session exactly once and nothing else."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from ledger import EntryType
from sim import EconomyModel, load_scenario

CHAOS = {"population": {"stripe": {
    "duplicate_share": 0.6, "reorder_share": 0.4, "async_share": 0.3, "async_fail_share": 0.3,
    "abandon_share": 0.2, "refund_share": 0.3, "dispute_share": 0.05, "mean_delay_seconds": 900.0}},
    "behaviour": {"wtp_median_cents": 3.0}}  # a population of eager buyers


def _credits(model) -> Counter:
    return Counter(e.ref_id for e in model.ledger.store.iter_journal() if e.entry_type == EntryType.COIN_PURCHASE)


def _run(signed: bool):
    overrides = {**CHAOS, "population": {**CHAOS["population"],  # type: ignore[dict-item]
                                         "stripe": {**CHAOS["population"]["stripe"], "signed": signed}}}
    model = EconomyModel(load_scenario("package_pricing", overrides=overrides), users=150, days=6, seed=5)
    model.run_days()
    model.env.run(until=model.env.now + 30 * 86400)  # let every late event land
    return model


def test_every_paid_session_is_credited_exactly_once_under_chaos():
    model = _run(signed=True)
    credits = _credits(model)
    outcomes = model.stripe.outcomes
    assert model.stripe.paid and outcomes["duplicate"] > 0 and outcomes["pending"] + outcomes["refunded"] > 0
    assert {sid: credits[sid] for sid in model.stripe.paid} == {sid: 1 for sid in model.stripe.paid}
    assert set(credits) == model.stripe.paid  # nothing unpaid was credited


def test_unsigned_equivalent_events_credit_the_same_way():
    model = _run(signed=False)
    credits = _credits(model)
    assert set(credits) == model.stripe.paid and set(credits.values()) == {1}
    assert model.ledger.check().ok


def test_refunds_reverse_revenue_and_are_booked_once():
    model = _run(signed=True)
    records = {p.session_id: p for p in model.economy.payments.store.all()}
    # agents keep buying while the late events land: a refund comes within 7 days (+ delays)
    settled = model.clock() - timedelta(days=8)
    checked = [sid for sid in model.stripe.refunded if records[sid].created_at <= settled]
    assert checked
    for sid in checked:
        assert records[sid].refunded_cents == model.stripe.refunded[sid]
    booked = sum(r.refunded_cents for r in records.values())
    assert booked <= sum(model.stripe.refunded.values())  # nothing refunded that the bank did not
    gross = sum(records[s].price_cents for s in model.stripe.paid)
    assert model.ledger.balance("platform:revenue", "USD") == gross - booked
