"""The agent-based simulator: a Mesa model on a SimPy clock that drives the real
ledger, economy rules, payments and market (see DESIGN.md section 7).

    from sim import load_scenario, run
    model, result = run(load_scenario("baseline"), users=500, days=14, seed=1)
    result.summary["gini"]
"""

from .model import START, EconomyModel, SimClock
from .runner import RunResult, run, run_scenario, sweep, sweep_summary
from .scenario import Population, Scenario, list_scenarios, load_scenario
from .summary import summarize

__all__ = [
    "START", "EconomyModel", "Population", "RunResult", "Scenario", "SimClock", "list_scenarios",
    "load_scenario", "run", "run_scenario", "summarize", "sweep", "sweep_summary",
]
