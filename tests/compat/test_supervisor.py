"""``compat.supervisor`` on real worker groups: a Dramatiq master left with no worker process is killed
and the group started again, rather than holding its queues without working them."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from compat.supervisor import main
from compat.utils.procs import live_children, process_state
from tests.compat.conftest import start_supervised, stop_worker
from tests.helpers import wait_for


def test_a_master_stuck_without_worker_processes_is_killed_and_the_group_restarted(
    tasks, crash_env, redis_client, tmp_path
):
    marker = tmp_path / "stuck-master"
    env = {**crash_env, "COMPAT_TEST_STUCK_MARKER": str(marker)}
    log_path = tmp_path / "supervised.log"
    with open(log_path, "wb") as log:
        group = start_supervised(
            env, log, module="tests.compat.stuck_master_app",
            supervisor_args=("--restart-delay", "0.2", "--stuck-after", "2"),
        )
        try:
            stuck = int(wait_for(lambda: marker.exists() and marker.read_text(), 60, "the first boot"))
            started = time.monotonic()
            assert tasks.add.apply_async((2, 3), queue="crash").get(timeout=60) == 5
            back_in = time.monotonic() - started
            assert not _alive(stuck), "the stuck master is still there"
        finally:
            stop_worker(group, timeout=30)
    text = log_path.read_text()
    assert f"worker group master {stuck} has had no worker process for 2 s" in text
    print(f"stuck master killed and the group back at work {back_in:.1f} s after it stopped")


def test_live_children_lists_running_children_only():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    quitter = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        wait_for(lambda: process_state(quitter.pid) == "Z", 10, "the quitter to exit (unreaped)")
        children = live_children(os.getpid())
        assert sleeper.pid in children and quitter.pid not in children
    finally:
        sleeper.kill()
        sleeper.wait()
        quitter.wait()


@pytest.mark.parametrize(
    "args, message",
    [(["--stuck-after", "0"], "--stuck-after must be a positive number of seconds"),
     (["--restart-delay", "-1"], "--restart-delay must be zero or more seconds")],
)
def test_out_of_range_options_are_refused_before_the_group_starts(capsys, args, message):
    with pytest.raises(SystemExit) as raised:
        main([*args, "tests.compat.worker_app"])
    assert raised.value.code == 2
    assert message in capsys.readouterr().err


def _alive(pid: int) -> bool:
    return process_state(pid) not in (None, "Z")
