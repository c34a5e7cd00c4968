"""Scenarios: an override of `data/economy.toml` plus a ``[population]`` table.

A scenario file (``data/scenarios/<name>.toml``) is deep-merged over the economy
defaults by `ledger.economy.config.load_config`; its ``[population]`` table says who lives in
the simulated world and how they behave, validated here by `Population`. Behavioural
parameters (rates, probabilities, shares) are floats: they shape decisions, never a
balance. Every amount that reaches the ledger is an integer.

The ``[behaviour]`` table holds the behaviour model's parameters (`sim.behaviour.Behaviour`).

``--set key=value`` overrides use dotted keys into the merged table
(``rewards.daily_login=10``, ``population.users=500``, ``behaviour.wtp_median_cents=0.5``); values are read as TOML
literals (``true``, ``3``, ``"x"``), anything unparsable as a plain string.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ledger.economy.config import ConfigError, EconomyConfig, load_config
from market.config import MarketConfig

from .behaviour import Behaviour

__all__ = [
    "SCENARIO_DIR",
    "Population",
    "Scenario",
    "list_scenarios",
    "load_scenario",
    "parse_assignment",
    "set_dotted",
]

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "data" / "scenarios"


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stripe(_P):
    """How the simulated Stripe misbehaves."""

    signed: bool = True
    """Deliver signed payloads to `handle_webhook` (else events to `handle_event`)."""
    mean_delay_seconds: float = Field(default=20.0, ge=0)
    duplicate_share: float = Field(default=0.1, ge=0, le=1)
    async_share: float = Field(default=0.05, ge=0, le=1)
    """Payments that complete unpaid and succeed (or fail) later."""
    async_fail_share: float = Field(default=0.2, ge=0, le=1)
    abandon_share: float = Field(default=0.1, ge=0, le=1)
    """Checkouts never paid (an expired event arrives)."""
    refund_share: float = Field(default=0.02, ge=0, le=1)
    dispute_share: float = Field(default=0.002, ge=0, le=1)
    reorder_share: float = Field(default=0.05, ge=0, le=1)
    """Events delivered before the event that logically precedes them."""


class Market(_P):
    """Brand coins: sellers, shoppers and the traders around them."""

    mechanism: str = Field(default="book", pattern="^(book|curve)$")
    sellers: int = Field(default=5, ge=0)
    shoppers: int = Field(default=50, ge=0)
    shop_rate_per_day: float = Field(default=0.2, ge=0)
    """Purchases per shopper per day."""
    purchase_cents_median: int = Field(default=2500, gt=0)
    review_share: float = Field(default=0.3, ge=0, le=1)
    review_boost: float = Field(default=0.15, ge=0)
    """Demand multiplier gained per good review (log-scaled)."""
    redeem_share: float = Field(default=0.3, ge=0, le=1)
    sell_share: float = Field(default=0.2, ge=0, le=1)
    """Chance a shopper sells earned coins on the market after a purchase."""
    initial_price: int = Field(default=100, gt=0)
    max_supply: int = Field(default=200_000, gt=0)
    traders: int = Field(default=10, ge=0)
    trader_budget_coins: int = Field(default=30_000, ge=0)
    """COIN a trader wants to trade with; bought through Stripe (about 3 XL packages)."""
    trades_per_day: float = Field(default=4.0, gt=0)
    momentum_share: float = Field(default=0.5, ge=0, le=1)
    whales: int = Field(default=1, ge=0)
    whale_budget_coins: int = Field(default=200_000, ge=0)
    """COIN a whale wants to trade with (about 17 XL packages, several days of the purchase limit)."""


class Pump(_P):
    """One pump-and-dump ring against the smallest coin, and the followers it hypes."""

    rings: int = Field(default=0, ge=0)
    members: int = Field(default=4, ge=1)
    packages_each: int = Field(default=5, ge=0)
    start_day: float = Field(default=3.0, ge=0)
    accumulate_days: float = Field(default=3.0, gt=0)
    accumulate_share: float = Field(default=0.3, ge=0, le=1)
    """Share of the ring's COIN spent accumulating the target (no more than the followers
    are expected to buy back from it)."""
    hype_days: float = Field(default=1.0, gt=0)
    followers: int = Field(default=60, ge=0)
    follower_budget_coins: int = Field(default=5_000, ge=0)
    """COIN a follower buys to chase hype with (about a Large package)."""
    follower_checks_per_day: float = Field(default=6.0, gt=0)
    follower_exit_days: float = Field(default=2.0, ge=0)
    """Days after the hype ends when a follower sells what they still hold."""
    panic_loss: float = Field(default=0.3, ge=0, le=1)
    """A follower sells when the price is this far below what they paid."""
    strategy: str = Field(default="hype_dump", pattern="^(hype_dump|wash_ladder|spoof)$")
    """hype_dump: accumulate, hype, sell into the followers, dump the rest. wash_ladder:
    accumulate, then raise the last price with tiny trades between members (each rung
    ``wash_step_bps`` above the last), then sell into the followers and redeem the rest at
    the shop at the price it set. spoof: accumulate, then rest large buy walls under the
    price (``wall_share`` of the ring's COIN) that make the book look bid, sell into the
    followers, cancel every wall before the price reaches it, dump."""
    wash_rungs: int = Field(default=30, ge=1)
    wash_step_bps: int = Field(default=150, ge=1)
    wall_share: float = Field(default=0.5, ge=0, le=1)


class Sybil(_P):
    """Farmers of free rewards, each running many accounts that pass their coins to one
    main account. The platform sees each farmer's accounts as ``clusters_each`` clusters
    (created together, funded from one source): what the anti-sybil cluster cap acts on."""

    farmers: int = Field(default=0, ge=0)
    accounts_each: int = Field(default=50, ge=1)
    consolidate_every_days: int = Field(default=7, ge=1)
    clusters_each: int = Field(default=1, ge=1)
    """Clusters a farmer's accounts fall into (1: all look like one sign-up burst)."""
    spread_days: float = Field(default=0.0, ge=0)
    """Accounts are opened over this many days (0: all on the first day)."""
    adaptive: bool = True
    """Adapt to the defenses: do the cheapest real actions (votes) when rewards need them and
    they pay back, stake the minimum when a stake is required, wait out an age gate, and
    drop accounts a cluster cap refuses."""


class Betting(_P):
    bettors_share: float = Field(default=0.0, ge=0, le=1)
    """Share of arriving users who bet (pools and belt challenges; their risk appetite
    is a trait, see sim/behaviour.py)."""
    pools_per_day: int = Field(default=2, ge=0)
    pool_days: float = Field(default=2.0, gt=0)
    stake_share: float = Field(default=0.3, gt=0, le=1)
    """Share of their balance a bettor stakes (capped by the pool's cap)."""
    challenge_share: float = Field(default=0.05, ge=0, le=1)
    belt_value: int = Field(default=1000, ge=0)


class Population(_P):
    """Who lives in the simulated world. ``users`` users arrive over ``days``:
    ``initial_share`` of them at the start, the rest uniformly over the horizon. How
    they behave is the scenario's ``[behaviour]`` table (sim/behaviour.py)."""

    users: int = Field(default=1000, ge=0)
    days: int = Field(default=30, ge=1)
    seed: int = 1
    initial_share: float = Field(default=0.3, ge=0, le=1)
    concentration_every_days: int = Field(default=7, ge=1)
    """Gini and top-1% share are computed on this cadence (and on the last day)."""
    stripe: Stripe = Stripe()
    market: Market = Market()
    pump: Pump = Pump()
    sybil: Sybil = Sybil()
    betting: Betting = Betting()


class Scenario(BaseModel):
    """A loaded scenario: its name, the effective economy config (with the scenario's
    and the command line's overrides), the population and the market config."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    name: str
    config: EconomyConfig
    population: Population
    behaviour: Behaviour
    market: MarketConfig
    overrides: dict[str, Any] = {}

    def parameters(self) -> dict[str, Any]:
        """Everything that defines the run, as plain JSON-able data."""
        return {"economy": self.config.to_dict(), "population": self.population.model_dump(mode="json"),
                "behaviour": self.behaviour.model_dump(mode="json"), "overrides": self.overrides}


def list_scenarios(directory: Path = SCENARIO_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.toml"))


def _resolve(name: str | Path) -> Path:
    p = Path(name)
    if p.suffix == ".toml" and p.exists():
        return p
    candidate = SCENARIO_DIR / f"{name}.toml"
    if candidate.exists():
        return candidate
    raise ConfigError(f"unknown scenario {str(name)!r}: expected one of {list_scenarios()} or a .toml path")


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` -> (dotted key, value read as a TOML literal, else the raw string)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"expected key=value with a dotted key, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key, value


def set_dotted(table: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    node = table
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{key}: {part} is not a table")
    node[parts[-1]] = value
    return table


def load_scenario(name: str | Path, *, overrides: dict[str, Any] | None = None,
                  sets: list[str] | None = None) -> Scenario:
    """Load ``name`` (a scenario name or a .toml path) with ``overrides`` (a nested
    table) and ``sets`` (``key=value`` strings) on top. Raises ConfigError naming the
    bad key."""
    path = _resolve(name)
    merged: dict[str, Any] = {}
    for k, v in (overrides or {}).items():
        merged[k] = v
    for text in sets or []:
        set_dotted(merged, *parse_assignment(text))
    config = load_config(scenario=path, overrides=merged or None)
    try:
        population = Population.model_validate(config.population)
    except ValidationError as err:
        lines = [f"population.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]
        raise ConfigError(f"invalid population in {path}: " + "; ".join(lines)) from None
    try:
        behaviour = Behaviour.model_validate(config.behaviour)
    except ValidationError as err:
        lines = [f"behaviour.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]
        raise ConfigError(f"invalid behaviour in {path}: " + "; ".join(lines)) from None
    try:
        market = MarketConfig.from_dict(config.market)
    except Exception as err:  # market.config.ConfigError and dataclass errors
        raise ConfigError(f"invalid market config in {path}: {err}") from None
    return Scenario(name=path.stem, config=config, population=population, behaviour=behaviour, market=market,
                    overrides=merged)
