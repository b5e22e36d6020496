"""Reconciliation: recompute counters from the like and comment rows and fix (or report) drift."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from threads.services import redis_client

from .flushing import _LEASE_RENEW, _chunks, _flush, _lease_seconds, _wait_for_lease, release_lease
from .keys import FIELDS, _lease_key, _script
from .reads import read_redis


@dataclass(frozen=True)
class Drift:
    """A counter that did not match its rows: what users saw, and the row count it now shows."""

    post_id: int
    field: str
    shown: int
    actual: int


def recount(post_ids: Iterable[int] | None = None, chunk: int = 500, dry_run: bool = False) -> list[Drift]:
    """Recompute counters from rows (all posts, or ``post_ids``), fix drift, and return what was off.

    Holds the flush lease throughout (waiting for a running flush) and applies outstanding claims
    first, so only live deltas remain; each column becomes rows - live delta. A like or comment whose
    row has committed but whose ``HINCRBY`` has not yet run when its post is recounted is counted
    twice, so run it when writes to those posts are quiet, or run it again.
    """
    from threads.models import Comment, Like, Post

    client = redis_client.client()
    seconds = _lease_seconds(None)
    token = _wait_for_lease(client, seconds, wait=seconds + 5)
    try:
        _flush(client, 1000)
        ids = Post.objects.order_by("pk").values_list("pk", flat=True)
        if post_ids is not None:
            ids = ids.filter(pk__in=[int(i) for i in post_ids])
        found: list[Drift] = []
        for part in _chunks(list(ids), chunk):
            _script(client, _LEASE_RENEW)(keys=[_lease_key()], args=[token, int(seconds * 1000)])
            found += _recount_chunk(part, dry_run, Comment, Like, Post)
        return found
    finally:
        release_lease(client, token, seconds)


def _row_count(model, field: str = "post"):
    rows = model.objects.filter(**{field: OuterRef("pk")}).order_by().values(field).annotate(n=Count("pk"))
    return Coalesce(Subquery(rows.values("n"), output_field=IntegerField()), 0)


def _recount_chunk(ids: list[int], dry_run: bool, Comment, Like, Post) -> list[Drift]:  # noqa: N803
    state = read_redis(ids)  # Redis first (as readers do): a counted delta's row is already committed
    found = []
    with transaction.atomic():
        rows = Post.objects.filter(pk__in=ids).annotate(
            actual_likes_count=_row_count(Like), actual_comments_count=_row_count(Comment)
        )
        for post in rows.only("pk", *FIELDS, "counters_claim"):
            delta = state.unapplied(post.pk, post.counters_claim)
            fix = {}
            for field in FIELDS:
                shown, actual = getattr(post, field) + delta.get(field, 0), getattr(post, f"actual_{field}")
                if shown != actual:
                    found.append(Drift(post.pk, field, shown, actual))
                    fix[field] = actual - delta.get(field, 0)
            if fix and not dry_run:
                Post.objects.filter(pk=post.pk).update(**fix)
    return found
