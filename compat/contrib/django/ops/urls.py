"""Include with ``path("ops/", include("compat.contrib.django.ops.urls"))``.

It also serves the dead-letter API (``compat.contrib.django.urls``) under ``api/``, so this one include
replaces ``path("ops/api/", include("compat.contrib.django.urls"))``. Prometheus' ``/metrics`` is
mounted separately: ``path("metrics", compat.contrib.django.ops.views.metrics_view)``.
"""

from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.dashboard, name="compat-ops"),
    path("api/overview", views.api_overview, name="compat-ops-overview"),
    path("api/queues", views.api_queues, name="compat-ops-queues"),
    path("api/workers", views.api_workers, name="compat-ops-workers"),
    path("api/stats", views.api_stats, name="compat-ops-stats"),
    path("api/tasks", views.api_tasks, name="compat-ops-tasks"),
    path("api/tasks/<str:task_id>", views.api_task, name="compat-ops-task"),
    path("api/scheduler", views.api_scheduler, name="compat-ops-scheduler"),
    path(
        "api/deadletters/<str:task_id>/purge/",
        views.api_dead_letter_purge,
        name="compat-ops-deadletter-purge",
    ),
    path("api/", include("compat.contrib.django.urls")),
]
