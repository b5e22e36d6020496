"""The Threads domain: profiles, follows, posts, comments, likes, images, fact checks and what jobs record.

Rows written by background jobs carry what makes those jobs idempotent under redelivery: a unique
``dedupe_key`` (notifications, interaction log, alerts), a unique natural key (fact checks, search
entries, recommendations, statistics) or a claim column (``Profile.welcome_email_sent_at``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from threads.services.usernames import username_key

User = settings.AUTH_USER_MODEL


class Profile(models.Model):
    """One per user: a short bio, the once-only welcome e-mail claim, and the username's unique key."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="profile")
    bio = models.CharField(max_length=160, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    welcome_email_sent_at = models.DateTimeField(null=True, blank=True)
    # NFKC_Casefold of the username (threads/services/usernames.py): `ALICE` and fullwidth `ＡＬＩＣＥ`
    # cannot sit beside `alice`, also when registered at the same moment. Set on first save.
    username_key = models.CharField(max_length=150, unique=True, null=True, editable=False)

    def save(self, *args, **kwargs) -> None:
        if self.username_key is None:
            self.username_key = username_key(self.user.username)
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return f"profile of {self.user_id}"


class Follow(models.Model):
    """``follower`` follows ``followee``; once per pair, never oneself."""

    follower = models.ForeignKey(User, on_delete=models.CASCADE, related_name="following_set")
    followee = models.ForeignKey(User, on_delete=models.CASCADE, related_name="follower_set")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="follow_once"),
            models.CheckConstraint(condition=~Q(follower=F("followee")), name="follow_not_self"),
        ]
        indexes = [models.Index(fields=["followee", "follower"])]


class Post(models.Model):
    """A short post. The counter columns are written only by the counter flush (and recount)."""

    author = models.ForeignKey(User, on_delete=models.CASCADE, related_name="posts")
    content = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    likes_count = models.IntegerField(default=0)
    comments_count = models.IntegerField(default=0)
    # The newest counter claim applied to this row, written with the counts (see services/counters.py):
    # it tells a reader which claims still in Redis are already in the columns.
    counters_claim = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["author", "-created_at"])]

    def __str__(self) -> str:
        return f"post {self.pk} by {self.author_id}"


class AppliedCounterClaim(models.Model):
    """A counter claim (``<prefix>claim:<seq>`` in Redis) applied to the counter columns.

    Inserted in the transaction that applies the claim, so a claim is applied at most once even if the
    flush dies before deleting it from Redis (the next flush finds the row and only deletes the claim).
    """

    seq = models.BigIntegerField(unique=True)
    posts = models.IntegerField(default=0)
    applied_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"counter claim {self.seq}"


class Comment(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(User, on_delete=models.CASCADE, related_name="comments")
    content = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class Like(models.Model):
    """One like per user and post."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="likes")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="likes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "post"], name="like_once")]


class Image(models.Model):
    """An uploaded image and what the processing pipeline made of it."""

    PENDING, PROCESSING, DONE, REJECTED = "pending", "processing", "done", "rejected"
    STATUSES = [(s, s) for s in (PENDING, PROCESSING, DONE, REJECTED)]

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="images")
    post = models.ForeignKey(Post, on_delete=models.SET_NULL, null=True, blank=True, related_name="images")
    original = models.FileField(upload_to="images/original/", max_length=255)
    compressed = models.FileField(upload_to="images/compressed/", max_length=255, blank=True)
    thumbnails = models.JSONField(default=dict, blank=True)  # {"64": "images/thumbs/1-64.jpg", ...}
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=STATUSES, default=PENDING)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class FactCheck(models.Model):
    """The latest fact check of one piece of content (one row per content, updated by re-checks)."""

    content_type = models.CharField(max_length=16, default="post")
    content_id = models.BigIntegerField()
    verdict = models.CharField(max_length=32)
    confidence = models.FloatField()
    explanation = models.TextField()
    provider = models.CharField(max_length=64)
    checked_at = models.DateTimeField()
    task_id = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_type", "content_id"], name="fact_check_per_content")
        ]


class Notification(models.Model):
    """Something a user should see; ``dedupe_key`` makes fan-out and redelivery create it once."""

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32)
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    message = models.CharField(max_length=300)
    data = models.JSONField(default=dict, blank=True)
    read = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "-created_at"])]


class InteractionLog(models.Model):
    """An interaction (like, comment, ...) as the event stream saw it; keyed by the task id."""

    kind = models.CharField(max_length=32)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)


class Recommendation(models.Model):
    """A post suggested to a user, with why."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recommendations")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(default=0.0)
    reason = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-score", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "post"], name="recommend_once")]


class UserStatistics(models.Model):
    """Per-user figures, recomputed from rows (so recomputing twice is harmless)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="statistics")
    posts_count = models.IntegerField(default=0)
    followers_count = models.IntegerField(default=0)
    following_count = models.IntegerField(default=0)
    likes_received = models.IntegerField(default=0)
    comments_received = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)


class SearchEntry(models.Model):
    """The database search index: one row per indexed content (full-text part added per vendor)."""

    content_type = models.CharField(max_length=16)
    content_id = models.BigIntegerField()
    text = models.TextField()
    author = models.CharField(max_length=150)
    created_at = models.DateTimeField()
    indexed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_type", "content_id"], name="search_entry_per_content")
        ]


class Alert(models.Model):
    """An operator alert raised by ``send_alert`` (also logged and mailed to ADMINS)."""

    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
