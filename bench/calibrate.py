"""Calibration target (DESIGN.md section 8): calibrating from 10k users x 90 days <= 60 s.

The source is a baseline run of that size written to a throwaway warehouse; the
reference, measured in the same run, is that one simulation of the source's size (the
design runs are simulations too, so the ratio says how many source-size simulations a
calibration costs).

    PYTHONPATH=$PWD .venv/bin/python bench/calibrate.py [--users 10000] [--days 90] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim import load_scenario, run  # noqa: E402
from sim.calibrate import calibrate  # noqa: E402

TARGET_SECONDS = 60.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as root:
        t = time.perf_counter()
        _, res = run(load_scenario("baseline"), users=args.users, days=args.days, seed=1, root=Path(root))
        one = time.perf_counter() - t
        t = time.perf_counter()
        cal = calibrate(Path(root), res.run_id, workers=args.workers)
        wall = time.perf_counter() - t
    print(f"calibrate: {cal.users} users x {args.days} days, {args.workers} workers, {cal.design_runs + 1} "
          f"simulations: {wall:.1f} s wall (target <= {TARGET_SECONDS:.0f} s: "
          f"{'met' if wall <= TARGET_SECONDS else 'missed'}); fit error {cal.fit_error:.2f}")
    print(f"reference: one simulation of the source's size (with its warehouse export) {one:.1f} s wall; "
          f"calibration / reference = {wall / one:.1f}x")


if __name__ == "__main__":
    main()
