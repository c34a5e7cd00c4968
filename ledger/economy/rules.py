"""Earn and spend rules (the seeds' CoinService) over the Ledger.

Every amount comes from `EconomyConfig`. "Once" is never a check-then-write: each
rule derives a ledger idempotency key from rule, user and period (``daily_login:alice:
2026-11-23``), so duplicates, even concurrent ones on PostgreSQL, credit once and a
retry returns the first transaction (``replayed=True``).

Earnings are minted (MINT -> user); spends go to the platform (or are burned when
``spend.burn`` is on, the Phase-2 deflationary setting).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from ledger.errors import InvalidRequest
from ledger.ledger import Ledger
from ledger.model import BURN, MINT, EntryType, Posting, Transaction, TransferRequest, user_account

from .config import EconomyConfig
from .errors import NotEligible

__all__ = ["ACTIVITY", "ONE_TIME_REWARDS", "PLATFORM", "DailyLogin", "EconomyRules", "utc_day"]

# Where the platform's income lands, in every asset (COIN fees and spends, USD revenue).
PLATFORM = "platform:revenue"

# What counts as real activity for `AntiSybilConfig.min_activity`: money or coins spent.
ACTIVITY = (EntryType.VOTE_SPENT, EntryType.DEEP_ANALYSIS_UNLOCK, EntryType.STAKE, EntryType.BELT_CHALLENGE_ENTRY,
            EntryType.COIN_PURCHASE)
_FIRST_REWARDS = (EntryType.GUEST_INITIAL, EntryType.SIGNUP_BONUS, EntryType.DAILY_LOGIN)

# One-time rewards by name: (config field, entry type).
ONE_TIME_REWARDS: dict[str, tuple[str, EntryType]] = {
    "guest_initial": ("guest_initial", EntryType.GUEST_INITIAL),
    "signup": ("signup", EntryType.SIGNUP_BONUS),
    "newsletter": ("newsletter", EntryType.NEWSLETTER_BONUS),
}


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of ``moment`` (a naive datetime is taken as UTC)."""
    tz = moment.tzinfo
    if tz is None or tz is UTC:
        return moment.date()
    return moment.astimezone(UTC).date()


@lru_cache(maxsize=256)
def _day_text(day: date) -> str:
    """``day.isoformat()``, cached: every login of a day formats the same date."""
    return day.isoformat()


_ONE_DAY = timedelta(days=1)
_new = tuple.__new__


class DailyLogin(NamedTuple):
    """What a daily login paid: ``login`` (None when the reward is 0), ``streak`` (the
    streak bonus when this login completed a streak), ``streak_length`` (consecutive
    days ending today, counted up to ``rewards.streak_days``)."""

    login: Transaction | None
    streak: Transaction | None
    streak_length: int


