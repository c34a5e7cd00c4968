"""The simulator's economy over HTTP: the surfaces the agents call (`EconomyModel.economy`,
``.ledger.balance``, ``.stripe.pay``, ``.exchange``) answered by a running coinlab service.

`HttpBackend` is chosen when the model is built (``EconomyModel(..., backend=...)``); the
agents (sim/agents.py) stay the one behaviour and do not know which economy they act on.
Every call is one request with the service's app key acting for the agent's user
(``X-User-Id``); refusals come back as problem+json and are raised as the same
`LedgerError` subclasses the in-process rules raise, so an agent reacts to a 409
``insufficient_funds`` exactly as to `InsufficientFunds`. Purchases go through Stripe
Checkout: the fake Stripe server (service/fake_stripe.py) completes the session and
delivers the signed webhook to the service, which credits the coins.

Time: before each request the backend pins the service's clock (`DemoClock`) to the
model's SimPy time, so the journal is dated when the agent acted.

Replays: the model is deterministic for a seed *given the answers it gets*. Every answer
is appended to a tape (JSON lines). A run that died half-way is re-run with the same
seed: the answers on the tape are read back instead of asking again, so the agents make
the same choices and send nothing already sent; from the end of the tape the requests
are live again. Every POST carries an ``Idempotency-Key`` made of the run's prefix and
the request's sequence number, so the request that was in flight when the run died is
replayed by the service (its stored answer) rather than done twice.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any, NamedTuple

import httpx

from ledger.economy.challenges import Challenges
from ledger.economy.config import EconomyConfig
from ledger.economy.errors import (
    CheckoutAlreadyOpen,
    NotEligible,
    NotFound,
    PoolStateError,
    PromoRejected,
    PurchaseLimitExceeded,
    StakeCapExceeded,
)
from ledger.economy.packages import MemoryPackageStore, PackageCatalog
from ledger.errors import (
    AccountFrozen,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidRequest,
    LedgerError,
)

__all__ = ["Credit", "HttpApi", "HttpBackend", "HttpServerError", "Reply", "Tape"]

# problem+json code -> the exception the in-process code raises for it
ERRORS: dict[str, type[LedgerError]] = {cls.code: cls for cls in (
    InsufficientFunds, AccountFrozen, IdempotencyConflict, InvalidRequest, NotEligible, NotFound, PromoRejected,
    PurchaseLimitExceeded, CheckoutAlreadyOpen, PoolStateError, StakeCapExceeded)}
REWARDS = {"guest_initial": "guest_initial", "signup_bonus": "signup", "newsletter_bonus": "newsletter"}


class HttpServerError(RuntimeError):
    """The service answered 5xx: a bug to see, not a refusal an agent reacts to."""


class Reply(NamedTuple):
    status: int
    body: Any


def _raise(reply: Reply) -> None:
    """Raise the refusal in ``reply`` as the in-process exception (nothing was changed)."""
    if reply.status < 400:
        return
    body = reply.body if isinstance(reply.body, dict) else {}
    if reply.status >= 500:
        raise HttpServerError(f"{reply.status}: {body.get('detail', reply.body)}")
    cls = ERRORS.get(str(body.get("code")), LedgerError)
    err = cls.__new__(cls)  # the classes' own __init__ want the in-process facts
    facts = {k: v for k, v in body.items() if k not in ("type", "title", "status", "code", "detail")}
    LedgerError.__init__(err, str(body.get("detail", f"HTTP {reply.status}")), **facts)
    raise err


def _user(account: str) -> str:
    kind, _, uid = account.partition(":")
    if kind != "user" or not uid:
        raise InvalidRequest(f"only user accounts are readable over the API, not {account!r}")
    return uid


# -- the tape and the client -----------------------------------------------------------------
class Tape:
    """The answers received so far, one JSON line each, in request order. A torn last
    line (the process died while writing it) is dropped: that request is asked again,
    under the same idempotency key."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.replay: list[Reply] = []
        self._file: IO[str] | None = None
        if path is not None and path.exists():
            lines = path.read_text().split("\n")
            for line in lines[:-1]:  # every complete line ends with "\n"
                self.replay.append(Reply(*json.loads(line)))
            path.write_text("".join(json.dumps(list(r)) + "\n" for r in self.replay))
        self.read = 0

    def next(self) -> Reply | None:
        if self.read < len(self.replay):
            self.read += 1
            return self.replay[self.read - 1]
        return None

    def record(self, reply: Reply) -> None:
        if self.path is None:
            return
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a")
        self._file.write(json.dumps(list(reply)) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class HttpApi:
    """Requests as the app, acting for a user; each answer taped; the service's clock
    pinned to ``now()`` before each live request; counts by ``"<verb> <route> <status>"``."""

    def __init__(self, url: str, app_token: str, *, pin_clock: Callable[[datetime], None],
                 now: Callable[[], datetime], key_prefix: str, tape: Path | None = None) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)
        self.token = app_token
        self.pin_clock = pin_clock
        self.now = now
        self.key_prefix = key_prefix
        self.tape = Tape(tape)
        self.seq = 0
        self.counts: Counter[str] = Counter()
        self.replayed = 0
        self.last_live = False  # whether the last answer came from the service (not the tape)

    def call(self, method: str, path: str, user: str | None = None, *, route: str | None = None,
             json_body: Any = None) -> Reply:
        self.seq += 1
        reply = self.tape.next()
        self.last_live = reply is None
        if reply is not None:
            self.replayed += 1
        else:
            self.pin_clock(self.now())
            headers = {"Authorization": f"Bearer {self.token}"}
            if user is not None:
                headers["X-User-Id"] = user
            if method == "POST":
                headers["Idempotency-Key"] = f"{self.key_prefix}:{self.seq}"
            r = self.http.request(method, path, headers=headers, json=json_body)
            reply = Reply(r.status_code, r.json() if r.content else None)
            self.tape.record(reply)
        self.counts[f"{method} {route or path} {reply.status}"] += 1
        return reply

    def ok(self, method: str, path: str, user: str | None = None, *, route: str | None = None,
           json_body: Any = None) -> Any:
        """The answer's body, or its refusal raised."""
        reply = self.call(method, path, user, route=route, json_body=json_body)
        _raise(reply)
        return reply.body

    def close(self) -> None:
        self.tape.close()
        self.http.close()


