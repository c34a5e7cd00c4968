"""The one-command demo: a production ledger with a few days of traffic behind it, two
simulated scenarios, the warehouse, and the dashboards over all of it.

`run_demo` does, in order (each step reuses what an earlier run left):

1. migrate ``<data>/ledger.sqlite`` and start the fake Stripe server and the HTTP
   service (uvicorn in a thread, one worker, a free loopback port);
2. drive ``days`` days of traffic through the HTTP API (`drive_traffic`): rewards,
   daily logins, votes and unlocks, Stripe Checkout purchases completed on the fake
   Stripe server (which signs and delivers the webhooks to ``/api/webhooks/stripe``),
   a brand-coin launch, shop earnings, trading, a betting pool a day, transfers;
3. run the ``baseline`` and ``pump_and_dump`` scenarios (skipped when the run exists);
4. export production to the warehouse and prove the ledger (`Ledger.check`);
5. start the dashboards (``coinlab dash``) unless told not to, and print every URL.

Why the service runs in this process: the traffic spans several *days*, and daily
logins, streaks and candles follow the ledger's clock. The demo swaps that clock for
`DemoClock`, which it moves through past days as it sends the requests, so a few
minutes of requests leave the same journal a few days of users would. The days end
yesterday, so nothing is dated in the future. After the traffic the clock is the
real one again.

A second run sends no traffic: ``<data>/runs/demo-state.json`` records the days it
used and that the traffic finished. A run that died half-way replays the same days
with the same ``Idempotency-Key`` headers (and the same per-day login rule), so what
already happened is not done twice."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import httpx
from rich.console import Console

__all__ = ["DemoClock", "DemoPaths", "TrafficReport", "drive_traffic", "free_port", "run_demo", "scenario_run_id"]

SCENARIOS = ("baseline", "pump_and_dump")
BRAND = "BREW"  # the demo's brand coin, launched by the shop "demo-shop"
SHOP = "demo-shop"
PACKAGES = ("starter", "small", "medium", "large")


class DemoPaths(NamedTuple):
    """Where the demo keeps things under its data folder."""

    data: Path
    db: str
    warehouse: Path
    state: Path

    @classmethod
    def under(cls, data: Path) -> DemoPaths:
        data = data.resolve()
        return cls(data, f"sqlite:///{data / 'ledger.sqlite'}", data / "warehouse", data / "runs" / "demo-state.json")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the clock ---------------------------------------------------------------------------------
class DemoClock:
    """The ledger's clock during the traffic: `at` pins it to a moment of a past day;
    `real` hands time back to the wall clock. Times are UTC and timezone-aware."""

    def __init__(self) -> None:
        self._pinned: datetime | None = None

    def at(self, moment: datetime) -> None:
        self._pinned = moment

    def real(self) -> None:
        self._pinned = None

    def __call__(self) -> datetime:
        return self._pinned or datetime.now(UTC)


# -- the running service --------------------------------------------------------------------------
class Service(NamedTuple):
    url: str
    state: Any  # service.state.ServiceState
    server: Any  # uvicorn.Server
    thread: threading.Thread


@contextmanager
def running_service(db: str, fake: Any, clock: DemoClock, port: int | None = None) -> Iterator[Service]:
    """The HTTP service over ``db`` in a uvicorn thread, its ledgers and market on ``clock``,
    Stripe pointed at ``fake``; stopped on exit."""
    import uvicorn

    from service.app import create_app
    from service.settings import Settings
    from service.state import ServiceState

    settings = Settings(db=db, workers=1, migrate=False, log_requests=False, stripe_api_key=fake.api_key,
                        stripe_api_base=fake.url, stripe_webhook_secret=fake.webhook_secret)
    state = ServiceState(settings)
    # Every ledger-dated thing (journal times, the daily-login day, orders, candles) reads these.
    state.ledger.clock = clock
    if state.market is not None:
        state.market.ledger.clock = clock
        state.market.exchange.clock = clock
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, state), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, name="coinlab-demo-service", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the HTTP service did not start")
        time.sleep(0.05)
    try:
        yield Service(f"http://127.0.0.1:{port}", state, server, thread)
    finally:
        server.should_exit = True
        thread.join(15)


# -- traffic ------------------------------------------------------------------------------------
class TrafficReport(NamedTuple):
    """What the traffic did: requests by ``"<verb> <route> <status>"``, purchases
    completed, webhook deliveries by outcome, and whether it was skipped."""

    requests: Counter[str]
    purchases: int
    webhooks: Counter[str]
    skipped: bool = False


class _Http:
    """The demo's HTTP client: app-key requests acting for a user, each POST with an
    Idempotency-Key, every status counted by route."""

    def __init__(self, url: str, app_token: str, day_key: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.app_token = app_token
        self.day_key = day_key
        self.counts: Counter[str] = Counter()

    def call(self, method: str, path: str, user: str | None, key: str | None = None,
             route: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.app_token}"}
        if user:
            headers["X-User-Id"] = user
        if key:
            headers["Idempotency-Key"] = f"demo:{self.day_key}:{key}"
        r = self.http.request(method, path, headers=headers, **kw)
        self.counts[f"{method} {route or path} {r.status_code}"] += 1
        return r


def _day_plan(rng: random.Random, day: date, users: list[str], arrival: dict[str, int], d: int,
              buyers: set[str], traders: set[str], shoppers: set[str]) -> list[tuple[datetime, str, str]]:
    """The day's sessions as (time, user, kind), sorted by time."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    plan = []

    def at(lo: float, hi: float) -> datetime:
        return start + timedelta(hours=rng.uniform(lo, hi))

    if d == 0:
        plan.append((start + timedelta(hours=7), SHOP, "launch"))
    plan.append((start + timedelta(hours=8), "", "pool_open"))
    for u in users:
        if arrival[u] > d:
            continue
        if arrival[u] == d:
            plan.append((at(6, 9), u, "arrive"))
        if rng.random() < 0.75 or arrival[u] == d:
            plan.append((at(9, 20), u, "session"))
        if u in buyers and (arrival[u] == d or rng.random() < 0.3):
            plan.append((at(9, 21), u, "buy_coins"))
        if u in shoppers and rng.random() < 0.6:
            plan.append((at(10, 20), u, "shop"))
        if u in traders:
            plan.extend((at(10, 22), u, "trade") for _ in range(rng.randint(1, 3)))
    plan.append((start + timedelta(hours=23), "", "pool_resolve"))
    plan.sort(key=lambda p: p[0])
    return plan


