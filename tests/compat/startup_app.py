"""A worker app whose broker and connection settings come from the environment (``test_broker_startup``)."""

import json
import os

from compat import Celery

app = Celery("startupapp", broker=os.environ["STARTUP_TEST_BROKER"], set_as_current=False)
app.conf.update(json.loads(os.environ.get("STARTUP_TEST_SETTINGS", "{}")))


@app.task(name="startup.noop")
def noop():
    return None
