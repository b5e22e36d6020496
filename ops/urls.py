"""Include with ``path("ops/", include("ops.urls"))``: the page, its JSON API and the dead-letter API.

Prometheus' ``/metrics`` is mounted separately: ``path("metrics", ops.metrics.metrics_view)``.
"""

from django.urls import path, re_path

from . import api, deadletters, views

urlpatterns = [
    path("", views.dashboard, name="compat-ops"),
    path("api/overview", views.api_overview, name="compat-ops-overview"),
    path("api/queues", views.api_queues, name="compat-ops-queues"),
    path("api/workers", views.api_workers, name="compat-ops-workers"),
    path("api/stats", views.api_stats, name="compat-ops-stats"),
    path("api/tasks", views.api_tasks, name="compat-ops-tasks"),
    path("api/tasks/<str:task_id>", views.api_task, name="compat-ops-task"),
    path("api/scheduler", views.api_scheduler, name="compat-ops-scheduler"),
    path("api/deadletters/", deadletters.dead_letter_list, name="compat-deadletters"),
    path("api/deadletters/bulk/", deadletters.dead_letter_bulk, name="compat-deadletters-bulk"),
    path("api/deadletters/<str:task_id>/", deadletters.dead_letter_detail, name="compat-deadletter"),
    path(
        "api/deadletters/<str:task_id>/requeue/",
        deadletters.dead_letter_requeue,
        name="compat-deadletter-requeue",
    ),
    path(
        "api/deadletters/<str:task_id>/purge/",
        deadletters.dead_letter_purge,
        name="compat-ops-deadletter-purge",
    ),
    # Anything else under api/ is a JSON 404, not the project's HTML page.
    re_path(r"^api/", api.not_found, name="compat-ops-api-not-found"),
]
