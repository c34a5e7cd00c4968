"""A small local fake of Stripe's HTTP API: the Checkout Sessions part coinlab uses,
plus the events Stripe would send about them, signed exactly as Stripe signs them.

The real stripe-python client talks to it over HTTP (``base_addresses={"api": fake.url}``).
It serves:

- ``POST /v1/checkout/sessions`` (form-encoded like Stripe; ``Idempotency-Key`` honoured:
  the same key with the same parameters returns the first session, with different
  parameters a 400 ``idempotency_error``);
- ``GET /v1/checkout/sessions/{id}``; ``POST /v1/checkout/sessions/{id}/expire``;
- ``POST /_fake/checkout/sessions/{id}/complete`` (what a paying customer would do;
  delivers the signed webhook when a ``webhook_url`` is set; body ``{"async": true}``
  for a delayed payment method), and likewise ``.../succeed_async``, ``.../fail_async``,
  ``.../expire`` (the customer never paid), ``.../refund`` (body ``{"amount": cents}``,
  optional) and ``.../dispute``: what customers and banks do, for demos over HTTP.

From Python, `complete`, `succeed_async`, `fail_async`, `expire`, `refund` and `dispute`
change a session the way Stripe would and return the event; `sign` and `deliver` make
and send the ``Stripe-Signature`` header ``t=<ts>,v1=<hex hmac-sha256(secret, f"{t}.{body}")>``.
`localstripe` has no Checkout Sessions, hence this.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["FakeStripe", "parse_form", "sign_payload"]

API_VERSION = "2025-09-30.clover"


def sign_payload(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send for ``payload``."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        value = {k: _listify(v) for k, v in value.items()}
        if value and all(k.isdigit() for k in value):
            return [value[k] for k in sorted(value, key=int)]
    return value


def parse_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (``line_items[0][price_data][unit_amount]=499``) as nested
    dicts and lists."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return _listify(out)


class _StripeError(Exception):
    def __init__(self, status: int, kind: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.param = status, kind, param

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.kind, "message": str(self)}
        if self.param:
            err["param"] = self.param
        return {"error": err}


# what a customer or bank can do to a session over HTTP: name -> (fake, session id, JSON body) -> event
_CUSTOMER: dict[str, Any] = {
    "complete": lambda f, sid, a: f.complete(sid, async_payment=bool(a.get("async"))),
    "succeed_async": lambda f, sid, a: f.succeed_async(sid),
    "fail_async": lambda f, sid, a: f.fail_async(sid),
    "expire": lambda f, sid, a: f.expire(sid),
    "refund": lambda f, sid, a: f.refund(sid, _cents(a.get("amount"))),
    "dispute": lambda f, sid, a: f.dispute(sid),
}


def _cents(amount: Any) -> int | None:
    if amount is not None and type(amount) is not int:
        raise _StripeError(400, "invalid_request_error", f"amount must be an integer of cents, got {amount!r}")
    return amount


class FakeStripe:
    """Start with `start()` (a daemon thread on 127.0.0.1, a free port) and stop with `stop()`,
    or use it as a context manager. ``webhook_url``: where `complete` and friends deliver
    their events (None: return them only)."""

    def __init__(self, webhook_secret: str = "whsec_test_fake", api_key: str = "sk_test_fake",
                 webhook_url: str | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.webhook_secret = webhook_secret
        self.api_key = api_key
        self.webhook_url = webhook_url
        self.sessions: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) served, for tests
        self._idem: dict[str, tuple[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    def start(self) -> FakeStripe:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-stripe", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, **kw: Any) -> Any:
        """A real `stripe.StripeClient` pointed at this fake."""
        import stripe

        return stripe.StripeClient(self.api_key, base_addresses={"api": self.url}, **kw)

    # -- the API ---------------------------------------------------------------
    def create_session(self, params: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        fp = json.dumps(params, sort_keys=True)
        with self._lock:
            if idempotency_key is not None and idempotency_key in self._idem:
                prior_fp, prior = self._idem[idempotency_key]
                if prior_fp != fp:
                    raise _StripeError(400, "idempotency_error",
                                       "Keys for idempotent requests can only be used with the same "
                                       "parameters they were first used with.")
                return self.sessions[prior["id"]]
            session = self._new_session(params)
            self.sessions[session["id"]] = session
            if idempotency_key is not None:
                self._idem[idempotency_key] = (fp, session)
            return session

    def _new_session(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("mode") not in ("payment", "subscription", "setup"):
            raise _StripeError(400, "invalid_request_error", "Missing or invalid mode", "mode")
        items = p.get("line_items")
        if not isinstance(items, list) or not items:
            raise _StripeError(400, "invalid_request_error", "line_items is required", "line_items")
        total, currency = 0, None
        for i, item in enumerate(items):
            pd = item.get("price_data") if isinstance(item, dict) else None
            if not isinstance(pd, dict) or "unit_amount" not in pd or "currency" not in pd:
                raise _StripeError(400, "invalid_request_error", "this fake supports price_data only",
                                   f"line_items[{i}][price_data]")
            try:
                total += int(pd["unit_amount"]) * int(item.get("quantity", "1"))
            except ValueError:
                raise _StripeError(400, "invalid_request_error", "unit_amount must be an integer",
                                   f"line_items[{i}][price_data][unit_amount]") from None
            currency = pd["currency"]
        sid = f"cs_test_{secrets.token_hex(16)}"
        now = int(time.time())
        pi_meta = (p.get("payment_intent_data") or {}).get("metadata") or {}
        return {
            "id": sid, "object": "checkout.session", "mode": p["mode"], "status": "open",
            "payment_status": "unpaid", "amount_total": total, "amount_subtotal": total,
            "currency": currency, "metadata": dict(p.get("metadata") or {}),
            "client_reference_id": p.get("client_reference_id"), "customer": None,
            "customer_email": p.get("customer_email"), "payment_intent": None,
            "success_url": p.get("success_url"), "cancel_url": p.get("cancel_url"),
            "url": f"{self.url}/pay/{sid}", "created": now,
            "expires_at": int(p.get("expires_at") or now + 24 * 3600), "livemode": False,
            "_pi_metadata": dict(pi_meta),
        }

    def get_session(self, session_id: str) -> dict[str, Any]:
        s = self.sessions.get(session_id)
        if s is None:
            raise _StripeError(404, "invalid_request_error", f"No such checkout.session: '{session_id}'", "session")
        return s

    @staticmethod
    def public(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    # -- what customers and banks do (each returns the event Stripe would send) --
    def complete(self, session_id: str, *, async_payment: bool = False, deliver: bool = True) -> dict[str, Any]:
        """The customer pays: ``checkout.session.completed`` with payment_status ``paid``
        (or ``unpaid`` for a delayed method; then `succeed_async` / `fail_async`)."""
        with self._lock:
            s = self.get_session(session_id)
            if s["status"] != "open":
                raise _StripeError(400, "invalid_request_error", f"session is {s['status']}")
            s["status"] = "complete"
            s["payment_intent"] = f"pi_{secrets.token_hex(12)}"
            s["payment_status"] = "unpaid" if async_payment else "paid"
            if not async_payment:
                self._charge(s)
        return self._emit("checkout.session.completed", self.public(s), deliver)

    def succeed_async(self, session_id: str, *, deliver: bool = True) -> dict[str, Any]:
        with self._lock:
            s = self.get_session(session_id)
            s["payment_status"] = "paid"
            self._charge(s)
        return self._emit("checkout.session.async_payment_succeeded", self.public(s), deliver)

    def fail_async(self, session_id: str, *, deliver: bool = True) -> dict[str, Any]:
        s = self.get_session(session_id)
        return self._emit("checkout.session.async_payment_failed", self.public(s), deliver)

    def expire(self, session_id: str, *, deliver: bool = True) -> dict[str, Any]:
        with self._lock:
            s = self.get_session(session_id)
            if s["status"] != "open":
                raise _StripeError(400, "invalid_request_error", f"session is {s['status']}")
            s["status"] = "expired"
        return self._emit("checkout.session.expired", self.public(s), deliver)

    def refund(self, session_id: str, amount: int | None = None, *, deliver: bool = True) -> dict[str, Any]:
        """Refund ``amount`` cents (default: what is left) of the session's charge."""
        with self._lock:
            ch = self._charge_of(session_id)
            left = ch["amount"] - ch["amount_refunded"]
            amt = left if amount is None else amount
            if not 0 < amt <= left:
                raise _StripeError(400, "invalid_request_error", f"refund must be 1..{left}")
            ch["amount_refunded"] += amt
            ch["refunded"] = ch["amount_refunded"] == ch["amount"]
            ch["refunds"]["data"].insert(0, {"id": f"re_{secrets.token_hex(12)}", "object": "refund",
                                             "amount": amt, "charge": ch["id"], "status": "succeeded"})
            snapshot = json.loads(json.dumps(ch))
        return self._emit("charge.refunded", snapshot, deliver)

    def dispute(self, session_id: str, *, deliver: bool = True) -> dict[str, Any]:
        ch = self._charge_of(session_id)
        dp = {"id": f"dp_{secrets.token_hex(12)}", "object": "dispute", "amount": ch["amount"],
              "charge": ch["id"], "payment_intent": ch["payment_intent"], "currency": ch["currency"],
              "reason": "fraudulent", "status": "needs_response"}
        return self._emit("charge.dispute.created", dp, deliver)

    def _charge(self, s: dict[str, Any]) -> None:
        cid = f"ch_{secrets.token_hex(12)}"
        self.charges[cid] = {
            "id": cid, "object": "charge", "amount": s["amount_total"], "amount_refunded": 0,
            "currency": s["currency"], "paid": True, "refunded": False,
            "payment_intent": s["payment_intent"], "metadata": dict(s["_pi_metadata"]),
            "refunds": {"object": "list", "data": []},
        }
        s["_charge"] = cid

    def _charge_of(self, session_id: str) -> dict[str, Any]:
        s = self.get_session(session_id)
        if "_charge" not in s:
            raise _StripeError(400, "invalid_request_error", "session has no successful charge")
        return self.charges[s["_charge"]]

    # -- events and webhooks -----------------------------------------------------
    def event(self, type_: str, obj: dict[str, Any]) -> dict[str, Any]:
        """A new event object around a snapshot of ``obj``."""
        return {
            "id": f"evt_{secrets.token_hex(12)}", "object": "event", "api_version": API_VERSION,
            "created": int(time.time()), "type": type_, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "data": {"object": json.loads(json.dumps(obj))},
        }

    def _emit(self, type_: str, obj: dict[str, Any], deliver: bool) -> dict[str, Any]:
        ev = self.event(type_, obj)
        self.events.append(ev)
        if deliver and self.webhook_url:
            self.deliver(ev, self.webhook_url)
        return ev

    def sign(self, payload: str, timestamp: int | None = None) -> str:
        return sign_payload(payload, self.webhook_secret, timestamp)

    def signed(self, event: dict[str, Any], timestamp: int | None = None) -> tuple[bytes, str]:
        """(body, Stripe-Signature header) for ``event``, as Stripe would POST them."""
        body = json.dumps(event, indent=2)
        return body.encode(), self.sign(body, timestamp)

    def deliver(self, event: dict[str, Any], url: str, timestamp: int | None = None) -> int:
        """POST the signed event to ``url``; returns the HTTP status."""
        body, header = self.signed(event, timestamp)
        req = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header,
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as err:
            return int(err.code)

    # -- HTTP ---------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, body: dict[str, Any], replayed: bool = False) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", f"req_{secrets.token_hex(8)}")
                if replayed:
                    self.send_header("Idempotent-Replayed", "true")
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method: str) -> None:
                path = urlsplit(self.path).path
                fake.requests.append((method, path))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                try:
                    if not path.startswith("/_fake/") and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                        raise _StripeError(401, "invalid_request_error", "Invalid API Key provided")
                    status, obj, replayed = self._dispatch(method, path, body)
                    self._send(status, obj, replayed)
                except _StripeError as err:
                    self._send(err.status, err.body())

            def _dispatch(self, method: str, path: str, body: str) -> tuple[int, dict[str, Any], bool]:
                if method == "POST" and path == "/v1/checkout/sessions":
                    key = self.headers.get("Idempotency-Key")
                    before = len(fake.sessions)
                    s = fake.create_session(parse_form(body), key)
                    return 200, fake.public(s), len(fake.sessions) == before
                m = re.fullmatch(r"/v1/checkout/sessions/([A-Za-z0-9_]+)", path)
                if method == "GET" and m:
                    return 200, fake.public(fake.get_session(m[1])), False
                m = re.fullmatch(r"/v1/checkout/sessions/([A-Za-z0-9_]+)/expire", path)
                if method == "POST" and m:
                    fake.expire(m[1])
                    return 200, fake.public(fake.get_session(m[1])), False
                m = re.fullmatch(r"/_fake/checkout/sessions/([A-Za-z0-9_]+)/([a-z_]+)", path)
                if method == "POST" and m and m[2] in _CUSTOMER:
                    args = json.loads(body) if body else {}
                    if not isinstance(args, dict):
                        raise _StripeError(400, "invalid_request_error", "the body must be a JSON object")
                    return 200, _CUSTOMER[m[2]](fake, m[1], args), False
                raise _StripeError(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path})")

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

        return Handler
