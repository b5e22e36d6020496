"""Tasks the worker runs."""

import os
import time

from compat import shared_task

from .errors import Broken


@shared_task(name="results.add")
def add(x, y):
    return x + y


@shared_task(name="results.fail")
def fail(message):
    raise Broken(message)


@shared_task(name="results.nap")
def nap(seconds, value=None):
    time.sleep(seconds)
    return value if value is not None else seconds


@shared_task(name="results.collect")
def collect(values):
    """A chord body: records each run in a file (the test counts the lines), returns the sum."""
    with open(os.environ["RESULTS_TEST_BODY_LOG"], "a") as out:
        out.write(f"{sorted(values)}\n")
    return sum(values)


@shared_task(bind=True, name="results.flaky", max_retries=3)
def flaky(self, times):
    if self.request.retries < times:
        raise self.retry(countdown=0.1, exc=KeyError("again"))
    return self.request.retries
