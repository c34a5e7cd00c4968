"""The engine's fast fingerprint text is byte for byte the JSON one (fingerprints are
stored with idempotency keys, so a different digest would turn retries into conflicts)."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from ledger.engine import _plain_text, fingerprint
from ledger.model import EntryType, Posting, TransferRequest

text = st.text(max_size=12)
opt = st.none() | text
posting = st.builds(Posting, text, text, text, st.integers(), opt)


def _json_text(req: TransferRequest) -> str:
    payload = [[list(p) for p in req.postings], req.entry_type, req.ref_type, req.ref_id, req.metadata,
               req.note, None]
    return json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))


@given(st.lists(posting, min_size=1, max_size=3), text | st.sampled_from(list(EntryType)), opt, opt, opt)
def test_plain_text_equals_the_json_text(postings, entry_type, ref_type, ref_id, note):
    req = TransferRequest(tuple(postings), entry_type, "k", ref_type, ref_id, None, note)
    assert _plain_text(req) == _json_text(req)
    assert fingerprint(req) == hashlib.sha256(_json_text(req).encode()).hexdigest()


def test_requests_off_the_plain_path_fall_back_to_json():
    odd = TransferRequest((Posting("a:b", "c:d", "COIN", True),), "TRANSFER")
    assert _plain_text(odd) is None
    assert _plain_text(TransferRequest((Posting("a:b", "c:d", "COIN", 1),), "TRANSFER", None, 5)) is None
    with_meta = TransferRequest((Posting("a:b", "c:d", "COIN", 1),), "TRANSFER", metadata={"x": 1})
    assert fingerprint(with_meta) == hashlib.sha256(json.dumps(
        [[["a:b", "c:d", "COIN", 1, None]], "TRANSFER", None, None, {"x": 1}, None, None],
        sort_keys=True, default=str, separators=(",", ":")).encode()).hexdigest()


# The rules' shape (one leg, a ref, no note, no leg type) has its own one-format path.
@given(text, text, text, st.integers(), text | st.sampled_from(list(EntryType)), text, text)
def test_single_leg_requests_with_a_ref_make_the_json_text(frm, to, asset, amount, entry_type, ref_type, ref_id):
    req = TransferRequest((Posting(frm, to, asset, amount),), entry_type, "k", ref_type, ref_id)
    assert _plain_text(req) == _json_text(req)
    assert fingerprint(req) == hashlib.sha256(_json_text(req).encode()).hexdigest()


def test_single_leg_requests_off_the_rules_shape_still_match_the_json_text():
    for req in (
        TransferRequest((Posting("a:b", "c:d", "COIN", 1, "FEE"),), "TRADE", "k", "claim", "c1"),
        TransferRequest((Posting("a:b", "c:d", "COIN", 1),), "TRANSFER", "k", "claim", "c1", None, "a \"note\""),
        TransferRequest((Posting("a:b", "c:d", "COIN", 1),), EntryType.VOTE_SPENT, "k", None, "c\u00e91"),
        TransferRequest((Posting("a:b", "c:d", "COIN", -3),), "TRANSFER", "k", "day", None),
    ):
        assert _plain_text(req) == _json_text(req)
    assert _plain_text(TransferRequest((Posting("a:b", "c:d", "COIN", 1.0),), "TRANSFER", "k", "x", "y")) is None
    assert _plain_text(TransferRequest((Posting("a:b", "c:d", "COIN", 1),), "TRANSFER", "k", "x", 7)) is None
