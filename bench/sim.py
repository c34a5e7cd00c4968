"""Simulator benchmark: the baseline scenario with the behaviour model, CPU seconds for
users x days, peak memory, and the share of that time spent outside the ledger, market
and economy calls (the simulator's own overhead: agents, behaviour, SimPy, metrics).

    .venv/bin/python bench/sim.py                              # 100k users x 365 days
    .venv/bin/python bench/sim.py --users 10000,100000,1000000 --share-at 10000
    .venv/bin/python bench/sim.py --users 10000 --days 90

Each size runs in a fresh process (so its peak RSS is its own): the figure, plain,
nothing instrumented. For the size ``--share-at`` (default: the first), a second run of
the same seed has every public method of the real code the agents call wrapped in a
timer (only the outermost call counts, so nested calls are not counted twice): its
"inside" time is what the ledger, market and economy cost, its total minus that is the
simulator's own. The wrappers add their own cost to that run's total, printed beside
it. The journal is spilled to Parquet as it grows (sim.spill); the CPU that costs is in
the figure and printed on its own ("spill"), and it counts as ledger-store time in the
share. Figures are CPU seconds of the run's process (time.process_time); the machine's
cores are shared, so wall time is printed too but is not the figure.

The reference (``--reference REV``, default: the simulator just before the behaviour
model): the same scenario, size and seed run by the code of git revision REV, checked out
in a temporary worktree, in its own process. Its users do not respond to the economy and
write ~3x fewer journal rows (the ledger entries of every reward, spend, purchase and
trade), so the figures compared are CPU per journal row, beside the totals.

Targets (DESIGN.md 8): 100k x 365 <= 60 s of CPU, outside share <= 35%; 1M x 365 <= 10
min wall, peak memory <= 8 GB. The 60 s was set when the simulator was the reference
(38.5 s then); issue 19 restates it per unit of work, on the same machine in the same
run: CPU per journal row at most 1.56x the reference's (60 / 38.5).
"""

from __future__ import annotations

import argparse
import functools
import gc
import inspect
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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
    store = model.ledger.store
    if timer is not None:
        e = model.economy
        for part in (model.ledger, e.rules, e.payments, e.pools, e.challenges, model.exchange, model.stripe,
                     *model.curves.values()):
            if part is not None:
                timer.instrument(part)
        store.end_of_day = timer.wrap(store.end_of_day)  # type: ignore[method-assign]
    for _ in range(days):
        model.step()
    spill = store.spill  # type: ignore[attr-defined]
    return {"cpu_s": time.process_time() - cpu0, "wall_s": time.perf_counter() - wall0,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "journal": store.journal_rows, "spilled": spill.rows if spill else 0,  # type: ignore[attr-defined]
            "spill_cpu_s": spill.cpu_seconds if spill else 0.0,
            "sessions": sum(model.datacollector.model_vars["logins_today"]), "arrivals": model.counts["arrivals"],
            **({"inside_calls_cpu_s": timer.inside, "calls": timer.calls} if timer else {})}


