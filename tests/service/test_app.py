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
