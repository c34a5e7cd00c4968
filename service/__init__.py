"""The minimal HTTP service (FastAPI) the live app calls: thin routes over ledger/ and
market/. Build the app with `service.app.create_app`; run it with `coinlab serve`.

Running: ``coinlab serve [--db postgresql://...] [--workers N]`` applies the migrations,
then starts uvicorn; one JSON line per request on stdout (buffered, written every second
and at shutdown, unless stdout is a terminal); ``GET /healthz`` checks the
database; OpenAPI at ``/openapi.json``.

Credentials (``coinlab keys create --scope app|admin|read|user [--user ID]``; only the
sha256 of a key is stored): ``Authorization: Bearer ck_...``. An app or admin key acts
for the user named in ``X-User-Id``; a read key only reads; a user token acts for its
own user only; admin routes need admin; the Stripe webhook needs only its signature.
Denials are 401/403 problem+json, logged, and change nothing.

Bodies are camelCase, errors included, and name users by user id; errors are
problem+json with a stable ``code``; an order the market refuses is a problem (409
``insufficient_funds`` with ``required`` and ``balance``, 409 ``order_rejected``, 429
``rate_limited``). Hostile input is refused before it costs anything: a body over
``max_body_bytes`` is 413 from its Content-Length, JSON nested over 32 deep is 400 on
every path (service.middleware.BodyGuard), text with control characters is 422. The
live market feed is Server-Sent Events (service.feed; relayed by service.forward with
several workers). Without Stripe credentials the service warns loudly at start-up and
``/healthz`` says ``payments: not configured``.

Idempotency-Key on any POST: the first response is stored per (credential, acting
user, key) and replayed; the same key with another body is 409. Ledger writes made by
a keyed request carry a ledger idempotency key derived from it, so a retry after a
crash (a claim older than 30 s is taken over) replays the committed write instead of
repeating it. Market orders have no ledger key: a retry of an order whose response was
lost to a crash may place it again.

Workers: the brand-coin market keeps its order books in the memory of one process
(matching speed). With ``--workers 1`` that is the worker; with more, ``coinlab serve``
starts a market process (the same app, one worker, on a Unix socket; restarted if it
dies) and every worker forwards the market's requests (brand coins, orders, book,
trades, candles, portfolio, leaderboards, brand-coin transfers) to it (service.forward);
everything else is answered by the worker that got it. A process started some other
way with several workers and no market socket answers them 503 ``market_single_worker``.
The books' rows are written in the same transaction as the fills that change them and
rebuilt, reconciled with the ledger's holds, at start-up (see service.market_state).

Durability (PostgreSQL): concurrent requests share commits; every ledger write and
market change of a process runs on its one writer, one transaction per batch
(service.writer), and no request is answered before its batch has committed."""

__all__: list[str] = []
