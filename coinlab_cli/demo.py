"""The one-command demo: a production ledger with a few days of traffic behind it, two
simulated scenarios, the warehouse, and the dashboards over all of it.

`run_demo` does, in order (each step reuses what an earlier run left):

1. migrate ``<data>/ledger.sqlite`` and start the fake Stripe server and the HTTP
   service (uvicorn in a thread, one worker, a free loopback port);
2. let the simulator's own population live ``days`` days as production's users
   (`drive_population`): the agents of sim/agents.py, with the behaviour model of
   sim/behaviour.py, act through the HTTP API (sim/http_economy.py): sign-up rewards,
   daily logins, votes and unlocks, pool stakes, belt challenges, Stripe Checkout
   purchases completed on the fake Stripe server (which signs and delivers the webhooks
   to ``/api/webhooks/stripe``), a shop's brand coin, its shoppers and traders;
3. run the ``baseline`` and ``pump_and_dump`` scenarios (skipped when the run exists);
4. export production to the warehouse and prove the ledger (`Ledger.check`); then
   calibrate the behaviour model to production, back-test it, and forecast 90 days from
   production's state under a raised daily login (`coinlab_cli.demo_analysis`);
5. start the dashboards (``coinlab dash``) unless told not to, and print every URL.

Why the service runs in this process: the traffic spans several *days*, and daily
logins, streaks and candles follow the ledger's clock. The demo swaps that clock for
`DemoClock`, which follows the population's simulated time (seconds since the first
day's midnight) as it sends the requests, so a few minutes of requests leave the same
journal days of users would. The days end yesterday, so nothing is dated in the future.
After the traffic the clock is the real one again.

A second run sends no traffic: ``<data>/runs/demo-state.json`` records the days, size
and seed it used and that the traffic finished. A run that died half-way is run again
with the same seed over the same days: the answers it had received are read back from
``<data>/runs/demo-tape.jsonl`` (so the agents choose the same things and nothing is
sent twice), and the one request in flight is replayed by the service under its
``Idempotency-Key``."""

from __future__ import annotations

import json
import os
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

__all__ = ["DemoClock", "DemoPaths", "TrafficReport", "drive_population", "free_port", "run_demo", "scenario_run_id"]

SCENARIOS = ("baseline", "pump_and_dump")
POPULATION = "demo"  # data/scenarios/demo.toml: who production's users are
BRAND = "SHOP1"  # the brand coin the population's first shop launches


class DemoPaths(NamedTuple):
    """Where the demo keeps things under its data folder."""

    data: Path
    db: str
    warehouse: Path
    state: Path
    tape: Path

    @classmethod
    def under(cls, data: Path) -> DemoPaths:
        data = data.resolve()
        runs = data / "runs"
        return cls(data, f"sqlite:///{data / 'ledger.sqlite'}", data / "warehouse", runs / "demo-state.json",
                   runs / "demo-tape.jsonl")


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
    """What the population did: requests by ``"<verb> <route> <status>"`` (replayed ones
    included), Stripe outcomes (paid, redelivered, ...), requests answered from the tape
    of an earlier run, and whether the traffic was skipped."""

    requests: Counter[str]
    purchases: int
    webhooks: Counter[str]
    skipped: bool = False
    replayed: int = 0


def drive_population(url: str, app_token: str, fake: Any, clock: DemoClock, *, days: list[date], users: int,
                     tape: Path | None, seed: int = 1, scenario: str = POPULATION,
                     on_day: Callable[[int], None] | None = None) -> TrafficReport:
    """The simulator's population (``scenario``'s users, shops, shoppers and traders,
    sim/agents.py) living ``days`` through the HTTP API at ``url``: the model's SimPy
    time is mapped onto ``clock`` from the first day's midnight, so each request is dated
    when its agent acted. Purchases are Stripe Checkouts completed on ``fake`` (its
    webhook_url must be the service's). ``tape`` keeps the answers: sending the same days
    again with the same seed replays them (sim/http_economy.py)."""
    from sim.http_economy import HttpBackend
    from sim.model import EconomyModel
    from sim.scenario import load_scenario

    first = datetime(days[0].year, days[0].month, days[0].day, tzinfo=UTC)
    backend = HttpBackend(url, app_token, fake, clock.at, key_prefix=f"demo:{days[0]}:{seed}", tape=tape, seed=seed)
    try:
        model = EconomyModel(load_scenario(scenario), users=users, days=len(days), seed=seed, backend=backend,
                             start=first)
        for d in range(len(days)):
            model.step()
            if on_day is not None:
                on_day(d + 1)
    finally:
        clock.real()
        backend.close()
    api = backend.api
    assert api is not None
    stripe = backend.stripe.outcomes
    paid = stripe["complete"] - stripe["fail_async"]
    return TrafficReport(api.counts, paid, stripe, replayed=api.replayed)


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


def run_demo(data: Path, *, users: int = 400, days: int = 21, seed: int = 1, sim_users: int | None = None,
             sim_days: int | None = None, analysis: bool = True, dash: bool = True, open_browser: bool = True,
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
            # a first run (or one whose ledger was wiped): else the same days, size and seed again
            if not (_has_traffic(svc) and state.get("days")):
                today = datetime.now(UTC).date()
                state = {"days": [(today - timedelta(days=days - i)).isoformat() for i in range(days)],
                         "users": users, "seed": seed}
                paths.tape.unlink(missing_ok=True)
            state.update(app_token=token, completed=False)
            _save_state(paths.state, state)
            the_days = [date.fromisoformat(s) for s in state["days"]]
            with progress() as p:
                task = p.add_task(f"population over HTTP ({state['users']} users)", total=len(the_days))
                report = drive_population(svc.url, token, fake, clock, users=state["users"], days=the_days,
                                          seed=state.get("seed", 1), tape=paths.tape,
                                          on_day=lambda n: p.update(task, completed=n))
            state["completed"] = True
            _save_state(paths.state, state)
            errors = sum(n for k, n in report.requests.items() if k.rsplit(" ", 1)[1].startswith("5"))
            console.print(f"[green]✓[/green] {sum(report.requests.values())} requests "
                          f"({report.replayed} replayed from the tape, {errors} server errors), "
                          f"{report.purchases} Stripe purchases, {dict(report.webhooks)}")
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

        if analysis:
            from .demo_analysis import analyse_production

            out["analysis"] = analyse_production(paths.data, paths.warehouse, POPULATION, state, console, progress)
            _save_state(paths.state, state)

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
                  f"  curl -H 'Authorization: Bearer {token}' -H 'X-User-Id: u1' "
                  f"{urls['service']}/api/coins/balance")
    if "dashboards" not in urls:
        console.print("(the service stops when the demo exits: `coinlab serve --db "
                      f"{paths.db}` serves it again; `coinlab dash --warehouse {paths.warehouse}` "
                      "shows the dashboards)")
