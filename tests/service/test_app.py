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
