"""The date range, the headlines and the retention summary read a source's first and last
day off the cached daily rollup (`metrics.days`), not off a scan of the journal: the
same days as the scan, and once the rollups are built no query touches ``entries``."""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboards import metrics as m
from dashboards.warehouse import PROD, connect
from tests.dashboards.conftest import APP

RUNS = ["run_id", "pools_run", "pump_run", "prod"]


def _run(env: dict[str, Any], which: str) -> str:
    return PROD if which == "prod" else env[which]


def _scanned(con: Any, run_id: str) -> tuple[Any, Any]:
    return con.execute("SELECT min(time)::DATE, max(time)::DATE FROM entries WHERE run_id = ?",
                       [run_id]).fetchall()[0]


def _no_journal(root: Any) -> Any:
    """A connection whose ``entries`` view raises as soon as a query reads it."""
    con = connect(root)
    con.execute("ALTER VIEW entries RENAME TO entries_real")
    con.execute("CREATE VIEW entries AS SELECT * FROM entries_real WHERE error('the journal was scanned') IS NULL")
    return con


@pytest.mark.parametrize("which", RUNS)
def test_days_are_the_first_and_last_day_a_scan_of_the_journal_gives(warehouse, which):
    run_id = _run(warehouse, which)
    con = connect(warehouse["root"])
    first, last = _scanned(con, run_id)
    assert first is not None and first < last
    assert m.days(con, run_id) == (first, last)


def test_a_source_without_entries_has_no_days(warehouse):
    assert m.days(connect(warehouse["root"]), "no-such-run") == (None, None)


@pytest.mark.parametrize("which", RUNS)
def test_headlines_are_for_the_journals_last_day_or_the_chosen_one(warehouse, which):
    run_id = _run(warehouse, which)
    con = connect(warehouse["root"])
    first, last = _scanned(con, run_id)
    assert {h.day for h in m.headlines(con, run_id)} == {last}
    assert {h.day for h in m.headlines(con, run_id, first)} == {first}
    assert m.headlines(con, run_id, first)[0].change is None  # no day before the first


@pytest.mark.parametrize("which", RUNS)
def test_days_headlines_and_retention_read_no_journal_once_rolled_up(warehouse, which):
    run_id = _run(warehouse, which)
    con = connect(warehouse["root"])
    want = (m.days(con, run_id), m.headlines(con, run_id), m.retention_summary(con, run_id))  # builds the rollups
    blind = _no_journal(warehouse["root"])
    with pytest.raises(Exception, match="the journal was scanned"):
        _scanned(blind, run_id)
    assert (m.days(blind, run_id), m.headlines(blind, run_id), m.retention_summary(blind, run_id)) == want


@pytest.mark.parametrize("which", ["run_id", "prod"])
def test_the_date_picker_spans_the_sources_days_and_the_overview_renders(app_env, which):
    run_id = _run(app_env, which)
    first, last = _scanned(connect(app_env["root"]), run_id)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["source"] = run_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Overview"
    picker = at.date_input(key="_range_pick")
    assert (picker.min, picker.max) == (first, last)
    assert picker.value == (first, last)
    assert at.subheader[0].value == f"Latest day: {last}"
