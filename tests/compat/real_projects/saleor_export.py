"""A saleor-style CSV export: the base class records the export's outcome from Celery's handlers."""

from __future__ import annotations

import json
import os

import redis
from celery import Celery, Task

app = Celery(
    "saleor_like",
    broker=os.environ.get("COMPAT_TEST_BROKER", "redis://127.0.0.1:6379/0"),
    backend=os.environ.get("COMPAT_TEST_BROKER", "redis://127.0.0.1:6379/0"),
)
app.conf.update(
    task_default_queue="exports",
    broker_namespace=os.environ.get("REAL_PROJECT_NS", "saleor"),
    result_namespace=os.environ.get("REAL_PROJECT_NS", "saleor") + "-res",
)


def exports() -> redis.Redis:
    return redis.Redis.from_url(os.environ.get("COMPAT_TEST_BROKER", "redis://127.0.0.1:6379/0"))


def save_export(export_id: str, **fields) -> None:
    key = f"{os.environ.get('REAL_PROJECT_NS', 'saleor')}:export:{export_id}"
    exports().hset(key, mapping={name: json.dumps(value) for name, value in fields.items()})


class ExportTask(Task):
    """Marks the export file FAILED (with the error's type and traceback) or SUCCESS."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        export_id = args[0]
        save_export(
            export_id,
            status="failed",
            message=str(exc),
            error_type=str(einfo.type),
            traceback=einfo.traceback,
            task_id=task_id,
        )

    def on_success(self, retval, task_id, args, kwargs):
        save_export(args[0], status="success", rows=retval, task_id=task_id)


@app.task(base=ExportTask)
def export_products_task(export_id, scope, file_type, delimiter=","):
    if scope.get("ids") is None:
        raise ValueError(f"export {export_id}: the scope names no products")
    if file_type not in ("csv", "xlsx"):
        raise NotImplementedError(f"file type {file_type!r}")
    return len(scope["ids"])
