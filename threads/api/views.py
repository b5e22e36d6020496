"""The REST API (Django REST framework; token and session auth; JSON errors).

Rules: input is validated before anything is written (a rejected request changes nothing); unknown ids
are 404; anonymous writes are 401. A write's events (jobs and counter deltas) are written to the outbox
in its transaction and sent once it commits, so a worker never looks for a row that is not there yet,
and a committed write answers 2xx whatever the broker's state (the outbox relays its events later).
"""

from __future__ import annotations

import uuid

from django.contrib.auth import authenticate, get_user_model
from django.db import IntegrityError, transaction
from django.http import Http404
from django.shortcuts import get_object_or_404
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.decorators import api_view, permission_classes, throttle_classes
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from compat.contrib.django import apply_async_on_commit, delay_on_commit
from threads.api import serializers as s
from threads.api import throttles
from threads.models import Comment, FactCheck, Follow, Image, Notification, Post
from threads.monitoring import check_task_status
from threads.services import counter_outbox, counters, interactions, search
from threads.services import images as imaging
from threads.services.accounts import register_user
from threads.services.content import get_post
from threads.tasks import fact_check_content, post_created_event, post_liked_event, process_image_pipeline

PAGE = 20


def _limit(request: Request, default: int = PAGE, maximum: int = 100) -> int:
    try:
        return max(1, min(maximum, int(request.query_params.get("limit", default))))
    except ValueError:
        raise ValidationError({"limit": ["A valid integer is required."]}) from None


MAX_ID = 2**63 - 1  # a row id (bigint)
MAX_QUERY = 500  # characters of a search query


def _query_id(request: Request, name: str) -> int | None:
    """An optional row-id query parameter: ASCII digits within the bigint range, else a 400."""
    value = request.query_params.get(name)
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 19) or not 0 < int(value) <= MAX_ID:
        raise ValidationError({name: ["A valid integer is required."]})
    return int(value)


def render_posts(posts: list[Post], request: Request) -> list[dict]:
    """Posts with live counters (column + pending delta: one Redis round trip), fact checks and images."""
    ids = [post.pk for post in posts]
    live = counter_outbox.counts(ids)  # exact (columns re-read after Redis); database counts if Redis is down
    checks = {c.content_id: c for c in FactCheck.objects.filter(content_type="post", content_id__in=ids)}
    images: dict[int, list[Image]] = {}
    for image in Image.objects.filter(post_id__in=ids).order_by("pk"):
        images.setdefault(image.post_id, []).append(image)
    return [
        s.post_data(post, live.get(post.pk) or counters.current(post, {}), request, checks.get(post.pk),
                    images.get(post.pk))
        for post in posts
    ]


# --- accounts ------------------------------------------------------------------------------------------


@api_view(["POST"])
@permission_classes([AllowAny])
@throttle_classes([throttles.AuthIPThrottle, throttles.AuthUsernameThrottle])
def register(request: Request) -> Response:
    """Create a user (fires ``user_registered_event`` once the user is committed)."""
    serializer = s.RegisterSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    try:
        user = register_user(serializer.validated_data)
    except IntegrityError:  # a concurrent registration took the name after validation
        raise ValidationError({"username": ["This username is taken."]}) from None
    return Response(
        {"id": user.pk, "username": user.username, "token": user.auth_token.key},
        status=status.HTTP_201_CREATED,
    )


@api_view(["POST"])
@permission_classes([AllowAny])
@throttle_classes([throttles.AuthIPThrottle, throttles.AuthUsernameThrottle])
def obtain_token(request: Request) -> Response:
    serializer = s.TokenRequestSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    user = authenticate(request._request, **serializer.validated_data)
    if user is None:
        raise ValidationError({"non_field_errors": ["Unable to log in with provided credentials."]})
    token, _ = Token.objects.get_or_create(user=user)
    return Response({"token": token.key})


# --- posts ---------------------------------------------------------------------------------------------


@api_view(["GET", "POST"])
def posts(request: Request) -> Response:
    """GET: recent posts. POST {content}: create a post (fires ``post_created_event`` after commit)."""
    if request.method == "GET":
        recent = list(Post.objects.select_related("author")[: _limit(request)])
        return Response(render_posts(recent, request))
    serializer = s.ContentSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    with transaction.atomic():
        post = Post.objects.create(author=request.user, content=serializer.validated_data["content"])
        delay_on_commit(post_created_event, post.pk)
    return Response(render_posts([post], request)[0], status=status.HTTP_201_CREATED)


@api_view(["GET"])
def post_detail(request: Request, post_id: int) -> Response:
    return Response(render_posts([get_post(post_id)], request)[0])


@api_view(["POST", "DELETE"])
@permission_classes([IsAuthenticated])
def like(request: Request, post_id: int) -> Response:
    """POST likes (idempotent per user), DELETE unlikes; each change is one counter increment after commit."""
    post = get_post(post_id)
    if request.method == "POST":
        with transaction.atomic():  # the like, its counter delta and its event commit together
            changed = interactions.like(request.user, post)
            if changed:
                delay_on_commit(post_liked_event, post.pk, request.user.pk)
    else:
        changed = interactions.unlike(request.user, post)
    body = {
        "post": post.pk,
        "liked": request.method == "POST",
        "changed": changed,
        "likes_count": counter_outbox.counts([post.pk])[post.pk]["likes_count"],
    }
    code = status.HTTP_201_CREATED if request.method == "POST" and changed else status.HTTP_200_OK
    return Response(body, status=code)


