"""The REST API in eager mode: status codes, validation, nothing written on rejected requests, effects."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.threads.support import client_for, image_bytes, make_user
from threads.models import Comment, FactCheck, Follow, Image, Like, Notification, Post, SearchEntry
from threads.services import counters

pytestmark = pytest.mark.django_db


def run_jobs(django_capture_on_commit_callbacks):
    """Context manager running on-commit callbacks (jobs enqueued after commit) at the block's end."""
    return django_capture_on_commit_callbacks(execute=True)


# --- accounts --------------------------------------------------------------------------------------------


def test_register_creates_user_token_and_runs_the_registration_chain(
    eager, django_capture_on_commit_callbacks
):
    make_user("alice")
    with run_jobs(django_capture_on_commit_callbacks):
        response = client_for().post(
            "/api/auth/register",
            {"username": "dora", "email": "dora@example.com", "password": "pl4ne-Tree-x"},
            format="json",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    user = get_user_model().objects.get(username="dora")
    assert body["id"] == user.pk and body["username"] == "dora" and body["token"] == user.auth_token.key
    # the chain: welcome e-mail, default follows (alice), recommendations, statistics
    assert [m.to for m in mail.outbox] == [["dora@example.com"]]
    assert Follow.objects.filter(follower=user, followee__username="alice").exists()
    assert user.statistics.following_count == 1
    token = client_for().post(
        "/api/auth/token", {"username": "dora", "password": "pl4ne-Tree-x"}, format="json"
    )
    assert token.status_code == 200 and token.json()["token"] == user.auth_token.key


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"email": "x@example.com", "password": "pl4ne-Tree-x"}, "username"),
        ({"username": "erin", "password": "pl4ne-Tree-x"}, "email"),
        ({"username": "erin", "email": "x@example.com"}, "password"),
        ({"username": "erin", "email": "not-an-email", "password": "pl4ne-Tree-x"}, "email"),
        ({"username": "erin", "email": "x@example.com", "password": "123"}, "password"),
        ({"username": "taken", "email": "x@example.com", "password": "pl4ne-Tree-x"}, "username"),
    ],
)
def test_register_rejects_bad_input_and_writes_nothing(eager, payload, field):
    make_user("taken")
    before = get_user_model().objects.count()
    response = client_for().post("/api/auth/register", payload, format="json")
    assert response.status_code == 400 and field in response.json()
    assert get_user_model().objects.count() == before and mail.outbox == []


def test_token_with_wrong_password_is_400(eager):
    make_user("fay")
    response = client_for().post("/api/auth/token", {"username": "fay", "password": "wrong"}, format="json")
    assert response.status_code == 400


# --- posts ------------------------------------------------------------------------------------------------


def test_create_post_runs_the_post_created_chain(eager, django_capture_on_commit_callbacks):
    author, fan, fan_of_fan = make_user(), make_user(), make_user()
    Follow.objects.create(follower=fan, followee=author)
    Follow.objects.create(follower=fan_of_fan, followee=fan)
    with run_jobs(django_capture_on_commit_callbacks):
        response = client_for(author).post("/api/posts", {"content": "Water boils at 100 C"}, format="json")
    assert response.status_code == 201, response.content
    post = Post.objects.get(pk=response.json()["id"])
    assert Notification.objects.filter(recipient=fan, kind="new_post", post=post).count() == 1
    assert SearchEntry.objects.filter(content_type="post", content_id=post.pk).exists()
    assert fan_of_fan.recommendations.filter(post=post).exists()
    assert author.statistics.__class__.objects.get(user=author).posts_count == 1
    detail = client_for().get(f"/api/posts/{post.pk}").json()
    assert detail["author"]["username"] == author.username and detail["likes_count"] == 0
    assert set(detail) >= {
        "id",
        "author",
        "content",
        "created_at",
        "likes_count",
        "comments_count",
        "fact_check",
        "images",
    }


@pytest.mark.parametrize("content", ["", "   ", "x" * 10_000, None])
def test_bad_posts_are_400_and_write_nothing(eager, content):
    author = make_user()
    payload = {} if content is None else {"content": content}
    response = client_for(author).post("/api/posts", payload, format="json")
    assert response.status_code == 400 and "content" in response.json()
    assert Post.objects.count() == 0


