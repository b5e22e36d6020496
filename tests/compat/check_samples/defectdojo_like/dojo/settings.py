import os

TIME_ZONE = "UTC"
CELERY_BROKER_URL = os.environ.get("DD_CELERY_BROKER_URL", "redis://redis:6379/0")
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = os.environ.get("DD_CELERY_RESULT_BACKEND", "django-db")
CELERY_TIMEZONE = TIME_ZONE
CELERY_RESULT_EXPIRES = int(os.environ.get("DD_CELERY_RESULT_EXPIRES", "86400"))
CELERY_BEAT_SCHEDULE_FILENAME = "/run/celery-beat-schedule"
CELERY_ACCEPT_CONTENT = ["pickle", "json", "msgpack", "yaml"]
CELERY_TASK_SERIALIZER = os.environ.get("DD_CELERY_TASK_SERIALIZER", "pickle")
# DefectDojo's own switch, read by its code: not a Celery setting, so not reported.
CELERY_PASS_MODEL_BY_ID = os.environ.get("DD_CELERY_PASS_MODEL_BY_ID", "True") == "True"
CELERY_IMPORTS = ("dojo.tools.tool_issue_updater",)
