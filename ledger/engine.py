"""The posting engine: applies one request to a ``Book`` or raises without touching it.

Both stores use this one function. The in-memory store keeps a single Book for its
whole life; the SQL store builds a Book per batch from the rows it has locked and
writes back what the engine changed. So the rules (no overdraft, idempotency, hold
state machine, frozen accounts, the limits of ledger.limits) are written exactly once.

The journal is hash-chained: each entry's hash commits to the previous entry's hash
and to every field of its own (`entry_hash`, `seal`). The SQL store seals a batch's
entries when it writes them, once they are numbered after the entry before, and
stores each hash with its row. The in-memory store seals its journal when the chain is
read (`check`): it lives inside one process, and a hash per posting would cost the
simulator a third of its posting time and ~110 bytes per entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring_ascii as _encode_str
from typing import Any

from . import limits
from .errors import (
    AccountFrozen,
    HoldExpired,
    HoldNotFound,
    HoldNotLocked,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidRequest,
    UnknownAsset,
)
from .model import (
    ADDRESS_RE,
    BURN,
    ESCROW,
    MINT,
    Asset,
    Entry,
    EntryType,
    Hold,
    HoldAction,
    HoldStatus,
    Posting,
    Transaction,
    TransferRequest,
)

__all__ = [
    "ENTRY_TYPES", "GENESIS", "Book", "canonical_json", "check_address", "check_asset", "check_request",
    "entry_hash", "fingerprint", "hash_tail", "post", "seal",
]

ENTRY_TYPES = frozenset(t.value for t in EntryType)
# NamedTuples built straight from a tuple: the same objects, without the generated
# __new__'s argument binding (it costs more than everything else an entry needs).
_new = tuple.__new__
_sha256 = hashlib.sha256

# The hash the first journal entry chains to.
GENESIS = "0" * 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_REFUND = EntryType.COIN_PURCHASE_REFUND.value
# Where a clawback may take a frozen account's coins: back out of circulation, only.
_CLAWBACK_TO = frozenset({MINT, BURN})
_AMOUNT_MAX = limits.AMOUNT_MAX
_BALANCE_MAX = limits.BALANCE_MAX
_BALANCE_MIN = limits.BALANCE_MIN
_KEY, _REF_TYPE, _REF_ID = limits.KEY, limits.REF_TYPE, limits.REF_ID

# Plain strings on the hot path: enum attribute access costs more than the checks it serves.
_LOCKED = HoldStatus.LOCKED.value
_SETTLED_STATUS = {
    "release": HoldStatus.RELEASED.value,
    "void": HoldStatus.VOIDED.value,
    "forfeit": HoldStatus.FORFEITED.value,
    "capture": HoldStatus.LOCKED.value,  # part paid out, the rest stays locked
}


class Book:
    """Working state a request is applied to."""

    __slots__ = ("assets", "balances", "derived_fingerprints", "frozen", "holds", "journal", "keys", "negative_ok",
                 "next_entry_id")

    def __init__(self, *, derived_fingerprints: bool = False) -> None:
        self.assets: set[str] = set()
        self.balances: dict[tuple[str, str], int] = {}
        self.negative_ok: set[str] = set()
        self.frozen: set[str] = set()
        self.holds: dict[str, Hold] = {}
        # idempotency key -> (payload fingerprint, the transaction it produced). With
        # derived_fingerprints (a book whose keys are never stored elsewhere: the memory
        # store), a plain one-posting request keeps None instead: its fingerprint is
        # rebuilt from its transaction if the key ever comes back. Nearly every key is
        # new, and the digest was a third of the cost of posting (and 110 bytes a key).
        self.keys: dict[str, tuple[str | None, Transaction]] = {}
        self.derived_fingerprints = derived_fingerprints
        self.journal: list[Entry] = []
        self.next_entry_id = 1


def check_address(address: str) -> None:
    if type(address) is not str or not ADDRESS_RE.match(address):
        raise InvalidRequest(
            f"bad account address {address!r}: expected 'kind:name', e.g. 'user:alice'",
            address=str(address), field="address",
        )
    if len(address) > limits.ADDRESS:
        raise InvalidRequest(f"account address is {len(address)} characters, at most {limits.ADDRESS} allowed",
                             field="address", limit=limits.ADDRESS)


def check_asset(asset: Asset) -> None:
    """What a store may register as an asset: the columns' widths and ranges."""
    code, scale, name = asset
    _check_text(code, "asset code", limits.ASSET_CODE)
    if not code:
        raise InvalidRequest("an asset code cannot be empty", field="asset code")
    _check_text(name, "asset name", limits.ASSET_NAME)
    if type(scale) is not int or not 0 <= scale <= limits.SCALE_MAX:
        raise InvalidRequest(f"scale must be an integer 0..{limits.SCALE_MAX}, got {scale!r}", field="scale")


