"""Compile the order book's hot modules (_compiled.COMPILED_MODULES) with mypyc into
build/mypyc, stamped with their sources (`make` runs this; market/__init__.py loads the
build only while the stamp matches). Exits non-zero if the build fails: `make` then goes
on with the pure-Python modules.

    .venv/bin/python .ci/compile.py
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    os.environ["COINLAB_PURE"] = "1"  # this process reads the sources, never an older build
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    from mypyc.build import mypycify
    from setuptools import setup

    from market import _compiled

    # setuptools reads the project's pyproject.toml on the way and warns about it: not ours to fix here
    warnings.filterwarnings("ignore", message=r"Support for `\[tool.setuptools\]`")
    out, temp = _compiled.BUILD, ROOT / "build" / "mypyc-temp"
    shutil.rmtree(out, ignore_errors=True)
    stamp = _compiled.source_stamp()
    setup(name="coinlab-market-compiled", script_name="compile.py",
          ext_modules=mypycify([f"market/{m}.py" for m in _compiled.COMPILED_MODULES], opt_level="3"),
          script_args=["--quiet", "build_ext", "--build-lib", str(out), "--build-temp", str(temp)])
    (out / "SOURCES").write_text(stamp)
    print(f"compiled {', '.join(_compiled.COMPILED_MODULES)} into {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
