"""Statistics and the interaction log."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError

from compat import shared_task
from threads.models import Comment, InteractionLog, Like, Post
from threads.services.stats import recompute_user_statistics


@shared_task(name="threads.tasks.update_user_statistics")
def update_user_statistics(first: Any, user_id: int | None = None) -> dict[str, Any]:
    """Recompute a user's statistics from rows.

    Call shapes: ``update_user_statistics(user_id)`` alone, and ``(previous_result, user_id)`` as the
    last step of ``user_registered_event``'s chain (Celery prepends the previous step's result).
    """
    return recompute_user_statistics(first if user_id is None else user_id)


@shared_task(name="threads.tasks.update_user_stats")
def update_user_stats(post_id: int) -> dict[str, Any]:
    """After a new post: recompute its author's statistics. First step of ``post_created_event``.

    Returns ``{"post_id", "user_id", "posts_count", ...}``; ``notify_followers`` receives it first.
    """
    author_id = Post.objects.values_list("author_id", flat=True).get(pk=post_id)
    return {"post_id": post_id, **recompute_user_statistics(author_id)}


@shared_task(name="threads.tasks.update_post_stats")
def update_post_stats(post_id: int) -> dict[str, Any]:
    """After a like: recount the post's likes/comments rows and refresh its author's statistics.

    The post's counter columns are not written here: they belong to the counter flush.
    """
    author_id = Post.objects.values_list("author_id", flat=True).get(pk=post_id)
    recompute_user_statistics(author_id)
    return {"post_id": post_id, "likes": Like.objects.filter(post_id=post_id).count(),
            "comments": Comment.objects.filter(post_id=post_id).count()}


@shared_task(name="threads.tasks.log_interaction", bind=True)
def log_interaction(self, kind: str, post_id: int, user_id: int) -> dict[str, Any]:
    """Append an interaction to the log, once per task id (a redelivered message logs nothing new)."""
    key = f"{kind}:{self.request.id}" if self.request.id else None
    try:
        entry, created = (InteractionLog.objects.get_or_create(
            dedupe_key=key, defaults={"kind": kind, "post_id": post_id, "user_id": user_id})
            if key else (InteractionLog.objects.create(kind=kind, post_id=post_id, user_id=user_id), True))
    except IntegrityError:
        return {"logged": False}
    return {"logged": created, "id": entry.pk}
