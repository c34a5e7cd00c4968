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
        case.call_and_validate(headers=headers, checks=CHECKS)

    fuzz()
