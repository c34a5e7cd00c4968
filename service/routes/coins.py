"""Platform coins: packages, checkout, balance, history, rewards, spends, transfers."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from ledger import EntryType, Posting, Transaction, TransferRequest, user_account
from ledger.economy.rules import DailyLogin, utc_day
from market.coins import CoinError

from ..deps import Caller, IdemKey, ReadUser, ServerUser, StateDep, WriteUser, require_market
from ..problems import ApiError, error_responses
from ..schemas import (
    BalanceOut,
    CheckoutIn,
    CheckoutOut,
    DailyLoginOut,
    EarnIn,
    HistoryItemOut,
    HistoryOut,
    PackageList,
    PackageOut,
    SpendOut,
    TransferIn,
    TransferOut,
)
from ..state import ServiceState

__all__ = ["router"]

router = APIRouter(tags=["coins"], responses=error_responses(400, 401, 403, 404, 409, 422))
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10**9)]


def _known_balance(account: str, tx: Transaction | None, asset: str = "COIN") -> int | None:
    """The account's balance right after ``tx``, from the journal rows it wrote (no
    query); None for a replayed or missing transaction: read the current balance then."""
    if tx is not None and not tx.replayed:
        for e in reversed(tx.entries):
            if e.asset == asset and account in (e.from_account, e.to_account):
                return e.to_after if e.to_account == account else e.from_after
    return None


def _balance_after(state: ServiceState, account: str, tx: Transaction | None, asset: str = "COIN") -> int:
    known = _known_balance(account, tx, asset)
    return state.ledger.balance(account, asset) if known is None else known


async def _balance_after_async(state: ServiceState, account: str, tx: Transaction | None,
                               asset: str = "COIN") -> int:
    known = _known_balance(account, tx, asset)
    return await run_in_threadpool(state.ledger.balance, account, asset) if known is None else known


def _spent(user: str, action: str, tx: Transaction | None, balance: int) -> SpendOut:
    amount = tx.entries[0].amount if tx is not None else 0
    return SpendOut(action=action, amount=amount, replayed=bool(tx and tx.replayed), tx_id=tx.id if tx else None,
                    balance=balance)


@router.get("/api/coins/packages", response_model=PackageList)
def packages(state: StateDep, _: Caller) -> PackageList:
    return PackageList(packages=[PackageOut.model_validate(p.to_dict()) for p in state.economy.catalog.list()])


@router.post("/api/coins/purchase/checkout", response_model=CheckoutOut, responses=error_responses(502))
def checkout(body: CheckoutIn, state: StateDep, user: WriteUser, idem: IdemKey) -> CheckoutOut:
    done = state.economy.payments.create_checkout(user, body.package_id, promo_code=body.promo_code, key=idem)
    return CheckoutOut.model_validate(done.to_dict())


@router.get("/api/coins/balance", response_model=BalanceOut)
def balance(state: StateDep, user: ReadUser) -> BalanceOut:
    account = user_account(user)
    balances = state.ledger.balances(account)
    return BalanceOut(user_id=user, balance=balances.get("COIN", 0), held=state.ledger.held(account),
                      balances=balances)


@router.get("/api/coins/history", response_model=HistoryOut)
def history(state: StateDep, user: ReadUser, limit: Limit = 50, offset: Offset = 0,
            type: Annotated[EntryType | None, Query()] = None) -> HistoryOut:
    items = state.ledger.history(user_account(user), entry_type=type, limit=limit, offset=offset)
    return HistoryOut(items=[HistoryItemOut(
        entry_id=i.entry_id, tx_id=i.tx_id, time=i.time, type=i.entry_type, asset=i.asset, amount=i.amount,
        balance_before=i.balance_before, balance_after=i.balance_after, counterparty=i.counterparty,
        ref_type=i.ref_type, ref_id=i.ref_id, metadata=i.metadata, note=i.note) for i in items],
        limit=limit, offset=offset)


# The hot write routes are async and post their ledger requests themselves
# (ServiceState.post): on PostgreSQL no thread-pool thread hops in or waits for the batch.
@router.post("/api/coins/daily-login", response_model=DailyLoginOut)
async def daily_login(state: StateDep, user: WriteUser) -> DailyLoginOut:
    rules = state.economy.rules
    if state.writer is None or rules.reads_facts:
        # no batch to join, or facts to read first (a stake; the anti-sybil age, activity, cluster)
        r = await run_in_threadpool(rules.daily_login, user)
    else:
        r = await _daily_login(state, user)
    return DailyLoginOut(
        awarded=r.login.entries[0].amount if r.login else 0,
        streak_bonus=r.streak.entries[0].amount if r.streak else 0, streak_length=r.streak_length,
        replayed=bool(r.login and r.login.replayed),
        balance=await _balance_after_async(state, user_account(user), r.streak or r.login))


async def _daily_login(state: ServiceState, user: str) -> DailyLogin:
    """`EconomyRules.daily_login` in one batch of the writer: the login reward and the
    probe of the previous days' login and bonus keys (the streak) go together."""
    rules = state.economy.rules
    day = utc_day(state.ledger.clock())
    request = rules.daily_login_request(user, day)
    probed = rules.streak_keys(user, day)
    login, present = await asyncio.gather(_post_optional(state, request), state.existing_keys(probed))
    length, due = rules.streak_from_keys(day, login is not None, probed, present)
    streak = await _post_optional(state, rules.streak_bonus_request(user, day)) if due else None
    return DailyLogin(login, streak, length)


