"""Helpers for tests of group commit (service.group_commit, service.writer): see what
batches formed, and make several calls form one batch in a known order."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def record_batch_sizes(group: Any) -> list[int]:
    """The size of every batch ``group`` (a GroupCommit) runs from now on."""
    sizes: list[int] = []
    run_batch = group.run_batch
    group.run_batch = lambda jobs: (sizes.append(len(jobs)), run_batch(jobs))[1]
    return sizes


def one_batch(writer: Any, calls: dict[str, Callable[[], Any]]) -> tuple[dict[str, Any], list[int]]:
    """Run ``calls``, each from a thread of its own, as one batch of ``writer``: the
    writer is kept busy until all of them have queued, in this order. Returns what each
    call returned or raised, and the sizes of the batches run after the busy one."""
    gate, busy = threading.Event(), threading.Event()
    held = threading.Thread(target=writer.run, args=(lambda: (busy.set(), gate.wait(10)),))
    held.start()
    busy.wait(10)
    sizes = record_batch_sizes(writer._group)
    results: dict[str, Any] = {}

    def call(name: str, fn: Callable[[], Any]) -> None:
        try:
            results[name] = fn()
        except Exception as err:  # noqa: BLE001 - the outcome under test
            results[name] = err

    queue = writer._group._queue
    threads = []
    for name, fn in calls.items():
        queued = len(queue)
        threads.append(threading.Thread(target=call, args=(name, fn)))
        threads[-1].start()
        while len(queue) == queued:
            time.sleep(0.001)
    gate.set()
    for t in [held, *threads]:
        t.join()
    return results, sizes
