"""The order book's hot modules (`COMPILED_MODULES`) compiled by mypyc.

`make` builds them into build/mypyc (.ci/compile.py): the same code, ~1.3x the orders a
second of it interpreted (bench/market.py). Importing this module (market/__init__.py
does it first) points the package at the build, but only if the build was made from
exactly these sources for this Python (`build_matches`): an edit takes effect at once,
interpreted, until the next `make`, and a machine without a C compiler runs the same
code, slower. COINLAB_PURE=1 turns the build off.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

COMPILED_MODULES = ("book", "trades", "matching", "reference")
PACKAGE = Path(__file__).resolve().parent
BUILD = PACKAGE.parent / "build" / "mypyc"


def source_stamp(package: Path = PACKAGE) -> str:
    """What a build of `COMPILED_MODULES` from ``package`` for this Python is stamped with."""
    h = hashlib.sha256(sys.version.encode())
    for name in COMPILED_MODULES:
        h.update(name.encode() + b"\0" + (package / f"{name}.py").read_bytes())
    return h.hexdigest()


def build_matches(build: Path = BUILD, package: Path = PACKAGE) -> bool:
    """Whether ``build`` holds `COMPILED_MODULES` compiled from ``package`` as it is now."""
    if os.environ.get("COINLAB_PURE"):
        return False
    try:
        return (build / "SOURCES").read_text() == source_stamp(package)
    except OSError:
        return False


if build_matches():
    # the package being initialised: its compiled modules shadow their sources
    sys.modules[__package__].__path__.insert(0, str(BUILD / "market"))
    sys.path.append(str(BUILD))  # mypyc's runtime library for them, a top-level module
