"""The demo's production traffic: the default population (data/scenarios/demo.toml, 400
users x 21 days) living through the real HTTP service on a fresh SQLite ledger, beside a
reference measured in the same run: the same population on the in-process economy (the
simulator's own path). The ratio is what going through HTTP, SQLite and the fake Stripe
costs per agent action."""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coinlab_cli.demo import POPULATION, DemoClock, drive_population, running_service  # noqa: E402
from service.database import upgrade  # noqa: E402
from service.fake_stripe import FakeStripe  # noqa: E402
from sim.model import EconomyModel  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402

USERS, DAYS = 400, 21


def main() -> None:
    t = time.perf_counter()
    EconomyModel(load_scenario(POPULATION), users=USERS, days=DAYS, seed=1).run_days()
    local = time.perf_counter() - t
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=DAYS - i) for i in range(DAYS)]
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/ledger.sqlite"
        upgrade(db)
        clock, fake = DemoClock(), FakeStripe().start()
        try:
            with running_service(db, fake, clock) as svc:
                fake.webhook_url = f"{svc.url}/api/webhooks/stripe"
                token = svc.state.keys.create("app", name="bench")[1]
                t = time.perf_counter()
                report = drive_population(svc.url, token, fake, clock, days=days, users=USERS, tape=None)
                wall = time.perf_counter() - t
        finally:
            fake.stop()
    n = sum(report.requests.values())
    print(f"demo population over HTTP: {USERS} users x {DAYS} days, {n} requests, {report.purchases} Stripe "
          f"purchases: {wall:.1f} s wall ({1000 * wall / n:.1f} ms a request)")
    print(f"reference: the same population in-process {local:.2f} s (HTTP / in-process = {wall / local:.0f}x)")


if __name__ == "__main__":
    main()
