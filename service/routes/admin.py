"""Admin: coin packages, grants, the transaction journal (filters, CSV) and economy
metrics. Every route needs an admin key."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BeforeValidator
from sqlalchemy import and_, func, or_, select

from ledger import BURN, MINT, EntryType, user_account
from ledger.economy.packages import CoinPackage
from ledger.economy.rules import PLATFORM
from ledger.sql.schema import accounts, entries

from ..deps import Admin, IdemKey, PackageId, StateDep, operation_id
from ..problems import error_responses
from ..schemas import (
    GrantIn,
    MetricsOut,
    PackageIn,
    PackageList,
    PackageOut,
    PackagePatch,
    TransactionList,
    TransactionOut,
    TransferOut,
    canonical_lower,
    canonical_upper,
    party,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/admin", tags=["admin"], generate_unique_id_function=operation_id)
CSV_COLUMNS = ("id", "tx_id", "time", "entry_type", "asset", "amount", "from_account", "to_account",
               "ref_type", "ref_id", "note")


def _pkg(p: CoinPackage) -> PackageOut:
    return PackageOut.model_validate(p.to_dict())


@router.get("/packages", response_model=PackageList)
def admin_list_packages(state: StateDep, _: Admin) -> PackageList:
    """Every coin package, inactive ones included."""
    return PackageList(packages=[_pkg(p) for p in state.economy.catalog.list(include_inactive=True)])


@router.post("/packages", response_model=PackageOut, status_code=201, responses=error_responses(400))
def admin_create_package(body: PackageIn, state: StateDep, _: Admin) -> PackageOut:
    """Add a coin package. 400: the id exists."""
    return _pkg(state.economy.catalog.create(body.id, body.name, body.price_cents, body.bonus_coins,
                                             base_coins=body.base_coins, display_order=body.display_order))


@router.patch("/packages/{package_id}", response_model=PackageOut, responses=error_responses(400, 404))
def admin_edit_package(package_id: PackageId, body: PackagePatch, state: StateDep, _: Admin) -> PackageOut:
    """Change some fields of a package (written as one upsert: concurrent edits each
    apply in turn). 404: no such package."""
    changes = body.model_dump(exclude_none=True)
    return _pkg(state.economy.catalog.edit(package_id, **changes))


@router.delete("/packages/{package_id}", response_model=PackageOut, responses=error_responses(404))
def admin_disable_package(package_id: PackageId, state: StateDep, _: Admin) -> PackageOut:
    """Packages are disabled, not deleted: past payments still name them."""
    return _pkg(state.economy.catalog.disable(package_id))


@router.post("/grants", response_model=TransferOut, responses=error_responses(400, 409))
def admin_grant(body: GrantIn, state: StateDep, key: Admin, idem: IdemKey) -> TransferOut:
    """Credit (``amount`` > 0, minted) or debit (< 0) a user's COIN; ``balance`` is the
    user's after it. 409: a debit larger than the balance."""
    tx = state.economy.rules.admin_grant(body.user_id, body.amount, admin=key.id, reason=body.reason, key=idem)
    return TransferOut(from_user_id=None if body.amount > 0 else body.user_id,
                       to_user_id=body.user_id if body.amount > 0 else None, asset="COIN",
                       amount=abs(body.amount), tx_id=tx.id, balance=state.ledger.balance(user_account(body.user_id)))


@router.get("/transactions", response_model=TransactionList,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
def admin_list_transactions(
    state: StateDep, _: Admin,
    user: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.@\-]{1,120}$", description="only this user's rows")] = None,
    type: Annotated[EntryType | None, BeforeValidator(canonical_upper), Query(description="only this entry type")] = None,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    format: Annotated[Literal["json", "csv"], BeforeValidator(canonical_lower)] = "json",
) -> TransactionList | Response:
    """The journal, newest first (``format=csv``: the ledger's own account addresses);
    ``from``/``to`` bound the time (inclusive, exclusive); ``format=csv`` for a file."""
    e = entries
    conds = []
    if user is not None:
        acct = user_account(user)
        conds.append(or_(e.c.from_account == acct, e.c.to_account == acct))
    if type is not None:
        conds.append(e.c.entry_type == type.value)
    if since is not None:
        conds.append(e.c.time >= since)
    if until is not None:
        conds.append(e.c.time < until)
    q = select(*(e.c[c] for c in CSV_COLUMNS)).where(and_(True, *conds)).order_by(e.c.id.desc())
    with state.engine.connect() as conn:
        rows = conn.execute(q.limit(limit).offset(offset)).all()
    if format == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(CSV_COLUMNS)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])
        return Response(buf.getvalue(), media_type="text/csv",
                        headers={"content-disposition": 'attachment; filename="transactions.csv"'})
    items = []
    for r in rows:
        (from_type, from_user), (to_type, to_user) = party(r.from_account), party(r.to_account)
        items.append(TransactionOut(
            id=r.id, tx_id=r.tx_id, time=r.time if r.time.tzinfo else r.time.replace(tzinfo=UTC), type=r.entry_type,
            asset=r.asset, amount=r.amount, from_type=from_type, from_user_id=from_user, to_type=to_type,
            to_user_id=to_user, ref_type=r.ref_type, ref_id=r.ref_id, note=r.note))
    return TransactionList(items=items, limit=limit, offset=offset)


def _flow(state: StateDep, asset: str, account: str, since: datetime | None) -> int:
    """Net amount received by ``account`` in ``asset`` since ``since`` (all time if None)."""
    e = entries

    def total(col: Any) -> int:
        q = select(func.coalesce(func.sum(e.c.amount), 0)).where(e.c.asset == asset, col == account)
        if since is not None:
            q = q.where(e.c.time >= since)
        with state.engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    return total(e.c.to_account) - total(e.c.from_account)


@router.get("/metrics", response_model=MetricsOut)
def admin_metrics(state: StateDep, _: Admin) -> MetricsOut:
    """COIN issued, burned and circulating (all time and today), revenue, users."""
    supply = state.ledger.supply("COIN")
    today = datetime.combine(datetime.now(UTC).date(), time(0), UTC)
    with state.engine.connect() as conn:
        users = conn.execute(select(func.count()).select_from(accounts)
                             .where(accounts.c.address.like("user:%"))).scalar() or 0
    return MetricsOut(issued=supply.issued, burned=supply.burned, circulating=supply.circulating,
                      issued_today=-_flow(state, "COIN", MINT, today), burned_today=_flow(state, "COIN", BURN, today),
                      revenue_cents=state.ledger.balance(PLATFORM, "USD"),
                      revenue_today_cents=_flow(state, "USD", PLATFORM, today), users=int(users))
