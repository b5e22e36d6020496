"""Likes, unlikes and comments: the row change and its counter delta commit together (the delta is an
outbox entry; see ``counter_outbox``), then one counter ``HINCRBY`` once they have committed.

No lock is taken on the post row: the like or comment row's foreign key takes PostgreSQL's ``FOR KEY
SHARE``, which does not wait for the counter flush's ``UPDATE`` of the counter columns.
"""

from __future__ import annotations

from django.db import transaction

from threads.models import Comment, Like, Post
from threads.services import counter_outbox


def like(user, post: Post) -> bool:
    """Like ``post`` as ``user``; True if this made a new like (then +1 after commit)."""
    with transaction.atomic():
        _, created = Like.objects.get_or_create(user=user, post=post)
        if created:
            counter_outbox.increment_on_commit(post.pk, "likes_count", 1)
    return created


def unlike(user, post: Post) -> bool:
    """Remove ``user``'s like of ``post``; True if there was one (then -1 after commit)."""
    with transaction.atomic():
        removed = Like.objects.filter(user=user, post=post).delete()[0] > 0
        if removed:
            counter_outbox.increment_on_commit(post.pk, "likes_count", -1)
    return removed


def comment(user, post: Post, content: str) -> Comment:
    """Add a comment (then +1 after commit)."""
    with transaction.atomic():
        row = Comment.objects.create(post=post, author=user, content=content)
        counter_outbox.increment_on_commit(post.pk, "comments_count", 1)
    return row
