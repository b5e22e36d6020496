"""The task-status view a project has (``AsyncResult`` from a Django view), and the admin."""

from django.contrib import admin
from django.http import JsonResponse
from django.urls import path

from compat.result import AsyncResult


def task_status(request, task_id):
    result = AsyncResult(task_id)
    body = {"task_id": task_id, "status": result.status, "result": None, "traceback": result.traceback}
    if result.successful():
        body["result"] = result.result
    elif result.failed():
        body["result"] = repr(result.result)
    return JsonResponse(body)


urlpatterns = [path("tasks/<str:task_id>/", task_status), path("admin/", admin.site.urls)]
