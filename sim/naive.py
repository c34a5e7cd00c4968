"""The benchmark's reference: the same economy written as a naive Mesa model.

`NaiveEconomyModel` is `EconomyModel` (same ledger, same rules, same Stripe, same
market and market agents) except for how the users live: every user is created up
front and, in the usual Mesa style, stepped every day with ``shuffle_do("step")``,
drawing whether they have arrived, churned or log in today. The users' actions
(arrival rewards, login, votes, unlocks, package purchases, stakes) are the very same
methods as the event-driven agents'; only the scheduling differs, which is what
bench/sim.py measures.
"""

from __future__ import annotations

from typing import Any

from mesa.agent import AgentSet

from .agents import DAY, Bettor, CasualUser, PackageBuyer
from .model import EconomyModel

__all__ = ["NaiveEconomyModel"]


class _Naive:
    """Daily-stepped life: arrival day, churn day and the daily login draw."""

    arrival_day: int
    churn_day: float
    gone: bool
    model: NaiveEconomyModel
    rate: float

    def setup(self, arrival_day: int) -> None:
        self.arrival_day = arrival_day
        self.churn_day = arrival_day + self.model.random.expovariate(1.0 / self.model.pop.casual.mean_lifetime_days)
        self.gone = False

    def step(self) -> None:
        if self.gone:
            return
        day = self.model.steps - 1
        if day < self.arrival_day:
            return
        if day == self.arrival_day:
            self.arrive()  # type: ignore[attr-defined]
            self.login()  # type: ignore[attr-defined]
        elif day >= self.churn_day:
            self.gone = True
            self.model.count("churned")
        elif self.model.random.random() < self.rate:
            self.login()  # type: ignore[attr-defined]


class NaiveCasual(_Naive, CasualUser):
    pass


class NaiveBuyer(_Naive, PackageBuyer):
    pass


class NaiveBettor(_Naive, Bettor):
    pass


class NaiveEconomyModel(EconomyModel):
    """Users stepped every day instead of sleeping until their next action."""

    def _arrivals(self) -> Any:
        pop, r = self.pop, self.random
        n0 = int(pop.users * pop.initial_share)
        days = sorted([0] * n0 + [int(r.random() * pop.days) for _ in range(pop.users - n0)])
        bet_share, buy_share = pop.betting.bettors_share, pop.buyers.share
        users = []
        for i, day in enumerate(days):
            roll = r.random()
            uid = f"u{i + 1}"
            if roll < bet_share:
                agent: _Naive = NaiveBettor(self, uid)
                self.bettors.append(agent)  # type: ignore[arg-type]
            elif roll < bet_share + buy_share:
                agent = NaiveBuyer(self, uid)
            else:
                agent = NaiveCasual(self, uid)
            agent.setup(day)
            users.append(agent)
        self.users = AgentSet(users, random=self.random)
        return
        yield  # a generator, like the event-driven arrivals process

    def step(self) -> None:
        # Users act at the start of the day; SimPy still runs Stripe and the market agents.
        self.env.run(until=(self.steps - 1) * DAY + 1)
        self.users.shuffle_do("step")
        super().step()

