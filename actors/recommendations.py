"""Default follows and recommendations (follows of follows, popular recent posts)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from compat import shared_task
from threads.models import Follow
from threads.services.recommendations import recommend_for_user, recommend_post


@shared_task(name="threads.tasks.create_default_follows")
def create_default_follows(first: Any, user_id: int | None = None) -> dict[str, Any]:
    """Make a new user follow the accounts in ``THREADS_DEFAULT_FOLLOWS`` (existing follows are kept).

    Call shapes: ``create_default_follows(user_id)`` alone, and ``(previous_result, user_id)`` as the
    second step of ``user_registered_event`` (after ``send_welcome_email``).
    """
    user_id = first if user_id is None else user_id
    targets = (
        get_user_model().objects.filter(username__in=settings.THREADS_DEFAULT_FOLLOWS).exclude(pk=user_id)
    )
    Follow.objects.bulk_create(
        [Follow(follower_id=user_id, followee=t) for t in targets], ignore_conflicts=True
    )
    return {"user_id": user_id, "following": sorted(t.username for t in targets)}


@shared_task(name="threads.tasks.generate_initial_recommendations")
def generate_initial_recommendations(first: Any, user_id: int | None = None) -> dict[str, Any]:
    """First suggestions for a new user.

    Shapes: ``(user_id)`` alone, ``(previous_result, user_id)`` chained after ``create_default_follows``.
    """
    user_id = first if user_id is None else user_id
    return {"user_id": user_id, "recommended": recommend_for_user(user_id)}


@shared_task(name="threads.tasks.update_user_recommendations")
def update_user_recommendations(user_id: int) -> dict[str, Any]:
    """Refresh a user's suggestions (after they liked something)."""
    return {"user_id": user_id, "recommended": recommend_for_user(user_id)}


@shared_task(name="threads.tasks.update_recommendations")
def update_recommendations(user_id: int) -> dict[str, Any]:
    """The guide's registration subscriber (``send_task('update_recommendations', args=[user_id])``)."""
    return {"user_id": user_id, "recommended": recommend_for_user(user_id)}


@shared_task(name="threads.tasks.generate_recommendations")
def generate_recommendations(first: Any, post_id: int | None = None) -> dict[str, Any]:
    """Suggest a new post to the followers of its author's followers.

    Shapes: ``generate_recommendations(post_id)`` alone, and ``(previous_result, post_id)`` as the last
    step of ``post_created_event`` (Celery prepends ``update_search_index``'s result).
    """
    post_id = first if post_id is None else post_id
    return {"post_id": post_id, "recommended": recommend_post(post_id)}
