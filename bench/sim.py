"""Simulator benchmark: the baseline scenario with the behaviour model, CPU seconds for
users x days, and the share of that time spent outside the ledger, market and economy
calls (the simulator's own overhead: agents, behaviour, SimPy, metrics).

    .venv/bin/python bench/sim.py                        # 100k users x 365 days
    .venv/bin/python bench/sim.py --users 10000 --days 90

Two runs of the same seed: the figure (plain, nothing instrumented), then the same run
with every public method of the real code the agents call wrapped in a timer (only
the outermost call counts, so nested calls are not counted twice). The second run is
the reference the share is read from: its "inside" time is what the ledger, market and
economy cost, its total minus that is the simulator's own. The wrappers add their own
cost to the second run's total, printed beside it. Figures are CPU seconds of this
process (time.process_time); the machine's cores are shared, so wall time is printed
too but is not the figure. Targets (DESIGN.md 8): 100k x 365 <= 60 s of CPU, outside
share <= 35%.
"""

from __future__ import annotations

import argparse
import functools
import gc
import inspect
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim import EconomyModel, load_scenario  # noqa: E402


class Timer:
    """CPU time inside the outermost wrapped call."""

    def __init__(self) -> None:
        self.inside = 0.0
        self.calls = 0
        self.depth = 0

    def wrap(self, fn: Any) -> Any:
        @functools.wraps(fn)
        def timed(*args: Any, **kw: Any) -> Any:
            if self.depth:
                return fn(*args, **kw)
            self.depth = 1
            self.calls += 1
            t0 = time.process_time()
            try:
                return fn(*args, **kw)
            finally:
                self.inside += time.process_time() - t0
                self.depth = 0
        return timed

    def instrument(self, obj: Any) -> None:
        """Wrap ``obj``'s public methods on the instance (generators are left alone)."""
        for name, fn in inspect.getmembers(obj, inspect.ismethod):
            if not name.startswith("_") and not inspect.isgeneratorfunction(fn):
                setattr(obj, name, self.wrap(fn))


def run(users: int, days: int, seed: int, timer: Timer | None) -> dict[str, Any]:
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    model = EconomyModel(load_scenario("baseline"), users=users, days=days, seed=seed)
    if timer is not None:
        e = model.economy
        for part in (model.ledger, e.rules, e.payments, e.pools, e.challenges, model.exchange, model.stripe,
                     *model.curves.values()):
            if part is not None:
                timer.instrument(part)
    for _ in range(days):
        model.step()
    out = {"cpu_s": time.process_time() - cpu0, "wall_s": time.perf_counter() - wall0,
           "journal": len(model.ledger.store.book.journal),
           "sessions": sum(model.datacollector.model_vars["logins_today"]), "arrivals": model.counts["arrivals"]}
    del model
    gc.unfreeze()
    gc.collect()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    plain = run(args.users, args.days, args.seed, None)
    timer = Timer()
    timed = run(args.users, args.days, args.seed, timer)
    outside = (timed["cpu_s"] - timer.inside) / timed["cpu_s"]
    row = {"users": args.users, "days": args.days, "cpu_s": round(plain["cpu_s"], 2),
           "wall_s": round(plain["wall_s"], 2), "user_days_per_s": round(args.users * args.days / plain["cpu_s"]),
           "sessions": plain["sessions"], "journal": plain["journal"],
           "instrumented_cpu_s": round(timed["cpu_s"], 2), "inside_calls_cpu_s": round(timer.inside, 2),
           "calls": timer.calls, "outside_share": round(outside, 3)}
    print(f"{args.users:,} users x {args.days} days: {row['cpu_s']:.1f} s CPU ({row['wall_s']:.1f} s wall), "
          f"{row['user_days_per_s']:,} user-days/s, {row['sessions']:,} sessions, {row['journal']:,} journal rows "
          f"| target <= 60 s for 100k x 365")
    print(f"reference (same run, real calls timed): {row['instrumented_cpu_s']:.1f} s CPU, of which "
          f"{row['inside_calls_cpu_s']:.1f} s inside {timer.calls:,} ledger/market/economy calls: "
          f"outside share {outside:.1%} | target <= 35%", flush=True)
    if args.json:
        args.json.write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
