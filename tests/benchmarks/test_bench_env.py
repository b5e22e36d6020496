"""The bench stops what it starts: a worker group that ignores SIGTERM is killed, and gone on return.

Gone, not only signalled: a process holding a lot of memory takes a while to die after SIGKILL (the
kernel frees it first), and a worker in that state still holds its Redis connection and blocked read.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from bench import env

# a parent that ignores SIGTERM, with a child that does too: like a worker stuck in its shutdown
STUBBORN = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"])
    ballast = bytearray(b"x") * (768 << 20)  # written, so resident: freeing it slows the exit
    print(child.pid, flush=True)
    time.sleep(120)
    """
)


def test_kill_group_returns_only_when_every_process_is_gone(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    child = int(proc.stdout.readline())
    time.sleep(0.2)  # both have set their SIGTERM handlers (the parent printed after its ballast)
    started = time.monotonic()
    env.kill_group(proc.pid, grace=0.5)
    assert time.monotonic() - started >= 0.5  # SIGTERM was ignored for the whole grace
    assert not env._group_alive(proc.pid)
    assert env._state_of(str(child)) in (None, "Z")  # the grandchild too: dead, at most unreaped
    proc.wait(timeout=5)
