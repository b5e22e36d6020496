"""Events, notifications, e-mail, recommendations and statistics, eager; idempotent under redelivery."""

from __future__ import annotations

import pytest
from django.core import mail

from tests.threads.support import make_user
from threads.models import Alert, Follow, InteractionLog, Notification, Post, Recommendation, SearchEntry
from threads.tasks import (
    create_default_follows,
    log_interaction,
    notify_followers,
    notify_post_author,
    post_created_event,
    post_liked_event,
    robust_task,
    send_welcome_email,
    update_user_statistics,
    user_registered_event,
)

pytestmark = pytest.mark.django_db


def test_registration_chain_and_the_welcome_email_is_sent_once(eager):
    make_user("alice")
    newcomer = make_user("newcomer")
    user_registered_event.delay(newcomer.pk)
    user_registered_event.delay(newcomer.pk)  # the whole event redelivered
    assert send_welcome_email.delay(newcomer.pk).get() == {"user_id": newcomer.pk, "sent": False}
    assert [m.to for m in mail.outbox] == [["newcomer@example.com"]]
    assert "Welcome" in mail.outbox[0].subject
    assert list(Follow.objects.filter(follower=newcomer).values_list("followee__username", flat=True)) == [
        "alice"
    ]
    assert newcomer.statistics.__class__.objects.get(user=newcomer).following_count == 1


def test_a_failed_send_releases_the_claim(eager, monkeypatch):
    user = make_user()
    monkeypatch.setattr(
        "actors.emails.send_mail", lambda *a, **k: (_ for _ in ()).throw(OSError("smtp down"))
    )
    with pytest.raises(OSError):
        send_welcome_email.delay(user.pk)
    monkeypatch.undo()
    assert send_welcome_email.delay(user.pk).get()["sent"] is True


def test_chained_steps_take_the_previous_result_first(eager):
    make_user("alice")
    user = make_user()
    assert create_default_follows.delay({"user_id": user.pk, "sent": True}, user.pk).get()["following"] == [
        "alice"
    ]
    assert create_default_follows.delay(user.pk).get()["following"] == ["alice"]  # alone: idempotent
    assert update_user_statistics.delay(None, user.pk).get()["following_count"] == 1


def test_post_created_fans_out_in_batches_without_duplicates(eager):
    eager.THREADS_FANOUT_BATCH = 2
    author = make_user()
    followers = [make_user() for _ in range(5)]
    for follower in followers:
        Follow.objects.create(follower=follower, followee=author)
    outsider = make_user()
    Follow.objects.create(follower=outsider, followee=followers[0])
    post = Post.objects.create(author=author, content="hello followers")
    post_created_event.delay(post.pk)
    post_created_event.delay(post.pk)  # redelivered
    assert Notification.objects.filter(kind="new_post", post=post).count() == 5
    assert SearchEntry.objects.filter(content_id=post.pk).count() == 1
    assert list(Recommendation.objects.filter(post=post).values_list("user", flat=True)) == [outsider.pk]
    assert author.statistics.__class__.objects.get(user=author).posts_count == 1


def test_notify_followers_alone_takes_a_user_id(eager):
    user, follower = make_user(), make_user()
    Follow.objects.create(follower=follower, followee=user)
    assert notify_followers.delay(user.pk).get() == {"user_id": user.pk, "post_id": None, "notified": 1}
    assert Notification.objects.get(recipient=follower).kind == "user_joined"


def test_post_liked_group(eager):
    author, liker = make_user(), make_user()
    post = Post.objects.create(author=author, content="likeable")
    post_liked_event.delay(post.pk, liker.pk)
    post_liked_event.delay(post.pk, liker.pk)
    assert Notification.objects.filter(recipient=author, kind="like").count() == 1
    assert (
        InteractionLog.objects.filter(kind="like", post=post, user=liker).count() == 2
    )  # two events, two ids
    assert notify_post_author.delay(post.pk, author.pk).get()["notified"] is False  # no self-notification


def test_log_interaction_is_once_per_task_id(eager):
    user = make_user()
    post = Post.objects.create(author=user, content="x")
    log_interaction.apply_async(("like", post.pk, user.pk), task_id="same-message")
    log_interaction.apply_async(("like", post.pk, user.pk), task_id="same-message")  # redelivery
    assert InteractionLog.objects.count() == 1


def test_robust_task_retries_then_alerts(eager):
    eager.CELERY_TASK_EAGER_PROPAGATES = False  # eager retries run inline (Celery's eager semantics)
    assert robust_task.delay([1, 2, 3]).get() == 6
    result = robust_task.delay("not numbers")
    assert result.status == "SUCCESS" and result.result is None  # gave up after 3 retries, alerted
    [alert] = Alert.objects.all()
    assert alert.message == f"Task {result.id} failed permanently"
