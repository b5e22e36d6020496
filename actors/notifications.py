"""Notifications: fan-out of new posts to followers, likes to authors, finished fact checks.

Every notification has a ``dedupe_key``; rows are inserted with ``ignore_conflicts``, so a redelivered
message (or a retried fan-out batch) never duplicates one.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from compat import shared_task
from threads.models import FactCheck, Follow, Notification, Post


def _fan_out(author_id: int, kind: str, message: str, key: str, post_id: int | None = None) -> int:
    """Notify every follower of ``author_id``, ``THREADS_FANOUT_BATCH`` rows per insert; returns the count."""
    batch_size = max(1, settings.THREADS_FANOUT_BATCH)
    followers = (Follow.objects.filter(followee_id=author_id).order_by("follower_id")
                 .values_list("follower_id", flat=True))
    total, batch = 0, []
    for follower_id in followers.iterator(chunk_size=batch_size):
        batch.append(Notification(recipient_id=follower_id, kind=kind, actor_id=author_id, post_id=post_id,
                                  message=message, dedupe_key=f"{key}:{follower_id}"))
        if len(batch) >= batch_size:
            Notification.objects.bulk_create(batch, ignore_conflicts=True)
            total, batch = total + len(batch), []
    if batch:
        Notification.objects.bulk_create(batch, ignore_conflicts=True)
        total += len(batch)
    return total


@shared_task(name="threads.tasks.notify_followers")
def notify_followers(first: Any, post_id: int | None = None) -> dict[str, Any]:
    """Tell a user's followers about them. Two call shapes, both from the guide:

    * ``notify_followers(user_id)`` — sent alone by ``publish_user_registered_event``
      (``send_task('notify_followers', args=[user_id])``): the user's followers hear they joined;
    * ``notify_followers(previous_result, post_id)`` — chained after ``update_user_stats.s(post_id)`` in
      ``post_created_event``, so Celery prepends that step's result: the author's followers hear about
      the new post. ``previous_result`` is not needed (the post names its author).

    Returns ``{"user_id", "post_id", "notified"}`` (the next chain step takes it as its first argument).
    """
    if post_id is None:
        user = get_user_model().objects.get(pk=first)
        count = _fan_out(user.pk, "user_joined", f"{user.username} joined Threads", f"joined:{user.pk}")
        return {"user_id": user.pk, "post_id": None, "notified": count}
    post = Post.objects.select_related("author").get(pk=post_id)
    count = _fan_out(post.author_id, "new_post", f"{post.author.username} posted: {post.content[:80]}",
                     f"post:{post.pk}", post_id=post.pk)
    return {"user_id": post.author_id, "post_id": post.pk, "notified": count}


@shared_task(name="threads.tasks.notify_post_author")
def notify_post_author(post_id: int, user_id: int) -> dict[str, Any]:
    """Tell a post's author that ``user_id`` liked it (once per liker and post; never for a self-like)."""
    post = Post.objects.get(pk=post_id)
    if post.author_id == user_id:
        return {"post_id": post_id, "notified": False}
    liker = get_user_model().objects.get(pk=user_id)
    Notification.objects.bulk_create(
        [Notification(recipient_id=post.author_id, kind="like", actor_id=user_id, post_id=post_id,
                      message=f"{liker.username} liked your post", dedupe_key=f"like:{post_id}:{user_id}")],
        ignore_conflicts=True,
    )
    return {"post_id": post_id, "notified": True}


@shared_task(name="threads.tasks.notify_fact_check_complete")
def notify_fact_check_complete(content_id: int, result: dict[str, Any]) -> dict[str, Any]:
    """Tell the author of fact-checked content the verdict (once per fact-check task)."""
    content_type = result.get("content_type", "post")
    if content_type != "post":
        return {"content_id": content_id, "notified": False}
    post = Post.objects.filter(pk=content_id).first()
    if post is None:
        return {"content_id": content_id, "notified": False}
    key = f"fact_check:{result.get('task_id') or result.get('checked_at')}"
    check = FactCheck.objects.filter(content_type="post", content_id=content_id).first()
    Notification.objects.bulk_create(
        [Notification(recipient_id=post.author_id, kind="fact_check", post_id=post.pk,
                      message=f"Fact check of your post: {result.get('verdict')} ({result.get('provider')})",
                      data={"verdict": result.get("verdict"), "fact_check": check.pk if check else None},
                      dedupe_key=key)],
        ignore_conflicts=True,
    )
    return {"content_id": content_id, "notified": True}
