"""Keep a Dramatiq worker group running: ``python -m compat.supervisor <dramatiq arguments>``.

Dramatiq's master process stops every worker process as soon as one of them dies (an OOM kill, a
SIGKILL, a segfault in a C extension), so one bad task would take the whole group down. The supervisor
starts the group again after ``--restart-delay`` seconds; the messages the dead process held come back
through the broker maintenance. SIGTERM or SIGINT is passed on to the group, which then shuts down
gracefully (running tasks finish, prefetched ones are requeued) and is not restarted. An import error
(exit status 2) is a configuration problem and is not retried. ``app.control.shutdown()`` signals the
supervisor itself (its pid is in the group's ``COMPAT_SUPERVISOR_PID``), so the group stops for good.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time

logger = logging.getLogger("compat.supervisor")

IMPORT_ERROR = 2


def supervise(dramatiq_args: list[str], restart_delay: float = 1.0) -> int:
    """Run ``python -m dramatiq <args>`` until stopped by a signal; restart it whenever it dies."""
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
        code = child.wait()
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
    options, rest = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [supervisor] %(levelname)s %(message)s")
    return supervise(rest, options.restart_delay)


if __name__ == "__main__":
    sys.exit(main())
