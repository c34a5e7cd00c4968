"""The simulator's bounded memory (sim/spill.py): a journal spilled to Parquet exports and
checks exactly like one held in memory, and idempotency keys are remembered for a
window longer than any replay the simulator makes."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from ledger import Ledger
from sim import load_scenario, run
from sim.spill import KEY_WINDOW_DAYS, SpillingStore
from sim.warehouse import RUN_TABLES

SCENARIOS = ("baseline", "bonding_curve", "daily10", "package_pricing", "phase2_pools", "pump_and_dump",
             "pump_and_dump_defended", "sybil")


def _tables(result) -> dict[str, object]:
    tables = {t: pq.read_table(p) for t, p in result.paths.items()}
    tables["runs"] = tables["runs"].drop_columns(["code_version", "summary"])
    return tables


@pytest.fixture(autouse=True)
def _scratch_in_tmp_path(tmp_path, monkeypatch):
    """Spill parts go to this test's tmp_path (the suite ends with os._exit, so a scratch
    directory's own clean-up at exit would not run)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()


def test_a_spilled_run_writes_the_same_warehouse_as_one_held_in_memory(tmp_path):
    scenario = load_scenario("pump_and_dump")
    held_model, held = run(scenario, users=150, days=8, seed=5, root=tmp_path / "held")
    spilled_model, spilled = run(scenario, users=150, days=8, seed=5, root=tmp_path / "spilled", spill_rows=300,
                                 check_each_day=True)
    assert held_model.ledger.store.spill is None
    assert spilled_model.ledger.store.spill.parts >= 3  # it really spilled, several times
    assert len(spilled_model.ledger.store.book.journal) < 300
    assert set(spilled.paths) == set(RUN_TABLES)
    a, b = _tables(held), _tables(spilled)
    for table in RUN_TABLES:
        assert a[table].equals(b[table]), table
    assert held.summary == {**spilled.summary, "run_id": held.run_id}


def test_the_ledger_check_replays_the_spilled_history_too():
    model, _ = run(load_scenario("baseline"), users=120, days=6, seed=2, root=None, spill_rows=200)
    store = model.ledger.store
    assert store.spill.rows > 0
    report = model.ledger.check()
    assert report.ok, report.problems[:3]
    assert report.entries == store.journal_rows  # every entry, spilled or not, was replayed
    # A stored balance that disagrees with the (mostly spilled) history is found.
    acct = next(a for (a, asset), b in store.book.balances.items() if a.startswith("user:") and b > 0)
    store.book.balances[(acct, "COIN")] += 1
    assert any(acct in p for p in model.ledger.check().problems)


def _ledger(window: int) -> tuple[Ledger, SpillingStore]:
    store = SpillingStore(key_window_days=window)
    ledger = Ledger(store, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    ledger.create_asset("COIN")
    return ledger, store


def test_a_replay_inside_the_key_window_returns_the_same_transaction():
    ledger, store = _ledger(window=3)
    first = ledger.mint("user:alice", 10, key="grant:alice")
    for _ in range(5):  # the key's generation becomes the previous one after 3 days
        store.end_of_day()
    again = ledger.mint("user:alice", 10, key="grant:alice")
    assert again.id == first.id and again.replayed
    assert ledger.balance("user:alice") == 10
    for _ in range(3):  # recalled into the current generation: remembered a window again
        store.end_of_day()
    assert ledger.mint("user:alice", 10, key="grant:alice").id == first.id
    assert ledger.check().ok


def test_a_forgotten_key_passes_the_check_until_it_is_reused_which_the_check_reports():
    ledger, store = _ledger(window=2)
    first = ledger.mint("user:bob", 7, key="grant:bob")
    ledger.mint("user:carol", 5, key="grant:carol")
    for _ in range(4):
        store.end_of_day()
    assert store.keys_forgotten == 2
    assert ledger.check().ok  # forgotten keys are the journal's: the tables still agree
    later = ledger.mint("user:bob", 7, key="grant:bob")  # outside the window: a new posting
    assert later.id != first.id and not later.replayed
    assert ledger.balance("user:bob") == 14
    problems = ledger.check().problems
    assert any(f"transaction {first.id}: its idempotency key 'grant:bob' is missing" in p for p in problems)


def test_bad_bounds_are_refused():
    with pytest.raises(ValueError, match="spill_rows"):
        SpillingStore(spill_rows=0)
    with pytest.raises(ValueError, match="key_window_days"):
        SpillingStore(key_window_days=0)


def test_every_replay_the_simulator_makes_falls_inside_the_key_window(monkeypatch):
    gaps: list[float] = []
    apply = SpillingStore.apply

    def timed(self, request, now):
        tx = apply(self, request, now)
        if tx.replayed:
            gaps.append((now - tx.time).total_seconds())
        return tx

    monkeypatch.setattr(SpillingStore, "apply", timed)
    for name in SCENARIOS:
        run(load_scenario(name), users=300, days=10, seed=1, root=None)
    assert gaps, "no replays at all: the test would prove nothing"
    assert max(gaps) < KEY_WINDOW_DAYS * 86_400 / 4  # a wide margin, not a near miss


def test_spilled_entries_read_back_as_the_journal_held_them(tmp_path):
    """A part holds every field of every entry, metadata (JSON text on disk) and notes
    included, and an empty journal makes an empty part."""
    from sim.spill import JournalSpill, entry_table

    ledger = Ledger(SpillingStore(spill_rows=10**9), clock=lambda: datetime(2026, 3, 1, 12, tzinfo=UTC))
    ledger.mint("user:a", 500, key="m1", metadata={"why": "test", "n": [1, 2]})
    ledger.mint("user:b", 70, note="a note")
    ledger.transfer("user:a", "user:b", 20, "COIN", "VOTE_SPENT", ref_type="claim", ref_id="c1")
    journal = list(ledger.store.book.journal)
    spill = JournalSpill(tmp_path / "parts")
    spill.write(journal)
    assert list(spill.iter_entries()) == journal
    assert entry_table(journal).column("metadata").to_pylist() == ['{"n":[1,2],"why":"test"}', None, None]
    assert entry_table([]).num_rows == 0
    assert entry_table([]).schema == entry_table(journal).schema


def test_a_finished_model_is_freed_once_its_caller_drops_it():
    """Nothing global keeps a model alive: a process that runs many (a calibration's
    workers, a sweep) holds only the ones in use. Mesa's own agent-id registry held every
    model for good; SimAgent keeps its ids per model weakly."""
    import gc
    import weakref

    model, _ = run(load_scenario("baseline"), users=50, days=3, seed=1, root=None)
    assert model.agents  # it has agents, each with an id drawn for this model
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None
