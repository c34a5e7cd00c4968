"""The compiled order book (market/__init__.py): used only when built from the sources as
they are now, so an edit is never shadowed by an older build."""

import shutil

import market
from market import book as book_module
from market._compiled import COMPILED_MODULES, PACKAGE, build_matches, source_stamp


def _copy(tmp_path):
    package, build = tmp_path / "market", tmp_path / "build"
    package.mkdir()
    build.mkdir()
    for name in COMPILED_MODULES:
        shutil.copy(PACKAGE / f"{name}.py", package / f"{name}.py")
    return package, build


def test_a_build_is_used_only_while_its_stamp_matches_the_sources(tmp_path, monkeypatch):
    monkeypatch.delenv("COINLAB_PURE", raising=False)
    package, build = _copy(tmp_path)
    assert not build_matches(build, package)  # never built
    (build / "SOURCES").write_text(source_stamp(package))
    assert build_matches(build, package)
    matching = package / "matching.py"
    matching.write_text(matching.read_text() + "\n# an edit\n")
    assert not build_matches(build, package)  # stale: the sources run, interpreted
    (build / "SOURCES").write_text(source_stamp(package))
    assert build_matches(build, package)
    monkeypatch.setenv("COINLAB_PURE", "1")
    assert not build_matches(build, package)


def test_the_stamp_covers_every_compiled_module(tmp_path):
    package, _ = _copy(tmp_path)
    before = source_stamp(package)
    for name in COMPILED_MODULES:
        path = package / f"{name}.py"
        text = path.read_text()
        path.write_text(text + " ")
        assert source_stamp(package) != before, name
        path.write_text(text)
    assert source_stamp(package) == before


def test_this_process_runs_the_build_exactly_when_it_matches():
    compiled = build_matches()
    assert book_module.COMPILED is compiled
    assert market.matching.__file__.endswith(".py") is not compiled


def test_make_rebuilds_when_any_compiled_module_changes():
    makefile = (PACKAGE.parent / "Makefile").read_text()
    line = next(x for x in makefile.splitlines() if x.startswith("$(COMPILED):"))
    assert sorted(line.split("market/%.py,")[1].split(")")[0].split()) == sorted(COMPILED_MODULES)
