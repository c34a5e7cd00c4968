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


def test_openapi_shows_the_credentials_each_route_checks(client):
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-User-Id"
    security = {(m, p): op.get("security") for p, ops in spec["paths"].items() for m, op in ops.items()}
    acting = [{"HTTPBearer": []}, {"APIKeyHeader": []}]
    assert security[("post", "/api/transfers")] == acting  # an acting user
    assert security[("get", "/api/coins/balance")] == acting
    assert security[("post", "/api/admin/grants")] == [{"HTTPBearer": []}]  # a credential only
    assert security[("get", "/api/coins/packages")] == [{"HTTPBearer": []}]
    assert security[("post", "/api/webhooks/stripe")] is None  # a signature, not a credential
    assert security[("get", "/healthz")] is None
