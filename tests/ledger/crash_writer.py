"""A writer process for the crash test: posts keyed batches forever and prints each key
only after the commit that holds it has returned (i.e. once it is acknowledged)."""

import sys

from ledger import Ledger, Posting, TransferRequest
from ledger.sql import SqlStore

url, worker = sys.argv[1], sys.argv[2]
ledger = Ledger(SqlStore(url))
batch_no = 0
while True:
    batch_no += 1
    requests = [
        TransferRequest(
            (Posting("user:source", f"user:w{worker}-{i % 7}", "COIN", 1 + i % 5),
             Posting(f"user:w{worker}-{i % 7}", "system:burn", "COIN", 1)),
            "TRANSFER",
            idempotency_key=f"crash:{worker}:{batch_no}:{i}",
        )
        for i in range(40)
    ]
    for request, result in zip(requests, ledger.post_many(requests), strict=True):
        if not isinstance(result, Exception):
            print(request.idempotency_key, flush=True)