def drive_traffic(url: str, app_token: str, fake: Any, clock: DemoClock, *, users: int, days: list[date],
                  seed: int = 7, on_day: Callable[[int], None] | None = None) -> TrafficReport:
    """Send the demo's traffic for ``days`` through the HTTP API at ``url``. Purchases go
    through Stripe Checkout on ``fake`` (its webhook_url must point at the service);
    one in four paid events is delivered a second time, as Stripe may.

    Every choice comes from a random generator seeded by the event itself (seed, day,
    user, kind, time), never by what an earlier response said, so sending the same days
    again sends the same requests with the same keys: replays, not new traffic."""
    rng = random.Random(seed)
    names = [f"demo-u{i:03d}" for i in range(users)]
    # Most users are there on the first day; the rest arrive later.
    arrival = {u: (0 if rng.random() < 0.6 else rng.randrange(len(days))) for u in names}
    buyers = {u for u in names if rng.random() < 0.2}
    traders = set(rng.sample(sorted(buyers), k=max(1, len(buyers) // 2))) if buyers else set()
    shoppers = {u for u in names if u not in traders and rng.random() < 0.35}
    webhooks: Counter[str] = Counter()
    purchases = 0
    webhook_url = f"{url}/api/webhooks/stripe"
    client = _Http(url, app_token, days[0].isoformat())
    shopped_before: set[str] = set()  # buyers with an earlier checkout (FIRST50 is for a first one)
    try:
        for d, day in enumerate(days):
            pool = f"demo-pool-{day.isoformat()}"
            stakes: list[str] = []
            plan = _day_plan(random.Random(f"{seed}:{day}"), day, names, arrival, d, buyers, traders, shoppers)
            for moment, user, kind in plan:
                clock.at(moment)
                k = f"{d}:{user}:{kind}:{moment.timestamp():.0f}"
                r_ = random.Random(f"{seed}:{k}")
                if kind == "launch":
                    client.call("POST", "/api/brand-coins", SHOP, k, json={
                        "symbol": BRAND, "name": "Demo Brewery", "initialPrice": 20})
                elif kind == "pool_open":
                    client.call("POST", "/api/pools", None, k, route="/api/pools", json={
                        "id": pool, "title": f"Is the top claim of {day} upheld?", "outcomes": ["yes", "no"]})
                elif kind == "pool_resolve":
                    client.call("POST", f"/api/pools/{pool}/resolve", None, k, route="/api/pools/{id}/resolve",
                                json={"outcome": r_.choice(["yes", "no"])})
                elif kind == "arrive":
                    for reward in ("guest_initial", "signup", "newsletter")[:r_.choice((1, 2, 2, 3))]:
                        client.call("POST", "/api/coins/earn", user, f"{k}:{reward}", json={"reward": reward})
                elif kind == "session":
                    _session(client, r_, user, k, pool, stakes)
                elif kind == "buy_coins":
                    body: dict[str, Any] = {"packageId": r_.choice(PACKAGES)}
                    if r_.random() < 0.5 and user not in shopped_before:
                        body["promoCode"] = "FIRST50"
                    shopped_before.add(user)
                    redeliver = r_.random() < 0.25  # Stripe retries: the service must not credit twice
                    r = client.call("POST", "/api/coins/purchase/checkout", user, k, json=body)
                    if r.status_code != 200:
                        continue
                    done = httpx.post(f"{fake.url}/_fake/checkout/sessions/{r.json()['sessionId']}/complete",
                                      timeout=30)
                    if done.status_code == 200:
                        purchases += 1
                        webhooks["delivered"] += 1
                        if redeliver:
                            webhooks[f"redelivered {fake.deliver(done.json(), webhook_url)}"] += 1
                    else:  # e.g. a replayed checkout whose session an earlier fake Stripe completed
                        webhooks[f"complete {done.status_code}"] += 1
                elif kind == "shop":
                    usd = r_.choice((500, 1200, 2500, 4000))
                    client.call("POST", f"/api/brand-coins/{BRAND}/earn", user, k, route="/api/brand-coins/{s}/earn",
                                json={"usdCents": usd})
                    if r_.random() < 0.5:
                        _order(client, r_, user, f"{k}:sell", "sell")
                    elif r_.random() < 0.3:
                        client.call("POST", f"/api/brand-coins/{BRAND}/redeem", user, f"{k}:redeem",
                                    route="/api/brand-coins/{s}/redeem", json={"quantity": r_.randint(1, 5)})
                elif kind == "trade":
                    _order(client, r_, user, k, r_.choice(("buy", "buy", "sell")))
            if on_day is not None:
                on_day(d + 1)
    finally:
        clock.real()
        client.http.close()
    return TrafficReport(client.counts, purchases, webhooks)


def _session(client: _Http, rng: random.Random, user: str, k: str, pool: str, stakes: list[str]) -> None:
    """A user's visit: the daily login, a few votes, sometimes an unlock, a stake or a tip."""
    client.call("POST", "/api/coins/daily-login", user, None)
    for claim in rng.sample(range(60), rng.randint(0, 3)):
        client.call("POST", f"/api/claims/claim-{claim}/vote", user, None, route="/api/claims/{id}/vote")
    if rng.random() < 0.12:
        client.call("POST", f"/api/claims/claim-{rng.randrange(60)}/unlock-analysis", user, None,
                    route="/api/claims/{id}/unlock-analysis")
    if rng.random() < 0.2 and user not in stakes:
        stakes.append(user)
        client.call("POST", f"/api/pools/{pool}/stakes", user, f"{k}:stake", route="/api/pools/{id}/stakes",
                    json={"outcome": rng.choice(["yes", "no"]), "amount": rng.randint(2, 6)})
    if rng.random() < 0.05:
        client.call("POST", "/api/transfers", user, f"{k}:tip",
                    json={"toUserId": SHOP, "amount": 1, "note": "a tip for the brewery"})


def _order(client: _Http, rng: random.Random, user: str, key: str, side: str) -> None:
    """A limit order a few percent around the coin's price (inside the price band)."""
    r = client.call("GET", f"/api/brand-coins/{BRAND}", user, route="/api/brand-coins/{s}")
    price = int(r.json().get("price") or 20) if r.status_code == 200 else 20
    drift = rng.uniform(-0.04, 0.04) + (0.02 if side == "buy" else -0.02)  # cross the spread
    limit = max(1, round(price * (1 + drift)))
    client.call("POST", f"/api/market/{BRAND}/orders", user, key, route="/api/market/{s}/orders",
                json={"side": side, "quantity": rng.randint(1, 8), "price": limit})


# -- scenarios ----------------------------------------------------------------------------------
def scenario_run_id(name: str, users: int | None, days: int | None, seed: int = 1) -> str:
    """The run id `sim.runner.run` will give this run (it is derived from what defines it)."""
    from sim.runner import make_run_id
    from sim.scenario import load_scenario

    sc = load_scenario(name)
    upd = {k: v for k, v in (("users", users), ("days", days), ("seed", seed)) if v is not None}
    pop = sc.population.model_copy(update=upd)
    return make_run_id(sc.model_copy(update={"population": pop}), pop.seed)


def run_exists(warehouse: Path, run_id: str) -> bool:
    return any((warehouse / "runs" / f"run_id={run_id}").glob("*.parquet"))


# -- the whole demo -------------------------------------------------------------------------------
def _load_state(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def _save_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, path)


def _app_token(svc: Service, state: dict[str, Any]) -> str:
    """The demo's app key: the one a previous run made if it still works (so replayed
    requests carry the same credential), else a new one."""
    token = state.get("app_token")
    if token and svc.state.keys.verify(token) is not None:
        return str(token)
    return svc.state.keys.create("app", name="coinlab demo")[1]


def _has_traffic(svc: Service) -> bool:
    return BRAND in svc.state.store.assets()


def run_demo(data: Path, *, users: int = 40, days: int = 3, sim_users: int | None = None,
             sim_days: int | None = None, dash: bool = True, open_browser: bool = True,
             port: int = 8000, dash_port: int = 8501, console: Console | None = None) -> dict[str, Any]:
    """Everything `coinlab demo` does; returns what it did (for tests and the summary)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ledger import Ledger
    from ledger.sql import SqlStore
    from service.database import upgrade
    from service.fake_stripe import FakeStripe

    console = console or Console()
    paths = DemoPaths.under(data)
    paths.data.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    out: dict[str, Any] = {"paths": paths}

    def progress() -> Progress:
        return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console)

    with console.status("migrating the ledger database..."):
        upgrade(paths.db)
    console.print(f"[green]✓[/green] ledger at {paths.db}")

    clock = DemoClock()
    fake = FakeStripe().start()
    svc_cm = running_service(paths.db, fake, clock, port if port and _port_free(port) else None)
    svc = svc_cm.__enter__()
    dash_proc: subprocess.Popen[bytes] | None = None
    try:
        fake.webhook_url = f"{svc.url}/api/webhooks/stripe"
        console.print(f"[green]✓[/green] service on {svc.url} (fake Stripe on {fake.url})")
        state = _load_state(paths.state)
        token = _app_token(svc, state)
        done = state.get("completed") and _has_traffic(svc)
        if done:
            console.print(f"[green]✓[/green] production traffic already there ({state['days'][0]} .. "
                          f"{state['days'][-1]}): reused")
            report = TrafficReport(Counter(), 0, Counter(), skipped=True)
        else:
            if not (_has_traffic(svc) and state.get("days")):
                today = datetime.now(UTC).date()
                state = {"days": [(today - timedelta(days=days - i)).isoformat() for i in range(days)],
                         "users": users}
            state.update(app_token=token, completed=False)
            _save_state(paths.state, state)
            the_days = [date.fromisoformat(s) for s in state["days"]]
            with progress() as p:
                task = p.add_task(f"traffic over HTTP ({state['users']} users)", total=len(the_days))
                report = drive_traffic(svc.url, token, fake, clock, users=state["users"], days=the_days,
                                       on_day=lambda n: p.update(task, completed=n))
            state["completed"] = True
            _save_state(paths.state, state)
            errors = sum(n for k, n in report.requests.items() if k.rsplit(" ", 1)[1].startswith("5"))
            console.print(f"[green]✓[/green] {sum(report.requests.values())} requests "
                          f"({errors} server errors), {report.purchases} Stripe purchases, webhooks "
                          f"{dict(report.webhooks)}")
        out["traffic"] = report

        from sim.runner import run
        from sim.scenario import load_scenario

        out["runs"] = {}
        for name in SCENARIOS:
            rid = scenario_run_id(name, sim_users, sim_days)
            out["runs"][name] = rid
            if run_exists(paths.warehouse, rid):
                console.print(f"[green]✓[/green] scenario {name}: run {rid} already in the warehouse")
                continue
            sc = load_scenario(name)
            with progress() as p:
                on_day = _advance(p, p.add_task(f"scenario {name}", total=sim_days or sc.population.days))
                _, res = run(sc, users=sim_users, days=sim_days, root=paths.warehouse, on_day=on_day)
            console.print(f"[green]✓[/green] scenario {name}: run {res.run_id} in {res.wall_seconds:.1f} s")

        from dashboards.export import export

        with console.status("exporting production to the warehouse..."):
            exported = export(paths.db, paths.warehouse)
        out["export"] = exported
        console.print(f"[green]✓[/green] exported production to {paths.warehouse}: "
                      + ", ".join(f"{t} {n:,}" for t, n in exported.rows.items() if n))
        with console.status("proving every balance from the journal..."):
            check = Ledger(SqlStore(paths.db)).check()
        out["check_ok"] = check.ok
        mark = "[green]✓[/green]" if check.ok else "[red]✗[/red]"
        console.print(f"{mark} coinlab check: {check.entries} journal entries, "
                      f"{'ok' if check.ok else f'{len(check.problems)} problem(s)'}")

        urls = {"service": svc.url, "OpenAPI docs": f"{svc.url}/docs", "OpenAPI JSON": f"{svc.url}/openapi.json"}
        if dash:
            port = dash_port if _port_free(dash_port) else free_port()
            dash_proc = _start_dash(paths.warehouse, port, console)
            urls["dashboards"] = f"http://127.0.0.1:{port}"
        out["urls"] = urls
        out["seconds"] = time.perf_counter() - t0
        _print_urls(console, urls, token, out["seconds"], paths)
        if dash_proc is not None:
            if open_browser and _has_display():
                import webbrowser

                webbrowser.open(urls["dashboards"])
            console.print("[bold]Ctrl-C[/bold] stops the dashboards and the service.")
            _wait(dash_proc)
        return out
    finally:
        if dash_proc is not None and dash_proc.poll() is None:
            dash_proc.terminate()
            try:
                dash_proc.wait(10)
            except subprocess.TimeoutExpired:
                dash_proc.kill()
        svc_cm.__exit__(None, None, None)
        fake.stop()


def _advance(p: Any, task: Any) -> Callable[[int, int], None]:
    return lambda day, _total: p.update(task, completed=day)


def _wait(proc: subprocess.Popen[bytes]) -> None:
    """Wait for ``proc`` until it exits, Ctrl-C or SIGTERM (then the caller stops it:
    a plain SIGTERM would leave the dashboards running)."""
    import signal

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _has_display() -> bool:
    """Whether a graphical browser can open: without one, `webbrowser` would start a
    text browser (lynx, w3m) inside this terminal."""
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _coinlab() -> list[str]:
    script = Path(sys.executable).with_name("coinlab")
    return [str(script)] if script.exists() else [sys.executable, "-m", "coinlab_cli.main"]


def _start_dash(warehouse: Path, port: int, console: Console) -> subprocess.Popen[bytes]:
    """`coinlab dash` in a child process; returns once Streamlit answers its health check."""
    log = warehouse.parent / "runs" / "dash.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([*_coinlab(), "dash", "--port", str(port), "--warehouse", str(warehouse)],
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115
    with console.status(f"starting the dashboards (log: {log})..."):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"coinlab dash exited with {proc.returncode}; see {log}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).status_code == 200:
                    return proc
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"the dashboards did not start; see {log}")


def _print_urls(console: Console, urls: dict[str, str], token: str, seconds: float, paths: DemoPaths) -> None:
    from rich.table import Table

    table = Table(title=f"coinlab demo ready in {seconds:.0f} s", show_header=False)
    for name, url in urls.items():
        table.add_row(name, url)
    table.add_row("warehouse", str(paths.warehouse))
    table.add_row("ledger", paths.db)
    console.print(table)
    console.print("Try the API as the demo's app (acting for one of its users):\n"
                  f"  curl -H 'Authorization: Bearer {token}' -H 'X-User-Id: demo-u000' "
                  f"{urls['service']}/api/coins/balance")
    if "dashboards" not in urls:
        console.print("(the service stops when the demo exits: `coinlab serve --db "
                      f"{paths.db}` serves it again; `coinlab dash --warehouse {paths.warehouse}` "
                      "shows the dashboards)")
