"""How much common random numbers tighten an experiment's answer.

Runs the control and a variant on the same ``--seeds`` seeds (as `coinlab sim sweep`
does) and prints, per metric, the variant's mean difference from the control with the
half-width of its 95% interval two ways: paired seed by seed (what the experiment reports)
and, the reference in the same run, as if the two arms had independent seeds (Welch). The
ratio is what pairing buys: the experiment needs ratio^2 as many seeds to reach the same
precision without it. Each user draws from their own stream (sim/agents.py), so a change
only reaches the users it touches; with one stream for all, the first differing draw
reshuffled every later life and pairing bought little.

    PYTHONPATH=$PWD .venv/bin/python bench/crn.py [--seeds 10] [--users 2000] [--days 60]
        [--variant rewards.daily_login=10] [--workers 2]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

METRICS = ("logins", "checkouts", "revenue_cents", "issued", "burned", "churned", "gini")


def main() -> None:
    from sim.experiment import Variant, paired
    from sim.runner import experiment

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--variant", action="append", help="KEY=VALUE set on the variant (default rewards.daily_login=10)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    sets = args.variant or ["rewards.daily_login=10"]
    if args.seeds < 3:
        raise SystemExit("--seeds must be >= 3")
    arms = [Variant("control", ()), Variant("variant", tuple(sets))]
    exp = experiment("baseline", arms, "control", args.seeds, workers=args.workers, users=args.users,
                     days=args.days, root=None, write_runs=False)
    by = {a.name: {r["seed"]: r["metrics"] for r in exp.results if r["variant"] == a.name} for a in arms}
    seeds = sorted(by["control"])
    print(f"{', '.join(sets)} against the control: {args.users} users x {args.days} days, seeds 1-{args.seeds}")
    print(f"{'metric':16s} {'control':>12s} {'difference':>12s} {'paired +-':>11s} {'unpaired +-':>12s} {'ratio':>6s}")
    ratios = []
    for m in METRICS:
        c = [by["control"][s][m] for s in seeds]
        v = [by["variant"][s][m] for s in seeds]
        if any(x is None for x in c + v):
            continue
        diff = paired(v, c)
        half = (diff.high - diff.low) / 2
        se_paired = statistics.stdev([b - a for a, b in zip(c, v, strict=True)]) / math.sqrt(len(c))
        se_apart = math.sqrt(statistics.variance(c) / len(c) + statistics.variance(v) / len(v))
        if se_apart == 0:
            continue  # no spread at all (e.g. nothing burned)
        unpaired = half * se_apart / se_paired if se_paired else math.nan  # the same t quantile
        ratio = se_paired / se_apart
        ratios.append(ratio)
        print(f"{m:16s} {statistics.fmean(c):12.4g} {diff.mean:+12.4g} {half:11.4g} {unpaired:12.4g} {ratio:6.2f}")
    print(f"median ratio {statistics.median(ratios):.2f}: the paired interval is that share of the unpaired one")


if __name__ == "__main__":
    main()
