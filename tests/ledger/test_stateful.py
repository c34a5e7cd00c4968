"""The ledger against a trivially simple model, under random operations.

The model is three dicts: balances ((account, asset) -> int), holds (id -> account,
asset, amount, status, expiry) and idempotency keys (key -> payload, result). Each
rule predicts the outcome (which error, or which journal rows) from the model alone,
performs the operation on the real ledger and compares; after every step the
invariants compare every balance, the per-asset zero sum, the journal's length and its
newest rows, every hold, and `ledger.check()`.

One machine runs over each store: memory (many examples), SQLite and PostgreSQL (a
fresh database per example, fewer and shorter runs).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ledger import (
    BURN,
    ESCROW,
    MINT,
    AccountFrozen,
    EntryType,
    HoldExpired,
    HoldNotFound,
    HoldNotLocked,
    HoldStatus,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidRequest,
    Ledger,
    LedgerError,
    MemoryStore,
    Posting,
    Transaction,
    TransferRequest,
)
from ledger.store import Store
from tests.support.clock import Clock

USERS = ("user:a", "user:b", "user:c")
POOL = "pool:p"
ASSETS = ("COIN", "USD")
NEGATIVE_OK = {MINT}

users = st.sampled_from(USERS)
assets = st.sampled_from(ASSETS)
amounts = st.integers(1, 80)  # against mints of up to 300: overdrafts are common
# A small pool of keys, so some get reused with another payload (a conflict); the
# `repeat_last_keyed_request` rule replays exact duplicates.
keys = st.none() | st.integers(0, 15).map(lambda i: f"k{i}")
payers = st.sampled_from((*USERS, MINT))
payees = st.sampled_from((*USERS, POOL, BURN))

Leg = tuple[str, str, str, Any, str | None]  # from, to, asset, amount, leg entry type


class ModelHold:
    def __init__(self, account: str, asset: str, amount: int, expires_at: Any) -> None:
        self.account, self.asset, self.amount, self.expires_at = account, asset, amount, expires_at
        self.status = HoldStatus.LOCKED.value


class LedgerMachine(RuleBasedStateMachine):
    """Subclassed per store with ``make_store`` (see `machine_for`)."""

    make_store: Callable[[], Store]
    holds = Bundle("holds")

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
        self.store = type(self).make_store()
        self.ledger = Ledger(self.store, clock=self.clock)
        self.balances: dict[tuple[str, str], int] = defaultdict(int)
        self.model_holds: dict[str, ModelHold] = {}
        self.keys: dict[str, tuple[Any, Any]] = {}  # key -> (payload, tx id or hold id)
        self.frozen: set[str] = set()
        self.journal_len = 0
        # The newest journal rows as (entry_type, asset, amount, from, to, from_before,
        # from_after, to_before, to_after, key); None after expiry (see `expire`).
        self.tail: list[tuple[Any, ...]] | None = []
        self.unordered_tail: Counter[tuple[Any, ...]] = Counter()
        self.keyed_requests: list[tuple[str, dict[str, Any]]] = []  # (rule, its arguments)

    def teardown(self) -> None:
        engine = getattr(self.store, "engine", None)
        if engine is not None:
            engine.dispose()

    # -- the model ---------------------------------------------------------------
    def legs_outcome(self, legs: list[Leg], entry_type: str, key: str | None):
        """The engine's per-leg rules, in its order: (error class, None) or (None, rows)."""
        working: dict[tuple[str, str], int] = {}
        rows = []
        for frm, to, asset, amount, leg_type in legs:
            if type(amount) is not int or amount <= 0 or frm == to:
                return InvalidRequest, None
            if frm in self.frozen:
                return AccountFrozen, None
            fb = working.get((frm, asset), self.balances[(frm, asset)])
            if fb - amount < 0 and frm not in NEGATIVE_OK:
                return InsufficientFunds, None
            tb = working.get((to, asset), self.balances[(to, asset)])
            working[(frm, asset)] = fb - amount
            working[(to, asset)] = tb + amount
            rows.append((leg_type or entry_type, asset, amount, frm, to, fb, fb - amount, tb, tb + amount, key))
        return None, rows

    def attempt(
        self,
        call: Callable[[], Any],
        *,
        entry_type: str,
        legs: list[Leg],
        key: str | None,
        hold: tuple[Any, ...] | None = None,
        before_engine: type[LedgerError] | None = None,
        hold_error: type[LedgerError] | None = None,
        result_id: Callable[[Any], Any] = lambda tx: tx.id,
    ) -> tuple[str, Any]:
        """Predict, perform, compare. Returns ("applied" | "replayed" | "refused", result)."""
        payload = (entry_type, tuple(legs), hold)
        rows = None
        prior = self.keys.get(key) if key is not None else None
        # The order of the checks is the ledger's: Ledger-level argument checks, then the
        # key, then the hold's state, then each leg.
        if before_engine is not None:
            expected: type[LedgerError] | None = before_engine
        elif prior is not None:
            expected = None if prior[0] == payload else IdempotencyConflict
        elif hold_error is not None:
            expected = hold_error
        else:
            expected, rows = self.legs_outcome(legs, entry_type, key)

        event(f"{entry_type}{'/' + hold[0] if hold else ''}: "
              f"{'replay' if prior is not None and expected is None else getattr(expected, '__name__', 'applied')}")
        try:
            result = call()
        except LedgerError as err:
            assert expected is not None, f"refused with {err!r}, model expected success"
            assert type(err) is expected, f"refused with {err!r}, model expected {expected.__name__}"
            return "refused", err
        assert expected is None, f"applied, model expected {expected.__name__}"
        if rows is None:  # a replay
            assert prior is not None
            assert result_id(result) == prior[1]
            if isinstance(result, Transaction):
                assert result.replayed
            return "replayed", result
        self.apply_rows(rows)
        if key is not None:
            self.keys[key] = (payload, result_id(result))
        return "applied", result

    def apply_rows(self, rows: list[tuple[Any, ...]]) -> None:
        for _t, asset, amount, frm, to, *_rest in rows:
            self.balances[(frm, asset)] -= amount
            self.balances[(to, asset)] += amount
        self.journal_len += len(rows)
        self.tail = rows
        self.unordered_tail = Counter()

    def hold_state_error(self, hold_id: str, *, check_expiry: bool = True) -> type[LedgerError] | None:
        h = self.model_holds[hold_id]
        if h.status != HoldStatus.LOCKED:
            return HoldNotLocked
        if check_expiry and h.expires_at is not None and self.clock.now >= h.expires_at:
            return HoldExpired
        return None

    def remember(self, name: str, key: str | None, **kw: Any) -> None:
        if key is not None:
            self.keyed_requests.append((name, {**kw, "key": key}))

    # -- plain movements ---------------------------------------------------------
    @initialize(amounts=st.lists(st.integers(0, 200), min_size=4, max_size=4))
    def opening_grants(self, amounts: list[int]) -> None:
        """a and b start with some of each asset, c with nothing: fewer dead runs."""
        pairs = [(u, a) for u in USERS[:2] for a in ASSETS]
        for (user, asset), amount in zip(pairs, amounts, strict=True):
            if amount:
                self.mint(user, asset, amount, None)

    @rule(to=users, asset=assets, amount=st.integers(1, 300), key=keys)
    def mint(self, to: str, asset: str, amount: int, key: str | None) -> None:
        self.remember("mint", key, to=to, asset=asset, amount=amount)
        self.attempt(lambda: self.ledger.mint(to, amount, asset, key=key),
                     entry_type=EntryType.ADMIN_GRANT, legs=[(MINT, to, asset, amount, None)], key=key)

    @rule(frm=users, to=payees, asset=assets, amount=amounts, key=keys)
    def transfer(self, frm: str, to: str, asset: str, amount: int, key: str | None) -> None:
        self.remember("transfer", key, frm=frm, to=to, asset=asset, amount=amount)
        self.attempt(lambda: self.ledger.transfer(frm, to, amount, asset, key=key),
                     entry_type=EntryType.TRANSFER, legs=[(frm, to, asset, amount, None)], key=key)

    @rule(frm=users, asset=assets, amount=amounts, key=keys)
    def burn(self, frm: str, asset: str, amount: int, key: str | None) -> None:
        self.remember("burn", key, frm=frm, asset=asset, amount=amount)
        self.attempt(lambda: self.ledger.burn(frm, amount, asset, key=key),
                     entry_type=EntryType.REDEEM_BURN, legs=[(frm, BURN, asset, amount, None)], key=key)

    @rule(frm=users, to=payees, asset=assets,
          amount=st.sampled_from([0, -3, 1.5, 2.0, True, Decimal(2), "2", None]))
    def transfer_bad_amount(self, frm: str, to: str, asset: str, amount: Any) -> None:
        self.attempt(lambda: self.ledger.transfer(frm, to, amount, asset),
                     entry_type=EntryType.TRANSFER, legs=[(frm, to, asset, amount, None)], key=None)

    @rule(legs=st.lists(st.tuples(payers, payees, assets, amounts, st.sampled_from([None, EntryType.FEE])),
                        min_size=1, max_size=4),
          key=keys)
    def multi(self, legs: list[Leg], key: str | None) -> None:
        self.remember("multi", key, legs=legs)
        request = TransferRequest(tuple(Posting(*leg) for leg in legs), EntryType.TRADE, key)
        self.attempt(lambda: self.ledger.post(request), entry_type=EntryType.TRADE, legs=list(legs), key=key)

    @rule(items=st.lists(st.tuples(payers, payees, assets, amounts, keys), min_size=1, max_size=4))
    def batch(self, items: list[tuple[str, str, str, int, str | None]]) -> None:
        """post_many: each request succeeds or fails on its own, in order, in one commit."""
        requests = [TransferRequest((Posting(f, t, a, n),), EntryType.TRANSFER, k) for f, t, a, n, k in items]
        results = self.ledger.post_many(requests)
        assert len(results) == len(items)
        all_rows: list[tuple[Any, ...]] = []
        for (f, t, a, n, k), result in zip(items, results, strict=True):
            outcome, _ = self.attempt(lambda result=result: _raise_or_return(result),
                                      entry_type=EntryType.TRANSFER, legs=[(f, t, a, n, None)], key=k)
            if outcome == "applied":
                all_rows.extend(self.tail or [])
        self.tail = all_rows if all_rows else self.tail
        if all_rows:
            self.unordered_tail = Counter()

    @rule(user=st.just("user:c"), frozen=st.booleans())  # only c, so a and b keep trading
    def freeze(self, user: str, frozen: bool) -> None:
        self.ledger.freeze(user, frozen)
        (self.frozen.add if frozen else self.frozen.discard)(user)

    # -- holds ---------------------------------------------------------------------
    @rule(target=holds, account=users, asset=assets, amount=st.integers(1, 60),
          expires_in=st.none() | st.integers(1, 120), key=keys)
    def lock(self, account: str, asset: str, amount: int, expires_in: int | None, key: str | None):
        self.remember("lock", key, account=account, asset=asset, amount=amount, expires_in=expires_in)
        expires_at = None if expires_in is None else self.clock.now + timedelta(seconds=expires_in)
        outcome, hold = self.attempt(
            lambda: self.ledger.lock(account, amount, asset, expires_at=expires_at, key=key),
            entry_type=EntryType.HOLD_LOCK, legs=[(account, ESCROW, asset, amount, None)], key=key,
            hold=("lock", account, asset, amount, expires_at), result_id=lambda h: h.id,
        )
        if outcome != "applied":
            return multiple()
        self.model_holds[hold.id] = ModelHold(account, asset, amount, expires_at)
        return hold.id

    @rule(hold_id=holds, to=st.sampled_from((*USERS, POOL)),
          part=st.none() | st.integers(0, 70), key=keys)
    def release(self, hold_id: str, to: str, part: int | None, key: str | None) -> None:
        self.remember("release", key, hold_id=hold_id, to=to, part=part)
        h = self.model_holds[hold_id]
        paid = h.amount if part is None else part
        legs: list[Leg] = []
        if paid:
            legs.append((ESCROW, to, h.asset, paid, None))
        if h.amount - paid > 0:
            legs.append((ESCROW, h.account, h.asset, h.amount - paid, EntryType.HOLD_RETURN))
        outcome, _ = self.attempt(
            lambda: self.ledger.release(hold_id, to, part, key=key),
            entry_type=EntryType.HOLD_RELEASE, legs=legs, key=key, hold=("release", hold_id),
            before_engine=None if 0 <= paid <= h.amount else InvalidRequest,
            hold_error=self.hold_state_error(hold_id), result_id=lambda _h: hold_id,
        )
        if outcome == "applied":
            h.status = HoldStatus.RELEASED.value

    @rule(hold_id=holds, to=st.sampled_from((*USERS, POOL)), amount=st.integers(1, 40), key=keys)
    def capture(self, hold_id: str, to: str, amount: int, key: str | None) -> None:
        self.remember("capture", key, hold_id=hold_id, to=to, amount=amount)
        h = self.model_holds[hold_id]
        error = self.hold_state_error(hold_id)
        if error is None and not amount < h.amount:
            error = InvalidRequest
        outcome, _ = self.attempt(
            lambda: self.ledger.capture(hold_id, [Posting(ESCROW, to, h.asset, amount)], key=key),
            entry_type=EntryType.HOLD_RELEASE, legs=[(ESCROW, to, h.asset, amount, None)], key=key,
            hold=("capture", hold_id), hold_error=error,
        )
        if outcome == "applied":
            h.amount -= amount

    @rule(hold_id=holds, key=keys)
    def void(self, hold_id: str, key: str | None) -> None:
        self.remember("void", key, hold_id=hold_id)
        h = self.model_holds[hold_id]
        outcome, _ = self.attempt(
            lambda: self.ledger.void(hold_id, key=key),
            entry_type=EntryType.HOLD_RETURN, legs=[(ESCROW, h.account, h.asset, h.amount, None)], key=key,
            hold=("void", hold_id), hold_error=self.hold_state_error(hold_id, check_expiry=False),
            result_id=lambda _h: hold_id,
        )
        if outcome == "applied":
            h.status = HoldStatus.VOIDED.value

    @rule(hold_id=holds, to=st.sampled_from((BURN, POOL)), key=keys)
    def forfeit(self, hold_id: str, to: str, key: str | None) -> None:
        self.remember("forfeit", key, hold_id=hold_id, to=to)
        h = self.model_holds[hold_id]
        outcome, _ = self.attempt(
            lambda: self.ledger.forfeit(hold_id, to, key=key),
            entry_type=EntryType.HOLD_FORFEIT, legs=[(ESCROW, to, h.asset, h.amount, None)], key=key,
            hold=("forfeit", hold_id), hold_error=self.hold_state_error(hold_id),
            result_id=lambda _h: hold_id,
        )
        if outcome == "applied":
            h.status = HoldStatus.FORFEITED.value

    @precondition(lambda self: bool(self.model_holds))  # as often as the other hold rules
    @rule()
    def settle_unknown_hold(self) -> None:
        for settle in (lambda: self.ledger.release("h-none", POOL), lambda: self.ledger.void("h-none")):
            self.attempt(settle, entry_type=EntryType.HOLD_RETURN, legs=[], key=None,
                         before_engine=HoldNotFound)

    @rule(seconds=st.integers(1, 200))
    def advance_clock(self, seconds: int) -> None:
        self.clock.now += timedelta(seconds=seconds)

    @rule()
    def advance_clock_to_the_next_expiry(self) -> None:
        """Exactly onto an expiry: the boundary where a hold stops being settleable."""
        future = [h.expires_at for h in self.model_holds.values()
                  if h.status == HoldStatus.LOCKED and h.expires_at is not None and h.expires_at > self.clock.now]
        if future:
            self.clock.now = min(future)

    @rule()
    def expire(self) -> None:
        due = [(hid, h) for hid, h in self.model_holds.items()
               if h.status == HoldStatus.LOCKED and h.expires_at is not None and h.expires_at <= self.clock.now]
        event(f"expire: {'some due' if due else 'none due'}")
        voided = self.ledger.expire_holds()
        assert sorted(h.id for h in voided) == sorted(hid for hid, _ in due)
        if not due:
            return
        # The store picks the order, and each void's before/after depends on it: compare
        # what moved, not the order (check() still proves each row's arithmetic).
        self.unordered_tail = Counter()
        for _hid, h in due:
            h.status = HoldStatus.VOIDED.value
            self.balances[(ESCROW, h.asset)] -= h.amount
            self.balances[(h.account, h.asset)] += h.amount
            self.unordered_tail[(EntryType.HOLD_RETURN.value, h.asset, h.amount, ESCROW, h.account)] += 1
        self.journal_len += len(due)
        self.tail = None

    # -- keys --------------------------------------------------------------------
    @precondition(lambda self: bool(self.keyed_requests))
    @rule(back=st.integers(1, 6))
    def repeat_a_keyed_request(self, back: int) -> None:
        """One of the latest keyed requests again, exactly: a replay if it was applied,
        even if the hold it settled has moved on or expired since."""
        name, kw = self.keyed_requests[-min(back, len(self.keyed_requests))]
        getattr(self, name)(**kw)

    # -- invariants --------------------------------------------------------------
    @invariant()
    def balances_match_the_model(self) -> None:
        stored = {(a, x): b for a, x, b in self.store.stored_balances()}
        for k in set(stored) | set(self.balances):
            assert stored.get(k, 0) == self.balances.get(k, 0), k
        for account in (*USERS, POOL):
            for asset in ASSETS:
                assert self.ledger.balance(account, asset) == self.balances.get((account, asset), 0)

    @invariant()
    def every_asset_sums_to_zero(self) -> None:
        totals: dict[str, int] = defaultdict(int)
        for _a, asset, bal in self.store.stored_balances():
            totals[asset] += bal
        assert all(t == 0 for t in totals.values()), totals

    @invariant()
    def journal_matches_the_model(self) -> None:
        want = self.tail if self.tail is not None else list(self.unordered_tail.elements())
        newest = self.store.entries(limit=len(want), newest_first=True)[::-1] if want else []
        if self.tail is not None:
            got = [(e.entry_type, e.asset, e.amount, e.from_account, e.to_account, e.from_before,
                    e.from_after, e.to_before, e.to_after, e.idempotency_key) for e in newest]
            assert got == self.tail
        else:
            got_moves = Counter((e.entry_type, e.asset, e.amount, e.from_account, e.to_account) for e in newest)
            assert got_moves == self.unordered_tail

    @invariant()
    def holds_match_the_model(self) -> None:
        stored = {h.id: h for h in self.store.holds()}
        assert set(stored) == set(self.model_holds)
        for hid, m in self.model_holds.items():
            h = stored[hid]
            assert (h.account, h.asset, h.amount, h.status, h.expires_at) == (
                m.account, m.asset, m.amount, m.status, m.expires_at)
        for asset in ASSETS:
            locked = sum(m.amount for m in self.model_holds.values()
                         if m.asset == asset and m.status == HoldStatus.LOCKED)
            assert self.balances.get((ESCROW, asset), 0) == locked

    @invariant()
    def check_is_clean(self) -> None:
        report = self.ledger.check()
        assert report.ok, report.problems
        assert report.entries == self.journal_len


