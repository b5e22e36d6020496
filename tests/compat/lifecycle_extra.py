"""A task module named only by the app's ``imports`` setting (``test_worker_lifecycle``)."""

from tests.compat.lifecycle_app import app, record


@app.task(name="lifecycle.extra")
def extra(x):
    return x * 2


record("extra_module_imported", "tests.compat.lifecycle_extra")
