"""The search index in the database's own full-text engine (SQLite FTS5 or PostgreSQL tsvector)."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.threads.support import make_user
from threads.models import Comment, Post, SearchEntry
from threads.services.search import fts5_query, search_post_ids
from threads.tasks import update_search_index

pytestmark = pytest.mark.django_db


def test_both_call_shapes_index_a_post(eager):
    author = make_user("writer")
    post = Post.objects.create(author=author, content="Queues and workers in harmony")
    assert update_search_index.delay(post.pk, "post").get()["content_type"] == "post"
    assert update_search_index.delay({"previous": "result"}, post.pk).get() == {
        "content_id": post.pk,
        "content_type": "post",
        "indexed": True,
    }
    assert SearchEntry.objects.filter(content_id=post.pk).count() == 1  # upserted, not duplicated
    comment = Comment.objects.create(post=post, author=author, content="harmony indeed")
    update_search_index.delay(comment.pk, "comment")
    assert SearchEntry.objects.get(content_type="comment").text == "harmony indeed"
    assert search_post_ids("harmony") == [post.pk]  # comments are not posts
    assert search_post_ids("writer") == [post.pk]  # the author's name is indexed too


def test_ranking_stemming_and_updates(eager):
    author = make_user()
    one = Post.objects.create(author=author, content="worker")
    many = Post.objects.create(author=author, content="worker worker workers, all the workers")
    for post in (one, many):
        update_search_index.delay(post.pk, "post")
    assert set(search_post_ids("workers")) == {one.pk, many.pk}
    assert search_post_ids("workers")[0] == many.pk
    many.content = "nothing relevant"
    many.save()
    update_search_index.delay(many.pk, "post")
    assert search_post_ids("workers") == [one.pk]
    assert connection.vendor in ("sqlite", "postgresql")


def test_user_text_cannot_inject_fts_syntax(eager):
    assert fts5_query('foo" OR bar* NEAR(') == '"foo"* "or"* "bar"* "near"*'
    assert fts5_query("!!!") == ""
    assert search_post_ids('") OR (') == []


def test_unknown_content_type_is_an_error(eager):
    with pytest.raises(ValueError):
        update_search_index.delay(1, "video")
