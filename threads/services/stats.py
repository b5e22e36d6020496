"""Per-user statistics, recomputed from rows (idempotent by construction)."""

from __future__ import annotations

from threads.models import Comment, Follow, Like, Post, UserStatistics


def recompute_user_statistics(user_id: int) -> dict[str, int]:
    """Count the user's posts, followers, followees and the likes/comments their posts received."""
    figures = {
        "posts_count": Post.objects.filter(author_id=user_id).count(),
        "followers_count": Follow.objects.filter(followee_id=user_id).count(),
        "following_count": Follow.objects.filter(follower_id=user_id).count(),
        "likes_received": Like.objects.filter(post__author_id=user_id).count(),
        "comments_received": Comment.objects.filter(post__author_id=user_id)
        .exclude(author_id=user_id)
        .count(),
    }
    UserStatistics.objects.update_or_create(user_id=user_id, defaults=figures)
    return {"user_id": user_id, **figures}
