"""Every write during a Redis outage commits with its events, and they all run, once, when Redis is back.

Real processes (web server, rundramatiq worker with its outbox relay thread, scheduler flushing the
counters), a real Redis that is stopped and started again, the test database.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from compat.contrib.django.models import OutboxEntry
from tests.e2e.conftest import make_stack, wait_until
from tests.e2e.test_flows import register
from tests.threads.support import image_bytes
from threads.models import (
    Comment,
    FactCheck,
    Follow,
    Image,
    InteractionLog,
    Like,
    Notification,
    Post,
    Profile,
    SearchEntry,
)
from threads.redis_server import PrivateRedis
from threads.services import counter_outbox

pytestmark = pytest.mark.django_db(transaction=True)


def waiting() -> int:
    return OutboxEntry.objects.filter(due_at__isnull=False).count()


def test_writes_during_a_redis_outage_commit_with_their_events(tmp_path, app_settings):
    server = PrivateRedis(tmp_path / "redis", durable=True).start()
    stack = make_stack(server.url, tmp_path, THREADS_DEFAULT_FOLLOWS="ob_alice")
    try:
        stack.start()
        app_settings(stack)
        alice = register(stack, "ob_alice")
        status, post = stack.call("POST", "/api/posts", {"content": "Moon: cheese"}, token=alice["token"])
        assert status == 201
        wait_until(lambda: Profile.objects.filter(welcome_email_sent_at__isnull=False).count() == 1,
                   message="alice's welcome e-mail")
        wait_until(lambda: SearchEntry.objects.filter(content_id=post["id"]).exists(), message="indexed")

        server.stop()  # --- the outage: every write answers 2xx and commits with its events
        assert stack.call("GET", "/healthz")[0] == 503
        bob = register(stack, "ob_bob")
        assert stack.call("POST", f"/api/users/{bob['id']}/follow", token=alice["token"])[0] == 201
        status, bobs = stack.call("POST", "/api/posts", {"content": "Bob was here"}, token=bob["token"])
        assert status == 201 and bobs["likes_count"] == 0
        status, liked = stack.call("POST", f"/api/posts/{post['id']}/like", token=bob["token"])
        assert status == 201 and liked["likes_count"] == 1  # the column + the delta waiting in the outbox
        path = f"/api/posts/{post['id']}/comments"
        assert stack.call("POST", path, {"content": "No"}, token=bob["token"])[0] == 201
        status, check = stack.call("POST", f"/api/posts/{post['id']}/fact-check", token=bob["token"])
        assert status == 202 and check["task_id"]
        status, image = stack.call(
            "POST", "/api/images", token=bob["token"], files={"file": ("a.png", image_bytes("PNG"))}
        )
        assert status == 202
        status, shown = stack.call("GET", f"/api/posts/{post['id']}")  # reads work from the database
        assert status == 200 and (shown["likes_count"], shown["comments_count"]) == (1, 1)
        # committed, and nothing has run: 5 events and 2 counter deltas wait in the outbox
        assert Like.objects.count() == 1 and Comment.objects.count() == 1
        assert Follow.objects.filter(follower_id=alice["id"], followee_id=bob["id"]).exists()
        assert waiting() == 7 and OutboxEntry.objects.filter(kind=counter_outbox.KIND).count() == 2
        assert not Profile.objects.filter(user_id=bob["id"], welcome_email_sent_at__isnull=False).exists()

        server.start()  # --- Redis is back: the worker's relay sends everything
        wait_until(lambda: waiting() == 0, timeout=30, message="the outbox to drain")
        wait_until(lambda: Profile.objects.filter(welcome_email_sent_at__isnull=False).count() == 2,
                   message="bob's welcome e-mail")
        wait_until(lambda: Follow.objects.filter(follower_id=bob["id"], followee_id=alice["id"]).exists(),
                   message="bob's default follow")
        wait_until(lambda: Notification.objects.filter(recipient_id=alice["id"], kind="new_post").exists(),
                   message="fan-out of bob's post")
        wait_until(lambda: SearchEntry.objects.filter(content_id=bobs["id"]).exists(), message="bob's index")
        likes_logged = InteractionLog.objects.filter(kind="like", post_id=post["id"])
        wait_until(likes_logged.exists, message="the like logged")
        wait_until(lambda: FactCheck.objects.filter(task_id=check["task_id"]).exists(), message="fact check")
        wait_until(lambda: Image.objects.filter(pk=image["id"], status="done").exists(), message="image")
        wait_until(lambda: Post.objects.filter(pk=post["id"], likes_count=1, comments_count=1).exists(),
                   message="exact counters flushed")
        # each event ran once
        assert len(list((tmp_path / "mail").iterdir())) == 2
        assert Notification.objects.filter(recipient_id=alice["id"], kind="like").count() == 1
        assert Notification.objects.filter(recipient_id=alice["id"], kind="new_post").count() == 1
        assert likes_logged.count() == 1
        assert stack.call("GET", f"/api/posts/{post['id']}")[1]["likes_count"] == 1

        # a relay that died after sending, before recording it, sends an entry again: it runs once
        entry = OutboxEntry.objects.get(payload__task="threads.tasks.post_liked_event")
        assert entry.run_token  # claimed by the worker that ran it
        OutboxEntry.objects.filter(pk=entry.pk).update(due_at=timezone.now(), sent_at=None)
        wait_until(lambda: waiting() == 0, timeout=30, message="the second send")
        log = stack.logs / "worker.log"
        wait_until(lambda: f"skipped a second copy of task {entry.payload['task_id']}" in log.read_text(),
                   message="the duplicate skipped")
        assert likes_logged.count() == 1
        assert Notification.objects.filter(recipient_id=alice["id"], kind="like").count() == 1
        assert stack.call("GET", "/healthz")[0] == 200
    finally:
        stack.stop()
        server.stop()
