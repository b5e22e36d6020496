"""The trivial task's completion marks: counted in memory by many threads, read back from files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

from bench import marks


def test_marks_from_threads_of_two_processes_add_up(tmp_path):
    script = textwrap.dedent(
        """
        import threading, time
        from bench import marks
        def work():
            for _ in range(5000):
                marks.mark()
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads: t.start()
        for t in threads: t.join()
        time.sleep(0.2)  # the writer's period is 5 ms
        """
    )
    env = dict(os.environ, BENCH_RUN_DIR=str(tmp_path))
    started = time.time()
    for _ in range(2):
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)
    count, first, last = marks.read(tmp_path / "marks")
    assert count == 2 * 8 * 5000
    assert started <= first <= last <= time.time()
    marks.clear(tmp_path / "marks")
    assert marks.read(tmp_path / "marks") == (0, 0.0, 0.0)
