"""The economy config: `data/economy.toml` (defaults) plus optional scenario overrides.

Every number an earn/spend rule, a package, a pool or a challenge uses comes from here,
so the service and the simulator run the same economy and a scenario is just a set of
overrides (deep-merged; unknown keys are errors). Amounts are integers: coins, USD
cents, and rates in basis points (10_000 bps = 100%).

    cfg = load_config()                                    # data/economy.toml
    cfg = load_config(scenario="data/scenarios/x.toml")    # with overrides
    cfg = load_config(overrides={"rewards": {"daily_login": 3}})
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "DEFAULT_PATH",
    "AntiSybilConfig",
    "ChallengeConfig",
    "CoinConfig",
    "ConfigError",
    "EconomyConfig",
    "PackageConfig",
    "Phase2Config",
    "PoolConfig",
    "PromoConfig",
    "PurchaseConfig",
    "RefundConfig",
    "RewardConfig",
    "SpendConfig",
    "TournamentConfig",
    "config_diff",
    "deep_merge",
    "load_config",
    "parse_config",
]

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "economy.toml"
BPS = 10_000


class ConfigError(ValueError):
    """A config that cannot be used; the message names each bad key, e.g.
    ``rewards.daily_login: must be >= 0``."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CoinConfig(_Strict):
    coins_per_usd: int = Field(default=100, gt=0)
    """How many COIN one US dollar buys at the base rate (100: 1 coin = 1 cent)."""


class RewardConfig(_Strict):
    """Coins minted to a user for each earn event."""

    guest_initial: int = Field(default=4, ge=0)
    signup: int = Field(default=5, ge=0)
    newsletter: int = Field(default=5, ge=0)
    daily_login: int = Field(default=2, ge=0)
    streak_bonus: int = Field(default=10, ge=0)
    streak_days: int = Field(default=7, ge=2)
    """The bonus is paid on the last day of every run of this many consecutive logins."""


class SpendConfig(_Strict):
    """Coins a user pays for each sink; ``burn`` destroys them instead of paying the platform."""

    vote: int = Field(default=1, ge=0)
    deep_analysis_unlock: int = Field(default=5, ge=0)
    burn: bool = False


class Phase2Config(_Strict):
    daily_bonus_requires_stake: bool = False
    """When on, the daily login bonus is paid only to users who staked that UTC day."""


class AntiSybilConfig(_Strict):
    """Defenses against reward farming with many accounts, each off at 0.

    They gate the *recurring* rewards (daily login, streak) by the account's age and its
    real activity, and cap how many accounts of one cluster earn any reward. A cluster is
    what the caller says accounts share when they are created together or funded from one
    source (a device, a sign-up burst, a payment instrument): `EconomyRules.tag_cluster`."""

    min_account_age_days: int = Field(default=0, ge=0)
    """Recurring rewards only once the account is this many days old (since its first reward)."""
    min_activity: int = Field(default=0, ge=0)
    """Recurring rewards only after this many real actions (paid votes, unlocks, stakes,
    challenge entries, coin purchases)."""
    cluster_cap: int = Field(default=0, ge=0)
    """At most this many accounts of one cluster earn rewards (the first ones tagged)."""

    @property
    def active(self) -> bool:
        return bool(self.min_account_age_days or self.min_activity or self.cluster_cap)


class PackageConfig(_Strict):
    """A coin package as typed in; totals, bonus percent and value per USD are derived
    (ledger.economy.packages.CoinPackage). ``base_coins`` defaults to the price at the base rate."""

    name: str = Field(min_length=1, max_length=40)
    price_cents: int = Field(gt=0)
    base_coins: int | None = Field(default=None, gt=0)
    bonus_coins: int = Field(default=0, ge=0)
    display_order: int = 0
    active: bool = True


class PromoConfig(_Strict):
    """A promo code: extra coins as ``bonus_bps`` of the base coins and/or a flat
    ``bonus_coins``. ``first_purchase_only``: only on a user's first paid purchase;
    ``once_per_user``: each user may use it once."""

    bonus_bps: int = Field(default=0, ge=0, le=BPS * 10)
    bonus_coins: int = Field(default=0, ge=0)
    first_purchase_only: bool = False
    once_per_user: bool = False
    active: bool = True


class PurchaseConfig(_Strict):
    pro_bonus_bps: int = Field(default=1000, ge=0, le=BPS * 10)
    daily_limit_cents: int = Field(default=50_000, ge=0)
    """Most a user may spend on coins per UTC day (open and paid checkouts count)."""
    open_checkout_window_seconds: int = Field(default=1800, ge=0)
    """A user with an open checkout for a package may not open another for it meanwhile."""
    currency: str = Field(default="usd", pattern=r"^[a-z]{3}$")
    success_url: str = "http://localhost:8000/coins/purchase/success?session_id={CHECKOUT_SESSION_ID}"
    cancel_url: str = "http://localhost:8000/coins/purchase"


class RefundConfig(_Strict):
    policy: Literal["claw_back", "keep"] = "claw_back"
    """claw_back: take the purchased coins back (as many as the user still has);
    keep: the user keeps the coins, only revenue is reversed."""
    flag_on_shortfall: bool = True


