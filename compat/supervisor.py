"""Keep a Dramatiq worker group running: ``python -m compat.supervisor <dramatiq arguments>``.

Dramatiq's master process stops every worker process as soon as one of them dies (an OOM kill, a
SIGKILL, a segfault in a C extension), so one bad task would take the whole group down. The supervisor
starts the group again after ``--restart-delay`` seconds; the messages the dead process held come back
through the broker maintenance. SIGTERM or SIGINT is passed on to the group, which then shuts down
gracefully (running tasks finish, prefetched ones are requeued) and is not restarted. An import error
(exit status 2) is a configuration problem and is not retried. ``app.control.shutdown()`` signals the
supervisor itself (its pid is in the group's ``COMPAT_SUPERVISOR_PID``), so the group stops for good.

Dramatiq's master can also block for good: it waits, with signals blocked, for each new worker process
to say it has booted, and a process killed while saying so (a poison message at the head of a queue runs
during the boot and kills it) leaves the master waiting on a lock nobody will release. The supervisor
therefore kills a master that has had no live worker process for ``--stuck-after`` seconds (Linux, where
``/proc`` tells; elsewhere that master waits for an operator) and starts the group again.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time

from .utils.procs import live_children

logger = logging.getLogger("compat.supervisor")

IMPORT_ERROR = 2
#: Seconds a Dramatiq master may live without a worker process before it is taken for stuck and killed:
#: a healthy master forks its processes within a second of starting and exits within a second of
#: losing one.
STUCK_AFTER = 10.0


def supervised() -> bool:
    """Whether this worker process's group runs under ``compat.supervisor`` (which starts it again)."""
    return os.environ.get("COMPAT_SUPERVISOR_PID", "").isdigit()


def group_master() -> int | None:
    """The pid of the Dramatiq master of this worker process, or None outside a ``dramatiq`` group."""
    import multiprocessing

    parent = multiprocessing.parent_process()
    return parent.pid if parent is not None else None


def restart_group() -> bool:
    """Stop this process's worker group gracefully so that the supervisor starts fresh processes.

    Running tasks finish and prefetched messages go back to their queues (Dramatiq's SIGTERM), then the
    supervisor, seeing the group exit by itself, starts it again. False (nothing done) when the group
    does not run under the supervisor: stopping it would stop it for good.
    """
    master = group_master()
    if master is None or not supervised():
        return False
    os.kill(master, signal.SIGTERM)
    return True


def stop_group() -> None:
    """Stop this process's worker group for good: the supervisor (which then does not restart it), else
    the Dramatiq master, else this process."""
    if supervised():
        os.kill(int(os.environ["COMPAT_SUPERVISOR_PID"]), signal.SIGTERM)
    else:
        os.kill(group_master() or os.getpid(), signal.SIGTERM)


def _wait_unless_stuck(child: subprocess.Popen, stuck_after: float) -> int:
    """Wait for the group's master to exit; kill its whole session if it lives ``stuck_after`` seconds
    with no worker process (Dramatiq's master blocked for good, see the module's docstring)."""
    alone_since: float | None = None
    while True:
        try:
            return child.wait(timeout=min(1.0, stuck_after))
        except subprocess.TimeoutExpired:
            pass
        children = live_children(child.pid)
        if children is None or children:
            alone_since = None
            continue
        alone_since = alone_since or time.monotonic()
        if time.monotonic() - alone_since >= stuck_after:
            logger.error(
                "worker group master %d has had no worker process for %.0f s (a process that died while it "
                "booted leaves Dramatiq's master blocked); killing it",
                child.pid, stuck_after,
            )
            try:
                os.killpg(child.pid, signal.SIGKILL)  # its own session: the master and whatever it started
            except ProcessLookupError:
                pass
            return child.wait()


def supervise(dramatiq_args: list[str], restart_delay: float = 1.0, stuck_after: float = STUCK_AFTER) -> int:
    """Run ``python -m dramatiq <args>`` until stopped by a signal; restart it when it dies or is stuck."""
    stopping = False
    child: subprocess.Popen | None = None

    def forward(signum, frame):
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)  # the Dramatiq master passes it on to its worker processes

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while True:
        child = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", *dramatiq_args],
            start_new_session=True,
            env={**os.environ, "COMPAT_SUPERVISOR_PID": str(os.getpid())},  # app.control.shutdown() stops us
        )
        code = _wait_unless_stuck(child, stuck_after)
        if stopping:
            return code
        if code == IMPORT_ERROR:
            logger.error("worker group could not import its modules (exit status 2); not restarting")
            return code
        logger.warning("worker group exited with status %s; restarting in %.1f s", code, restart_delay)
        time.sleep(restart_delay)
        if stopping:
            return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compat.supervisor", description=__doc__.splitlines()[0])
    parser.add_argument("--restart-delay", type=float, default=1.0)
    parser.add_argument(
        "--stuck-after", type=float, default=STUCK_AFTER,
        help="kill the group's master once it has had no worker process for this many seconds",
    )
    options, rest = parser.parse_known_args(argv)
    if options.stuck_after <= 0:
        parser.error("--stuck-after must be a positive number of seconds")
    if options.restart_delay < 0:
        parser.error("--restart-delay must be zero or more seconds")
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [supervisor] %(levelname)s %(message)s")
    return supervise(rest, options.restart_delay, options.stuck_after)


if __name__ == "__main__":
    sys.exit(main())
