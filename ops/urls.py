"""Include with ``path("ops/", include("ops.urls"))``: the page, its JSON API and the dead-letter API.

Prometheus' ``/metrics`` is mounted separately: ``path("metrics", ops.metrics.metrics_view)``.
"""

from django.urls import path, re_path

from . import actions, api, charts, deadletters, tasks, views, workers

urlpatterns = [
    path("", views.dashboard, name="compat-ops"),
    path("api/overview", views.api_overview, name="compat-ops-overview"),
    path("api/queues", views.api_queues, name="compat-ops-queues"),
    path("api/workers", workers.api_workers, name="compat-ops-workers"),
    path("api/series", charts.api_series, name="compat-ops-series"),
    path("api/search", tasks.api_search, name="compat-ops-search"),
    path("api/audit", actions.api_audit, name="compat-ops-audit"),
    path("api/stats", views.api_stats, name="compat-ops-stats"),
    path("api/tasks", views.api_tasks, name="compat-ops-tasks"),
    path("api/tasks/<str:task_id>", tasks.api_task, name="compat-ops-task"),
    path("api/tasks/<str:task_id>/graph", tasks.api_graph, name="compat-ops-task-graph"),
    path("api/tasks/<str:task_id>/revoke", actions.revoke, name="compat-ops-task-revoke"),
    path("api/tasks/<str:task_id>/retry", actions.retry, name="compat-ops-task-retry"),
    path("api/schedules/<str:name>/<str:action>", actions.schedule_action, name="compat-ops-schedule-action"),
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
