# Two commands a newcomer needs: `make demo` and `make test`.
# The virtual environment at .venv is rebuilt only when the project files change.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench mutate clean

# One pytest worker per core (pytest-xdist): each worker starts its own PostgreSQL cluster.
# The suite took 16 minutes serially on a fresh 2-core machine, ~10 with two workers.
PYTEST_ARGS ?= -n auto

$(STAMP): pyproject.toml requirements.lock
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.lock
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $(STAMP)

# The order book's hot modules compiled by mypyc (market/_compiled.py says when the build is
# used). Best effort: without a C compiler everything runs interpreted, as it did before.
COMPILED := build/mypyc/SOURCES
$(COMPILED): $(STAMP) .ci/compile.py $(patsubst %,market/%.py,book trades matching reference)
	$(VENV)/bin/python .ci/compile.py || echo "mypyc build failed: the market runs interpreted (slower)"

# The suite runs on the compiled market; then the market's own tests once more interpreted
# (the fallback), unless PYTEST_ARGS asked for a part.
test: $(STAMP) $(COMPILED)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)
ifeq ($(origin PYTEST_ARGS),file)
	COINLAB_PURE=1 $(VENV)/bin/python -m pytest $(PYTEST_ARGS) tests/market
endif

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

demo: $(STAMP) $(COMPILED)
	$(VENV)/bin/coinlab demo

bench: $(STAMP) $(COMPILED)
	$(VENV)/bin/python bench/ledger.py

# mutation testing of ledger/engine.py and market/matching.py (a seeded sample of 150
# mutants each, fast tests only); not part of `make test`: it takes minutes
mutate: $(STAMP)
	$(VENV)/bin/python .ci/mutate.py $(MUTATE_ARGS)

clean:
	rm -rf $(VENV) build mutants data/ledger.sqlite data/warehouse data/runs
