"""Back-tests and forecasts from a warehouse source's state (sim/forecast.py) and their commands."""

from __future__ import annotations

import functools
import json
import math
from datetime import UTC, date, datetime

import duckdb
import pytest
from typer.testing import CliRunner

from coinlab_cli.main import app
from ledger.economy.errors import PromoRejected
from ledger.economy.payment_store import PaymentStatus
from sim import agents, run
from sim.agents import LOSS_AVERSION
from sim.behaviour import Traits
from sim.forecast import (
    ForecastError,
    _replayed_satisfaction,
    backtest,
    calibrated,
    daily_series,
    forecast,
    mape,
    start_model,
    uncalibrated,
)
from sim.model import EconomyModel
from sim.scenario import load_scenario
from sim.state import ActiveDay, UserHistory, read_state

runner = CliRunner()


def _runs(root, kind):
    files = list((root / "runs").glob("run_id=*/*.parquet"))
    if not files:
        return []
    con = duckdb.connect()
    rows = con.execute("SELECT run_id, kind, parameters FROM read_parquet(?, hive_partitioning = true) "
                       "WHERE kind = ? ORDER BY run_id", [[str(f) for f in files], kind]).fetchall()
    con.close()
    return rows


def _config(tmp_path, text, name="new.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_mape_skips_days_with_nothing_to_compare():
    assert mape([110, 90, 5], [100, 100, 0]) == pytest.approx(0.1)
    assert mape([1, 2], [0, 0]) is None


def test_a_calibrated_backtest_scores_every_metric_and_writes_backtest_runs(forecast_source):
    root, rid, _ = forecast_source
    bt = backtest(root, rid, 20, 10, seeds=2, calibrator=functools.partial(calibrated, design_users=600))
    assert bt.calibration.startswith("calibrated on")
    scores = {s.metric: s for s in bt.scores}
    for k in ("actives", "purchases", "revenue_cents", "issuance"):
        assert scores[k].mape is not None and math.isfinite(scores[k].mape), k
        assert len(scores[k].seed_mapes) == 2
    assert len(bt.actual["actives"]) == 10 and all(a > 0 for a in bt.actual["actives"])
    rows = [r for r in _runs(root, "backtest") if r[0] in bt.run_ids]
    assert len(rows) == 2
    meta = json.loads(rows[0][2])["forecast"]
    assert meta == {"variant": "backtest", "group": bt.group, "from_day": "2026-01-20", "source": rid}


def test_a_backtest_uses_the_calibration_step_it_is_given(forecast_source):
    root, rid, _ = forecast_source
    seen = []

    def calibrator(root_, source, to_day, base):
        seen.append((source, to_day))
        return load_scenario(base, sets=["behaviour.engagement_median=0.05"]), "test calibration"

    bt = backtest(root, rid, 20, 5, seeds=1, calibrator=calibrator, write=True)
    assert seen == [(rid, bt.fit_last)] and bt.calibration == "test calibration"
    params = json.loads([r for r in _runs(root, "backtest") if r[0] == bt.run_ids[0]][0][2])
    assert params["behaviour"]["engagement_median"] == 0.05


def test_a_backtest_longer_than_the_source_is_refused_and_writes_nothing(forecast_source):
    root, rid, _ = forecast_source
    before = len(_runs(root, "backtest"))
    with pytest.raises(ForecastError, match="has 30 days"):
        backtest(root, rid, 25, 10, calibrator=uncalibrated)
    assert len(_runs(root, "backtest")) == before


def test_a_forecast_with_a_richer_daily_login_issues_more(forecast_source, tmp_path):
    root, rid, _ = forecast_source
    new = _config(tmp_path, "[rewards]\ndaily_login = 10\n")
    fc = forecast(root, new, source=rid, days=8, seeds=3)
    assert fc.changes == ["economy.rewards.daily_login"]
    diff = fc.difference("free_issuance")
    assert diff.n == 3 and diff.low > 0
    rows = {r[0]: json.loads(r[2])["forecast"] for r in _runs(root, "forecast") if r[0].startswith(fc.group)}
    assert len(rows) == 6
    assert {m["variant"] for m in rows.values()} == {"current", "new"}
    assert {m["from_day"] for m in rows.values()} == {"2026-01-30"} and {m["group"] for m in rows.values()} == {fc.group}


def test_a_config_that_changes_nothing_is_said_so_and_simulated_once(forecast_source, tmp_path):
    root, rid, _ = forecast_source
    same = _config(tmp_path, "[rewards]\ndaily_login = 2\n")
    fc = forecast(root, same, source=rid, days=3, seeds=2)
    assert fc.no_change and set(fc.figures) == {"current"} and len(fc.run_ids["current"]) == 2
    res = runner.invoke(app, ["sim", "forecast", "--source", rid, "--config", str(same), "--days", "3", "--seeds",
                              "1", "--warehouse", str(root)])
    assert res.exit_code == 0, res.output
    assert "changes nothing" in " ".join(res.output.split())


def test_a_config_with_an_unknown_key_is_refused_before_anything_is_written(forecast_source, tmp_path):
    root, rid, _ = forecast_source
    before = len(_runs(root, "forecast"))
    bad = _config(tmp_path, "[rewards]\ndaily_logins = 10\n")
    with pytest.raises(ForecastError, match="daily_logins"):
        forecast(root, bad, source=rid, days=3, seeds=1)
    res = runner.invoke(app, ["sim", "forecast", "--source", rid, "--config", str(tmp_path / "missing.toml"),
                              "--warehouse", str(root)])
    assert res.exit_code == 2 and "not found" in " ".join(res.output.split())
    res = runner.invoke(app, ["sim", "forecast", "--source", "nope", "--config", str(bad), "--warehouse", str(root)])
    assert res.exit_code == 2
    assert len(_runs(root, "forecast")) == before


def test_backtest_command_prints_the_mape_table(forecast_source):
    root, rid, _ = forecast_source
    res = runner.invoke(app, ["sim", "backtest", "--source", rid, "--fit-days", "25", "--predict-days", "4",
                              "--seeds", "2", "--no-calibrate", "--warehouse", str(root)])
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "MAPE" in out and "actives" in out and "kind backtest" in out
    res = runner.invoke(app, ["sim", "backtest", "--source", rid, "--fit-days", "0", "--predict-days", "4",
                              "--warehouse", str(root)])
    assert res.exit_code == 2 and ">= 1" in " ".join(res.output.split())


def test_a_forecast_is_deterministic_for_a_seed(forecast_source):
    root, rid, _ = forecast_source
    st = read_state(root, rid)
    series = []
    for _ in range(2):
        m = start_model(load_scenario("baseline"), st, days=4, seed=11)
        m.run_days(4)
        series.append([dict(m.datacollector.model_vars)[k] for k in ("issued", "logins_today", "revenue_cents")])
    assert series[0] == series[1]


def test_daily_series_leave_the_opening_out_of_issuance(forecast_source, tmp_path):
    root, rid, _ = forecast_source
    bt = backtest(root, rid, 28, 2, seeds=1, calibrator=uncalibrated)
    got = daily_series(root, bt.run_ids[0], bt.days[0], bt.days[-1])
    st = read_state(root, rid, bt.fit_last)
    assert 0 < got["issuance"][0] < st.totals["issued"]


# -- resuming a source's state: what was already done is not done again -------------------------
RESUME_DAY = date(2026, 1, 20)


def test_a_resumed_trader_does_not_buy_its_opening_budget_again(forecast_source, monkeypatch):
    """Traders and whales in the source are funded already: they buy again only once their
    COIN falls under a fifth of the budget, or to finish a refill the daily limit stopped
    on the source's last day (the old code bought each one's whole budget again)."""
    root, rid, _ = forecast_source
    st = read_state(root, rid, RESUME_DAY)
    calls = []
    real = agents.refill

    def spy(model, uid, traits, target):
        calls.append((uid, model.ledger.balance(f"user:{uid}"), target))
        return real(model, uid, traits, target)

    monkeypatch.setattr(agents, "refill", spy)
    m = start_model(load_scenario("baseline"), st, days=6, seed=3)
    resumed = {t.uid: t for t in m.traders if t.resumed}
    assert resumed and {t.account for t in resumed.values()} <= st.present
    m.run_days(6)
    for uid, balance, budget in calls:
        t = resumed.get(uid)
        if t is not None and not t.refilling:
            assert balance < budget // 5, (uid, balance, budget)
    # what they bought is what those refills bought, not a budget each
    bought = sum(p.base_coins + p.bonus_coins for p in m.economy.payments.store.all()
                 if p.session_id not in m.carried_payments and p.paid_at is not None and p.user_id in resumed)
    assert bought < sum(t.budget for t in resumed.values()) // 2


def test_a_user_who_used_first50_in_the_source_is_not_offered_it_again(forecast_source):
    root, rid, _ = forecast_source
    st = read_state(root, rid, RESUME_DAY)
    used = sorted({p.user_id for p in st.payments if p.promo_code == "FIRST50" and p.status == PaymentStatus.PAID})
    assert used
    m = start_model(load_scenario("baseline"), st, days=1, seed=1)
    for uid in used[:5]:
        with pytest.raises(PromoRejected):
            m.economy.payments.create_checkout(uid, "small", promo_code="FIRST50", key=f"t-{uid}")
    # a user who never paid still gets it
    never = next(u.uid for u in st.users if u.spent_cents == 0 and u.uid not in used)
    co = m.economy.payments.create_checkout(never, "small", promo_code="FIRST50", key="t-never")
    assert co.payment.promo_code == "FIRST50"


def test_the_sources_payments_are_known_to_the_resumed_economy_but_not_exported_again(forecast_source):
    root, rid, _ = forecast_source
    bt = backtest(root, rid, 20, 3, seeds=1, calibrator=uncalibrated)
    st = read_state(root, rid, bt.fit_last)
    assert st.payments and all(p.created_at < st.at for p in st.payments)
    m = start_model(load_scenario("baseline"), st, days=1, seed=1)
    assert len(m.carried_payments) == len(st.payments)
    assert len(list(m.economy.payments.store.all())) >= len(st.payments)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    glob = str(root / "payments" / f"run_id={bt.run_ids[0]}" / "*.parquet")
    rows = con.execute(f"SELECT session_id, created_at::VARCHAR FROM read_parquet('{glob}')").fetchall()
    con.close()
    assert rows, "the back-test's own purchases are exported"
    # only the run's own checkouts (the simulated Stripe numbers its sessions from 1 again:
    # the carried ones are kept under the source's prefix)
    assert not any(sid.startswith(f"{rid}:") for sid, _ in rows)
    assert min(c for _, c in rows) >= str(st.at)


def test_the_same_seed_resumes_the_same_users_the_same_way(forecast_source):
    root, rid, _ = forecast_source
    st = read_state(root, rid, RESUME_DAY)
    seen = []
    for _ in range(2):
        m = start_model(load_scenario("baseline"), st, days=3, seed=4)
        people = [(u.uid, u.traits, u.satisfaction) for u in m.users]
        traders = [(t.uid, t.traits, t.resumed, t.refilling) for t in m.traders]
        m.run_days(3)
        pays = sorted((p.user_id, p.package_id, p.promo_code or "", str(p.created_at)) for p in m.economy.payments.store.all()
                      if p.session_id not in m.carried_payments)
        seen.append((people, traders, pays, dict(m.datacollector.model_vars)["logins_today"]))
    assert seen[0] == seen[1]
    m = start_model(load_scenario("baseline"), st, days=1, seed=5)
    assert [u.traits for u in m.users] != [t for _, t, _ in seen[0][0]]


def test_satisfaction_is_replayed_event_by_event():
    """Each event is felt on its own, as a `User` feels it: the arrival's rewards together,
    the session's login reward, the wants given up on a session that ran short and bought
    nothing, a lost bet (2.25x a gain's weight)."""
    m = EconomyModel(load_scenario("baseline"), users=1, days=1, seed=1)
    b = m.behaviour
    t = Traits(engagement_logit=0.0, reward_sensitivity=1.0, wtp_cents=0.1, appetite=1.0, risk=0.5, hype=0.5,
               is_pro=False)
    d0, d1 = date(2026, 1, 1), date(2026, 1, 2)

    def hist(*days):
        return UserHistory("user:x", None, datetime(2026, 1, 1, tzinfo=UTC), 2, d1, 2, 0, 0, False,
                           frozenset(), frozenset(), 0, days)

    joy = b.joy_reward * t.reward_sensitivity
    first = ActiveDay(d0, (14, 2), 1, session=True, balance=20)
    s = _replayed_satisfaction(m, t, hist(first))
    assert s == pytest.approx(joy * math.log1p(14 / b.reward_scale_coins) + joy * math.log1p(2 / b.reward_scale_coins)
                              + b.joy_fulfilled * math.log1p(1))
    decay = 0.5 ** (1 / b.satisfaction_half_life_days)
    plain = _replayed_satisfaction(m, t, hist(first, ActiveDay(d1, (2,), 0, session=True, balance=20)))
    short = _replayed_satisfaction(m, t, hist(first, ActiveDay(d1, (2,), 0, session=True, balance=2)))
    bought = _replayed_satisfaction(m, t, hist(first, ActiveDay(d1, (2,), 0, session=True, balance=2)),
                                    frozenset({d1}))
    lost = _replayed_satisfaction(m, t, hist(first, ActiveDay(d1, (2,), 0, session=True, balance=20, bets=(-100,))))
    won = _replayed_satisfaction(m, t, hist(first, ActiveDay(d1, (2,), 0, session=True, balance=20, bets=(100,))))
    assert plain == pytest.approx(s * decay + joy * math.log1p(2 / b.reward_scale_coins))
    assert short < plain and bought == pytest.approx(plain)
    assert lost < plain < won
    assert plain - lost == pytest.approx((won - plain) * LOSS_AVERSION)  # felt before the day's decay


def test_an_uncalibrated_backtest_is_not_biased(tmp_path_factory):
    """Back-testing the model that made the source: the forecast's total over the horizon
    lands near what happened (the old resumption overshot actives by ~25%, purchases by
    ~50% and issuance by ~100% on this source: traders bought their budget again, users
    were too loyal). Measured: actives -2%, purchases -3%, issuance +2%."""
    root = tmp_path_factory.mktemp("bias_wh")
    _, res = run(load_scenario("baseline"), users=1000, days=30, seed=4, root=root)
    bt = backtest(root, res.run_id, 20, 10, seeds=4, calibrator=uncalibrated)
    err = {s.metric: s.total_error for s in bt.scores}
    assert abs(err["actives"]) <= 0.10, err
    assert abs(err["purchases"]) <= 0.25, err
    assert abs(err["issuance"]) <= 0.60, err
