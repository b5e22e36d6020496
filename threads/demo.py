"""Demo data for ``make run``: users, follows, posts, likes, a comment, a fact check and an image.

Idempotent: rows are created only when missing, and a job is enqueued (after commit) only for what was
just created, so running it again changes nothing and enqueues nothing. With workers running (``make
run`` starts them right after), every flow of the app is exercised once: registration chain, post
fan-out and search index, like group, counter flush, AI fact check, image pipeline.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image as PILImage
from PIL import ImageDraw
from rest_framework.authtoken.models import Token

from compat.contrib.django import delay_on_commit
from threads.models import Comment, FactCheck, Follow, Image, Like, Post, Profile, UserStatistics
from threads.services import counter_outbox
from threads.services import images as imaging

DEMO_USERS = ("alice", "bob", "carol")
STAFF_USER = "alice"
DEMO_PASSWORD = "demo-password"
FOLLOWS = [("bob", "alice"), ("carol", "alice"), ("alice", "bob"), ("carol", "bob")]
POSTS = [
    ("alice", "Hello Threads! Background work here runs on Dramatiq through a Celery-compatible facade."),
    ("alice", "The Great Wall of China is visible from space with the naked eye."),
    ("bob", "Water boils at 100 degrees Celsius at sea level."),
    ("carol", "APScheduler replaced celery beat in this project; counters flush every few seconds."),
]
LIKES = [("bob", 0), ("carol", 0), ("carol", 2), ("alice", 2)]
COMMENTS = [("bob", 1, "Is that really true? Let's fact-check it.")]
FACT_CHECKED = 1  # index into POSTS


@dataclass
class Report:
    created: dict[str, int] = field(default_factory=dict)
    enqueued: list[str] = field(default_factory=list)

    def add(self, kind: str, n: int = 1) -> None:
        self.created[kind] = self.created.get(kind, 0) + n


def demo_image_bytes() -> bytes:
    image = PILImage.new("RGB", (640, 360), (32, 64, 128))
    ImageDraw.Draw(image).text((24, 24), "Threads demo image", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def load_demo_users(password: str = DEMO_PASSWORD, report: Report | None = None) -> list[str]:
    """Create the demo users that do not exist yet (profile, statistics, token); return the names created."""
    from threads.tasks import user_registered_event

    report = report or Report()
    user_model = get_user_model()
    created = []
    for name in DEMO_USERS:
        user, was_created = user_model.objects.get_or_create(
            # alice is staff so that the demo's operations dashboard (/ops/) can be opened.
            username=name, defaults={"email": f"{name}@example.com", "is_staff": name == STAFF_USER}
        )
        if was_created:
            user.set_password(password)
            user.save(update_fields=["password"])
            created.append(name)
        Profile.objects.get_or_create(user=user)
        UserStatistics.objects.get_or_create(user=user)
        Token.objects.get_or_create(user=user)
        if was_created:
            delay_on_commit(user_registered_event, user.pk)
            report.enqueued.append(f"user_registered_event({name})")
    report.add("users", len(created))
    return created


def load_demo_data() -> Report:
    """Create what is missing of the demo data and enqueue the jobs for what was created."""
    from threads.tasks import fact_check_content, post_created_event, post_liked_event, process_image_pipeline

    report = Report()
    with transaction.atomic():
        load_demo_users(report=report)
        users = {u.username: u for u in get_user_model().objects.filter(username__in=DEMO_USERS)}
        for follower, followee in FOLLOWS:
            _, made = Follow.objects.get_or_create(follower=users[follower], followee=users[followee])
            report.add("follows", int(made))
        posts = []
        for author, text in POSTS:
            post, made = Post.objects.get_or_create(author=users[author], content=text)
            posts.append(post)
            if made:
                report.add("posts")
                delay_on_commit(post_created_event, post.pk)
                report.enqueued.append(f"post_created_event({post.pk})")
        for liker, index in LIKES:
            post = posts[index]
            _, made = Like.objects.get_or_create(user=users[liker], post=post)
            if made:
                report.add("likes")
                counter_outbox.increment_on_commit(post.pk, "likes_count", 1)
                delay_on_commit(post_liked_event, post.pk, users[liker].pk)
                report.enqueued.append(f"post_liked_event({post.pk}, {liker})")
        for author, index, text in COMMENTS:
            _, made = Comment.objects.get_or_create(post=posts[index], author=users[author], content=text)
            if made:
                report.add("comments")
                counter_outbox.increment_on_commit(posts[index].pk, "comments_count", 1)
        checked = posts[FACT_CHECKED]
        if not FactCheck.objects.filter(content_type="post", content_id=checked.pk).exists():
            delay_on_commit(fact_check_content, checked.pk, "post", checked.content)
            report.enqueued.append(f"fact_check_content({checked.pk})")
        if not Image.objects.filter(owner=users["alice"], post=posts[0]).exists():
            image = Image(owner=users["alice"], post=posts[0])
            upload = ContentFile(demo_image_bytes())
            image.original.save(imaging.original_name(upload), upload, save=False)
            image.save()
            report.add("images")
            delay_on_commit(process_image_pipeline, image.pk)
            report.enqueued.append(f"process_image_pipeline({image.pk})")
    return report
