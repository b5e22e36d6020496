"""Looking up content for views and jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.shortcuts import get_object_or_404

from threads.models import Comment, Post


@dataclass(frozen=True)
class Content:
    """What the search index needs of a post or comment."""

    id: int
    text: str
    author_name: str
    created_at: datetime
    type: str


def get_post(post_id: int) -> Post:
    """The post, or ``Http404``."""
    return get_object_or_404(Post.objects.select_related("author"), pk=post_id)


def get_content(content_id: int, content_type: str) -> Content:
    """A post or comment as ``Content``; ``Post.DoesNotExist``/``Comment.DoesNotExist`` if gone."""
    model = {"post": Post, "comment": Comment}.get(content_type)
    if model is None:
        raise ValueError(f"unknown content type {content_type!r} (expected 'post' or 'comment')")
    row = model.objects.select_related("author").get(pk=content_id)
    return Content(row.pk, row.content, row.author.username, row.created_at, content_type)