def test_anonymous_writes_are_401_and_unknown_ids_404(eager):
    assert client_for().post("/api/posts", {"content": "hi"}, format="json").status_code == 401
    assert client_for().post("/api/posts/1/like").status_code == 401
    assert client_for().get("/api/feed").status_code == 401
    user = make_user()
    assert client_for(user).get("/api/posts/999999").status_code == 404
    assert client_for(user).post("/api/posts/999999/like").json() == {"detail": "Not found."}
    assert client_for(user).post("/api/users/999999/follow").status_code == 404
    assert client_for(user).get("/api/images/999999").status_code == 404
    missing = client_for(user).get("/api/no-such-endpoint")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}
    assert Post.objects.count() == 0 and Follow.objects.count() == 0


def test_like_is_idempotent_counts_pending_deltas_and_unlike(eager, django_capture_on_commit_callbacks):
    author, liker = make_user(), make_user()
    post = Post.objects.create(author=author, content="like me")
    with run_jobs(django_capture_on_commit_callbacks):
        first = client_for(liker).post(f"/api/posts/{post.pk}/like")
    with run_jobs(django_capture_on_commit_callbacks):
        second = client_for(liker).post(f"/api/posts/{post.pk}/like")
    assert (first.status_code, second.status_code) == (201, 200)
    assert Like.objects.filter(post=post).count() == 1
    assert counters.pending([post.pk]) == {post.pk: {"likes_count": 1}}
    assert client_for().get(f"/api/posts/{post.pk}").json()["likes_count"] == 1  # column 0 + pending 1
    # the like's group: author notified once, interaction logged, stats refreshed
    assert Notification.objects.filter(recipient=author, kind="like").count() == 1
    assert author.statistics.__class__.objects.get(user=author).likes_received == 1
    with run_jobs(django_capture_on_commit_callbacks):
        unlike = client_for(liker).delete(f"/api/posts/{post.pk}/like")
    assert unlike.status_code == 200 and unlike.json()["changed"] is True
    assert client_for().get(f"/api/posts/{post.pk}").json()["likes_count"] == 0
    assert client_for(liker).delete(f"/api/posts/{post.pk}/like").json()["changed"] is False
    counters.flush()
    post.refresh_from_db()
    assert post.likes_count == 0 and counters.pending([post.pk]) == {post.pk: {}}


def test_comment_counts_and_validation(eager, django_capture_on_commit_callbacks):
    author, other = make_user(), make_user()
    post = Post.objects.create(author=author, content="comment me")
    with run_jobs(django_capture_on_commit_callbacks):
        response = client_for(other).post(
            f"/api/posts/{post.pk}/comments", {"content": "nice"}, format="json"
        )
    assert response.status_code == 201 and response.json()["author"] == other.username
    assert (
        client_for(other).post(f"/api/posts/{post.pk}/comments", {"content": ""}, format="json").status_code
        == 400
    )
    assert Comment.objects.count() == 1
    assert client_for().get(f"/api/posts/{post.pk}").json()["comments_count"] == 1
    assert [c["content"] for c in client_for().get(f"/api/posts/{post.pk}/comments").json()] == ["nice"]
    counters.flush()
    post.refresh_from_db()
    assert post.comments_count == 1


def test_follow_unfollow_feed_and_self_follow(eager):
    me, them, stranger = make_user(), make_user(), make_user()
    assert client_for(me).post(f"/api/users/{me.pk}/follow").status_code == 400
    assert client_for(me).post(f"/api/users/{them.pk}/follow").status_code == 201
    assert client_for(me).post(f"/api/users/{them.pk}/follow").status_code == 200
    Post.objects.create(author=them, content="from them")
    Post.objects.create(author=stranger, content="from a stranger")
    Post.objects.create(author=me, content="from me")
    feed = client_for(me).get("/api/feed").json()
    assert [p["content"] for p in feed] == ["from me", "from them"]
    assert client_for(me).delete(f"/api/users/{them.pk}/follow").json()["following"] is False
    assert [p["content"] for p in client_for(me).get("/api/feed").json()] == ["from me"]
    assert client_for(me).get("/api/feed?before=x").status_code == 400


