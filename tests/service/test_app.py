"""The app as a whole: OpenAPI, problem+json for unknown routes and bad JSON, health."""

from __future__ import annotations


def test_openapi_publishes_request_and_response_schemas(client):
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/transfers"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/TransferIn")
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/TransferOut")
    assert "application/problem+json" in op["responses"]["409"]["content"]
    assert "Problem" in spec["components"]["schemas"]


def test_unknown_route_is_a_problem(client):
    r = client.get("/api/nope")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_malformed_json_is_a_validation_problem(client, creds):
    r = client.post("/api/transfers", headers={**creds.h(creds.alice), "content-type": "application/json"},
                    content=b"{not json")
    assert r.status_code == 422 and r.json()["code"] == "validation_error"


def test_healthz_reports_a_dead_database_as_503(client, state, monkeypatch):
    from sqlalchemy import create_engine

    monkeypatch.setattr(state, "engine", create_engine("sqlite:////nonexistent/dir/x.sqlite"))
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json()["code"] == "database_unavailable"


def test_freeze_gc_moves_startup_objects_out_of_the_collector(sqlite_url, fake_stripe):
    import gc

    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.state import ServiceState

    from .conftest import settings_for

    threshold = gc.get_threshold()
    state = ServiceState(settings_for(sqlite_url, fake_stripe, freeze_gc=True))
    try:
        with TestClient(create_app(state.settings, state)) as c:
            assert c.get("/healthz").status_code == 200
            assert gc.get_freeze_count() > 0 and gc.get_threshold() == (10_000, 10, 10)
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        state.close()


def test_by_default_the_app_leaves_the_collector_alone(client):
    import gc

    assert client.get("/healthz").status_code == 200
    assert gc.get_freeze_count() == 0 and gc.get_threshold()[0] != 10_000


def test_openapi_shows_the_credential_and_the_acting_user_header_each_route_checks(client):
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"] == {"ApiKey": {
        "type": "http", "scheme": "bearer", "description": spec["components"]["securitySchemes"]["ApiKey"]["description"]}}
    ops = {(m, p): op for p, o in spec["paths"].items() for m, op in o.items()}

    def user_header(m, p):
        return [q for q in ops[(m, p)].get("parameters", []) if q["name"] == "X-User-Id"]

    assert ops[("post", "/api/transfers")]["security"] == [{"ApiKey": []}]
    assert user_header("post", "/api/transfers")[0]["in"] == "header"  # a parameter, not a credential
    assert user_header("get", "/api/coins/balance")
    assert ops[("post", "/api/admin/grants")]["security"] == [{"ApiKey": []}] and not user_header(
        "post", "/api/admin/grants")
    assert ops[("get", "/api/coins/packages")]["security"] == [{"ApiKey": []}]
    assert "security" not in ops[("post", "/api/webhooks/stripe")]  # a signature, not a credential
    assert "security" not in ops[("get", "/healthz")]