class PoolConfig(_Strict):
    house_fee_bps: int = Field(default=300, ge=0, le=BPS)
    min_stake: int = Field(default=1, gt=0)
    max_stake_per_user: int = Field(default=1000, gt=0)

    @model_validator(mode="after")
    def _caps(self) -> PoolConfig:
        if self.max_stake_per_user < self.min_stake:
            raise ValueError("max_stake_per_user must be >= min_stake")
        return self


class ChallengeConfig(_Strict):
    entry_fee_bps_of_belt_value: int = Field(default=1000, ge=0)
    entry_fee_min: int = Field(default=50, gt=0)
    entry_fee_max: int = Field(default=500, gt=0)
    winner_bps: int = Field(default=7000, ge=0, le=BPS)
    loser_bps: int = Field(default=2000, ge=0, le=BPS)
    platform_bps: int = Field(default=1000, ge=0, le=BPS)

    @model_validator(mode="after")
    def _shares(self) -> ChallengeConfig:
        if self.entry_fee_max < self.entry_fee_min:
            raise ValueError("entry_fee_max must be >= entry_fee_min")
        if self.winner_bps + self.loser_bps + self.platform_bps != BPS:
            raise ValueError("winner_bps + loser_bps + platform_bps must be 10000")
        return self


class TournamentConfig(_Strict):
    creation_cost: int = Field(default=2000, ge=0)


class EconomyConfig(_Strict):
    """The whole economy. ``market``, ``population`` and ``behaviour`` are passed through
    as plain tables for market/ and sim/ to validate; ``scenario`` holds a scenario's own
    description (name, notes)."""

    coin: CoinConfig = CoinConfig()
    rewards: RewardConfig = RewardConfig()
    spend: SpendConfig = SpendConfig()
    phase2: Phase2Config = Phase2Config()
    antisybil: AntiSybilConfig = AntiSybilConfig()
    packages: dict[str, PackageConfig] = Field(default_factory=dict)
    promos: dict[str, PromoConfig] = Field(default_factory=dict)
    purchases: PurchaseConfig = PurchaseConfig()
    refunds: RefundConfig = RefundConfig()
    pools: PoolConfig = PoolConfig()
    challenges: ChallengeConfig = ChallengeConfig()
    tournaments: TournamentConfig = TournamentConfig()
    market: dict[str, Any] = Field(default_factory=dict)
    population: dict[str, Any] = Field(default_factory=dict)
    behaviour: dict[str, Any] = Field(default_factory=dict)
    scenario: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ids(self) -> EconomyConfig:
        for pid in self.packages:
            if not pid.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"package id {pid!r} must be letters, digits, '_' or '-'")
        for code in self.promos:
            if not code.isalnum() or code != code.upper():
                raise ValueError(f"promo code {code!r} must be upper-case letters and digits")
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def with_overrides(self, overrides: dict[str, Any]) -> EconomyConfig:
        """A new config with ``overrides`` deep-merged in (validated like a file)."""
        return parse_config(deep_merge(self.to_dict(), overrides))


# -- loading -----------------------------------------------------------------
def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``: tables merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


_MESSAGES = {
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "extra_forbidden": "unknown key",
    "missing": "required",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "literal_error": "must be one of {expected}",
    "string_pattern_mismatch": "must match {pattern}",
    "string_too_short": "must not be empty",
}


def _describe(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        template = _MESSAGES.get(e["type"])
        ctx = e.get("ctx") or {}
        if template is not None:
            try:
                msg = template.format(**ctx)
            except KeyError:
                msg = e["msg"]
        else:
            msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}")
    head = f"invalid economy config{f' ({source})' if source else ''}"
    return head + ":\n  " + "\n  ".join(lines) if len(lines) > 1 else f"{head}: {lines[0]}"


def parse_config(data: dict[str, Any], source: str = "") -> EconomyConfig:
    """Validate a config table; raises ConfigError naming each bad key."""
    try:
        return EconomyConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, source)) from None


def _read(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{p}: not valid TOML: {err}") from None


def load_config(
    path: str | Path | None = None,
    *,
    scenario: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> EconomyConfig:
    """The effective config: ``path`` (default data/economy.toml), then the
    ``scenario`` file's tables, then ``overrides``, each deep-merged over the last."""
    base_path = Path(path) if path is not None else DEFAULT_PATH
    data = _read(base_path)
    source = str(base_path)
    parse_config(data, source)  # a bad base is reported as the base's fault
    if scenario is not None:
        data = deep_merge(data, _read(scenario))
        source = f"{base_path} + {scenario}"
    if overrides:
        data = deep_merge(data, overrides)
    return parse_config(data, source)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def config_diff(a: EconomyConfig, b: EconomyConfig) -> list[tuple[str, Any, Any]]:
    """Every dotted key whose value differs: (key, value in a, value in b); a key that
    exists on one side only has None on the other."""
    fa, fb = _flatten(a.to_dict()), _flatten(b.to_dict())
    return [(k, fa.get(k), fb.get(k)) for k in sorted(fa.keys() | fb.keys()) if fa.get(k) != fb.get(k)]