def _raise_or_return(result: Transaction | LedgerError) -> Transaction:
    if isinstance(result, LedgerError):
        raise result
    return result


def machine_for(name: str, make_store: Callable[[], Store]) -> type[LedgerMachine]:
    return type(name, (LedgerMachine,), {"make_store": staticmethod(make_store)})


def run(machine: type[LedgerMachine], examples: int, steps: int) -> None:
    run_state_machine_as_test(machine, settings=settings(
        max_examples=examples, stateful_step_count=steps, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    ))


def test_memory_store_matches_the_model() -> None:
    run(machine_for("MemoryLedger", MemoryStore), examples=300, steps=50)


def test_sqlite_store_matches_the_model(tmp_path_factory) -> None:
    from ledger.sql import SqlStore
    from service.database import upgrade

    def make_store() -> Store:
        url = f"sqlite:///{tmp_path_factory.mktemp('stateful') / 'ledger.sqlite'}"
        upgrade(url)
        return SqlStore(url)

    run(machine_for("SqliteLedger", make_store), examples=25, steps=30)


_pg_names = itertools.count(1)


def test_postgres_store_matches_the_model(pg_cluster) -> None:
    from ledger.sql import SqlStore
    from service.database import upgrade

    def make_store() -> Store:
        url = pg_cluster.create_database(f"stateful{next(_pg_names)}")
        upgrade(url)
        return SqlStore(url)

    run(machine_for("PostgresLedger", make_store), examples=15, steps=30)