def test_search_finds_indexed_posts_and_requires_q(eager, django_capture_on_commit_callbacks):
    author = make_user()
    with run_jobs(django_capture_on_commit_callbacks):
        client_for(author).post("/api/posts", {"content": "Dramatiq workers are quick"}, format="json")
        client_for(author).post(
            "/api/posts", {"content": "Celery beat replaced by APScheduler"}, format="json"
        )
    found = client_for().get("/api/search", {"q": "worker"}).json()
    assert [p["content"] for p in found["results"]] == ["Dramatiq workers are quick"]
    assert client_for().get("/api/search").status_code == 400
    assert client_for().get("/api/search", {"q": "nothing-like-this"}).json()["results"] == []


def test_fact_check_view_returns_202_and_stores_the_offline_verdict(
    eager, django_capture_on_commit_callbacks
):
    author = make_user()
    post = Post.objects.create(author=author, content="The earth is flat")
    with run_jobs(django_capture_on_commit_callbacks):  # sent through the outbox once the request commits
        response = client_for(author).post(f"/api/posts/{post.pk}/fact-check")
    assert response.status_code == 202
    assert response.json()["message"] == "Fact check has started" and response.json()["task_id"]
    check = FactCheck.objects.get(content_id=post.pk)
    assert check.verdict == "false" and check.provider == "offline-checker"
    detail = client_for().get(f"/api/posts/{post.pk}").json()
    assert detail["fact_check"]["verdict"] == "false"
    assert "offline checker" in detail["fact_check"]["explanation"]
    assert Notification.objects.filter(recipient=author, kind="fact_check").count() == 1
    assert client_for(author).post("/api/posts/999999/fact-check").status_code == 404


def test_image_upload_202_then_done_or_rejected(eager, django_capture_on_commit_callbacks):
    owner = make_user()
    with run_jobs(django_capture_on_commit_callbacks):
        png = client_for(owner).post(
            "/api/images", {"file": SimpleUploadedFile("a.png", image_bytes("PNG"))}, format="multipart"
        )
        fake = client_for(owner).post(
            "/api/images", {"file": SimpleUploadedFile("b.jpg", b"just text")}, format="multipart"
        )
    assert png.status_code == 202 and fake.status_code == 202 and png.json()["task_id"]
    done = client_for(owner).get(f"/api/images/{png.json()['id']}").json()
    assert (
        done["status"] == "done"
        and done["metadata"]["width"] == 120
        and set(done["thumbnails"]) == {"64", "256", "640"}
    )
    assert done["compressed"].startswith("http://testserver/media/images/compressed/")
    rejected = client_for(owner).get(f"/api/images/{fake.json()['id']}").json()
    assert rejected["status"] == "rejected" and "not a recognised image" in rejected["reason"]


def test_image_upload_without_file_is_400_and_writes_nothing(eager):
    owner, other = make_user(), make_user()
    assert client_for(owner).post("/api/images", {}, format="multipart").status_code == 400
    post = Post.objects.create(author=other, content="not yours")
    response = client_for(owner).post(
        "/api/images",
        {"file": SimpleUploadedFile("a.png", image_bytes()), "post": post.pk},
        format="multipart",
    )
    assert response.status_code == 403
    assert Image.objects.count() == 0


def test_task_status_of_unknown_id_is_pending(eager):
    user = make_user()
    body = client_for(user).get("/api/tasks/no-such-task").json()
    assert body["status"] == "PENDING" and body["result"] is None and body["traceback"] is None
    assert client_for().get("/api/tasks/no-such-task").status_code == 401


def test_notifications_list_is_the_users_own(eager):
    me, other = make_user(), make_user()
    Notification.objects.create(recipient=me, kind="x", message="for me")
    Notification.objects.create(recipient=other, kind="x", message="not for me")
    assert [n["message"] for n in client_for(me).get("/api/notifications").json()] == ["for me"]


def test_dead_letter_api_is_mounted_for_staff_only(eager):
    assert client_for().get("/ops/api/deadletters/").status_code == 401
    staff = make_user()
    staff.is_staff = True
    staff.save()
    session = client_for()
    session.force_login(staff)
    response = session.get("/ops/api/deadletters/")
    assert response.status_code == 200, response.content
