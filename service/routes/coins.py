"""Platform coins: packages, checkout, balance, history, rewards, spends, transfers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BeforeValidator
from starlette.concurrency import run_in_threadpool

from ledger import EntryType, user_account
from market.coins import CoinError

from ..deps import (
    Caller,
    ClaimId,
    IdemKey,
    ReadUser,
    ServerUser,
    StateDep,
    WriteUser,
    operation_id,
    require_market,
)
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
    canonical_upper,
    party,
)
from ..state import ServiceState

__all__ = ["router"]

router = APIRouter(tags=["coins"], generate_unique_id_function=operation_id)
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="rows to skip")]
FUNDS = error_responses(409)  # insufficient_funds, with required and balance


def _spent(action: str, tx, balance: int) -> SpendOut:
    amount = tx.entries[0].amount if tx is not None else 0
    return SpendOut(action=action, amount=amount, replayed=bool(tx and tx.replayed), tx_id=tx.id if tx else None,
                    balance=balance)


@router.get("/api/coins/packages", response_model=PackageList)
def list_packages(state: StateDep, _: Caller) -> PackageList:
    """The active coin packages, in display order (what the app's "Buy coins" page shows)."""
    return PackageList(packages=[PackageOut.model_validate(p.to_dict()) for p in state.economy.catalog.list()])


@router.post("/api/coins/purchase/checkout", response_model=CheckoutOut,
             responses=error_responses(400, 404, 409, 502))
def create_checkout(body: CheckoutIn, state: StateDep, user: WriteUser, idem: IdemKey) -> CheckoutOut:
    """Open a Stripe Checkout Session for a package (with an optional promo code). The
    coins are credited once Stripe reports the payment to the webhook. 404: no such
    active package; 409: the daily purchase limit, or a checkout for it already open;
    400: a promo code that does not apply; 502: Stripe failed."""
    done = state.economy.payments.create_checkout(user, body.package_id, promo_code=body.promo_code, key=idem)
    return CheckoutOut.model_validate(done.to_dict())


@router.get("/api/coins/balance", response_model=BalanceOut)
def get_balance(state: StateDep, user: ReadUser) -> BalanceOut:
    """The acting user's spendable COIN, COIN held, and every asset's balance."""
    account = user_account(user)
    balances = state.ledger.balances(account)
    return BalanceOut(user_id=user, balance=balances.get("COIN", 0), held=state.ledger.held(account),
                      balances=balances)


@router.get("/api/coins/history", response_model=HistoryOut)
def get_history(state: StateDep, user: ReadUser, limit: Limit = 50, offset: Offset = 0,
                type: Annotated[EntryType | None, BeforeValidator(canonical_upper),
                                Query(description="only this entry type (any case)")] = None) -> HistoryOut:
    """The acting user's journal, newest first, one row per movement they saw."""
    items = state.ledger.history(user_account(user), entry_type=type, limit=limit, offset=offset)
    out = []
    for i in items:
        kind, other = party(i.counterparty)
        out.append(HistoryItemOut(
            entry_id=i.entry_id, tx_id=i.tx_id, time=i.time, type=i.entry_type, asset=i.asset, amount=i.amount,
            balance_before=i.balance_before, balance_after=i.balance_after, counterparty_type=kind,
            counterparty_user_id=other, ref_type=i.ref_type, ref_id=i.ref_id, metadata=i.metadata, note=i.note))
    return HistoryOut(items=out, limit=limit, offset=offset)


# The hot write routes are async and make one call into the service state, which hands
# the write to the writer (on PostgreSQL no thread-pool thread hops in or waits).
@router.post("/api/coins/daily-login", response_model=DailyLoginOut)
async def claim_daily_login(state: StateDep, user: WriteUser) -> DailyLoginOut:
    """Pay today's login reward (once per UTC day) and, when this login completes a
    streak, the streak bonus. A second call the same day replays (``replayed: true``)."""
    r = await state.daily_login(user)
    return DailyLoginOut(
        awarded=r.login.entries[0].amount if r.login else 0,
        streak_bonus=r.streak.entries[0].amount if r.streak else 0, streak_length=r.streak_length,
        replayed=bool(r.login and r.login.replayed),
        balance=await state.balance_after(user_account(user), r.streak or r.login))


@router.post("/api/coins/earn", response_model=SpendOut)
def earn_reward(body: EarnIn, state: StateDep, user: ServerUser) -> SpendOut:
    """Pay a one-time reward (guest_initial, signup, newsletter) once per user; a
    repeat replays. Server to server only: a user token cannot pay itself."""
    tx = state.economy.rules.one_time_reward(user, body.reward)
    return _spent(body.reward, tx, state.ledger.balance(user_account(user)))


@router.post("/api/claims/{claim_id}/vote", response_model=SpendOut, responses=FUNDS)
async def vote_on_claim(claim_id: ClaimId, state: StateDep, user: WriteUser) -> SpendOut:
    """Spend the vote price (1 COIN by default) on a claim. 409 ``insufficient_funds``
    with ``required`` and ``balance`` when the user cannot pay."""
    tx = await state.vote(user, claim_id)
    return _spent("vote", tx, await state.balance_after(user_account(user), tx))


@router.post("/api/claims/{claim_id}/unlock-analysis", response_model=SpendOut, responses=FUNDS)
def unlock_analysis(claim_id: ClaimId, state: StateDep, user: WriteUser) -> SpendOut:
    """Unlock a claim's deep analysis (5 COIN by default, once per claim per user; a
    repeat replays). 409 ``insufficient_funds`` with ``required`` and ``balance``."""
    tx = state.economy.rules.unlock_deep_analysis(user, claim_id)
    return _spent("unlock_analysis", tx, state.ledger.balance(user_account(user)))


@router.post("/api/transfers", response_model=TransferOut, responses=error_responses(404, 409))
async def create_transfer(body: TransferIn, state: StateDep, user: WriteUser, idem: IdemKey) -> TransferOut:
    """Send COIN (or a brand coin: its holding cap and minimum hold apply) to another
    user. 400: to yourself, or USD; 404: no such brand coin; 409: insufficient funds."""
    if body.to_user_id == user:
        raise CoinError("cannot transfer to yourself")
    if body.asset == "USD":
        raise CoinError("USD is revenue accounting, not transferable")
    if body.asset != "COIN":
        balance = await run_in_threadpool(_brand_coin_transfer, body, state, user, idem)
        return TransferOut(from_user_id=user, to_user_id=body.to_user_id, asset=body.asset, amount=body.amount,
                           tx_id=None, balance=balance)
    tx = await state.transfer_coin(user, body.to_user_id, body.amount, key=idem, note=body.note)
    return TransferOut(from_user_id=user, to_user_id=body.to_user_id, asset="COIN", amount=body.amount,
                       tx_id=tx.id, balance=await state.balance_after(user_account(user), tx))


def _brand_coin_transfer(body: TransferIn, state: ServiceState, user: str, idem: str | None) -> int:
    """Through the market (holding cap, minimum hold); returns the sender's balance after."""
    m = require_market(state)
    if body.asset not in m.exchange.coins:
        raise ApiError(404, "not_found", f"no brand coin {body.asset!r}", symbol=body.asset)
    frm = user_account(user)
    m.run(body.asset, lambda ex: ex.transfer(body.asset, frm, user_account(body.to_user_id), body.amount, key=idem))
    return state.ledger.balance(frm, body.asset)
