"""Likes, unlikes and comments: the row change and its counter delta commit together (the delta is an
outbox entry; see ``counter_outbox``), then one counter ``HINCRBY`` once they have committed.

No lock is taken on the post row: the like or comment row's foreign key takes PostgreSQL's ``FOR KEY
SHARE``, which does not wait for the counter flush's ``UPDATE`` of the counter columns.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from threads.models import Comment, Like, Post
from threads.services import counter_outbox

#: Attempts of a like whose row a concurrent like and unlike of the same user and post keep changing.
LIKE_ATTEMPTS = 3


def like(user, post: Post) -> bool:
    """Like ``post`` as ``user``; True if this made a new like (then +1 after commit).

    ``get_or_create`` gives up with ``IntegrityError`` when another like commits between its look and
    its insert and an unlike removes that row before it looks again; the like is then simply retried.
    """
    for _ in range(LIKE_ATTEMPTS - 1):
        try:
            return _like_once(user, post)
        except IntegrityError:
            continue
    return _like_once(user, post)


def _like_once(user, post: Post) -> bool:
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
