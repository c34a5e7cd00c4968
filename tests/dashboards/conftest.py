"""Fixtures: a warehouse holding one small simulated run and a production export of a
small SQL ledger (session-wide: built once), and the app's entry point."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboards.export import export
from service.fake_stripe import FakeStripe
from tests.dashboards import prod

APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"


@pytest.fixture(scope="session")
def fake_stripe_session() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory, fake_stripe_session: FakeStripe) -> dict[str, Any]:
    """``root``: the warehouse; ``run_id``: a small baseline run; ``pools_run``: a Phase-2
    run with parimutuel pools; ``pump_run``: a pump-and-dump run (a ring, alerts);
    ``url``: the production ledger."""
    from sim import load_scenario, run

    base = tmp_path_factory.mktemp("dash")
    root = base / "warehouse"
    _model, result = run(load_scenario("baseline"), users=60, days=6, seed=2, root=root)
    _model, pools = run(load_scenario("phase2_pools"), users=80, days=8, seed=1, root=root)
    _model, pump = run(load_scenario("pump_and_dump"), users=300, days=6, seed=1, root=root)
    url = f"sqlite:///{base / 'ledger.sqlite'}"
    prod.build(url, fake_stripe_session)
    export(url, root)
    return {"root": root, "run_id": result.run_id, "pools_run": pools.run_id, "pump_run": pump.run_id, "url": url}


@pytest.fixture
def app_env(warehouse: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("COINLAB_WAREHOUSE", str(warehouse["root"]))
    return warehouse
