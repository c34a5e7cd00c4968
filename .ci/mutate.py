"""`make mutate`: mutation testing of the money-moving core with mutmut.

mutmut (configured in pyproject.toml, [tool.mutmut]) generates every mutant of
ledger/engine.py and market/matching.py; this script runs a reproducible sample of
them (SAMPLE per module, drawn with a fixed seed from the sorted mutant names) against
the fast tests (tests/market and tests/ledger, no PostgreSQL), then prints the score
per module and the surviving mutants. Not part of `make test`: it takes minutes.

    python .ci/mutate.py [--sample 150] [--seed 18] [--jobs 2]

Inspect a survivor with `.venv/bin/mutmut show NAME`.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

MODULES = ("ledger.engine", "market.matching")
MUTMUT = str(Path(sys.executable).with_name("mutmut"))
RESULT = re.compile(r"^\s*(\S+__mutmut_\d+): (.+)$")


def mutmut(*args: str) -> None:
    """Run mutmut quietly; on failure show the end of what it said."""
    done = subprocess.run([MUTMUT, *args], capture_output=True, text=True)
    if done.returncode:
        tail = "\n".join(done.stdout.replace("\r", "\n").splitlines()[-40:])
        sys.exit(f"mutmut {args[0]} failed ({done.returncode}):\n{tail}\n{done.stderr[-4000:]}")


def results() -> dict[str, str]:
    out = subprocess.run([MUTMUT, "results", "--all", "true"], capture_output=True, text=True, check=True).stdout
    return {m.group(1): m.group(2) for line in out.splitlines() if (m := RESULT.match(line))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=int, default=150, help="mutants per module")
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()

    shutil.rmtree("mutants", ignore_errors=True)  # a fresh copy of the code under test
    # mutmut generates every mutant before it runs any: run a few to get the names
    mutmut("run", "market.matching.*__mutmut_1", "--max-children", str(args.jobs))
    by_module: dict[str, list[str]] = defaultdict(list)
    for name in sorted(results()):
        module = next((m for m in MODULES if name.startswith(m + ".")), None)
        if module is not None:
            by_module[module].append(name)
    rng = random.Random(args.seed)
    sample = {m: sorted(rng.sample(names, min(args.sample, len(names)))) for m, names in sorted(by_module.items())}
    chosen = [n for names in sample.values() for n in names]
    mutmut("run", *chosen, "--max-children", str(args.jobs))

    status = results()
    for module, names in sample.items():
        counts: dict[str, int] = defaultdict(int)
        for n in names:
            counts[status.get(n, "missing")] += 1
        killed = counts["killed"] + counts["timeout"]
        print(f"{module}: {killed}/{len(names)} killed ({100 * killed / len(names):.0f}%) "
              f"of {len(by_module[module])} mutants; "
              + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        for n in names:
            if status.get(n) not in ("killed", "timeout"):
                print(f"    {status.get(n)}: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