def child(users: int, days: int, seed: int, timed: bool) -> dict[str, Any]:
    """One run in a fresh process: its own peak RSS, nothing left over from another run."""
    cmd = [sys.executable, __file__, "--child", str(users), "--days", str(days), "--seed", str(seed)]
    out = subprocess.run(cmd + (["--timed"] if timed else []), check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


REFERENCE_REV = "c7e90cf^"
"""The last revision before the behaviour model (c7e90cf added it)."""
REFERENCE_MAX_USERS = 200_000
"""The reference keeps its whole journal in memory (it predates the spill): ~16 GB at 1M users."""

# Run in the reference's worktree: only what every revision of the simulator has.
_REFERENCE_RUN = """
import gc, json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from sim import EconomyModel, load_scenario
users, days, seed = map(int, sys.argv[2:5])
gc.collect()
cpu0 = time.process_time()
model = EconomyModel(load_scenario("baseline"), users=users, days=days, seed=seed)
for _ in range(days):
    model.step()
store = model.ledger.store
rows = getattr(store, "journal_rows", None)
print(json.dumps({"cpu_s": time.process_time() - cpu0, "journal": len(store.book.journal) if rows is None else rows,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


def reference(rev: str, users: int, days: int, seed: int) -> dict[str, Any]:
    """The baseline run by the simulator of git revision ``rev`` (a temporary worktree)."""
    with tempfile.TemporaryDirectory(prefix="coinlab-reference-") as scratch:
        tree = Path(scratch) / "tree"
        made = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(tree), rev],
                              capture_output=True, text=True)
        if made.returncode != 0:  # not a git checkout, or a shallow one without ``rev``
            raise RuntimeError(f"cannot check out {rev}: {made.stderr.strip() or made.stdout.strip()}")
        try:
            out = subprocess.run([sys.executable, "-c", _REFERENCE_RUN, str(tree), str(users), str(days), str(seed)],
                                 check=True, capture_output=True, text=True).stdout
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           check=False, capture_output=True)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", default="100000", help="users per run, comma-separated sizes (e.g. 10000,100000)")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--share-at", type=int, default=None, help="the size whose outside share is measured")
    ap.add_argument("--reference", default=REFERENCE_REV, metavar="REV",
                    help=f"git revision of the reference simulator run beside each size up to {REFERENCE_MAX_USERS:,} "
                         f"users (default {REFERENCE_REV}: just before the behaviour model); 'none' skips it")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--timed", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(run(args.child, args.days, args.seed, Timer() if args.timed else None)))
        return
    sizes = [int(u) for u in args.users.split(",")]
    share_at = args.share_at or sizes[0]
    rows = []
    for users in sizes:
        r = child(users, args.days, args.seed, False)
        row = {"users": users, "days": args.days, **{k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}}
        print(f"{users:>9,} users x {args.days} days: {r['cpu_s']:7.1f} s CPU ({r['wall_s']:.1f} s wall), "
              f"peak RSS {r['peak_rss_mb']:,} MB, {r['sessions']:,} sessions, {r['journal']:,} journal rows "
              f"({r['spilled']:,} spilled, spill {r['spill_cpu_s']:.1f} s CPU), "
              f"{users * args.days / r['cpu_s']:,.0f} user-days/s, {r['cpu_s'] / users * 1e6:.0f} us CPU per user",
              flush=True)
        ref = None
        if args.reference != "none" and users <= REFERENCE_MAX_USERS:
            try:
                ref = reference(args.reference, users, args.days, args.seed)
            except (RuntimeError, subprocess.CalledProcessError) as err:
                print(f"  reference skipped: {err}", flush=True)
        if ref is not None:
            ours, theirs = r["cpu_s"] / r["journal"] * 1e6, ref["cpu_s"] / ref["journal"] * 1e6
            row.update(reference_rev=args.reference, reference_cpu_s=round(ref["cpu_s"], 2),
                       reference_journal=ref["journal"], us_per_row=round(ours, 2),
                       reference_us_per_row=round(theirs, 2))
            print(f"  reference ({args.reference}, same size and seed): {ref['cpu_s']:.1f} s CPU, "
                  f"{ref['journal']:,} journal rows, peak RSS {ref['peak_rss_mb']:,} MB | per journal row: "
                  f"{ours:.1f} us against {theirs:.1f} us ({ours / theirs:.2f}x); in all {r['cpu_s'] / ref['cpu_s']:.2f}x "
                  f"the CPU for {r['journal'] / ref['journal']:.2f}x the rows | target per row <= 1.56x", flush=True)
        if users == share_at:
            t = child(users, args.days, args.seed, True)
            outside = (t["cpu_s"] - t["inside_calls_cpu_s"]) / t["cpu_s"]
            row.update(instrumented_cpu_s=round(t["cpu_s"], 2), inside_calls_cpu_s=round(t["inside_calls_cpu_s"], 2),
                       calls=t["calls"], outside_share=round(outside, 3))
            print(f"  timed run (same seed, every real call timed): {t['cpu_s']:.1f} s CPU, of which "
                  f"{t['inside_calls_cpu_s']:.1f} s inside {t['calls']:,} ledger/market/economy calls (spill included): "
                  f"outside share {outside:.1%} | target <= 35%", flush=True)
        rows.append(row)
    print("targets: 100k x 365 <= 60 s CPU (DESIGN.md; issue 19 restates it per unit of work: CPU per journal row "
          "<= 1.56x the reference's, the 60/38.5 s it allowed the behaviour model), outside share <= 35%; "
          "1M x 365 <= 600 s wall and <= 8,192 MB peak RSS")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
