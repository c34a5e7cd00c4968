"""Admin routes: packages, grants, the journal (filters, CSV) and metrics."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from ledger import user_account


def test_package_crud(client, creds):
    h = creds.admin_h()
    made = client.post("/api/admin/packages", headers=h, json={"id": "mega", "name": "Mega", "priceCents": 19999,
                                                               "bonusCoins": 5000})
    assert made.status_code == 201 and made.json()["baseCoins"] == 19999
    edited = client.patch("/api/admin/packages/mega", headers=h, json={"bonusCoins": 6000})
    assert edited.json()["totalCoins"] == 25999
    gone = client.delete("/api/admin/packages/mega", headers=h)
    assert gone.json()["active"] is False
    public = client.get("/api/coins/packages", headers=h).json()["packages"]
    assert "mega" not in [p["id"] for p in public]
    everything = client.get("/api/admin/packages", headers=h).json()["packages"]
    assert "mega" in [p["id"] for p in everything]


def test_package_errors(client, creds):
    h = creds.admin_h()
    dup = client.post("/api/admin/packages", headers=h, json={"id": "small", "name": "S", "priceCents": 1})
    assert dup.status_code == 400
    assert client.patch("/api/admin/packages/nope", headers=h, json={"name": "x"}).status_code == 404
    assert client.delete("/api/admin/packages/nope", headers=h).status_code == 404
    assert client.patch("/api/admin/packages/small", headers=h, json={"priceCents": -5}).status_code == 422


def test_grants_credit_and_debit(client, creds, state):
    h = creds.admin_h()
    up = client.post("/api/admin/grants", headers=h, json={"userId": "alice", "amount": 40, "reason": "support"})
    down = client.post("/api/admin/grants", headers=h, json={"userId": "alice", "amount": -15})
    assert (up.json()["balance"], down.json()["balance"]) == (40, 25)
    too_much = client.post("/api/admin/grants", headers=h, json={"userId": "alice", "amount": -100})
    assert too_much.status_code == 409 and too_much.json()["code"] == "insufficient_funds"
    zero = client.post("/api/admin/grants", headers=h, json={"userId": "alice", "amount": 0})
    assert zero.status_code == 400
    assert state.ledger.balance(user_account("alice")) == 25


def test_transactions_filter_by_user_type_and_date(client, creds, fund):
    fund("alice", 10)
    fund("bob", 10)
    client.post("/api/claims/c1/vote", headers=creds.h(creds.alice))
    h = creds.admin_h()
    alice = client.get("/api/admin/transactions?user=alice", headers=h).json()["items"]
    assert [i["type"] for i in alice] == ["VOTE_SPENT", "ADMIN_GRANT"]
    votes = client.get("/api/admin/transactions?type=VOTE_SPENT", headers=h).json()["items"]
    assert [(i["fromType"], i["fromUserId"], i["toType"]) for i in votes] == [("user", "alice", "platform")]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert client.get("/api/admin/transactions", headers=h, params={"from": future}).json()["items"] == []
    assert len(client.get("/api/admin/transactions", headers=h, params={"to": future}).json()["items"]) == 3
    page = client.get("/api/admin/transactions?limit=1&offset=1", headers=h).json()["items"]
    assert len(page) == 1


def test_transactions_export_as_csv(client, creds, fund):
    fund("alice", 10)
    r = client.get("/api/admin/transactions?format=csv&user=alice", headers=creds.admin_h())
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["entry_type"], x["amount"], x["to_account"]) for x in rows] == [("ADMIN_GRANT", "10", "user:alice")]


def test_metrics_report_supply_today_and_revenue(client, creds, fund, fake_stripe):
    fund("alice", 10)
    client.post("/api/claims/c1/vote", headers=creds.h(creds.alice))
    sid = client.post("/api/coins/purchase/checkout", headers=creds.h(creds.bob), json={"packageId": "starter"}).json()["sessionId"]
    body, sig = fake_stripe.signed(fake_stripe.complete(sid, deliver=False))
    client.post("/api/webhooks/stripe", content=body, headers={"Stripe-Signature": sig})
    m = client.get("/api/admin/metrics", headers=creds.admin_h()).json()
    assert (m["issued"], m["issuedToday"], m["circulating"]) == (510, 510, 510)
    assert (m["revenueCents"], m["revenueTodayCents"], m["users"]) == (499, 499, 2)


@pytest.mark.postgres
def test_concurrent_edits_of_one_package_on_postgresql_all_succeed(pg_url, fake_stripe):
    """Edits are upserts: 8 admins editing one package at once get no server error, and
    the package ends as one of them left it."""
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.state import ServiceState
    from tests.service.conftest import settings_for

    state = ServiceState(settings_for(pg_url, fake_stripe))
    try:
        token = state.keys.create("admin")[1]
        with TestClient(create_app(state.settings, state)) as c:
            h = {"Authorization": f"Bearer {token}"}

            def edit(i: int) -> int:
                return c.patch("/api/admin/packages/small", headers=h, json={"bonusCoins": i}).status_code

            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(edit, range(160)))
            assert statuses == [200] * 160
            final = c.get("/api/admin/packages", headers=h).json()["packages"]
        assert [p["bonusCoins"] for p in final if p["id"] == "small"][0] in range(160)
        assert len([p for p in final if p["id"] == "small"]) == 1
    finally:
        state.close()
