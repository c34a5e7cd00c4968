"""Simulator benchmark: user-days/s of the baseline scenario, event-driven (SimPy) beside
the naive Mesa model of the same economy (every user stepped every day, same ledger,
same rules, same market), measured in the same run.

    .venv/bin/python bench/sim.py                      # 10k and 100k users x 365 days
    .venv/bin/python bench/sim.py --users 10000 --days 90
    .venv/bin/python bench/sim.py --users 100000 --naive-days 60   # quicker: naive for 60 days only

Figures are CPU seconds of this process (time.process_time): the machine's cores are
shared, so wall time is printed too but is not the figure. Both models run the whole
horizon by default. ``--naive-days N`` runs the naive model only for the first N days of
the same scenario: the event-driven run's CPU at the end of day N (recorded day by day)
gives the like-for-like ratio, and the naive full-horizon time is extrapolated from its
per-day cost over those days. In the baseline that extrapolation OVERSTATES the naive
time (30% of the users arrive on day 0, so the first weeks are the busiest: at 100k users
the first 60 days hold ~30% of the year's logins), so only the same-days ratio is a fair
comparison then.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim import EconomyModel, load_scenario  # noqa: E402
from sim.naive import NaiveEconomyModel  # noqa: E402


def timed(cls: type[EconomyModel], users: int, days: int, run_days: int, seed: int) -> dict:
    gc.collect()
    model = cls(load_scenario("baseline"), users=users, days=days, seed=seed)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    per_day = []
    for _ in range(run_days):
        model.step()
        per_day.append(time.process_time() - cpu0)
    out = {"model": cls.__name__, "users": users, "days": run_days, "cpu_s": per_day[-1],
           "wall_s": time.perf_counter() - wall0, "cpu_by_day": per_day,
           "journal": len(model.ledger.store.book.journal),
           "logins": sum(model.datacollector.model_vars["logins_today"]),
           "issued": model.today["issued"]}
    del model
    gc.unfreeze()
    gc.collect()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--naive-days", type=int, default=None,
                    help="run the naive model for only this many days (default: all of --days)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    rows = []
    for users in args.users:
        fast = timed(EconomyModel, users, args.days, args.days, args.seed)
        nd = min(args.days, args.naive_days or args.days)
        naive = timed(NaiveEconomyModel, users, args.days, nd, args.seed)
        fast_same = fast["cpu_by_day"][nd - 1]
        naive_full = naive["cpu_s"] * args.days / nd
        row = {
            "users": users, "days": args.days,
            "event_cpu_s": round(fast["cpu_s"], 2), "event_wall_s": round(fast["wall_s"], 2),
            "event_user_days_per_s": round(users * args.days / fast["cpu_s"]),
            "naive_days_run": nd, "naive_cpu_s": round(naive["cpu_s"], 2),
            "naive_full_cpu_s": round(naive_full, 2), "naive_extrapolated": nd < args.days,
            "naive_user_days_per_s": round(users * nd / naive["cpu_s"]),
            "ratio_same_days": round(naive["cpu_s"] / fast_same, 2),
            "event_logins": fast["logins"], "naive_logins": naive["logins"], "journal": fast["journal"],
        }
        rows.append(row)
        print(f"{users:>7} users x {args.days} days | event-driven {row['event_cpu_s']:7.1f} s CPU "
              f"({row['event_wall_s']:.1f} s wall) = {row['event_user_days_per_s']:>9,} user-days/s | "
              f"naive {row['naive_cpu_s']:.1f} s CPU for {nd} days"
              f"{f' (~{naive_full:.0f} s for {args.days}, extrapolated)' if nd < args.days else ''} = "
              f"{row['naive_user_days_per_s']:,} user-days/s | speed-up over the same days x{row['ratio_same_days']}"
              f" | target 100k x 365 <= 120 s, >= 5x", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
