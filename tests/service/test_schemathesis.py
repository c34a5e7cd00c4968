"""Fuzzing from the OpenAPI spec (schemathesis): whatever a client sends, no 5xx, and
every response matches its documented status, content type and schema. Requests
carry an admin key acting for a funded user, so they get past authorization and
reach the handlers; a bounded number of examples per operation keeps this quick."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi import checks as oa_checks

from ledger import user_account
from service.app import create_app
from service.state import ServiceState
from tests.service.conftest import settings_for

KNOWN = {"symbol": "HEATHER", "pool_id": "p1", "package_id": "small", "claim_id": "c1"}
SENT = {"sqlite": 0, "postgresql": 0}  # cases sent, printed at the end (pytest -s)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print(f"\nschemathesis cases sent: {SENT}")


CHECKS = [schemathesis.checks.not_a_server_error, oa_checks.status_code_conformance,
          oa_checks.content_type_conformance, oa_checks.response_schema_conformance]


@pytest.fixture
def fuzz_target(sqlite_url, fake_stripe):
    state = ServiceState(settings_for(sqlite_url, fake_stripe))
    state.ledger.mint(user_account("fuzz"), 1_000_000)
    state.market.launch("HEATHER", "Heather's", "user:fuzz", initial_price=10, max_supply=None, allocation=None)
    state.economy.pools.create("p1", "t", ["a", "b"])
    token = state.keys.create("admin")[1]
    app = create_app(state.settings, state)
    yield schemathesis.openapi.from_asgi("/openapi.json", app), {"Authorization": f"Bearer {token}", "X-User-Id": "fuzz"}
    state.close()


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation; the spec does not depend on the database."""
    import tempfile

    from service.settings import Settings

    with tempfile.TemporaryDirectory() as d:
        st = ServiceState(Settings(db=f"sqlite:///{d}/spec.sqlite", log_requests=False))
        spec = create_app(st.settings, st).openapi()
        st.close()
    return [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops]


@pytest.mark.parametrize("method,path", _operations(), ids=lambda v: v)
def test_no_server_errors_and_responses_match_the_spec(fuzz_target, method, path):
    schema, headers = fuzz_target
    operation = schema[path][method]

    @given(case=operation.as_strategy(), known=st.booleans())
    @settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "12")), deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case, known):
        if known and case.path_parameters:  # half the time, aim at things that exist
            for name in KNOWN.keys() & case.path_parameters.keys():
                case.path_parameters[name] = KNOWN[name]
        SENT["sqlite"] += 1
        # An open stream is read until the deadline (schemathesis keeps the events sent by
        # then): its snapshot comes at once, so 1 s instead of the default 10 per stream.
        case.call_and_validate(headers=headers, checks=CHECKS, **({"timeout": 1} if path.endswith("/stream") else {}))

    fuzz()


# -- the real service: `coinlab serve --workers 2` on PostgreSQL (forwarder, market process) --
@pytest.fixture(scope="module")
def live_pg(pg_cluster, tmp_path_factory):
    """A real service on PostgreSQL with two workers and the market process, with the
    same world as the in-process target; its access log (every process's) is kept."""
    import httpx

    from ledger.sql import make_engine
    from service.database import upgrade
    from service.fake_stripe import FakeStripe
    from service.keys import KeyStore
    from tests.service.server import Server

    url = pg_cluster.create_database("fuzz2w")
    upgrade(url)
    engine = make_engine(url)
    token = KeyStore(engine).create("admin")[1]
    engine.dispose()
    log = tmp_path_factory.mktemp("fuzz") / "serve.log"
    mp = pytest.MonkeyPatch()
    with FakeStripe() as fake:
        for name, value in (("COINLAB_STRIPE_API_KEY", fake.api_key), ("COINLAB_STRIPE_API_BASE", fake.url),
                            ("COINLAB_STRIPE_WEBHOOK_SECRET", fake.webhook_secret)):
            mp.setenv(name, value)
        try:
            with Server(url, workers=2, log=log) as server:
                h = {"Authorization": f"Bearer {token}", "X-User-Id": "fuzz"}
                with httpx.Client(base_url=server.url, headers=h, timeout=30) as http:
                    assert http.post("/api/admin/grants", json={"userId": "fuzz", "amount": 1_000_000}).status_code == 200
                    assert http.post("/api/brand-coins", json={"symbol": "HEATHER", "name": "H", "initialPrice": 10}
                                     ).status_code == 200
                    assert http.post("/api/pools", json={"id": "p1", "title": "t", "outcomes": ["a", "b"]}
                                     ).status_code == 200
                yield schemathesis.openapi.from_url(f"{server.url}/openapi.json"), h, server.url, log
        finally:
            mp.undo()


@pytest.mark.postgres
@pytest.mark.parametrize("method,path", _operations(), ids=lambda v: v)
def test_no_server_errors_on_postgresql_with_two_workers(live_pg, method, path):
    schema, headers, base_url, _ = live_pg
    operation = schema[path][method]

    @given(case=operation.as_strategy(), known=st.booleans())
    @settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "12")), deadline=None,
              suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case, known):
        if known and case.path_parameters:
            for name in KNOWN.keys() & case.path_parameters.keys():
                case.path_parameters[name] = KNOWN[name]
        SENT["postgresql"] += 1
        if path.endswith("/stream"):  # an endless stream: only its refusals are answered whole
            case.headers = {**(case.headers or {}), "Authorization": "Bearer ck_none_none"}
            case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=30)
            return
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)

    fuzz()


@pytest.mark.postgres
def test_the_fuzzed_service_logged_no_server_error(live_pg):
    """Every process's access log: the workers' and the market process's. Under xdist each
    worker has its own service and runs only some of the operations above, so the log must
    hold at least the cases this process sent (not a fixed count); the service writes its
    log lines once a second, so they are waited for."""
    import json
    import time

    *_, log = live_pg

    def logged() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{") and '"status"' in line]

    deadline = time.monotonic() + 10
    while len(lines := logged()) < SENT["postgresql"] + 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    errors = [x for x in lines if x["status"] >= 500]
    print(f"\nPostgreSQL, 2 workers: {SENT['postgresql']} cases sent, {len(lines)} requests logged, {len(errors)} server errors")
    assert len(lines) >= SENT["postgresql"] + 3  # the fixture's three set-up requests, then every case
    assert errors == []
