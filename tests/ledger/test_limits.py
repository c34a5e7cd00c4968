"""The schema's limits, enforced by the engine for every store alike: what the database
could not hold is refused with an InvalidRequest naming the field, changes nothing,
and in a batch refuses only its own request."""

from __future__ import annotations

import math

import pytest
from typer.testing import CliRunner

from coinlab_cli.main import app
from ledger import (
    MINT,
    EntryType,
    HoldAction,
    InvalidRequest,
    Ledger,
    Posting,
    Transaction,
    TransferRequest,
    limits,
    user_account,
)
from ledger.engine import ENTRY_TYPES
from ledger.sql import SqlStore
from ledger.sql import schema as s

ALICE, BOB = "user:alice", "user:bob"
INT64_MAX = 2**63 - 1
LONG_ADDRESS = "k" * (limits.ADDRESS - 1) + ":x"  # matches the address syntax, one character too long


def _mint(amount: int = 5, to: str = ALICE, **kw) -> TransferRequest:
    return TransferRequest((Posting(MINT, to, "COIN", amount),), EntryType.ADMIN_GRANT, **kw)


BAD_REQUESTS = [
    (_mint(INT64_MAX + 1), "amount"),
    (_mint(to=LONG_ADDRESS), "address"),
    (_mint(idempotency_key="k" * (limits.KEY + 1)), "idempotency_key"),
    (_mint(ref_id="r" * (limits.REF_ID + 1)), "ref_id"),
    (_mint(ref_type="t" * (limits.REF_TYPE + 1)), "ref_type"),
    (_mint(metadata={"when": object()}), "metadata"),
    (_mint(metadata={"x": math.nan}), "metadata"),
    (_mint(metadata=[1, 2]), "metadata"),  # type: ignore[arg-type]
    (_mint(note="a\x00b"), "note"),
    (_mint(ref_id="\ud800"), "ref_id"),
    (_mint(idempotency_key=42), "idempotency_key"),  # type: ignore[arg-type]
    (TransferRequest((Posting(ALICE, BOB, "COIN", 1), Posting(MINT, BOB, "COIN", INT64_MAX + 1)),
                     EntryType.TRANSFER), "amount"),
]
IDS = ["amount-past-int64", "address-too-long", "key-too-long", "ref-id-too-long", "ref-type-too-long",
       "metadata-not-json", "metadata-nan", "metadata-not-an-object", "note-with-nul", "ref-id-lone-surrogate",
       "key-not-a-string", "second-leg-past-int64"]


def test_the_limits_are_the_schema_columns():
    assert limits.ADDRESS == s.entries.c.from_account.type.length == s.balances.c.account.type.length
    assert s.idempotency_keys.c.key.type.length == limits.KEY
    assert (s.entries.c.ref_id.type.length, s.entries.c.ref_type.type.length) == (limits.REF_ID, limits.REF_TYPE)
    assert limits.AMOUNT_MAX == limits.BALANCE_MAX == INT64_MAX
    assert max(map(len, ENTRY_TYPES)) <= s.entries.c.entry_type.type.length


@pytest.mark.cases("req, field", BAD_REQUESTS, ids=IDS, everywhere=len(BAD_REQUESTS))
def test_a_request_past_a_column_limit_is_refused_naming_the_field(ledger, unchanged, req, field):
    ledger.mint(ALICE, 10)
    with unchanged(), pytest.raises(InvalidRequest) as err:
        ledger.post(req)
    assert err.value.details["field"] == field


@pytest.mark.cases("req, field", BAD_REQUESTS, ids=IDS, everywhere=len(BAD_REQUESTS))
def test_a_batch_refuses_only_its_bad_request(ledger, req, field):
    ledger.mint(ALICE, 10)
    first, bad, last = ledger.post_many([_mint(1, BOB), req, _mint(2, BOB)])
    assert isinstance(first, Transaction) and isinstance(last, Transaction)
    assert isinstance(bad, InvalidRequest) and bad.details["field"] == field
    assert ledger.balance(BOB) == 3 and ledger.balance(ALICE) == 10
    assert ledger.check().ok


def test_a_credit_past_the_largest_balance_is_refused(ledger, unchanged):
    ledger.mint(ALICE, INT64_MAX)
    with unchanged(), pytest.raises(InvalidRequest, match="range"):
        ledger.mint(ALICE, 1)
    ledger.mint(BOB, 1)  # the mint reaches the smallest balance a column holds ...
    with unchanged(), pytest.raises(InvalidRequest, match="range"):
        ledger.mint(BOB, 1)  # ... and goes no further
    assert ledger.balance(MINT) == -INT64_MAX - 1 and ledger.check().ok


def test_a_hold_id_past_its_column_is_refused(ledger, unchanged):
    ledger.mint(ALICE, 10)
    hold_id = "h" * (limits.HOLD_ID + 1)
    req = TransferRequest((Posting(ALICE, "system:escrow", "COIN", 3),), EntryType.HOLD_LOCK,
                          hold=HoldAction("lock", hold_id, ALICE, "COIN", 3))
    with unchanged(), pytest.raises(InvalidRequest) as err:
        ledger.post(req)
    assert err.value.details["field"] == "hold_id"


def test_an_asset_past_its_columns_is_refused(ledger):
    with pytest.raises(InvalidRequest) as err:
        ledger.create_asset("GEM", 0, name="n" * (limits.ASSET_NAME + 1))
    assert err.value.details["field"] == "asset name"
    assert "GEM" not in ledger.store.assets()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.mark.parametrize("args, field", [
    (["--user", "alice", "--amount", str(INT64_MAX + 1)], "amount"),
    (["--user", "alice", "--amount", "5", "--note", "a\x00b"], "note"),
    (["--user", "alice", "--amount", "5", "--key", "k" * 300], "idempotency_key"),
], ids=["amount", "note", "key"])
def test_grant_with_a_value_past_a_limit_exits_with_a_clear_message(db_url, args, field):
    result = CliRunner().invoke(app, ["grant", "--db", db_url, *args])
    assert result.exit_code == 2, result.output
    assert "refused" in result.output and field in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert Ledger(SqlStore(db_url)).balances(user_account("alice")) == {}