async def _post_optional(state: ServiceState, request: TransferRequest | None) -> Transaction | None:
    return None if request is None else await state.post(request)


@router.post("/api/coins/earn", response_model=SpendOut)
def earn(body: EarnIn, state: StateDep, user: ServerUser) -> SpendOut:
    """A one-time reward (guest_initial, signup, newsletter); paid once per user."""
    tx = state.economy.rules.one_time_reward(user, body.reward)
    return _spent(user, body.reward, tx, _balance_after(state, user_account(user), tx))


@router.post("/api/claims/{claim_id}/vote", response_model=SpendOut)
async def vote(claim_id: str, state: StateDep, user: WriteUser) -> SpendOut:
    tx = await _post_optional(state, state.economy.rules.vote_request(user, claim_id))
    return _spent(user, "vote", tx, await _balance_after_async(state, user_account(user), tx))


@router.post("/api/claims/{claim_id}/unlock-analysis", response_model=SpendOut)
def unlock_analysis(claim_id: str, state: StateDep, user: WriteUser) -> SpendOut:
    tx = state.economy.rules.unlock_deep_analysis(user, claim_id)
    return _spent(user, "unlock_analysis", tx, _balance_after(state, user_account(user), tx))


@router.post("/api/transfers", response_model=TransferOut, responses=error_responses(503))
async def transfer(body: TransferIn, state: StateDep, user: WriteUser, idem: IdemKey) -> TransferOut:
    """Send COIN (or a brand coin: holding cap and minimum hold apply) to another user."""
    if body.to_user_id == user:
        raise CoinError("cannot transfer to yourself")
    if body.asset == "USD":
        raise CoinError("USD is revenue accounting, not transferable")
    frm = user_account(user)
    if body.asset != "COIN":
        balance = await run_in_threadpool(_brand_coin_transfer, body, state, frm, idem)
        return TransferOut(from_user_id=user, to_user_id=body.to_user_id, asset=body.asset, amount=body.amount,
                           tx_id=None, balance=balance)
    tx = await state.post(TransferRequest(
        (Posting(frm, user_account(body.to_user_id), "COIN", body.amount),), EntryType.TRANSFER,
        idempotency_key=idem, ref_type="user", ref_id=body.to_user_id, note=body.note))
    return TransferOut(from_user_id=user, to_user_id=body.to_user_id, asset="COIN", amount=body.amount,
                       tx_id=tx.id, balance=await _balance_after_async(state, frm, tx))


def _brand_coin_transfer(body: TransferIn, state: ServiceState, frm: str, idem: str | None) -> int:
    """Through the market (holding cap, minimum hold); returns the sender's balance after."""
    m = require_market(state)
    if body.asset not in m.exchange.coins:
        raise ApiError(404, "not_found", f"no brand coin {body.asset!r}", symbol=body.asset)
    m.run(body.asset, lambda ex: ex.transfer(body.asset, frm, user_account(body.to_user_id), body.amount, key=idem))
    return state.ledger.balance(frm, body.asset)
