"""What ``/proc`` says about processes on this host (Linux; elsewhere these say they cannot tell).

The supervisor asks whether a worker group's master still has worker processes; the broker maintenance
asks whether a worker process that holds messages still runs. A zombie (exited, not yet reaped by its
parent) runs no more: it counts as gone for both.
"""

from __future__ import annotations

import glob
import os


def live_children(pid: int) -> set[int] | None:
    """The pids of ``pid``'s child processes that have not exited (zombies left out), or None where
    ``/proc`` does not say (not Linux)."""
    if not os.path.isdir(f"/proc/{pid}/task"):
        return None
    children: set[int] = set()
    for listing in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(listing) as file:
                children.update(int(child) for child in file.read().split())
        except OSError:  # the thread, or the process, has just gone
            continue
    return {child for child in children if process_state(child) not in (None, "Z")}


def process_state(pid: int) -> str | None:
    """A process's one-letter state from ``/proc/<pid>/stat`` (``Z`` for a zombie), None once gone."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0]  # the name, in parentheses, may hold spaces
    except (OSError, IndexError):
        return None


def exited(pid: int) -> bool:
    """Whether ``pid`` has exited: no such process, or a zombie."""
    return process_state(pid) in (None, "Z") if os.path.isdir("/proc/self") else False
