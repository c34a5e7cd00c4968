"""The test harness's `coinlab serve` dies with the process that started it: a test run
killed outright (a timeout's SIGKILL) must not leave servers behind (one left behind
kept respawning workers against a stopped database for an hour)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres  # Linux only, as the project is (PR_SET_PDEATHSIG)

PARENT = """
import sys, time
sys.path.insert(0, {root!r})
from tests.service.server import Server
server = Server({url!r}).start()
print(server.proc.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie (dead, not yet reaped by init) counts as gone
        return fh.read().split(") ")[1][0] != "Z"


def test_a_server_dies_when_the_process_that_started_it_is_killed(pg_url):
    root = str(Path(__file__).resolve().parents[2])
    parent = subprocess.Popen([sys.executable, "-c", PARENT.format(root=root, url=pg_url)], stdout=subprocess.PIPE,
                              text=True)
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    assert _alive(server_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while _alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = _alive(server_pid)
    if alive:
        os.killpg(server_pid, signal.SIGKILL)
    assert not alive, "coinlab serve outlived the process that started it"