def _check_text(value: Any, field: str, limit: int | None) -> None:
    """A text column's value: a str of at most ``limit`` characters that the database
    can store (PostgreSQL refuses NUL characters, and UTF-8 has no lone surrogates)."""
    if type(value) is not str:
        raise InvalidRequest(f"{field} must be a string, got {type(value).__name__}", field=field)
    if limit is not None and len(value) > limit:
        raise InvalidRequest(f"{field} is {len(value)} characters, at most {limit} allowed", field=field, limit=limit)
    if "\x00" in value:
        raise InvalidRequest(f"{field} contains a NUL character", field=field)
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise InvalidRequest(f"{field} is not valid Unicode text", field=field) from None


def canonical_json(metadata: Any) -> str:
    """The one JSON text of a request's metadata (what the chain hashes); raises
    InvalidRequest unless it is a JSON object the database can store."""
    if type(metadata) is not dict:
        raise InvalidRequest(f"metadata must be a JSON object (a dict), got {type(metadata).__name__}",
                             field="metadata")
    try:
        text = json.dumps(metadata, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
        text.encode()
    except (TypeError, ValueError) as err:  # UnicodeEncodeError is a ValueError
        raise InvalidRequest(f"metadata is not JSON-serialisable: {err}", field="metadata") from None
    return text


def check_request(req: TransferRequest) -> None:
    """The request's own fields against the schema's limits (the postings' amounts and
    addresses are checked leg by leg as they are applied). Raises InvalidRequest."""
    key, ref_type, ref_id, metadata, note = req[2], req[3], req[4], req[5], req[6]
    if key is not None and (type(key) is not str or len(key) > _KEY or "\x00" in key or not key.isascii()):
        _check_text(key, "idempotency_key", _KEY)
    if ref_type is not None and (type(ref_type) is not str or len(ref_type) > _REF_TYPE or "\x00" in ref_type
                                 or not ref_type.isascii()):
        _check_text(ref_type, "ref_type", _REF_TYPE)
    if ref_id is not None and (type(ref_id) is not str or len(ref_id) > _REF_ID or "\x00" in ref_id
                               or not ref_id.isascii()):
        _check_text(ref_id, "ref_id", _REF_ID)
    if note is not None:
        _check_text(note, "note", limits.NOTE)
    if metadata is not None:
        canonical_json(metadata)
    if len(req) > 8 and req[8] is not False:
        _check_clawback(req)


def _check_clawback(req: TransferRequest) -> None:
    if req[8] is not True:
        raise InvalidRequest(f"clawback must be True or False, got {req[8]!r}", field="clawback")
    if req.entry_type != _REFUND or req.hold is not None:
        raise InvalidRequest(f"only a {_REFUND} request without a hold may be a clawback", field="clawback")


def _micros(t: datetime) -> int:
    """A journal time as microseconds since the epoch (a naive time is UTC, as SQL reads it)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return (t - _EPOCH) // _MICROSECOND


def entry_hash(prev: str, e: Entry) -> str:
    """The chain hash of journal entry ``e`` after an entry whose hash is ``prev``
    (GENESIS for the first): SHA-256 of ``prev`` and every field of ``e``, each string
    JSON-quoted so no two entries share a text."""
    return _sha256(f"{prev},{e[0]}{hash_tail(e)}".encode()).hexdigest()


def hash_tail(e: Entry) -> str:
    """What `entry_hash` hashes after ``prev,id``: every field of ``e`` but its id. The
    PostgreSQL store sends it to the database, which draws the id, hashes the UTF-8 of
    ``prev,id`` and this, and so chains the batch itself (ledger.sql.store)."""
    (_id, tx_id, time, entry_type, asset, amount, frm, to, fb, fa, tb, ta,
     ref_type, ref_id, key, metadata, note) = e
    enc = _encode_str
    return (f",{enc(tx_id)},{_micros(time)},{enc(entry_type)},{enc(asset)},{amount},{enc(frm)},"
            f"{enc(to)},{fb},{fa},{tb},{ta},{'null' if ref_type is None else enc(ref_type)},"
            f"{'null' if ref_id is None else enc(ref_id)},{'null' if key is None else enc(key)},"
            f"{'null' if metadata is None else canonical_json(metadata)},{'null' if note is None else enc(note)}")


def seal(prev: str, entries: Sequence[Entry]) -> list[str]:
    """The chain hashes of ``entries`` (in journal order) after an entry hashed ``prev``."""
    hashes = []
    for e in entries:
        prev = entry_hash(prev, e)
        hashes.append(prev)
    return hashes


def fingerprint(req: TransferRequest) -> str:
    """A digest of everything a request asks for, to tell a retry from a reuse of its key.
    A lock's hold id is generated per call, so it is left out."""
    hold = req[7]
    clawback = len(req) > 8 and req[8] is True
    if hold is None and req.metadata is None and not clawback:
        text = _plain_text(req)
        if text is not None:
            return _sha256(text.encode()).hexdigest()
    if hold is not None and hold.kind == "lock":
        hold = hold._replace(hold_id="")
    payload = [
        [list(p) for p in req.postings],
        req.entry_type,
        req.ref_type,
        req.ref_id,
        req.metadata,
        req.note,
        list(hold) if hold is not None else None,
    ]
    if clawback:  # only then: the fingerprints of requests stored before the flag stay the same
        payload.append("clawback")
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return _sha256(text.encode()).hexdigest()


def _stored_fingerprint(prior: tuple[str | None, Transaction]) -> str:
    """A key's stored fingerprint, or the one its plain one-posting request had (see
    `Book.keys`): everything that request carried is in its transaction's entry."""
    fp, tx = prior
    if fp is not None:
        return fp
    e = tx.entries[0]
    posting = _new(Posting, (e.from_account, e.to_account, e.asset, e.amount, None))
    return fingerprint(TransferRequest((posting,), tx.entry_type, tx.idempotency_key, e.ref_type, e.ref_id,
                                       None, e.note, None))


def _plain_text(req: TransferRequest) -> str | None:
    """`fingerprint`'s JSON text built directly, byte for byte what ``json.dumps`` makes,
    for the common request (no metadata, no hold, plain str/int fields); None otherwise.
    Rewards and spends are all keyed, so this is on the simulator's hot path."""
    postings, entry_type, ref_type, ref_id, note = req[0], req[1], req[3], req[4], req[6]
    enc = _encode_str
    if len(postings) == 1:
        # The rules' shape (one leg of the request's type, a ref, no note) in one format.
        frm, to, asset, amount, leg = postings[0]
        if (leg is None and note is None and type(amount) is int and isinstance(frm, str)
                and isinstance(to, str) and isinstance(asset, str) and isinstance(entry_type, str)
                and isinstance(ref_type, str) and isinstance(ref_id, str)):
            return (f"[[[{enc(frm)},{enc(to)},{enc(asset)},{amount},null]],{enc(entry_type)},{enc(ref_type)},"
                    f"{enc(ref_id)},null,null,null]")
    legs = []
    for p in postings:
        frm, to, asset, amount, leg = p
        if (type(amount) is not int or not isinstance(frm, str) or not isinstance(to, str)
                or not isinstance(asset, str) or (leg is not None and not isinstance(leg, str))):
            return None
        legs.append(f"[{enc(frm)},{enc(to)},{enc(asset)},{amount},{'null' if leg is None else enc(leg)}]")
    parts = []
    for v in (entry_type, ref_type, ref_id):
        if v is None:
            parts.append("null")
        elif isinstance(v, str):
            parts.append(enc(v))
        else:
            return None
    if note is not None and not isinstance(note, str):
        return None
    return f"[[{','.join(legs)}],{','.join(parts)},null,{'null' if note is None else enc(note)},null]"


def post(book: Book, req: TransferRequest, now: datetime, tx_id: str) -> Transaction:
    """Apply ``req`` to ``book`` atomically and return its transaction.

    Raises a ``LedgerError`` and leaves the book untouched when the request is
    invalid or would overdraw an account."""
    key, ref_type, ref_id, metadata, note = req[2:7]
    # The schema's limits (`check_request`); inline here for the common request: plain
    # short ASCII strings, no metadata, no note, not a clawback.
    if (metadata is not None or note is not None or (len(req) > 8 and req[8] is not False)
            or (key is not None and (type(key) is not str or len(key) > _KEY or not key.isascii() or "\x00" in key))
            or (ref_type is not None and (type(ref_type) is not str or len(ref_type) > _REF_TYPE
                                          or not ref_type.isascii() or "\x00" in ref_type))
            or (ref_id is not None and (type(ref_id) is not str or len(ref_id) > _REF_ID
                                        or not ref_id.isascii() or "\x00" in ref_id))):
        check_request(req)
    fp: str | None = ""
    if key is not None:
        prior = book.keys.get(key)
        if prior is not None:
            if _stored_fingerprint(prior) != fingerprint(req):
                raise IdempotencyConflict(key)
            return prior[1]._replace(replayed=True)
        postings = req[0]
        if (book.derived_fingerprints and len(postings) == 1 and postings[0][4] is None and req[7] is None
                and metadata is None and (len(req) <= 8 or req[8] is False)):
            fp = None  # rebuilt from the transaction if the key comes back
        else:
            fp = fingerprint(req)

    entry_type = req.entry_type
    if entry_type not in ENTRY_TYPES:
        raise InvalidRequest(f"unknown entry type {entry_type!r}", entry_type=str(entry_type))
    postings = req.postings
    if not postings:
        raise InvalidRequest("a transaction needs at least one posting")
    action = req.hold
    hold = None
    kind = ""
    out = 0
    if action is not None:
        kind = action.kind
        if kind == "lock":
            return _post_lock(book, req, now, tx_id, fp)
        hold, out = _check_settle(book, action, postings, now)
        if len(postings) == 1:  # a void, or any settlement with a single leg
            tx = _post_one(book, req, now, tx_id, fp, hold.id)
            book.holds[hold.id] = _settled(hold, kind, out, now)
            return tx
    elif len(postings) == 1:
        return _post_one(book, req, now, tx_id, fp)

    balances = book.balances
    entries: list[Entry] = []
    created: list[tuple[str, str]] = []  # balance keys the legs so far added to the book
    next_id = book.next_entry_id
    # Escrow must always equal the LOCKED holds, so only a lock pays into it (locks never
    # reach this loop) and only a hold settlement pays out of it.
    may_pay_from_escrow = action is not None
    assets, frozen, negative_ok = book.assets, book.frozen, book.negative_ok
    # Each leg is applied to the balances as soon as it is checked (a later leg of the
    # same transaction sees it), and its entry records the balances before; if a later
    # leg fails, `_undo` puts those back from the entries, so the book is left untouched.
    try:
        for frm, to, asset, amount, leg_type in postings:
            if type(amount) is not int or not 0 < amount <= _AMOUNT_MAX:
                raise InvalidRequest(f"amount must be a positive integer, got {amount!r}", amount=str(amount),
                                     field="amount")
            if frm == to:
                raise InvalidRequest(f"a posting cannot move money from {frm} to itself")
            if to == ESCROW or (frm == ESCROW and not may_pay_from_escrow):
                raise InvalidRequest("escrow moves only through holds: lock into it, settle out of it")
            if asset not in assets:
                raise UnknownAsset(asset)
            if frm in frozen and not _clawing_back(req, to):
                raise AccountFrozen(frm)
            if leg_type is not None and leg_type not in ENTRY_TYPES:
                raise InvalidRequest(f"unknown entry type {leg_type!r}", entry_type=str(leg_type))
            fkey = (frm, asset)
            from_before = balances.get(fkey)
            if from_before is None:
                check_address(frm)
                from_before = 0
                created.append(fkey)
            from_after = from_before - amount
            if from_after < 0 and frm not in negative_ok:
                had = _before(entries, fkey, from_before)
                raise InsufficientFunds(frm, asset, required=had - from_after, balance=had)
            tkey = (to, asset)
            to_before = balances.get(tkey)
            if to_before is None:
                check_address(to)
                to_before = 0
                created.append(tkey)
            to_after = to_before + amount
            if to_after > _BALANCE_MAX or from_after < _BALANCE_MIN:
                _out_of_range(frm, to, asset)
            # Everything about this leg is valid: apply it (undone if a later leg fails).
            entries.append(_new(Entry, (next_id, tx_id, now, leg_type or entry_type, asset, amount, frm, to,
                                        from_before, from_after, to_before, to_after, ref_type, ref_id, key,
                                        metadata, note)))
            balances[fkey] = from_after
            balances[tkey] = to_after
            next_id += 1
    except BaseException:
        _undo(balances, entries, created)
        raise

    # Everything is valid: from here on nothing can fail.
    book.next_entry_id = next_id
    book.journal.extend(entries)
    hold_id = None
    if hold is not None:
        hold_id = hold.id
        book.holds[hold_id] = _settled(hold, kind, out, now)
    tx = _new(Transaction, (tx_id, now, entry_type, tuple(entries), key, hold_id, False))
    if key is not None:
        book.keys[key] = (fp, tx)
    return tx


def _before(entries: list[Entry], key: tuple[str, str], current: int) -> int:
    """The balance ``key`` had before the transaction whose legs so far made ``entries``
    (for an error message): the first of those legs that touched it says; else ``current``."""
    account, asset = key
    for e in entries:
        if e[4] == asset:
            if e[6] == account:
                return e[8]
            if e[7] == account:
                return e[10]
    return current


def _undo(balances: dict[tuple[str, str], int], entries: list[Entry], created: list[tuple[str, str]]) -> None:
    """Take back the legs of a failed transaction already applied to ``balances``: each
    entry's balances before, newest first, then drop the keys the legs added."""
    for e in reversed(entries):
        asset = e[4]
        balances[(e[6], asset)] = e[8]
        balances[(e[7], asset)] = e[10]
    for k in created:
        balances.pop(k, None)


def _post_one(book: Book, req: TransferRequest, now: datetime, tx_id: str, fp: str | None,
              hold_id: str | None = None, is_lock: bool = False) -> Transaction:
    """`post` for a transaction of one posting: the general loop's leg rules, in its
    order, without the bookkeeping several legs need. The commonest case (no hold: the
    simulator lives on this path), and the leg of a lock or of a one-leg settlement (a
    void), whose hold rules the caller has checked and whose hold it writes once this
    has returned."""
    postings, entry_type, key, ref_type, ref_id, metadata, note = req[:7]
    frm, to, asset, amount, leg_type = postings[0]
    if type(amount) is not int or not 0 < amount <= _AMOUNT_MAX:
        raise InvalidRequest(f"amount must be a positive integer, got {amount!r}", amount=str(amount), field="amount")
    if frm == to:
        raise InvalidRequest(f"a posting cannot move money from {frm} to itself")
    # Only a lock pays into escrow, and only a settlement pays out of it (frm == ESCROW in
    # a lock was refused just above, as frm == to).
    if (to == ESCROW) is not is_lock or (hold_id is None and frm == ESCROW):
        raise InvalidRequest("escrow moves only through holds: lock into it, settle out of it")
    if asset not in book.assets:
        raise UnknownAsset(asset)
    if frm in book.frozen and not _clawing_back(req, to):
        raise AccountFrozen(frm)
    if leg_type is not None and leg_type not in ENTRY_TYPES:
        raise InvalidRequest(f"unknown entry type {leg_type!r}", entry_type=str(leg_type))
    balances = book.balances
    fkey = (frm, asset)
    from_before = balances.get(fkey)
    if from_before is None:
        check_address(frm)
        from_before = 0
    from_after = from_before - amount
    if from_after < 0 and frm not in book.negative_ok:
        raise InsufficientFunds(frm, asset, required=amount, balance=from_before)
    tkey = (to, asset)
    to_before = balances.get(tkey)
    if to_before is None:
        check_address(to)
        to_before = 0
    to_after = to_before + amount
    if to_after > _BALANCE_MAX or from_after < _BALANCE_MIN:
        _out_of_range(frm, to, asset)
    # Everything is valid: from here on nothing can fail.
    balances[fkey] = from_after
    balances[tkey] = to_after
    entry_id = book.next_entry_id
    book.next_entry_id = entry_id + 1
    entry = _new(Entry, (entry_id, tx_id, now, leg_type or entry_type, asset, amount, frm, to,
                         from_before, from_after, to_before, to_after, ref_type, ref_id, key, metadata, note))
    book.journal.append(entry)
    tx = _new(Transaction, (tx_id, now, entry_type, (entry,), key, hold_id, False))
    if key is not None:
        book.keys[key] = (fp, tx)
    return tx


def _clawing_back(req: TransferRequest, to: str) -> bool:
    """Whether a leg out of a frozen account to ``to`` is a clawback's (checked by
    `check_request`: only a refund without a hold carries the flag)."""
    return len(req) > 8 and req[8] is True and to in _CLAWBACK_TO


def _out_of_range(frm: str, to: str, asset: str) -> None:
    raise InvalidRequest(
        f"a balance of {frm} or {to} in {asset} would leave the range {_BALANCE_MIN}..{_BALANCE_MAX}",
        field="amount", limit=_BALANCE_MAX)


def _post_lock(book: Book, req: TransferRequest, now: datetime, tx_id: str, fp: str | None) -> Transaction:
    """`post` for every lock (the general loop never sees one): checks the hold's shape,
    moves its single posting with `_post_one` and records the new hold."""
    action = req.hold
    assert action is not None
    hold_id = action.hold_id
    if type(hold_id) is not str or not hold_id or len(hold_id) > limits.HOLD_ID:
        raise InvalidRequest(f"a hold id must be a string of 1..{limits.HOLD_ID} characters, got {hold_id!r}",
                             field="hold_id", limit=limits.HOLD_ID)
    if hold_id in book.holds:
        raise InvalidRequest(f"hold {hold_id!r} already exists")
    # A naive expiry cannot be compared with the ledger's UTC clock (and SQL would
    # read it back as UTC): refuse it here rather than fail when the hold settles.
    expires = action.expires_at
    if expires is not None and (not isinstance(expires, datetime) or expires.utcoffset() is None):
        raise InvalidRequest(f"expires_at must be a timezone-aware datetime, got {expires!r}")
    postings = req.postings
    leg = postings[0] if len(postings) == 1 else None
    if (leg is None or leg[1] != ESCROW or leg[0] != action.account
            or leg[2] != action.asset or leg[3] != action.amount):
        raise InvalidRequest("a lock must move exactly the held amount into escrow")
    tx = _post_one(book, req, now, tx_id, fp, hold_id, is_lock=True)
    book.holds[hold_id] = _new(Hold, (hold_id, action.account, action.asset, action.amount, _LOCKED,
                                      now, expires, None, req.ref_type, req.ref_id))
    return tx


def _check_settle(book: Book, action: HoldAction, postings: tuple[Posting, ...],
                  now: datetime) -> tuple[Hold, int]:
    """The hold rules of a release/void/forfeit/capture: returns the hold and what its
    legs out of escrow take, so the hold is looked up (and the legs summed) once."""
    kind = action.kind
    if kind not in _SETTLED_STATUS:
        raise InvalidRequest(f"unknown hold action {kind!r}")
    hold = book.holds.get(action.hold_id)
    if hold is None:
        raise HoldNotFound(action.hold_id)
    if hold.status != _LOCKED:
        raise HoldNotLocked(hold.id, hold.status)
    if kind != "void" and hold.expires_at is not None and now >= hold.expires_at:
        raise HoldExpired(hold.id)
    # Legs out of escrow draw on this hold; other legs (a taker paying its side of a
    # trade) may ride in the same atomic transaction.
    out = 0
    for p in postings:
        if p[0] == ESCROW:
            if p[2] != hold.asset:
                raise InvalidRequest(f"hold {hold.id!r} holds {hold.asset}, not {p[2]}")
            if type(p[3]) is not int or not 0 < p[3] <= _AMOUNT_MAX:
                raise InvalidRequest(f"amount must be a positive integer, got {p[3]!r}", amount=str(p[3]), field="amount")
            out += p[3]
    if kind == "capture":
        if not 0 < out < hold.amount:
            raise InvalidRequest(f"a capture must take 1..{hold.amount - 1} of hold {hold.id!r}, not {out}")
    elif out != hold.amount:
        raise InvalidRequest(f"settling hold {hold.id!r} must move exactly {hold.amount}, not {out}")
    return hold, out


def _settled(h: Hold, kind: str, out: int, now: datetime) -> Hold:
    """The hold after a valid settlement that took ``out`` from escrow. Rebuilt field by
    field: NamedTuple._replace costs several times more."""
    if kind == "capture":
        return _new(Hold, (h.id, h.account, h.asset, h.amount - out, h.status, h.created_at,
                           h.expires_at, None, h.ref_type, h.ref_id))
    return _new(Hold, (h.id, h.account, h.asset, h.amount, _SETTLED_STATUS[kind],
                       h.created_at, h.expires_at, now, h.ref_type, h.ref_id))
