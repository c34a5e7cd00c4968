"""How far the calibration's moments see a change of the behaviour parameters.

Simulates the recovery test's population (`bench.recovery.TRUE`, app users only, as
calibration's design runs are) on ``--seeds`` seeds, then the same with each ``--move``
applied, and prints every moment's shift in units of its spread across the base
seeds (the noise of one source of that size). A move that shifts no moment by more
than ~2 is one the data cannot tell from the base at this size, whatever the estimator:
that bounds how close any calibration from these moments can get.

    PYTHONPATH=$PWD .venv/bin/python bench/identification.py [--users 3000] [--days 60] [--seeds 5]
        [--move wtp_sigma=1.375,wtp_median_cents=0.080] [--move novelty_decay=0.225] [--workers 2]

The default moves: willingness to pay along the ridge where the buyers' share stays put
(wtp_sigma +25%, wtp_median_cents lowered to keep the tail above list price), and
novelty_decay x1.5.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_MOVES = ("wtp_sigma=1.375,wtp_median_cents=0.080", "novelty_decay=0.225")


def _moments(job: tuple[dict[str, float], int, int, int]) -> np.ndarray:
    from bench.recovery import TRUE
    from sim.calibrate import APP_USERS_ONLY
    from sim.moments import moment_values, observe_model, user_features
    from sim.runner import run
    from sim.scenario import load_scenario

    move, users, days, seed = job
    sets = [f"behaviour.{k}={v}" for k, v in {**TRUE, **move}.items()]
    sets += [f"population.{group}.{k}={v}" for group, kv in APP_USERS_ONLY.items() for k, v in kv.items()]
    scenario = load_scenario("baseline", sets=sets)
    model, _ = run(scenario, users=users, days=days, seed=seed, root=None)
    return moment_values(user_features(observe_model(model), streak_days=scenario.config.rewards.streak_days))


def _parse(move: str) -> dict[str, float]:
    out = {}
    for part in move.split(","):
        key, _, value = part.partition("=")
        if not value:
            raise SystemExit(f"--move {move!r}: expected KEY=VALUE[,KEY=VALUE]")
        out[key.strip()] = float(value)
    return out


def main() -> None:
    from sim.moments import MOMENTS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=3000)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--move", action="append", help="KEY=VALUE[,KEY=VALUE]: parameters moved off the base")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    moves = [_parse(m) for m in (args.move or DEFAULT_MOVES)]
    if args.seeds < 2:
        raise SystemExit("--seeds must be >= 2 (the spread across seeds is the unit)")
    cases = [{}, *moves]
    jobs = [(case, args.users, args.days, seed) for case in cases for seed in range(1, args.seeds + 1)]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(_moments, jobs))
    per_case = [np.array(results[i * args.seeds:(i + 1) * args.seeds]) for i in range(len(cases))]
    base = per_case[0]
    mean, sd = np.nanmean(base, axis=0), np.nanstd(base, axis=0, ddof=1)
    print(f"{args.users} app users x {args.days} days, {args.seeds} seeds per case; shift = (moved mean - base "
          "mean) / base spread across seeds")
    for i, move in enumerate(moves, 1):
        print(f"  move {i}: " + ", ".join(f"{k}={v:g}" for k, v in move.items()))
    print(f"{'moment':26s} {'base':>10s} {'spread':>9s} " + " ".join(f"{'move ' + str(i):>7s}"
                                                               for i in range(1, len(moves) + 1)))
    shifts = []
    for j, m in enumerate(MOMENTS):
        row = [(np.nanmean(c[:, j]) - mean[j]) / sd[j] if sd[j] > 0 else np.nan for c in per_case[1:]]
        shifts.append(row)
        print(f"{m.name:26s} {mean[j]:10.4g} {sd[j]:9.3g} " + " ".join(f"{x:7.2f}" for x in row))
    largest = np.nanmax(np.abs(np.array(shifts)), axis=0)
    for i, x in enumerate(largest, 1):
        print(f"move {i}: largest shift {x:.2f} spreads (with {args.seeds} seeds, a mean's own noise is "
              f"~{1 / np.sqrt(args.seeds / 2):.2f} of that)")


if __name__ == "__main__":
    main()