# -- what the agents call ------------------------------------------------------------------
class Credit(NamedTuple):
    """A reward as the agents read it (`sim.agents._credited`): its entries' amounts and
    whether it was a replay."""

    entries: tuple[SimpleNamespace, ...]
    replayed: bool

    @classmethod
    def of(cls, amount: int, replayed: bool) -> Credit | None:
        return cls((SimpleNamespace(amount=amount),), replayed) if amount or replayed else None


class HttpRules:
    """`EconomyRules`' earn and spend calls the agents make."""

    def __init__(self, api: HttpApi) -> None:
        self.api = api

    def daily_login(self, uid: str) -> SimpleNamespace:
        b = self.api.ok("POST", "/api/coins/daily-login", uid)
        return SimpleNamespace(login=Credit.of(b["awarded"], b["replayed"]),
                               streak=Credit.of(b["streakBonus"], b["replayed"]), streak_length=b["streakLength"])

    def one_time_reward(self, uid: str, reward: str) -> Credit | None:
        b = self.api.ok("POST", "/api/coins/earn", uid, json_body={"reward": reward})
        return Credit.of(b["amount"], b["replayed"])

    def guest_initial(self, uid: str) -> Credit | None:
        return self.one_time_reward(uid, REWARDS["guest_initial"])

    def signup_bonus(self, uid: str) -> Credit | None:
        return self.one_time_reward(uid, REWARDS["signup_bonus"])

    def newsletter_bonus(self, uid: str) -> Credit | None:
        return self.one_time_reward(uid, REWARDS["newsletter_bonus"])

    def vote(self, uid: str, claim: str) -> Credit | None:
        b = self.api.ok("POST", f"/api/claims/{claim}/vote", uid, route="/api/claims/{id}/vote")
        return Credit.of(b["amount"], b["replayed"])

    def unlock_deep_analysis(self, uid: str, claim: str) -> Credit | None:
        b = self.api.ok("POST", f"/api/claims/{claim}/unlock-analysis", uid, route="/api/claims/{id}/unlock-analysis")
        return Credit.of(b["amount"], b["replayed"])


class HttpPools:
    def __init__(self, api: HttpApi) -> None:
        self.api = api

    def create(self, pool_id: str, title: str, outcomes: tuple[str, ...] | list[str]) -> Any:
        return self.api.ok("POST", "/api/pools", json_body={"id": pool_id, "title": title, "outcomes": list(outcomes)})

    def stake(self, pool_id: str, uid: str, outcome: str, amount: int, key: str | None = None) -> Any:
        return self.api.ok("POST", f"/api/pools/{pool_id}/stakes", uid, route="/api/pools/{id}/stakes",
                           json_body={"outcome": outcome, "amount": amount})

    def resolve(self, pool_id: str, outcome: str) -> SimpleNamespace:
        b = self.api.ok("POST", f"/api/pools/{pool_id}/resolve", route="/api/pools/{id}/resolve",
                        json_body={"outcome": outcome})
        return SimpleNamespace(payouts=b["payouts"], fee=b["fee"], pot=b["pot"])


