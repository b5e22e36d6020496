"""Recommendations, simple and honest: posts by the people your follows follow, and popular recent posts."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from threads.models import Follow, Like, Post, Recommendation

RECENT = timedelta(days=7)


def _store(user_id: int, scored: dict[int, tuple[float, str]]) -> int:
    rows = [
        Recommendation(user_id=user_id, post_id=post_id, score=score, reason=reason)
        for post_id, (score, reason) in scored.items()
    ]
    before = Recommendation.objects.filter(user_id=user_id).count()
    Recommendation.objects.bulk_create(rows, ignore_conflicts=True)
    return Recommendation.objects.filter(user_id=user_id).count() - before


def recommend_for_user(user_id: int, limit: int = 20) -> int:
    """Store up to ``limit`` suggestions for ``user_id``; returns how many are new."""
    following = set(Follow.objects.filter(follower_id=user_id).values_list("followee_id", flat=True))
    liked = set(Like.objects.filter(user_id=user_id).values_list("post_id", flat=True))
    seen_authors = following | {user_id}
    scored: dict[int, tuple[float, str]] = {}
    fof = (
        Follow.objects.filter(follower_id__in=following)
        .exclude(followee_id__in=seen_authors)
        .values_list("followee_id", flat=True)
        .distinct()
    )
    for post_id in (
        Post.objects.filter(author_id__in=list(fof))
        .exclude(pk__in=liked)
        .order_by("-created_at")
        .values_list("pk", flat=True)[:limit]
    ):
        scored[post_id] = (2.0, "followed_by_your_follows")
    popular = (
        Post.objects.filter(created_at__gte=timezone.now() - RECENT)
        .exclude(author_id__in=seen_authors)
        .exclude(pk__in=liked)
        .annotate(n=Count("likes"))
        .order_by("-n", "-created_at")[:limit]
    )
    for post in popular:
        scored.setdefault(post.pk, (1.0 + post.n / 100.0, "popular_recently"))
    return _store(user_id, dict(list(scored.items())[:limit]))


def recommend_post(post_id: int) -> int:
    """Suggest a new post to the followers of its author's followers who do not follow the author."""
    post = Post.objects.get(pk=post_id)
    followers = Follow.objects.filter(followee_id=post.author_id).values_list("follower_id", flat=True)
    already = set(followers) | {post.author_id}
    targets = set(
        Follow.objects.filter(followee_id__in=list(followers)).values_list("follower_id", flat=True)
    )
    rows = [
        Recommendation(user_id=user_id, post_id=post_id, score=2.0, reason="followed_by_your_follows")
        for user_id in targets - already
    ]
    Recommendation.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
