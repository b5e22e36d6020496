"""load_demo_data: every flow once, idempotent (a second run creates and enqueues nothing)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.management import call_command

from threads.demo import load_demo_data
from threads.models import Comment, FactCheck, Follow, Image, Like, Notification, Post, SearchEntry
from threads.services import counters

pytestmark = pytest.mark.django_db


def test_demo_data_runs_every_flow_once(eager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = load_demo_data()
    assert first.created == {"users": 3, "follows": 4, "posts": 4, "likes": 4, "comments": 1, "images": 1}
    assert len(mail.outbox) == 3  # registration chain: welcome e-mails
    assert SearchEntry.objects.count() == 4  # post_created_event chains
    assert Notification.objects.filter(kind="like").count() == 4
    assert FactCheck.objects.get().verdict == "misleading"
    assert Image.objects.get().status == "done"
    counters.flush()
    assert sorted(Post.objects.values_list("likes_count", flat=True)) == [0, 0, 2, 2]
    assert sum(Post.objects.values_list("comments_count", flat=True)) == 1

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = load_demo_data()
    assert not any(second.created.values()) and second.enqueued == [] and callbacks == []
    assert (Follow.objects.count(), Like.objects.count(), Comment.objects.count(), Image.objects.count()) == (
        4,
        4,
        1,
        1,
    )


def test_the_command_prints_what_it_did(domain, capsys):
    call_command("load_demo_data")
    assert "created 3 users" in capsys.readouterr().out
    call_command("load_demo_data")
    assert "created nothing new" in capsys.readouterr().out