class HttpChallenges:
    """Belt challenges; a challenge's id stands in for the hold the in-process calls return."""

    def __init__(self, api: HttpApi, config: EconomyConfig) -> None:
        self.api = api
        self.fees = Challenges(None, config)  # type: ignore[arg-type]  # entry_fee reads only the config

    def entry_fee(self, belt_value: int) -> int:
        return self.fees.entry_fee(belt_value)

    def open(self, challenge_id: str, uid: str, belt_value: int) -> SimpleNamespace:
        self.api.ok("POST", "/api/challenges", uid, json_body={"id": challenge_id, "beltValue": belt_value})
        return SimpleNamespace(id=challenge_id)

    def settle(self, challenge_id: str, winner: str, loser: str) -> SimpleNamespace:
        b = self.api.ok("POST", f"/api/challenges/{challenge_id}/resolve", route="/api/challenges/{id}/resolve",
                        json_body={"winnerUserId": winner, "loserUserId": loser})
        return SimpleNamespace(entries=(SimpleNamespace(to_account=f"user:{winner}", amount=b["winnerPayout"]),
                                        SimpleNamespace(to_account=f"user:{loser}", amount=b["loserPayout"])))

    def cancel(self, challenge_id: str) -> Any:
        return self.api.ok("POST", f"/api/challenges/{challenge_id}/cancel", route="/api/challenges/{id}/cancel")


class HttpPayments:
    def __init__(self, api: HttpApi) -> None:
        self.api = api

    def create_checkout(self, uid: str, package_id: str, *, promo_code: str | None = None, is_pro: bool = False,
                        key: str | None = None) -> SimpleNamespace:
        # is_pro: the service knows a user's PRO status itself; the API takes no such flag
        body: dict[str, Any] = {"packageId": package_id}
        if promo_code:
            body["promoCode"] = promo_code
        b = self.api.ok("POST", "/api/coins/purchase/checkout", uid, json_body=body)
        return SimpleNamespace(payment=SimpleNamespace(session_id=b["sessionId"]), url=b["checkoutUrl"])


