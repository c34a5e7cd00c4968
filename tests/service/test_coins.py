"""Coin routes: packages, balance, history, rewards, spends, transfers, checkout."""

from __future__ import annotations

from ledger import user_account


def test_packages_lists_the_active_packages_in_display_order(client, creds):
    r = client.get("/api/coins/packages", headers=creds.h(creds.alice))
    assert r.status_code == 200
    pkgs = r.json()["packages"]
    assert [p["id"] for p in pkgs] == ["starter", "small", "medium", "large", "xl"]
    assert pkgs[0] | {"priceCents": 499, "baseCoins": 499, "bonusCoins": 1, "totalCoins": 500} == pkgs[0]


def test_balance_shows_spendable_held_and_every_asset(client, creds, fund):
    fund("alice", 30)
    r = client.get("/api/coins/balance", headers=creds.h(creds.alice))
    assert r.json() == {"userId": "alice", "balance": 30, "held": 0, "balances": {"COIN": 30}}


def test_daily_login_pays_once_per_day_and_replays(client, creds):
    first = client.post("/api/coins/daily-login", headers=creds.h(creds.alice)).json()
    again = client.post("/api/coins/daily-login", headers=creds.h(creds.alice)).json()
    assert (first["awarded"], first["replayed"], first["balance"]) == (2, False, 2)
    assert (again["replayed"], again["balance"]) == (True, 2)


def test_history_pages_newest_first_and_filters_by_type(client, creds, fund):
    fund("alice", 10)
    client.post("/api/coins/daily-login", headers=creds.h(creds.alice))
    client.post("/api/claims/c1/vote", headers=creds.h(creds.alice))
    h = creds.h(creds.alice)
    items = client.get("/api/coins/history", headers=h).json()["items"]
    assert [i["type"] for i in items] == ["VOTE_SPENT", "DAILY_LOGIN", "ADMIN_GRANT"]
    assert items[0]["amount"] == -1 and items[0]["balanceAfter"] == 11
    page = client.get("/api/coins/history?limit=1&offset=1", headers=h).json()
    assert [i["type"] for i in page["items"]] == ["DAILY_LOGIN"] and page["offset"] == 1
    only = client.get("/api/coins/history?type=DAILY_LOGIN", headers=h).json()["items"]
    assert [i["type"] for i in only] == ["DAILY_LOGIN"]
    assert client.get("/api/coins/history?type=daily_login", headers=h).json()["items"] == only  # any case


def test_history_rejects_bad_paging_and_unknown_types(client, creds):
    h = creds.h(creds.alice)
    for q in ("limit=0", "limit=501", "offset=-1", "type=NOPE"):
        r = client.get(f"/api/coins/history?{q}", headers=h)
        assert r.status_code == 422 and r.json()["code"] == "validation_error", q


def test_one_time_reward_is_paid_once(client, creds):
    h = creds.app_as("carol")
    first = client.post("/api/coins/earn", headers=h, json={"reward": "SignUp"}).json()  # any case
    again = client.post("/api/coins/earn", headers=h, json={"reward": "signup"}).json()
    assert (first["amount"], first["replayed"], again["replayed"], again["balance"]) == (5, False, True, 5)


def test_unknown_reward_is_a_validation_error(client, creds):
    r = client.post("/api/coins/earn", headers=creds.app_as("carol"), json={"reward": "jackpot"})
    assert r.status_code == 422


def test_vote_and_unlock_spend_coins(client, creds, fund):
    fund("alice", 10)
    vote = client.post("/api/claims/c1/vote", headers=creds.h(creds.alice)).json()
    unlock = client.post("/api/claims/c1/unlock-analysis", headers=creds.h(creds.alice)).json()
    assert (vote["amount"], unlock["amount"], unlock["balance"]) == (1, 5, 4)


def test_spending_without_coins_is_insufficient_funds_with_required_and_balance(client, creds, state):
    r = client.post("/api/claims/c1/unlock-analysis", headers=creds.h(creds.alice))
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert (body["code"], body["required"], body["balance"]) == ("insufficient_funds", 5, 0)
    assert (body["insufficientCoins"], body["requiredCoins"], body["currentBalance"]) == (True, 5, 0)
    assert state.ledger.history(user_account("alice")) == []


def test_transfer_moves_coins_between_users(client, creds, state, fund):
    fund("alice", 10)
    r = client.post("/api/transfers", headers=creds.h(creds.alice), json={"toUserId": "bob", "amount": 4})
    assert r.status_code == 200 and r.json()["balance"] == 6
    assert state.ledger.balance(user_account("bob")) == 4


def test_transfer_refuses_floats_zero_self_and_usd(client, creds, state, fund):
    fund("alice", 10)
    h = creds.h(creds.alice)
    for body, status in (({"toUserId": "bob", "amount": 1.0}, 422), ({"toUserId": "bob", "amount": 0}, 422),
                         ({"toUserId": "alice", "amount": 1}, 400), ({"toUserId": "bob", "amount": 1, "asset": "USD"}, 400),
                         ({"toUserId": "bob", "amount": 1, "extra": 1}, 422), ({"toUserId": "b b", "amount": 1}, 422)):
        r = client.post("/api/transfers", headers=h, json=body)
        assert r.status_code == status, body
        assert r.headers["content-type"] == "application/problem+json"
    assert state.ledger.balance(user_account("alice")) == 10


def test_transfer_of_an_unknown_brand_coin_is_a_client_error(client, creds):
    r = client.post("/api/transfers", headers=creds.h(creds.alice), json={"toUserId": "bob", "amount": 1, "asset": "NOPE"})
    assert r.status_code == 404 and r.json()["code"] in ("coin_error", "not_found", "unknown_asset")


def test_checkout_creates_a_stripe_session_for_the_package(client, creds, fake_stripe):
    r = client.post("/api/coins/purchase/checkout", headers=creds.h(creds.alice), json={"packageId": "large"})
    assert r.status_code == 200
    body = r.json()
    assert body["sessionId"] in fake_stripe.sessions
    assert body["package"] | {"name": "Large", "priceCents": 4999, "totalCoins": 5499} == body["package"]


def test_checkout_of_an_unknown_package_is_404(client, creds):
    r = client.post("/api/coins/purchase/checkout", headers=creds.h(creds.alice), json={"packageId": "huge"})
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_checkout_with_an_unknown_promo_is_rejected(client, creds):
    r = client.post("/api/coins/purchase/checkout", headers=creds.h(creds.alice),
                    json={"packageId": "small", "promoCode": "FREE"})
    assert r.status_code == 400 and r.json()["code"] == "promo_rejected"


def test_second_open_checkout_for_the_same_package_conflicts(client, creds):
    h = creds.h(creds.alice)
    assert client.post("/api/coins/purchase/checkout", headers=h, json={"packageId": "small"}).status_code == 200
    r = client.post("/api/coins/purchase/checkout", headers=h, json={"packageId": "small"})
    assert r.status_code == 409 and r.json()["code"] == "checkout_already_open"


def test_checkout_when_stripe_is_down_is_a_bad_gateway(client, creds, fake_stripe):
    fake_stripe.stop()
    r = client.post("/api/coins/purchase/checkout", headers=creds.h(creds.alice), json={"packageId": "small"})
    assert r.status_code == 502 and r.json()["code"] == "payment_provider_error"
