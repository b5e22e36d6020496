"""The whole product on real processes: web server, rundramatiq worker and scheduler, real Redis and the
test database. Fact checks here use the offline checker (tests/e2e/test_openai.py covers the SDK)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import make_stack, wait_until
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
    Recommendation,
    SearchEntry,
    UserStatistics,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, redis_url, tmp_path_factory):
    stack = make_stack(redis_url, tmp_path_factory.mktemp("stack"), THREADS_DEFAULT_FOLLOWS="e2e_alice")
    try:
        yield stack.start()
    finally:
        stack.stop()


def register(stack, name: str) -> dict:
    status, body = stack.call(
        "POST",
        "/api/auth/register",
        {"username": name, "email": f"{name}@example.com", "password": "e2e-Pass-word-9"},
    )
    assert status == 201, body
    return body


def test_register_follow_post_like_comment_search_and_fact_check(stack, app_settings):
    app_settings(stack)
    alice, bob = register(stack, "e2e_alice"), register(stack, "e2e_bob")
    # registration chain on the worker: welcome e-mails (once each), bob follows alice by default
    wait_until(
        lambda: Profile.objects.filter(welcome_email_sent_at__isnull=False).count() == 2, message="emails"
    )
    wait_until(
        lambda: UserStatistics.objects.filter(user_id=bob["id"], following_count=1).exists(),
        message="bob's statistics",
    )
    assert Follow.objects.filter(follower_id=bob["id"], followee_id=alice["id"]).exists()
    assert len(list((stack.logs.parent / "mail").iterdir())) == 2
    # an explicit follow, and its validation
    assert stack.call("POST", f"/api/users/{bob['id']}/follow", token=alice["token"])[0] == 201
    assert stack.call("POST", f"/api/users/{alice['id']}/follow", token=alice["token"])[0] == 400

    status, post = stack.call(
        "POST", "/api/posts", {"content": "The earth is flat, said nobody sensible"}, token=alice["token"]
    )
    assert status == 201
    assert stack.call("POST", "/api/posts", {"content": "x" * 10_000}, token=alice["token"])[0] == 400
    assert stack.call("POST", "/api/posts", {"content": "anonymous"})[0] == 401
    # post_created_event's chain: stats, fan-out to bob, search index, recommendations
    wait_until(lambda: SearchEntry.objects.filter(content_id=post["id"]).exists(), message="search index")
    wait_until(
        lambda: Notification.objects.filter(recipient_id=bob["id"], kind="new_post").exists(),
        message="bob notified",
    )
    assert UserStatistics.objects.get(user_id=alice["id"]).posts_count == 1
    status, feed = stack.call("GET", "/api/feed", token=bob["token"])
    assert status == 200 and [p["id"] for p in feed] == [post["id"]]

    # like (idempotent) and comment: visible at once through the pending deltas
    assert stack.call("POST", f"/api/posts/{post['id']}/like", token=bob["token"])[0] == 201
    assert stack.call("POST", f"/api/posts/{post['id']}/like", token=bob["token"])[0] == 200
    assert (
        stack.call("POST", f"/api/posts/{post['id']}/comments", {"content": "Round!"}, token=bob["token"])[0]
        == 201
    )
    # (polled: a read that lands between the placeholder flush's claim and its commit misses the
    # claimed deltas for a moment; closing that window belongs to the counters issue)
    wait_until(
        lambda: (lambda d: (d["likes_count"], d["comments_count"]) == (1, 1))(
            stack.call("GET", f"/api/posts/{post['id']}")[1]
        ),
        timeout=10,
        message="counts with pending deltas",
    )
    assert Like.objects.count() == 1 and Comment.objects.count() == 1
    # post_liked_event's group: author notified, interaction logged; the scheduler flushes the counters
    wait_until(
        lambda: Notification.objects.filter(recipient_id=alice["id"], kind="like").exists(),
        message="like notification",
    )
    wait_until(lambda: InteractionLog.objects.filter(kind="like", post_id=post["id"]).exists(), message="log")
    wait_until(
        lambda: Post.objects.filter(pk=post["id"], likes_count=1, comments_count=1).exists(),
        message="counter flush by the scheduler",
    )

    status, found = stack.call("GET", "/api/search?q=flat")
    assert status == 200 and [p["id"] for p in found["results"]] == [post["id"]]

    status, started = stack.call("POST", f"/api/posts/{post['id']}/fact-check", token=bob["token"])
    assert status == 202 and started["message"] == "Fact check has started"
    task = wait_until(
        lambda: (lambda r: r if r[1]["status"] == "SUCCESS" else None)(
            stack.call("GET", f"/api/tasks/{started['task_id']}", token=bob["token"])
        ),
        message="fact check",
    )[1]
    assert task["result"]["verdict"] == "false" and task["traceback"] is None
    check = FactCheck.objects.get(content_id=post["id"])
    assert check.provider == "offline-checker" and check.task_id == started["task_id"]
    wait_until(
        lambda: Notification.objects.filter(recipient_id=alice["id"], kind="fact_check").exists(),
        message="fact check notification",
    )
    assert stack.call("GET", f"/api/posts/{post['id']}")[1]["fact_check"]["verdict"] == "false"
    status, notes = stack.call("GET", "/api/notifications", token=alice["token"])
    assert {n["kind"] for n in notes} >= {"like", "fact_check"}


def test_images_png_jpeg_and_a_text_file_pretending(stack):
    user = register(stack, "e2e_painter")
    uploads = {
        "png": stack.call(
            "POST",
            "/api/images",
            token=user["token"],
            files={"file": ("a.png", image_bytes("PNG", (300, 200)))},
        ),
        "jpeg": stack.call(
            "POST",
            "/api/images",
            token=user["token"],
            files={"file": ("b.jpg", image_bytes("JPEG", (640, 480), exif=True))},
        ),
        "text": stack.call(
            "POST", "/api/images", token=user["token"], files={"file": ("c.jpg", b"definitely not a JPEG\n")}
        ),
    }
    assert {kind: status for kind, (status, _) in uploads.items()} == {"png": 202, "jpeg": 202, "text": 202}
    assert stack.call("POST", "/api/images", {}, token=user["token"])[0] == 400
    ids = {kind: body["id"] for kind, (_, body) in uploads.items()}
    wait_until(
        lambda: Image.objects.filter(pk__in=ids.values(), status__in=["done", "rejected"]).count() == 3,
        message="image pipeline",
    )
    png, jpeg, text = (Image.objects.get(pk=ids[k]) for k in ("png", "jpeg", "text"))
    assert (png.status, png.metadata["format"], png.metadata["width"]) == ("done", "JPEG", 300)
    assert jpeg.status == "done" and jpeg.metadata["original"]["had_exif"] and jpeg.metadata["exif_stripped"]
    assert text.status == "rejected" and "not a recognised image" in text.reason
    status, body = stack.call("GET", f"/api/images/{ids['jpeg']}", token=user["token"])
    assert status == 200 and set(body["thumbnails"]) == {"64", "256", "640"} and body["compressed"]
    wait_until(
        lambda: Notification.objects.filter(recipient_id=user["id"], kind="image_rejected").exists(),
        message="rejection notice",
    )


def test_guide_call_sites_from_a_django_process(stack):
    """The guide's calls run as written in a separate Django process, on the stack's worker."""
    user, dave = register(stack, "e2e_carol"), register(stack, "e2e_dave")
    wait_until(
        lambda: Profile.objects.filter(welcome_email_sent_at__isnull=False).count() == 2,
        message="welcome e-mails",
    )
    assert stack.call("POST", f"/api/users/{user['id']}/follow", token=dave["token"])[0] == 201
    status, post = stack.call("POST", "/api/posts", {"content": "dave's first post"}, token=dave["token"])
    assert status == 201
    code = (
        "import json\n"
        "from threads.tasks import process_large_data, publish_user_registered_event, robust_task\n"
        "data = [1, 2, 3]\n"
        "task = process_large_data.delay(data)\n"
        "result = task.get(timeout=30)\n"
        f"publish_user_registered_event.delay({user['id']}).get(timeout=30)\n"
        "print(json.dumps(result))\n"
    )
    out = stack.manage("shell", "-c", code)
    assert json.loads(out.strip().splitlines()[-1]) == {
        "count": 3,
        "sum": 6.0,
        "mean": 2.0,
        "min": 1.0,
        "max": 3.0,
    }
    # the three subscribers, sent by short name: carol's follower dave hears she joined, carol gets
    # dave's post recommended, and send_welcome_email ran again without a second e-mail
    wait_until(
        lambda: Notification.objects.filter(recipient_id=dave["id"], kind="user_joined").exists(),
        message="notify_followers",
    )
    wait_until(
        lambda: Recommendation.objects.filter(user_id=user["id"], post_id=post["id"]).exists(),
        message="update_recommendations",
    )
    mails = [p.read_text() for p in (stack.logs.parent / "mail").iterdir()]
    assert sum("To: e2e_carol@example.com" in m for m in mails) == 1
