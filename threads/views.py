"""Views of the Threads foundation: the home page, the health check and the API root."""

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse


def home(request: HttpRequest) -> HttpResponse:
    """Say what this system is and where the API lives."""
    return render(request, "threads/home.html", {"broker_url": settings.CELERY_BROKER_URL})


def ping_broker(url: str, timeout: float = 1.0) -> str | None:
    """PING the Redis broker at `url`; return None when it answers, else the error text."""
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
        return None
    except (redis.RedisError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        client.close()


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness plus a broker ping: 200 {"ok": true} when the broker answers, else 503."""
    error = ping_broker(settings.CELERY_BROKER_URL)
    if error:
        return JsonResponse({"ok": False, "broker": "unreachable", "error": error}, status=503)
    return JsonResponse({"ok": True, "broker": "ok"})


@api_view(["GET"])
def api_root(request: Request, format: str | None = None) -> Response:
    """The API root: links to the endpoints (those with ids show an example id of 1)."""
    links = {"healthz": reverse("healthz", request=request, format=format)}
    for name in ("register", "token", "posts", "feed", "notifications", "search", "images", "schema"):
        links[name] = reverse(f"api-{name}", request=request, format=format)
    for name, kwargs in (("post", {"post_id": 1}), ("image", {"image_id": 1}), ("task", {"task_id": "<id>"})):
        links[name] = reverse(f"api-{name}", kwargs=kwargs, request=request, format=format)
    return Response(links)
