"""API routes (mounted at /api/)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from threads.api import schema, views

schema.describe()

urlpatterns = [
    path("auth/register", views.register, name="api-register"),
    path("auth/token", views.obtain_token, name="api-token"),
    path("posts", views.posts, name="api-posts"),
    path("posts/<int:post_id>", views.post_detail, name="api-post"),
    path("posts/<int:post_id>/like", views.like, name="api-post-like"),
    path("posts/<int:post_id>/comments", views.comments, name="api-post-comments"),
    path("posts/<int:post_id>/fact-check", views.fact_check_post, name="api-post-fact-check"),
    path("users/<int:user_id>/follow", views.follow, name="api-user-follow"),
    path("feed", views.feed, name="api-feed"),
    path("notifications", views.notifications, name="api-notifications"),
    path("search", views.search_posts, name="api-search"),
    path("images", views.images, name="api-images"),
    path("images/<int:image_id>", views.image_detail, name="api-image"),
    path("tasks/<str:task_id>", views.task_status, name="api-task"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),  # OpenAPI 3 (drf-spectacular)
]
