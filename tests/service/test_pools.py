"""Pools over HTTP: the server creates and resolves, users stake."""

from __future__ import annotations

from ledger import user_account


def _pool(client, creds, pid="final"):
    return client.post("/api/pools", headers=creds.h(creds.app),
                       json={"id": pid, "title": "Who wins?", "outcomes": ["red", "blue"]})


def test_create_stake_and_resolve_pays_the_winners(client, creds, state, fund):
    fund("alice", 100)
    fund("bob", 100)
    assert _pool(client, creds).json()["status"] == "open"
    a = client.post("/api/pools/final/stakes", headers=creds.h(creds.alice), json={"outcome": "red", "amount": 50})
    b = client.post("/api/pools/final/stakes", headers=creds.h(creds.bob), json={"outcome": "blue", "amount": 50})
    assert a.status_code == b.status_code == 200 and a.json()["holdId"]
    r = client.post("/api/pools/final/resolve", headers=creds.h(creds.app), json={"outcome": "red"}).json()
    assert (r["pot"], r["fee"], r["payouts"]) == (100, 3, {"alice": 97})
    assert state.ledger.balance(user_account("alice")) == 147


def test_staking_on_an_unknown_pool_is_404(client, creds, fund):
    fund("alice", 100)
    r = client.post("/api/pools/nope/stakes", headers=creds.h(creds.alice), json={"outcome": "red", "amount": 5})
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_staking_on_an_unknown_outcome_or_beyond_the_balance_changes_nothing(client, creds, state, fund):
    fund("alice", 10)
    _pool(client, creds)
    bad = client.post("/api/pools/final/stakes", headers=creds.h(creds.alice), json={"outcome": "green", "amount": 5})
    broke = client.post("/api/pools/final/stakes", headers=creds.h(creds.alice), json={"outcome": "red", "amount": 50})
    assert (bad.status_code, broke.status_code, broke.json()["code"]) == (400, 409, "insufficient_funds")
    assert state.ledger.balance(user_account("alice")) == 10


def test_resolving_twice_with_another_outcome_conflicts(client, creds):
    _pool(client, creds)
    client.post("/api/pools/final/resolve", headers=creds.h(creds.app), json={"outcome": "red"})
    r = client.post("/api/pools/final/resolve", headers=creds.h(creds.app), json={"outcome": "blue"})
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"


def test_creating_a_pool_with_one_outcome_is_a_validation_error(client, creds):
    r = client.post("/api/pools", headers=creds.h(creds.app), json={"id": "x", "title": "t", "outcomes": ["a"]})
    assert r.status_code == 422


def test_creating_a_pool_twice_is_refused(client, creds):
    _pool(client, creds)
    r = _pool(client, creds)
    assert 400 <= r.status_code < 500


def test_a_pool_reads_back_and_the_list_filters_by_status_in_any_case(client, creds, fund):
    fund("alice", 100)
    _pool(client, creds, "one")
    _pool(client, creds, "two")
    client.post("/api/pools/one/stakes", headers=creds.h(creds.alice), json={"outcome": "red", "amount": 5})
    client.post("/api/pools/one/resolve", headers=creds.h(creds.app), json={"outcome": "red"})
    h = creds.h(creds.read, "alice")
    one = client.get("/api/pools/one", headers=h).json()
    assert (one["status"], one["winningOutcome"], one["outcomes"]) == ("resolved", "red", ["red", "blue"])
    assert [p["id"] for p in client.get("/api/pools", headers=h).json()["pools"]] == ["two", "one"]
    assert [p["id"] for p in client.get("/api/pools?status=OPEN", headers=h).json()["pools"]] == ["two"]
    assert [p["id"] for p in client.get("/api/pools?status=resolved", headers=h).json()["pools"]] == ["one"]
    assert client.get("/api/pools?status=nope", headers=h).status_code == 422
    assert client.get("/api/pools/nope", headers=h).status_code == 404


def test_my_stakes_lists_the_acting_users_stakes_newest_first(client, creds, fund):
    fund("alice", 100)
    fund("bob", 100)
    _pool(client, creds, "one")
    _pool(client, creds, "two")
    for pid, outcome in (("one", "red"), ("two", "blue")):
        client.post(f"/api/pools/{pid}/stakes", headers=creds.h(creds.alice), json={"outcome": outcome, "amount": 3})
    client.post("/api/pools/one/stakes", headers=creds.h(creds.bob), json={"outcome": "blue", "amount": 4})
    mine = client.get("/api/pools/stakes", headers=creds.h(creds.alice)).json()["stakes"]
    assert [(s["poolId"], s["outcome"], s["amount"], s["userId"]) for s in mine] == [
        ("two", "blue", 3, "alice"), ("one", "red", 3, "alice")]
    page = client.get("/api/pools/stakes?limit=1&offset=1", headers=creds.h(creds.alice)).json()
    assert [s["poolId"] for s in page["stakes"]] == ["one"] and page["offset"] == 1


def test_a_settled_pools_error_names_its_facts_in_camel_case(client, creds):
    _pool(client, creds, "one")
    client.post("/api/pools/one/resolve", headers=creds.h(creds.app), json={"outcome": "red"})
    r = client.post("/api/pools/one/resolve", headers=creds.h(creds.app), json={"outcome": "blue"})
    assert r.status_code == 409 and r.json()["poolId"] == "one" and "pool_id" not in r.json()
