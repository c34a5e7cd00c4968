"""The UTC day the rules key on, for every kind of timestamp a store or clock hands them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ledger.economy.rules import _day_text, utc_day


@pytest.mark.parametrize("moment, day", [
    (datetime(2026, 3, 2, 23, 59, 59, tzinfo=UTC), date(2026, 3, 2)),
    (datetime(2026, 3, 2, 23, 30), date(2026, 3, 2)),  # naive: taken as UTC
    (datetime(2026, 3, 3, 1, 0, tzinfo=timezone(timedelta(hours=5))), date(2026, 3, 2)),
    (datetime(2026, 3, 2, 20, 0, tzinfo=timezone(timedelta(hours=-5))), date(2026, 3, 3)),
    (datetime(2026, 3, 2, 23, 0, tzinfo=timezone(timedelta(0))), date(2026, 3, 2)),  # UTC, another object
    (datetime(2026, 7, 1, 1, 0, tzinfo=ZoneInfo("Europe/Paris")), date(2026, 6, 30)),
])
def test_utc_day_is_the_calendar_day_in_utc(moment, day):
    assert utc_day(moment) == day


def test_day_text_is_the_iso_date():
    for d in (date(2026, 1, 1), date(2026, 12, 31), date(1999, 2, 3), date(2026, 1, 1)):
        assert _day_text(d) == d.isoformat() == str(d)
