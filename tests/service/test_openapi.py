"""The OpenAPI document is one an SDK generator can use: readable operationIds, a
description and an example everywhere, the problems each route can really return, the
Problem's facts declared, Idempotency-Key on every POST, the acting user as a header.
Proven by generating a typed Python client with openapi-python-client and buying coins
through it (the real app, the real stripe client against the fake Stripe server)."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def spec(client) -> dict:
    return client.get("/openapi.json").json()


def _operations(spec: dict):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


def test_every_operation_has_a_readable_unique_id_a_description_and_an_example(spec):
    ids = []
    for method, path, op in _operations(spec):
        assert re.fullmatch(r"[a-z][A-Za-z0-9]+", op["operationId"]), (method, path, op["operationId"])
        ids.append(op["operationId"])
        assert len(op.get("description", "")) >= 8, (method, path)
        ok = [r for code, r in op["responses"].items() if code.startswith("2")]
        examples = [c.get("example") for r in ok for c in r.get("content", {}).values()]
        assert any(e is not None for e in examples), (method, path)
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        assert body is None or body.get("example") is not None, (method, path)
    assert len(ids) == len(set(ids))
    assert {"placeOrder", "createCheckout", "getBalance", "openChallenge", "streamMarket"} <= set(ids)


def test_every_model_has_a_description_and_an_example(spec):
    for name, model in spec["components"]["schemas"].items():
        assert model.get("description"), name
        assert model.get("examples"), name


def test_the_problem_schema_declares_its_facts_in_camel_case(spec):
    props = spec["components"]["schemas"]["Problem"]["properties"]
    assert {"code", "detail", "required", "balance", "reason", "orderId", "errors", "limit"} <= set(props)
    assert not [p for p in props if "_" in p]


def test_each_route_lists_the_problems_it_can_return(spec):
    ops = {(m, p): op for m, p, op in _operations(spec)}

    def codes(m: str, p: str) -> set[str]:
        return {c for c in ops[(m, p)]["responses"] if not c.startswith("2")}

    assert codes("GET", "/healthz") == {"413", "503"}
    assert codes("GET", "/api/coins/packages") == {"401", "413"}  # no acting user, no input to validate
    assert codes("GET", "/api/coins/balance") == {"400", "401", "403", "413"}
    assert "429" in codes("POST", "/api/market/{symbol}/orders") and "429" not in codes("POST", "/api/transfers")
    assert "502" in codes("POST", "/api/coins/purchase/checkout") and "502" not in codes("POST", "/api/transfers")
    assert "404" not in codes("GET", "/api/pools") and "404" in codes("GET", "/api/pools/{pool_id}")
    for (m, p), op in ops.items():
        for code, r in op["responses"].items():
            if not code.startswith("2"):
                assert r["content"]["application/problem+json"]["schema"]["$ref"].endswith("/Problem"), (m, p)


def test_every_post_declares_idempotency_key_and_the_user_header_is_a_parameter(spec):
    for method, path, op in _operations(spec):
        names = [p["name"] for p in op.get("parameters", []) if p["in"] == "header"]
        if method == "POST":
            assert names.count("Idempotency-Key") == 1, path
        if op.get("security"):
            assert op["security"] == [{"ApiKey": []}]
    assert set(spec["components"]["securitySchemes"]) == {"ApiKey"}
    vote = next(op for m, p, op in _operations(spec) if p == "/api/claims/{claim_id}/vote")
    header = next(p for p in vote["parameters"] if p["name"] == "X-User-Id")
    assert header["in"] == "header" and "acts for" in header["description"]


def _generate(spec_json: str, where: Path) -> str:
    """Generate the client package into ``where``; returns its import name."""
    (where / "openapi.json").write_text(spec_json)
    (where / "config.yaml").write_text("project_name_override: coinlab-client\n"
                                       "package_name_override: coinlab_client\npost_hooks: []\n")
    tool = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run([str(tool), "generate", "--path", str(where / "openapi.json"), "--config",
                           str(where / "config.yaml"), "--meta", "none", "--output-path", str(where / "coinlab_client")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr  # every operation generated
    return "coinlab_client"


def test_a_generated_typed_client_buys_coins(client, creds, state, fake_stripe, tmp_path, monkeypatch):
    name = _generate(client.get("/openapi.json").text, tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    sdk = importlib.import_module(name)
    from coinlab_client.api.coins import create_checkout, get_balance, get_history, list_packages
    from coinlab_client.models import CheckoutIn, CheckoutOut, PackageList, Problem

    api = sdk.AuthenticatedClient(base_url="http://testserver", token=creds.app,
                                  httpx_args={"transport": client._transport})
    packages = list_packages.sync(client=api)
    assert isinstance(packages, PackageList) and "small" in [p.id for p in packages.packages]

    session = create_checkout.sync(client=api, body=CheckoutIn(package_id="small"), x_user_id="alice",
                                   idempotency_key="buy-1")
    assert isinstance(session, CheckoutOut) and session.package.total_coins == 1024
    again = create_checkout.sync(client=api, body=CheckoutIn(package_id="small"), x_user_id="alice",
                                 idempotency_key="buy-1")
    assert again.session_id == session.session_id  # the key replays the same session

    # the customer pays; Stripe signs and POSTs the event to the webhook
    body, signature = fake_stripe.signed(fake_stripe.complete(session.session_id, deliver=False))
    assert client.post("/api/webhooks/stripe", content=body,
                       headers={"Stripe-Signature": signature, "content-type": "application/json"}).status_code == 200

    balance = get_balance.sync(client=api, x_user_id="alice")
    assert (balance.user_id, balance.balance) == ("alice", 1024)
    history = get_history.sync(client=api, x_user_id="alice")
    assert sum(i.amount for i in history.items) == 1024 and {i.counterparty_user_id for i in history.items} == {None}

    refused = create_checkout.sync_detailed(client=api, body=CheckoutIn(package_id="huge"), x_user_id="alice")
    assert refused.status_code == 404 and isinstance(refused.parsed, Problem) and refused.parsed.code == "not_found"
