"""Coin packages (what a user can buy), promo codes and the coin quote of a purchase.

Packages start from the config's ``[packages]`` table and are then managed by admins
(create, edit, disable, reorder) through a `PackageStore` (memory or SQL). Totals, bonus
percent and value per USD are derived from price, base and bonus coins, never typed in.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Engine, delete, select

from ledger.errors import InvalidRequest

from .config import BPS, EconomyConfig, PackageConfig
from .errors import NotFound, PromoRejected

__all__ = [
    "CoinPackage",
    "MemoryPackageStore",
    "PackageCatalog",
    "PackageStore",
    "PurchaseQuote",
    "SqlPackageStore",
    "package_from_config",
    "quote_purchase",
]


class CoinPackage(NamedTuple):
    """A package: pay ``price_cents`` USD cents, get ``base_coins`` + ``bonus_coins``.
    Inactive packages are hidden from users and cannot be bought."""

    id: str
    name: str
    price_cents: int
    base_coins: int
    bonus_coins: int
    display_order: int = 0
    active: bool = True

    @property
    def total_coins(self) -> int:
        return self.base_coins + self.bonus_coins

    @property
    def bonus_percent(self) -> Decimal:
        """Bonus as a percent of the base coins, to 1 decimal (25/999 -> 2.5)."""
        return (Decimal(100 * self.bonus_coins) / self.base_coins).quantize(Decimal("0.1"))

    @property
    def value_per_usd(self) -> Decimal:
        """Coins per US dollar paid, to 1 decimal (1024 for $9.99 -> 102.5)."""
        return (Decimal(100 * self.total_coins) / self.price_cents).quantize(Decimal("0.1"))

    def to_dict(self) -> dict[str, Any]:
        """The API shape (seeds: GET /api/coins/packages); display figures as numbers."""
        return {
            "id": self.id, "name": self.name, "priceCents": self.price_cents,
            "priceUSD": float(Decimal(self.price_cents) / 100), "baseCoins": self.base_coins,
            "bonusCoins": self.bonus_coins, "totalCoins": self.total_coins,
            "bonusPercent": float(self.bonus_percent), "valuePerUSD": float(self.value_per_usd),
            "displayOrder": self.display_order, "active": self.active,
        }


def package_from_config(pid: str, p: PackageConfig, coins_per_usd: int) -> CoinPackage:
    base = p.base_coins if p.base_coins is not None else p.price_cents * coins_per_usd // 100
    return CoinPackage(pid, p.name, p.price_cents, base, p.bonus_coins, p.display_order, p.active)


def _validate(pkg: CoinPackage) -> CoinPackage:
    if not pkg.id or not pkg.id.replace("_", "").replace("-", "").isalnum() or len(pkg.id) > 40:
        raise InvalidRequest(f"package id {pkg.id!r} must be 1-40 letters, digits, '_' or '-'")
    if not pkg.name or len(pkg.name) > 40:
        raise InvalidRequest("package name must be 1-40 characters")
    for field in ("price_cents", "base_coins"):
        value = getattr(pkg, field)
        if type(value) is not int or value <= 0:
            raise InvalidRequest(f"{field} must be a positive integer, got {value!r}")
    if type(pkg.bonus_coins) is not int or pkg.bonus_coins < 0:
        raise InvalidRequest(f"bonus_coins must be an integer >= 0, got {pkg.bonus_coins!r}")
    if type(pkg.display_order) is not int:
        raise InvalidRequest("display_order must be an integer")
    return pkg


# -- persistence -------------------------------------------------------------
class PackageStore(Protocol):
    def all(self) -> list[CoinPackage]: ...

    def get(self, package_id: str) -> CoinPackage | None: ...

    def put(self, pkg: CoinPackage) -> None:
        """Insert or replace."""

    def put_many(self, pkgs: Iterable[CoinPackage]) -> None: ...

    def delete(self, package_id: str) -> None: ...


class MemoryPackageStore:
    def __init__(self) -> None:
        self._rows: dict[str, CoinPackage] = {}
        self._lock = threading.Lock()

    def all(self) -> list[CoinPackage]:
        return list(self._rows.values())

    def get(self, package_id: str) -> CoinPackage | None:
        return self._rows.get(package_id)

    def put(self, pkg: CoinPackage) -> None:
        self._rows[pkg.id] = pkg

    def put_many(self, pkgs: Iterable[CoinPackage]) -> None:
        with self._lock:
            for p in pkgs:
                self._rows[p.id] = p

    def delete(self, package_id: str) -> None:
        self._rows.pop(package_id, None)


class SqlPackageStore:
    """Packages in the ``coin_packages`` table (migration 0002)."""

    def __init__(self, engine: Engine) -> None:
        from .schema import coin_packages

        self.engine = engine
        self.t = coin_packages

    def _row(self, r: Any) -> CoinPackage:
        return CoinPackage(r.id, r.name, r.price_cents, r.base_coins, r.bonus_coins,
                           r.display_order, bool(r.active))

    def all(self) -> list[CoinPackage]:
        with self.engine.connect() as conn:
            return [self._row(r) for r in conn.execute(select(self.t))]

    def get(self, package_id: str) -> CoinPackage | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(self.t).where(self.t.c.id == package_id)).first()
        return None if r is None else self._row(r)

    def put(self, pkg: CoinPackage) -> None:
        self.put_many([pkg])

    def put_many(self, pkgs: Iterable[CoinPackage]) -> None:
        """Insert or replace, as one upsert: concurrent edits of one package each win
        in turn (a delete then an insert let two editors insert the same id)."""
        rows = [p._asdict() for p in pkgs]
        if not rows:
            return
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
        stmt = upsert(self.t)
        stmt = stmt.on_conflict_do_update(index_elements=[self.t.c.id],
                                          set_={c.name: stmt.excluded[c.name] for c in self.t.columns if c.name != "id"})
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)

    def delete(self, package_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(self.t).where(self.t.c.id == package_id))


# -- the catalog -------------------------------------------------------------
class PackageCatalog:
    """Packages users see and admins manage. An empty store is seeded from the config."""

    def __init__(self, config: EconomyConfig, store: PackageStore | None = None) -> None:
        self.config = config
        self.store: PackageStore = store if store is not None else MemoryPackageStore()
        if not self.store.all():
            self.store.put_many(package_from_config(pid, p, config.coin.coins_per_usd)
                                for pid, p in config.packages.items())

    def list(self, *, include_inactive: bool = False) -> list[CoinPackage]:
        """In display order (then id)."""
        pkgs = [p for p in self.store.all() if include_inactive or p.active]
        return sorted(pkgs, key=lambda p: (p.display_order, p.id))

    def get(self, package_id: str, *, active_only: bool = False) -> CoinPackage:
        pkg = self.store.get(package_id)
        if pkg is None or (active_only and not pkg.active):
            raise NotFound(f"no {'active ' if active_only else ''}coin package {package_id!r}",
                           package_id=package_id)
        return pkg

    # admin
    def create(self, package_id: str, name: str, price_cents: int, bonus_coins: int = 0, *,
               base_coins: int | None = None, display_order: int | None = None) -> CoinPackage:
        if self.store.get(package_id) is not None:
            raise InvalidRequest(f"coin package {package_id!r} already exists")
        if base_coins is None and type(price_cents) is int:
            base_coins = price_cents * self.config.coin.coins_per_usd // 100
        if display_order is None:
            display_order = max((p.display_order for p in self.store.all()), default=0) + 1
        pkg = _validate(CoinPackage(package_id, name, price_cents, base_coins or 0, bonus_coins,
                                    display_order, True))
        self.store.put(pkg)
        return pkg

    def edit(self, package_id: str, **changes: Any) -> CoinPackage:
        """Change any of name, price_cents, base_coins, bonus_coins, display_order, active."""
        allowed = set(CoinPackage._fields) - {"id"}
        unknown = set(changes) - allowed
        if unknown:
            raise InvalidRequest(f"cannot edit {sorted(unknown)}: editable fields are {sorted(allowed)}")
        pkg = _validate(self.get(package_id)._replace(**changes))
        self.store.put(pkg)
        return pkg

    def disable(self, package_id: str) -> CoinPackage:
        return self.edit(package_id, active=False)

    def enable(self, package_id: str) -> CoinPackage:
        return self.edit(package_id, active=True)

    def reorder(self, package_ids: Sequence[str]) -> builtins.list[CoinPackage]:
        """Put the listed packages first, in this order; the rest keep their order after."""
        if len(set(package_ids)) != len(package_ids):
            raise InvalidRequest("reorder lists a package twice")
        pkgs = {p.id: p for p in self.store.all()}
        missing = [pid for pid in package_ids if pid not in pkgs]
        if missing:
            raise NotFound(f"no coin package(s) {missing}", package_ids=missing)
        rest = [p.id for p in sorted(pkgs.values(), key=lambda p: (p.display_order, p.id))
                if p.id not in package_ids]
        self.store.put_many(pkgs[pid]._replace(display_order=i + 1)
                            for i, pid in enumerate([*package_ids, *rest]))
        return self.list(include_inactive=True)


# -- quoting a purchase ------------------------------------------------------
class PurchaseQuote(NamedTuple):
    """What a purchase pays and credits: ``base_coins`` (COIN_PURCHASE) and
    ``bonus_coins`` = package bonus + promo bonus + PRO bonus (COIN_PURCHASE_BONUS)."""

    package_id: str
    price_cents: int
    base_coins: int
    package_bonus: int
    promo_bonus: int
    pro_bonus: int
    promo_code: str | None

    @property
    def bonus_coins(self) -> int:
        return self.package_bonus + self.promo_bonus + self.pro_bonus

    @property
    def total_coins(self) -> int:
        return self.base_coins + self.bonus_coins


def quote_purchase(
    config: EconomyConfig,
    pkg: CoinPackage,
    *,
    promo_code: str | None = None,
    is_pro: bool = False,
    first_purchase: bool = True,
    promo_used_before: bool = False,
) -> PurchaseQuote:
    """Coins for buying ``pkg``. Percent bonuses are of the base coins, floored.
    Raises PromoRejected when the code is unknown, inactive or not allowed for the user."""
    promo_bonus = 0
    code = None
    if promo_code:
        code = promo_code.strip().upper()
        promo = config.promos.get(code)
        if promo is None or not promo.active:
            raise PromoRejected(f"unknown promo code {promo_code!r}", promo_code=promo_code)
        if promo.first_purchase_only and not first_purchase:
            raise PromoRejected(f"{code} is only valid on a first purchase", promo_code=code)
        if promo.once_per_user and promo_used_before:
            raise PromoRejected(f"{code} was already used", promo_code=code)
        promo_bonus = pkg.base_coins * promo.bonus_bps // BPS + promo.bonus_coins
    pro_bonus = pkg.base_coins * config.purchases.pro_bonus_bps // BPS if is_pro else 0
    return PurchaseQuote(pkg.id, pkg.price_cents, pkg.base_coins, pkg.bonus_coins, promo_bonus,
                         pro_bonus, code)