def _keys_everywhere(value, path=""):
    """Every object key in a JSON value, with where it is."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, f"{path}.{k}"
            yield from _keys_everywhere(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _keys_everywhere(v, f"{path}[{i}]")


def test_bodies_and_error_facts_are_camel_case_and_name_users_not_accounts(client, creds, fund):
    fund("alice", 10)
    h = creds.h(creds.alice)
    bodies = [
        client.post("/api/claims/c1/vote", headers=h).json(),
        client.post("/api/transfers", headers=h, json={"toUserId": "bob", "amount": 2}).json(),
        client.get("/api/coins/history", headers=h).json(),
        client.post("/api/admin/grants", headers=creds.admin_h(), json={"userId": "alice", "amount": 5}).json(),
        client.post("/api/transfers", headers=h, json={"toUserId": "bob", "amount": 10_000}).json(),  # a problem
        client.post("/api/challenges", headers=h, json={"id": "ch", "beltValue": 9000}).json(),  # a problem
        client.post("/api/transfers", headers=h, json={"toUserId": "bob", "amount": "x"}).json(),  # a problem
        client.get("/api/admin/transactions", headers=creds.admin_h()).json(),
    ]
    for body in bodies:
        for key, where in _keys_everywhere(body):
            if where.startswith(".items") and ".metadata." in where:
                continue  # journal metadata is the domain's own record
            assert "_" not in key, (where, body)
        assert "user:" not in str(body) and "system:" not in str(body), body
    history = bodies[2]["items"]
    assert [(i["type"], i["counterpartyType"], i["counterpartyUserId"]) for i in history] == [
        ("TRANSFER", "user", "bob"), ("VOTE_SPENT", "platform", None), ("ADMIN_GRANT", "mint", None)]
    assert (bodies[3]["fromUserId"], bodies[3]["toUserId"]) == (None, "alice")
    assert (bodies[4]["code"], bodies[4]["required"], bodies[4]["balance"]) == ("insufficient_funds", 10_000, 12)


def test_without_stripe_credentials_the_service_warns_loudly_and_healthz_says_so(sqlite_url, capsys):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.state import ServiceState

    from .conftest import settings_for

    state = ServiceState(settings_for(sqlite_url))
    try:
        with TestClient(create_app(state.settings, state)) as c:
            err = capsys.readouterr().err
            assert "payments are NOT configured" in err and "COINLAB_STRIPE_WEBHOOK_SECRET" in err
            assert c.get("/healthz").json()["payments"] == "not configured"
            r = c.post("/api/webhooks/stripe", headers={"Stripe-Signature": "t=1,v1=x"}, json={"id": "evt"})
            assert r.status_code == 401
    finally:
        state.close()


def test_with_stripe_credentials_healthz_reports_payments_configured_and_nothing_is_warned(client, capsys):
    assert client.get("/healthz").json()["payments"] == "configured"
    assert "NOT configured" not in capsys.readouterr().err


def test_serve_help_and_the_readme_name_every_setting():
    from pathlib import Path

    from typer.testing import CliRunner

    from coinlab_cli.main import app as cli
    from service.settings import Settings

    help_text = CliRunner().invoke(cli, ["serve", "--help"], env={"COLUMNS": "200", "TERM": "dumb"}).output
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name in Settings.model_fields:
        env = f"COINLAB_{name.upper()}"
        assert env in help_text, env
        assert env in readme, env


def test_routes_leave_batching_to_the_service_state():
    """How a write is batched is ServiceState's business: no route asks whether a writer exists."""
    import ast
    from pathlib import Path

    import service.routes

    for path in Path(service.routes.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        touched = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr in ("writer", "remote_writer")
                   and isinstance(n.value, ast.Name) and n.value.id in ("state", "m")]
        assert touched == [], path.name


def test_daily_login_pays_the_same_with_and_without_a_writer(tmp_path, fake_stripe):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.state import ServiceState

    from .conftest import settings_for

    answers = []
    for group_commit in (True, False):
        state = ServiceState(settings_for(f"sqlite:///{tmp_path}/g{int(group_commit)}.sqlite", fake_stripe,
                                          group_commit=group_commit, migrate=True))
        try:
            assert (state.writer is None) is not group_commit
            token = state.keys.create("user", user_id="alice")[1]
            with TestClient(create_app(state.settings, state)) as c:
                h = {"Authorization": f"Bearer {token}"}
                answers.append([c.post("/api/coins/daily-login", headers=h).json() for _ in range(2)])
        finally:
            state.close()
    assert answers[0] == answers[1]
    assert [(a["awarded"], a["replayed"], a["balance"]) for a in answers[0]] == [(2, False, 2), (2, True, 2)]


def test_an_anti_sybil_gate_refuses_the_daily_login_with_and_without_a_writer(tmp_path, fake_stripe):
    """With a defense on, the login reads the account's facts first, whatever the batching."""
    from pathlib import Path

    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.state import ServiceState

    from .conftest import settings_for

    base = (Path(__file__).resolve().parents[2] / "data" / "economy.toml").read_text()
    toml = tmp_path / "economy.toml"
    toml.write_text(base.replace("min_activity = 0", "min_activity = 1"))
    for group_commit in (True, False):
        state = ServiceState(settings_for(f"sqlite:///{tmp_path}/s{int(group_commit)}.sqlite", fake_stripe,
                                          group_commit=group_commit, migrate=True, economy_config=str(toml)))
        try:
            token = state.keys.create("user", user_id="bob")[1]
            with TestClient(create_app(state.settings, state)) as c:
                r = c.post("/api/coins/daily-login", headers={"Authorization": f"Bearer {token}"})
                assert 400 <= r.status_code < 500
                assert c.get("/api/coins/balance", headers={"Authorization": f"Bearer {token}"}).json()["balance"] == 0
        finally:
            state.close()
