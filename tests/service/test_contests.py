"""Belt challenges and tournaments over HTTP: entry fees held, results split."""

from __future__ import annotations

from ledger import user_account
from ledger.economy.rules import PLATFORM


def _bal(state, user: str) -> int:
    return state.ledger.balance(user_account(user))


def test_a_challenge_holds_the_fee_and_its_result_splits_it_70_20_10(client, creds, state, fund):
    fund("alice", 1000)
    opened = client.post("/api/challenges", headers=creds.h(creds.alice), json={"id": "ch1", "beltValue": 2000})
    assert opened.status_code == 201
    ch = opened.json()
    assert (ch["entryFee"], ch["status"], ch["challengerUserId"]) == (200, "open", "alice")
    assert (_bal(state, "alice"), state.ledger.held(user_account("alice"))) == (800, 200)
    platform = state.ledger.balance(PLATFORM)
    r = client.post("/api/challenges/ch1/resolve", headers=creds.h(creds.app),
                    json={"winnerUserId": "bob", "loserUserId": "alice"})
    done = r.json()
    assert (done["status"], done["winnerPayout"], done["loserPayout"], done["platformFee"]) == ("settled", 140, 40, 20)
    assert (_bal(state, "bob"), _bal(state, "alice"), state.ledger.balance(PLATFORM) - platform) == (140, 840, 20)
    assert client.get("/api/challenges/ch1", headers=creds.h(creds.read, "x")).json()["winnerUserId"] == "bob"


def test_the_fee_is_clamped_and_a_retry_replays_the_challenge(client, creds, state, fund):
    fund("alice", 1000)
    h = creds.h(creds.alice)
    first = client.post("/api/challenges", headers=h, json={"id": "ch1", "beltValue": 10})
    again = client.post("/api/challenges", headers=h, json={"id": "ch1", "beltValue": 10})
    assert first.json()["entryFee"] == 50 and again.json() == first.json()
    assert _bal(state, "alice") == 950
    other = client.post("/api/challenges", headers=h, json={"id": "ch1", "beltValue": 99})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"


def test_a_challenger_without_the_fee_gets_insufficient_funds_with_required_and_balance(client, creds, state, fund):
    fund("alice", 30)
    r = client.post("/api/challenges", headers=creds.h(creds.alice), json={"id": "ch1", "beltValue": 10_000})
    body = r.json()
    assert r.status_code == 409 and body["code"] == "insufficient_funds"
    assert (body["required"], body["balance"], body["requiredCoins"], body["currentBalance"]) == (500, 30, 500, 30)
    assert "account" not in body and body["userId"] == "alice"
    assert _bal(state, "alice") == 30
    assert client.get("/api/challenges/ch1", headers=creds.h(creds.alice)).status_code == 404


def test_a_cancelled_challenge_returns_the_fee_and_cannot_be_resolved(client, creds, state, fund):
    fund("alice", 100)
    client.post("/api/challenges", headers=creds.h(creds.alice), json={"id": "ch1", "beltValue": 0})
    assert client.post("/api/challenges/ch1/cancel", headers=creds.h(creds.app)).json()["status"] == "cancelled"
    assert _bal(state, "alice") == 100
    r = client.post("/api/challenges/ch1/resolve", headers=creds.h(creds.app),
                    json={"winnerUserId": "alice", "loserUserId": "bob"})
    assert r.status_code == 409


def test_a_result_must_name_the_challenger(client, creds, fund):
    fund("alice", 100)
    client.post("/api/challenges", headers=creds.h(creds.alice), json={"id": "ch1", "beltValue": 0})
    r = client.post("/api/challenges/ch1/resolve", headers=creds.h(creds.app),
                    json={"winnerUserId": "bob", "loserUserId": "carol"})
    assert r.status_code == 400


def test_a_tournament_charges_its_creation_fee_holds_entries_and_pays_the_places(client, creds, state, fund):
    fund("carol", 2500)
    for u in ("alice", "bob", "dave"):
        fund(u, 100)
    platform = state.ledger.balance(PLATFORM)
    made = client.post("/api/tournaments", headers=creds.h(creds.app, "carol"),
                       json={"id": "cup", "title": "Cup", "entryFee": 33, "prizeBps": [6000, 3000]})
    assert made.status_code == 201 and _bal(state, "carol") == 500
    for u in ("alice", "bob", "dave"):
        e = client.post("/api/tournaments/cup/entries", headers=creds.h(creds.app, u))
        assert e.status_code == 201 and e.json()["entryFee"] == 33
    again = client.post("/api/tournaments/cup/entries", headers=creds.h(creds.app, "alice"))
    assert again.status_code == 201 and _bal(state, "alice") == 67  # entered once
    t = client.get("/api/tournaments/cup", headers=creds.h(creds.read, "x")).json()
    assert (t["entrants"], t["pot"], t["status"]) == (3, 99, "open")
    paid = client.post("/api/tournaments/cup/payout", headers=creds.h(creds.app),
                       json={"placements": ["bob", "alice"]}).json()
    assert (paid["status"], paid["prizes"], paid["placements"]) == ("paid", [59, 29], ["bob", "alice"])
    assert (_bal(state, "bob"), _bal(state, "alice"), _bal(state, "dave")) == (67 + 59, 67 + 29, 67)
    assert state.ledger.balance(PLATFORM) - platform == 2000 + 99 - 59 - 29  # creation fee and the rest
    late = client.post("/api/tournaments/cup/entries", headers=creds.h(creds.app, "erin"))
    assert late.status_code == 409


def test_a_creator_without_the_creation_fee_gets_insufficient_funds(client, creds, state, fund):
    fund("carol", 10)
    r = client.post("/api/tournaments", headers=creds.h(creds.app, "carol"), json={"id": "cup", "title": "C",
                                                                                    "entryFee": 5})
    assert r.status_code == 409 and (r.json()["required"], r.json()["balance"]) == (2000, 10)


def test_placements_must_be_entrants_one_per_prize(client, creds, fund):
    fund("carol", 3000)
    fund("alice", 100)
    fund("bob", 100)
    client.post("/api/tournaments", headers=creds.h(creds.app, "carol"),
                json={"id": "cup", "title": "C", "entryFee": 10, "prizeBps": [7000, 3000]})
    for u in ("alice", "bob"):
        client.post("/api/tournaments/cup/entries", headers=creds.h(creds.app, u))
    for placements in (["alice"], ["alice", "zed"], ["alice", "alice"]):
        r = client.post("/api/tournaments/cup/payout", headers=creds.h(creds.app), json={"placements": placements})
        assert r.status_code == 400, placements


def test_a_cancelled_tournament_returns_every_entry(client, creds, state, fund):
    fund("carol", 3000)
    fund("alice", 100)
    client.post("/api/tournaments", headers=creds.h(creds.app, "carol"), json={"id": "cup", "title": "C",
                                                                                "entryFee": 40})
    client.post("/api/tournaments/cup/entries", headers=creds.h(creds.app, "alice"))
    assert _bal(state, "alice") == 60
    assert client.post("/api/tournaments/cup/cancel", headers=creds.h(creds.app)).json()["status"] == "cancelled"
    assert (_bal(state, "alice"), state.ledger.held(user_account("alice"))) == (100, 0)
    assert state.ledger.check().ok
