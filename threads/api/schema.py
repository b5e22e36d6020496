"""The OpenAPI description of the API (drf-spectacular), served at ``/api/schema/``.

The views are DRF function views (``threads/api/views.py``), so what they read and answer is declared
here, next to nothing else: ``describe()`` annotates each view in place (drf-spectacular's
``extend_schema`` on an ``@api_view`` function marks its view class), and ``threads/api/urls.py``
calls it once. The output shapes below are documentation; the views build their answers themselves.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers

from threads.api import serializers as s
from threads.api import views
from threads.views import api_root

# --- output shapes ---------------------------------------------------------------------------------------


class ErrorOut(serializers.Serializer):
    detail = serializers.CharField()


class AuthorOut(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class FactCheckOut(serializers.Serializer):
    verdict = serializers.CharField()
    confidence = serializers.FloatField()
    explanation = serializers.CharField()
    provider = serializers.CharField()
    checked_at = serializers.DateTimeField()


class ImageOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["pending", "processing", "done", "rejected"])
    reason = serializers.CharField(allow_blank=True)
    post = serializers.IntegerField(allow_null=True)
    original = serializers.URLField(allow_null=True, help_text="Only for the owner and staff.")
    compressed = serializers.URLField(allow_null=True)
    thumbnails = serializers.DictField(child=serializers.URLField())
    metadata = serializers.DictField()


class PostOut(serializers.Serializer):
    id = serializers.IntegerField()
    author = AuthorOut()
    content = serializers.CharField()
    created_at = serializers.DateTimeField()
    likes_count = serializers.IntegerField()
    comments_count = serializers.IntegerField()
    fact_check = FactCheckOut(allow_null=True)
    images = ImageOut(many=True)


class SearchOut(serializers.Serializer):
    query = serializers.CharField()
    results = PostOut(many=True)


class RegisteredOut(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    token = serializers.CharField()


class TokenOut(serializers.Serializer):
    token = serializers.CharField()


class LikeOut(serializers.Serializer):
    post = serializers.IntegerField()
    liked = serializers.BooleanField()
    changed = serializers.BooleanField()
    likes_count = serializers.IntegerField()


class FollowOut(serializers.Serializer):
    following = serializers.BooleanField()
    user = serializers.IntegerField()
    changed = serializers.BooleanField()


class AcceptedOut(serializers.Serializer):
    message = serializers.CharField()
    task_id = serializers.CharField()


class UploadOut(serializers.Serializer):
    id = serializers.IntegerField()
    task_id = serializers.CharField()
    status = serializers.CharField()


class TaskOut(serializers.Serializer):
    task_id = serializers.CharField()
    status = serializers.CharField()
    result = serializers.JSONField(allow_null=True)
    traceback = serializers.CharField(allow_null=True)


# --- parameters and common answers -----------------------------------------------------------------------

LIMIT = OpenApiParameter("limit", OpenApiTypes.INT, description="Page size (clamped to the maximum).")
BEFORE = OpenApiParameter("before", OpenApiTypes.INT, description="Only posts with a smaller id.")
QUERY = OpenApiParameter("q", OpenApiTypes.STR, required=True, description="Search text (<= 500 characters).")

BAD = OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid input: field errors, nothing written.")
ERRORS = {
    400: BAD,
    401: OpenApiResponse(ErrorOut, description="Not authenticated."),
    403: OpenApiResponse(ErrorOut, description="Not yours."),
    404: OpenApiResponse(ErrorOut, description="No such id."),
    413: OpenApiResponse(ErrorOut, description="The body is over the size limit."),
    429: OpenApiResponse(ErrorOut, description="Throttled; see Retry-After."),
    503: OpenApiResponse(ErrorOut, description="The task queue is unavailable; see Retry-After."),
}


def answers(ok: dict, *codes: int) -> dict:
    """The success answers plus the listed error answers."""
    return {**ok, **{code: ERRORS[code] for code in codes}}


def _annotate(view, **kwargs) -> None:
    extend_schema(**kwargs)(view)


def describe() -> None:
    """Annotate every API view in place (a second call changes nothing)."""
    posts, comments = PostOut(many=True), s.CommentOutSerializer
    _annotate(api_root, responses={200: OpenApiTypes.OBJECT})
    _annotate(views.register, request=s.RegisterSerializer,
              responses=answers({201: RegisteredOut}, 400, 413, 429, 503))
    _annotate(views.obtain_token, request=s.TokenRequestSerializer,
              responses=answers({200: TokenOut}, 400, 413, 429))
    extend_schema_view(
        get=extend_schema(parameters=[LIMIT], responses=answers({200: posts}, 400)),
        post=extend_schema(request=s.ContentSerializer,
                           responses=answers({201: PostOut}, 400, 401, 413, 503)),
    )(views.posts)
    _annotate(views.post_detail, responses=answers({200: PostOut}, 404))
    _annotate(views.like, request=None, responses=answers({200: LikeOut, 201: LikeOut}, 401, 404, 503))
    extend_schema_view(
        get=extend_schema(parameters=[LIMIT], responses=answers({200: comments(many=True)}, 400, 404)),
        post=extend_schema(request=s.ContentSerializer,
                           responses=answers({201: comments}, 400, 401, 404, 413, 503)),
    )(views.comments)
    _annotate(views.fact_check_post, request=None, responses=answers({202: AcceptedOut}, 401, 404, 429, 503))
    _annotate(views.follow, request=None, responses=answers({200: FollowOut, 201: FollowOut}, 400, 401, 404))
    _annotate(views.feed, parameters=[BEFORE, LIMIT], responses=answers({200: posts}, 400, 401))
    _annotate(views.notifications, parameters=[LIMIT],
              responses=answers({200: s.NotificationSerializer(many=True)}, 400, 401))
    _annotate(views.search_posts, parameters=[QUERY, LIMIT], responses=answers({200: SearchOut}, 400))
    _annotate(views.images, request={"multipart/form-data": s.ImageUploadSerializer},
              responses=answers({202: UploadOut}, 400, 401, 403, 404, 413, 503))
    _annotate(views.image_detail, responses=answers({200: ImageOut}, 404))
    _annotate(views.task_status, responses=answers({200: TaskOut}, 401))


def api_paths_only(endpoints, **kwargs):
    """drf-spectacular preprocessing hook: the schema describes /api/ (the ops dashboard has its own docs)."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/")]
