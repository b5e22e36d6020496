"""Include with ``path("ops/api/", include("compat.contrib.django.urls"))``."""

from django.urls import path

from . import views

urlpatterns = [
    path("deadletters/", views.dead_letter_list, name="compat-deadletters"),
    path("deadletters/bulk/", views.dead_letter_bulk, name="compat-deadletters-bulk"),
    path("deadletters/<str:task_id>/", views.dead_letter_detail, name="compat-deadletter"),
    path("deadletters/<str:task_id>/requeue/", views.dead_letter_requeue, name="compat-deadletter-requeue"),
]