@api_view(["GET", "POST"])
def comments(request: Request, post_id: int) -> Response:
    """GET the post's comments; POST {content} adds one (one counter increment after commit)."""
    post = get_post(post_id)
    if request.method == "GET":
        rows = Comment.objects.filter(post=post).select_related("author")[: _limit(request, 50, 200)]
        return Response(s.CommentOutSerializer(rows, many=True).data)
    serializer = s.ContentSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    comment = interactions.comment(request.user, post, serializer.validated_data["content"])
    return Response(s.CommentOutSerializer(comment).data, status=status.HTTP_201_CREATED)


@api_view(["POST"])
@permission_classes([IsAuthenticated])
@throttle_classes([throttles.FactCheckThrottle])
def fact_check_post(request, post_id):
    """The guide's view (3.1), answering 202 with the task id to poll at /api/tasks/{task_id}.

    The guide's ``fact_check_content.delay(post_id, "post", post.content)`` goes through the outbox
    here, so a broker outage delays the check instead of refusing it.
    """
    post = get_post(post_id)
    task_id = str(uuid.uuid4())
    fact_check_content.apply_async_on_commit((post_id, "post", post.content), task_id=task_id)
    return Response(
        {"message": "Fact check has started", "task_id": task_id}, status=status.HTTP_202_ACCEPTED
    )


# --- people --------------------------------------------------------------------------------------------


@api_view(["POST", "DELETE"])
@permission_classes([IsAuthenticated])
def follow(request: Request, user_id: int) -> Response:
    target = get_object_or_404(get_user_model(), pk=user_id)
    if target.pk == request.user.pk:
        raise ValidationError({"user": ["You cannot follow yourself."]})
    if request.method == "POST":
        _, changed = Follow.objects.get_or_create(follower=request.user, followee=target)
        code = status.HTTP_201_CREATED if changed else status.HTTP_200_OK
        return Response({"following": True, "user": target.pk, "changed": changed}, status=code)
    changed = Follow.objects.filter(follower=request.user, followee=target).delete()[0] > 0
    return Response({"following": False, "user": target.pk, "changed": changed})


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def feed(request: Request) -> Response:
    """Posts by the people you follow and by you, newest first (``?before=<post id>`` pages on)."""
    following = Follow.objects.filter(follower=request.user).values_list("followee_id", flat=True)
    qs = Post.objects.filter(author_id__in=list(following) + [request.user.pk]).select_related("author")
    before = _query_id(request, "before")
    if before is not None:
        qs = qs.filter(pk__lt=before)
    return Response(render_posts(list(qs[: _limit(request)]), request))


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def notifications(request: Request) -> Response:
    rows = Notification.objects.filter(recipient=request.user).select_related("actor")[
        : _limit(request, 50, 200)
    ]
    return Response(s.NotificationSerializer(rows, many=True).data)


@api_view(["GET"])
def search_posts(request: Request) -> Response:
    query = (request.query_params.get("q") or "").strip()
    if not query:
        raise ValidationError({"q": ["This query parameter is required."]})
    if "\x00" in query or len(query) > MAX_QUERY:  # PostgreSQL text cannot hold NUL
        raise ValidationError({"q": [f"At most {MAX_QUERY} characters, and no NUL character."]})
    ids = search.search_post_ids(query, limit=_limit(request))
    found = {post.pk: post for post in Post.objects.filter(pk__in=ids).select_related("author")}
    return Response({"query": query, "results": render_posts([found[i] for i in ids if i in found], request)})


# --- images and tasks ----------------------------------------------------------------------------------


@api_view(["POST"])
@permission_classes([IsAuthenticated])
def images(request: Request) -> Response:
    """Multipart upload (field ``file``, optional ``post``): 202 now, the pipeline decides later."""
    serializer = s.ImageUploadSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    post = None
    if "post" in serializer.validated_data:
        post = get_post(serializer.validated_data["post"])
        if post.author_id != request.user.pk:
            raise PermissionDenied("You can only attach images to your own posts.")
    task_id = str(uuid.uuid4())
    upload = serializer.validated_data["file"]
    with transaction.atomic():
        image = Image(owner=request.user, post=post)
        image.original.save(imaging.original_name(upload), upload, save=False)  # never the client's name
        image.save()
        apply_async_on_commit(process_image_pipeline, [image.pk], task_id=task_id)
    return Response(
        {"id": image.pk, "task_id": task_id, "status": image.status}, status=status.HTTP_202_ACCEPTED
    )


@api_view(["GET"])
def image_detail(request: Request, image_id: int) -> Response:
    """An image: its owner's (and staff's), or anyone's once it is attached to a post; else 404."""
    image = get_object_or_404(Image, pk=image_id)
    if image.post_id is None and not s.owner_or_staff(request, image):
        raise Http404  # an unattached upload is private: no id of it is to be found by others
    return Response(s.image_data(image, request))


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def task_status(request: Request, task_id: str) -> Response:
    """The guide's ``check_task_status``, as JSON (an exception result becomes its type and message)."""
    return Response(check_task_status_json(task_id))


def check_task_status_json(task_id: str) -> dict:
    data = check_task_status(task_id)
    result = data["result"]
    if isinstance(result, BaseException):
        data["result"] = {"exc_type": type(result).__name__, "exc_message": str(result)}
    return {"task_id": task_id, **data}
