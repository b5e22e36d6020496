"""``tests.compat.worker_app`` whose first worker process leaves its Dramatiq master stuck.

The first process to import this module (the file named by ``COMPAT_TEST_STUCK_MARKER`` does not exist
yet) stops its master with SIGSTOP and exits: a master alive with no worker process, as Dramatiq's
master is when a process dies while it boots (a poison message run during the boot) and the master
blocks for good on the lock the process held. Later processes import the worker app as usual.
"""

from __future__ import annotations

import os
import signal

marker = os.environ["COMPAT_TEST_STUCK_MARKER"]
if not os.path.exists(marker):
    with open(marker, "w") as file:
        file.write(str(os.getppid()))
    os.kill(os.getppid(), signal.SIGSTOP)
    os._exit(3)

from tests.compat.worker_app import *  # noqa: E402,F403 - the same tasks, once past the first boot
