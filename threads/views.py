"""Views of the Threads foundation: the home page, the health check and the API root."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from compat.exceptions import ImproperlyConfigured
from compat.stores import redis_for
from threads import health
from threads.celery import app as celery_app


def home(request: HttpRequest) -> HttpResponse:
    """Say what this system is and where the API lives."""
    return render(request, "threads/home.html", {"broker_url": settings.CELERY_BROKER_URL})


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness plus pings: the broker (Redis or RabbitMQ), and the Redis of the facade's stores and of the
    app's own keys where each is another server. 200 {"ok": true, ...} when every one answers, else 503."""
    app = celery_app  # this project's app, whichever app a library made current
    states: dict[str, str] = {}
    errors: dict[str, str] = {}
    try:
        stores = redis_for(app)
    except ImproperlyConfigured as exc:  # a stores_url that is not a Redis
        stores, states["stores"], errors["stores"] = None, "misconfigured", str(exc)
    named = health.servers([("broker", settings.CELERY_BROKER_URL), ("stores", stores),
                            ("redis", settings.THREADS_REDIS_URL)])
    for name, url in named.items():
        error = (health.ping_broker(url, use_ssl=app.conf.broker_use_ssl) if name == "broker"
                 else health.ping_redis(url))
        states[name] = "unreachable" if error else "ok"
        if error:
            errors[name] = error
    if errors:
        return JsonResponse({"ok": False, **states, "errors": errors}, status=503)
    return JsonResponse({"ok": True, **states})


@api_view(["GET"])
def api_root(request: Request, format: str | None = None) -> Response:
    """The API root: links to the endpoints (those with ids show an example id of 1)."""
    links = {"healthz": reverse("healthz", request=request, format=format)}
    for name in ("register", "token", "posts", "feed", "notifications", "search", "images", "schema"):
        links[name] = reverse(f"api-{name}", request=request, format=format)
    for name, kwargs in (("post", {"post_id": 1}), ("image", {"image_id": 1}), ("task", {"task_id": "<id>"})):
        links[name] = reverse(f"api-{name}", kwargs=kwargs, request=request, format=format)
    return Response(links)
