"""Every analyst notebook runs top to bottom on a tiny generated warehouse (its runs are
simulated into a temporary folder by the notebook itself) and prints its answers."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

# What each notebook must print: the lines its prose calls the answer.
ANSWERS = {
    "backtest.ipynb": ["ANSWER actives:", "ANSWER money:"],
    "economy_health.ipynb": ["ANSWER inflation:", "ANSWER per active user:", "ANSWER daily10:"],
    "market_mechanism.ipynb": ["ANSWER steadier:", "ANSWER manipulation:", "ANSWER mechanism:"],
    "package_pricing.ipynb": ["ANSWER best schedule:", "ANSWER FIRST50 cost:", "ANSWER PRO cost:"],
    "pools_and_burn.ipynb": ["ANSWER threshold:", "ANSWER recurring:", "ANSWER house burn:"],
    "pump_and_dump.ipynb": ["ANSWER no defenses:", "ANSWER each defense:", "ANSWER combination:"],
    "sybil_farming.ipynb": ["ANSWER extraction:", "ANSWER defenses:", "ANSWER stops them:"],
}


def test_every_notebook_is_registered():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(ANSWERS)


@pytest.fixture(scope="module")
def tiny_warehouse(tmp_path_factory):
    return tmp_path_factory.mktemp("warehouse")


def _run(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    # The kernel is this interpreter ("python3" resolves to sys.executable in jupyter_client).
    client = NotebookClient(nb, kernel_name="python3", timeout=120, allow_errors=False,
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    return nb


def _stdout(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.get("output_type") == "stream")


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_notebook_runs_and_prints_its_answers(name, tiny_warehouse, monkeypatch):
    monkeypatch.setenv("COINLAB_WAREHOUSE", str(tiny_warehouse))
    monkeypatch.setenv("COINLAB_NB_USERS", "80")
    monkeypatch.setenv("COINLAB_NB_DAYS", "8")
    monkeypatch.setenv("COINLAB_NB_SEEDS", "1")
    nb = _run(NOTEBOOKS / name)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    out = _stdout(nb).splitlines()
    for prefix in ANSWERS[name]:
        lines = [line for line in out if line.startswith(prefix)]
        assert lines, f"{name} did not print {prefix!r}:\n{out}"
        assert re.search(r"\d", lines[0]), f"{prefix} carries no figure: {lines[0]}"
    # the charts were drawn
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) or "text/html" in o.get("data", {})
               for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_notebook_is_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_the_kernel_is_this_interpreter():
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    assert km.format_kernel_cmd()[0] == sys.executable
