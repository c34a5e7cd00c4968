"""The back-test's bias: how far a forecast resumed from a source's state lands from what
the source did next.

The source is a baseline run (1,500 users x 40 days, seed 3 by default) written to a
throwaway warehouse; the back-test fits on its first 25 days and predicts the other 15
from the state at day 25 on 3 seeds (`sim.forecast.backtest`). Printed per metric:
the actual and forecast daily means, the total error (sum forecast over the horizon /
sum actual - 1: the bias) and the daily MAPE of the seed-mean forecast. Uncalibrated
(`sim.forecast.uncalibrated`: the baseline's own behaviour, which generated the
source) by default; ``--calibrate`` also runs the calibrated back-test (slow).

    PYTHONPATH=$PWD .venv/bin/python bench/backtest_bias.py [--users 1500] [--days 40] [--seed 3]
        [--fit-days 25] [--predict-days 15] [--seeds 3] [--calibrate]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim import load_scenario, run  # noqa: E402
from sim.forecast import backtest, calibrated, uncalibrated  # noqa: E402


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:+.0f}%"


def _report(label: str, bt: object, wall: float) -> None:
    print(f"\n{label} ({wall:.0f} s): {bt.calibration}")  # type: ignore[attr-defined]
    print(f"{'metric':<14} {'actual/day':>11} {'forecast/day':>13} {'total error':>12} {'MAPE':>7}")
    for s in bt.scores:  # type: ignore[attr-defined]
        mape = "-" if s.mape is None else f"{100 * s.mape:.0f}%"
        print(f"{s.metric:<14} {s.actual_mean:>11.1f} {s.forecast_mean:>13.1f} {_pct(s.total_error):>12} {mape:>7}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1500)
    ap.add_argument("--days", type=int, default=40)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--fit-days", type=int, default=25)
    ap.add_argument("--predict-days", type=int, default=15)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--calibrate", action="store_true", help="also the calibrated back-test (slow)")
    args = ap.parse_args()
    import sim

    print(f"code: {Path(sim.__file__).resolve().parent.parent}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        _, res = run(load_scenario("baseline"), users=args.users, days=args.days, seed=args.seed, root=root)
        print(f"source {res.run_id}: baseline {args.users} users x {args.days} days, seed {args.seed} "
              f"({time.perf_counter() - t:.0f} s)")
        t = time.perf_counter()
        bt = backtest(root, res.run_id, args.fit_days, args.predict_days, seeds=args.seeds,
                      calibrator=uncalibrated)
        _report(f"uncalibrated: fit {args.fit_days}, predict {args.predict_days}, {args.seeds} seeds", bt,
                time.perf_counter() - t)
        if args.calibrate:
            t = time.perf_counter()
            bt = backtest(root, res.run_id, args.fit_days, args.predict_days, seeds=args.seeds,
                          calibrator=calibrated)
            _report(f"calibrated: fit {args.fit_days}, predict {args.predict_days}, {args.seeds} seeds", bt,
                    time.perf_counter() - t)


if __name__ == "__main__":
    main()