class EconomyRules:
    def __init__(self, ledger: Ledger, config: EconomyConfig) -> None:
        self.ledger = ledger
        self.config = config
        # cluster -> its accounts in the order they were tagged; account -> its cluster
        self.clusters: dict[str, list[str]] = {}
        self.cluster_of: dict[str, str] = {}

    @property
    def reads_facts(self) -> bool:
        """Does the daily login read facts beyond its own keys (a stake, age, activity, cluster)?"""
        return self.config.phase2.daily_bonus_requires_stake or self.config.antisybil.active

    # -- anti-sybil ----------------------------------------------------------
    def tag_cluster(self, user: str, cluster: str) -> int:
        """Put ``user`` in ``cluster`` (accounts created together, or funded from one source);
        returns its place in the cluster (0-based). A user stays in its first cluster."""
        if user in self.cluster_of:
            cluster = self.cluster_of[user]
        else:
            self.cluster_of[user] = cluster
            self.clusters.setdefault(cluster, []).append(user)
        return self.clusters[cluster].index(user)

    def sybil_refusal(self, user: str, now: datetime, *, recurring: bool = True) -> str | None:
        """Why an anti-sybil defense withholds ``user``'s reward now, or None. The cluster
        cap applies to every reward; age and activity to recurring ones only."""
        cfg = self.config.antisybil
        cluster = self.cluster_of.get(user)
        if cfg.cluster_cap and cluster is not None and self.clusters[cluster].index(user) >= cfg.cluster_cap:
            return f"cluster {cluster!r} already has {cfg.cluster_cap} rewarded accounts"
        if not recurring:
            return None
        if cfg.min_account_age_days:
            opened = self.account_opened(user)
            age = (now - opened).total_seconds() / 86400 if opened is not None else 0.0
            if age < cfg.min_account_age_days:
                return f"account is {age:.1f} days old, rewards start at {cfg.min_account_age_days}"
        if cfg.min_activity:
            done = self.activity(user, cfg.min_activity)
            if done < cfg.min_activity:
                return f"{done} real actions, rewards start at {cfg.min_activity}"
        return None

    def account_opened(self, user: str) -> datetime | None:
        """When the account got its first reward (guest, sign-up or daily login), None if never."""
        first = None
        for entry_type in _FIRST_REWARDS:
            items = self.ledger.history(user_account(user), entry_type=entry_type, limit=1000)
            if items and (first is None or items[-1].time < first):
                first = items[-1].time
        return first

    def activity(self, user: str, at_least: int) -> int:
        """Real actions of the account, counted up to ``at_least``."""
        n = 0
        for entry_type in ACTIVITY:
            n += len(self.ledger.history(user_account(user), entry_type=entry_type, limit=at_least - n))
            if n >= at_least:
                break
        return n

    # -- earning -------------------------------------------------------------
    def one_time_reward(self, user: str, kind: str) -> Transaction | None:
        """Pay ``kind`` (guest_initial, signup, newsletter) once per user."""
        if kind not in ONE_TIME_REWARDS:
            raise InvalidRequest(f"unknown reward {kind!r}: expected one of {sorted(ONE_TIME_REWARDS)}")
        field, entry_type = ONE_TIME_REWARDS[kind]
        amount = getattr(self.config.rewards, field)
        if self.config.antisybil.cluster_cap:
            why = self.sybil_refusal(user, self.ledger.clock(), recurring=False)
            if why is not None:
                raise NotEligible(f"{user}: no {kind} reward: {why}", user=user, reason=why)
        return self._post(self._mint_request(user, amount, entry_type, f"{kind}:{user}", "reward", kind))

    def guest_initial(self, user: str) -> Transaction | None:
        return self.one_time_reward(user, "guest_initial")

    def signup_bonus(self, user: str) -> Transaction | None:
        return self.one_time_reward(user, "signup")

    def newsletter_bonus(self, user: str) -> Transaction | None:
        return self.one_time_reward(user, "newsletter")

    def daily_login(self, user: str, *, now: datetime | None = None) -> DailyLogin:
        """The daily bonus, once per UTC day, plus the streak bonus on the last day of
        every run of ``streak_days`` consecutive logins. With the Phase-2 switch on, the
        user must have staked that UTC day."""
        config = self.config
        day = utc_day(now or self.ledger.clock())
        if config.phase2.daily_bonus_requires_stake and not self.staked_on(user, day):
            raise NotEligible(f"{user} has placed no stake on {day}: the daily bonus needs one",
                              user=user, day=str(day))
        if config.antisybil.active:
            why = self.sybil_refusal(user, now or self.ledger.clock())
            if why is not None:
                raise NotEligible(f"{user}: no daily bonus: {why}", user=user, day=str(day), reason=why)
        login = self._post(self.daily_login_request(user, day))
        length = self._streak_length(self._login_days(user, EntryType.DAILY_LOGIN), day)
        streak = None
        if length >= config.rewards.streak_days and not self._streak_paid_since(
                self._login_days(user, EntryType.STREAK_BONUS), day):
            streak = self._post(self.streak_bonus_request(user, day))
        # tuple.__new__: the NamedTuple's generated constructor costs more than the tuple
        return _new(DailyLogin, (login, streak, length))

    # The daily login in parts, for a caller that posts and reads itself (the service:
    # its streak facts come from the ledger's idempotency keys, one query for many logins).
    def daily_login_request(self, user: str, day: date) -> TransferRequest | None:
        """The day's login reward (None when switched off): keyed ``daily_login:<user>:<day>``."""
        text = _day_text(day)
        return self._mint_request(user, self.config.rewards.daily_login, EntryType.DAILY_LOGIN,
                                  f"daily_login:{user}:{text}", "day", text)

    def streak_bonus_request(self, user: str, day: date) -> TransferRequest | None:
        text = _day_text(day)
        return self._mint_request(user, self.config.rewards.streak_bonus, EntryType.STREAK_BONUS,
                                  f"streak:{user}:{text}", "day", text)

    def streak_keys(self, user: str, day: date) -> dict[str, tuple[str, date]]:
        """The keys of the login rewards and streak bonuses of the ``streak_days - 1`` days
        before ``day`` (key -> (entry type, day)): which of them exist is all
        `streak_from_keys` needs. A key exists exactly when its transaction does (the
        keys are the rules' own, and the ledger keeps every key)."""
        out: dict[str, tuple[str, date]] = {}
        for back in range(1, self.config.rewards.streak_days):
            d = day - timedelta(back)
            text = _day_text(d)
            out[f"daily_login:{user}:{text}"] = (EntryType.DAILY_LOGIN, d)
            out[f"streak:{user}:{text}"] = (EntryType.STREAK_BONUS, d)
        return out

    def streak_from_keys(self, day: date, logged_in: bool, probed: dict[str, tuple[str, date]],
                         present: set[str]) -> tuple[int, bool]:
        """(streak length, whether the streak bonus is due) on ``day``, from which of
        `streak_keys` exist; ``logged_in``: today's login reward was paid."""
        days: dict[str, set[date]] = {EntryType.DAILY_LOGIN: {day} if logged_in else set(),
                                      EntryType.STREAK_BONUS: set()}
        for key in present:
            entry_type, d = probed[key]
            days[entry_type].add(d)
        length = self._streak_length(days[EntryType.DAILY_LOGIN], day)
        due = length >= self.config.rewards.streak_days and not self._streak_paid_since(
            days[EntryType.STREAK_BONUS], day)
        return length, due

    def admin_grant(self, user: str, amount: int, *, admin: str, reason: str = "",
                    key: str | None = None) -> Transaction:
        """An admin credits (amount > 0) or debits (amount < 0) a user's coins."""
        if type(amount) is not int or amount == 0:
            raise InvalidRequest(f"grant amount must be a non-zero integer, got {amount!r}")
        meta = {"admin": admin, "reason": reason}
        account = user_account(user)
        frm, to = (MINT, account) if amount > 0 else (account, MINT)
        return self.ledger.transfer(frm, to, abs(amount), "COIN", EntryType.ADMIN_GRANT, key=key,
                                    ref_type="admin", ref_id=admin, metadata=meta, note=reason or None)

    # -- spending ------------------------------------------------------------
    def vote(self, user: str, claim_id: str, *, key: str | None = None) -> Transaction | None:
        """Pay for a vote on a claim (one vote per claim unless the caller keys each vote)."""
        return self._post(self.vote_request(user, claim_id, key=key))

    def vote_request(self, user: str, claim_id: str, *, key: str | None = None) -> TransferRequest | None:
        """What `vote` posts (None when votes are free), for a caller that posts it itself."""
        return self._spend_request(user, self.config.spend.vote, EntryType.VOTE_SPENT,
                           key or f"vote:{user}:{claim_id}", "claim", claim_id)

    def unlock_deep_analysis(self, user: str, claim_id: str) -> Transaction | None:
        """Pay once per claim per user; unlocking again returns the first payment."""
        return self._post(self._spend_request(user, self.config.spend.deep_analysis_unlock, EntryType.DEEP_ANALYSIS_UNLOCK,
                                      f"deep_analysis:{user}:{claim_id}", "claim", claim_id))

    # -- facts the rules read ------------------------------------------------
    def staked_on(self, user: str, day: date) -> bool:
        """Did the user place a bet (pool stake or belt-challenge entry) on ``day``?"""
        account = user_account(user)
        for entry_type in (EntryType.STAKE, EntryType.BELT_CHALLENGE_ENTRY):
            for item in self.ledger.history(account, entry_type=entry_type, limit=50):
                if item.amount < 0 and utc_day(item.time) == day:
                    return True
        return False

    def _login_days(self, user: str, entry_type: str) -> set[date]:
        window = self.config.rewards.streak_days * 2
        items = self.ledger.history(user_account(user), entry_type=entry_type, limit=window)
        return {date.fromisoformat(i.ref_id) for i in items if i.ref_type == "day" and i.ref_id}

    def _streak_length(self, login_days: set[date], day: date) -> int:
        """Consecutive login days ending on ``day``, counted up to ``streak_days``."""
        limit = self.config.rewards.streak_days
        n = 0
        while n < limit and day in login_days:
            n += 1
            if n < limit:
                day -= _ONE_DAY
        return n

    def _streak_paid_since(self, bonus_days: set[date], day: date) -> bool:
        """Was a streak bonus paid on the ``streak_days - 1`` days before ``day``? A bonus
        keyed for today counts as unpaid so a retry replays it."""
        if not bonus_days:
            return False
        first = day - timedelta(self.config.rewards.streak_days - 1)
        return any(first <= d < day for d in bonus_days)

    # -- plumbing ------------------------------------------------------------
    # The rules build their ledger requests (pure) and post them: the service posts some
    # of the same requests itself, from async routes.
    def _post(self, request: TransferRequest | None) -> Transaction | None:
        return None if request is None else self.ledger.post(request)

    def _mint_request(self, user: str, amount: int, entry_type: str, key: str,
              ref_type: str, ref_id: str) -> TransferRequest | None:
        if amount == 0:
            return None  # a reward switched off in the config
        return _new(TransferRequest, ((_new(Posting, (MINT, user_account(user), "COIN", amount, None)),), entry_type,
                                      key, ref_type, ref_id, None, None, None, False))

    def _spend_request(self, user: str, amount: int, entry_type: str, key: str,
               ref_type: str, ref_id: str) -> TransferRequest | None:
        if amount == 0:
            return None
        to = BURN if self.config.spend.burn else PLATFORM
        return _new(TransferRequest, ((_new(Posting, (user_account(user), to, "COIN", amount, None)),), entry_type,
                                      key, ref_type, ref_id, None, None, None, False))
