"""The bench stops what it starts: a worker group that ignores SIGTERM is killed, and gone on return;
and it compiles the project's bytecode before it measures, as pip did for the peers.

Gone, not only signalled: a process holding a lot of memory takes a while to die after SIGKILL (the
kernel frees it first), and a worker in that state still holds its Redis connection and blocked read.
"""

from __future__ import annotations

import os
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


def test_the_project_is_compiled_ahead_so_a_worker_that_may_not_write_bytecode_loads_it(tmp_path):
    for name in env.PROJECT_PACKAGES:
        (tmp_path / name / "sub").mkdir(parents=True)
        (tmp_path / name / "__init__.py").write_text("")
        (tmp_path / name / "sub" / "__init__.py").write_text("VALUE = 42\n")
    assert env.compile_bytecode(tmp_path)
    verbose = subprocess.run(
        [sys.executable, "-v", "-c", f"import {env.PROJECT_PACKAGES[0]}.sub as m; print(m.VALUE)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert verbose.stdout.strip() == "42"
    sub = tmp_path / env.PROJECT_PACKAGES[0] / "sub"
    assert f"code object from '{sub}/__pycache__/__init__." in verbose.stderr  # the .pyc, not the source

    (tmp_path / env.PROJECT_PACKAGES[1] / "broken.py").write_text("def (:\n")
    assert not env.compile_bytecode(tmp_path)  # reported, so the run can say so
