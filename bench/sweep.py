"""Experiments target (DESIGN.md section 8): a 10-seed sweep of 6 variants at 2k users x
90 days with 2 workers in <= 5 minutes. Prints the wall time beside a reference measured
in the same run: one of the sweep's runs alone in this process (x 60 / 2 workers is what
perfect parallelism would give)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.experiment import build_variants  # noqa: E402
from sim.runner import experiment, run_scenario  # noqa: E402

USERS, DAYS, SEEDS, WORKERS = 2000, 90, 10, 2
GRID = ["rewards.daily_login=2,3,5,10,15,20"]  # 6 variants


def main() -> None:
    variants, control = build_variants("baseline", grid=GRID)
    t = time.perf_counter()
    run_scenario("baseline", users=USERS, days=DAYS, seed=1, root=None)
    one = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as root:
        t = time.perf_counter()
        exp = experiment("baseline", variants, control, SEEDS, workers=WORKERS, users=USERS, days=DAYS, root=root,
                         write_runs=False)
        wall = time.perf_counter() - t
    n = len(exp.results)
    print(f"sweep: {len(variants)} variants x {SEEDS} seeds at {USERS} users x {DAYS} days, {WORKERS} workers: "
          f"{wall:.1f} s wall ({n} runs; target <= 300 s: {'met' if wall <= 300 else 'missed'})")
    print(f"reference: one run alone {one:.2f} s; {n} runs / {WORKERS} workers at that pace = {one * n / WORKERS:.1f} s "
          f"(sweep / ideal = {wall / (one * n / WORKERS):.2f}x)")


if __name__ == "__main__":
    main()