class HttpStripe:
    """The customers and their banks, on the fake Stripe server, played as the in-process
    `sim.stripe.SimStripe` plays them from the population's ``[population.stripe]`` table:
    some abandon the checkout (it expires an hour later), the rest pay a few minutes
    later, some by a delayed method that settles (or fails) within hours; some paid
    events are delivered twice; some payments are refunded within a week, or disputed
    within two. Every step is a request the fake answers by delivering the signed event
    to the service (``fake.webhook_url``), at the model's time."""

    def __init__(self, api: HttpApi, fake: Any, env: Any, params: Any, seed: int) -> None:
        self.api, self.fake, self.env, self.params = api, fake, env, params
        self.rng = random.Random(f"stripe:{seed}")  # not the agents' stream: they cannot see the bank
        self.outcomes: Counter[str] = Counter()

    def pay(self, session_id: str) -> None:
        """The customer goes to the checkout page; what happens next is up to chance."""
        self.env.process(self._play(session_id))

    def _fake(self, session_id: str, action: str, body: dict[str, Any] | None = None) -> Reply:
        reply = self.api.call("POST", f"{self.fake.url}/_fake/checkout/sessions/{session_id}/{action}",
                              route=f"fake stripe: {action}", json_body=body)
        # not 200: e.g. a replayed checkout whose session an earlier fake Stripe (a run that died) holds
        self.outcomes[action if reply.status == 200 else f"{action} {reply.status}"] += 1
        return reply

    def _play(self, sid: str) -> Any:
        p, r, env = self.params, self.rng, self.env
        if r.random() < p.abandon_share:
            yield env.timeout(3600)
            self._fake(sid, "expire")
            return
        yield env.timeout(r.uniform(30, 300))  # filling in the card form
        delayed = r.random() < p.async_share
        done = self._fake(sid, "complete", {"async": delayed})
        if done.status != 200:
            return
        if r.random() < p.duplicate_share and self.api.last_live and self.fake.webhook_url:
            self.outcomes[f"redelivered {self.fake.deliver(done.body, self.fake.webhook_url)}"] += 1
        if delayed:
            yield env.timeout(r.expovariate(1 / 3600.0))
            if r.random() < p.async_fail_share:
                self._fake(sid, "fail_async")
                return
            self._fake(sid, "succeed_async")
        refund = r.random() < p.refund_share
        whole = r.random() < 0.7
        refund_at, dispute_at = r.uniform(3600, 7 * 86400), r.uniform(86400, 14 * 86400)
        dispute = r.random() < p.dispute_share
        if refund:
            yield env.timeout(refund_at)
            total = int(done.body["data"]["object"]["amount_total"])
            self._fake(sid, "refund", {"amount": total if whole else total // 2})
        if dispute:
            yield env.timeout(max(0.0, dispute_at - (refund_at if refund else 0.0)))
            self._fake(sid, "dispute")


class HttpExchange:
    """The brand-coin market calls the model makes (`EconomyModel.place`, ``.earn``, ...)."""

    def __init__(self, api: HttpApi) -> None:
        self.api = api
        self.coins: dict[str, SimpleNamespace] = {}

    def subscribe(self, **_: Any) -> None:
        """Trades happen inside the service: production's journal and trade table record them."""

    def launch(self, symbol: str, name: str, seller: str, *, initial_price: int, max_supply: int,
               now: datetime | None = None) -> SimpleNamespace:
        b = self.api.ok("POST", "/api/brand-coins", _user(seller), json_body={
            "symbol": symbol, "name": name, "initialPrice": initial_price, "maxSupply": max_supply})
        self.coins[symbol] = coin = SimpleNamespace(symbol=symbol, name=name, initial_price=b["initialPrice"])
        return coin

    def submit(self, symbol: str, account: str, side: str, quantity: int, price: int | None = None, *,
               tif: str = "GTC", expires_at: datetime | None = None) -> SimpleNamespace:
        body: dict[str, Any] = {"side": side, "quantity": quantity, "price": price, "tif": tif}
        if expires_at is not None:
            body["expiresAt"] = expires_at.isoformat()
        b = self.api.ok("POST", f"/api/market/{symbol}/orders", _user(account), route="/api/market/{s}/orders",
                        json_body=body)
        return SimpleNamespace(id=b["id"], status=b["status"], reason=b.get("reason"), price=b["price"],
                               is_open=b["status"] == "open")

    def cancel(self, order_id: int, account: str) -> Any:
        return self.api.ok("DELETE", f"/api/market/orders/{order_id}", _user(account), route="/api/market/orders/{id}")

    def last_price(self, symbol: str) -> int:
        return int(self.api.ok("GET", f"/api/brand-coins/{symbol}", route="/api/brand-coins/{s}")["price"])

    def earn(self, symbol: str, account: str, cents: int) -> int:
        b = self.api.ok("POST", f"/api/brand-coins/{symbol}/earn", _user(account), route="/api/brand-coins/{s}/earn",
                        json_body={"usdCents": cents})
        return int(b["quantity"])

    def redeem(self, symbol: str, account: str, quantity: int) -> int:
        b = self.api.ok("POST", f"/api/brand-coins/{symbol}/redeem", _user(account),
                        route="/api/brand-coins/{s}/redeem", json_body={"quantity": quantity})
        return int(b.get("value") or 0)

    def release_vested(self, symbol: str) -> int:
        """The service releases a seller's vesting on its own schedule; no route asks for it."""
        raise NotFound("vesting is released by the service, not over the API", symbol=symbol)

    def advance(self) -> None:
        """GTD expiries and circuit-breaker resumes run inside the service on its clock."""


class HttpLedger:
    """Balance reads: what a user's app shows (spendable balance of an asset)."""

    def __init__(self, api: HttpApi) -> None:
        self.api = api

    def balance(self, account: str, asset: str = "COIN") -> int:
        b = self.api.ok("GET", "/api/coins/balance", _user(account))
        return int(b["balances"].get(asset, 0))


class HttpEconomy(NamedTuple):
    """`ledger.economy.Economy`'s parts the agents and the house use."""

    rules: HttpRules
    pools: HttpPools
    challenges: HttpChallenges
    payments: HttpPayments
    catalog: PackageCatalog


class HttpBackend:
    """A running service the model's agents act on. ``pin_clock`` sets the service's
    clock (the demo's `DemoClock.at`); ``fake`` is the fake Stripe server whose
    ``webhook_url`` points at the service; ``tape`` the file the answers are kept in."""

    def __init__(self, url: str, app_token: str, fake: Any, pin_clock: Callable[[datetime], None], *,
                 key_prefix: str, tape: Path | None = None, seed: int = 0) -> None:
        self.url, self.token, self.fake, self.pin_clock = url, app_token, fake, pin_clock
        self.key_prefix, self.tape, self.seed = key_prefix, tape, seed
        self.api: HttpApi | None = None

    def connect(self, model: Any) -> tuple[HttpLedger, HttpStripe, HttpEconomy, HttpExchange]:
        """(ledger, stripe, economy, exchange) for ``model``, on its clock. The package
        catalog is the model's config's (the service must run the same config)."""
        self.api = api = HttpApi(self.url, self.token, pin_clock=self.pin_clock, now=model.clock,
                                 key_prefix=self.key_prefix, tape=self.tape)
        economy = HttpEconomy(HttpRules(api), HttpPools(api), HttpChallenges(api, model.config), HttpPayments(api),
                              PackageCatalog(model.config, MemoryPackageStore()))
        self.stripe = HttpStripe(api, self.fake, model.env, model.pop.stripe, self.seed)
        self.exchange = HttpExchange(api)
        return HttpLedger(api), self.stripe, economy, self.exchange

    def close(self) -> None:
        if self.api is not None:
            self.api.close()
