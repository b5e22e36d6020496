"""The guide's events: registration, new post and like, fanned out with ``chain``/``group``/``send_task``.

The bodies are the guide's code, verbatim apart from the import line. Chains prepend each result to the
next step's arguments (Celery's semantics); each step's docstring says which call shapes it accepts.
"""

from __future__ import annotations

from typing import Any

from actors.emails import send_welcome_email
from actors.notifications import notify_followers, notify_post_author
from actors.recommendations import (
    create_default_follows,
    generate_initial_recommendations,
    generate_recommendations,
    update_user_recommendations,
)
from actors.search import update_search_index
from actors.stats import log_interaction, update_post_stats, update_user_statistics, update_user_stats
from compat import chain, current_app, group, shared_task

send_task = current_app.send_task  # the app's send_task, as the guide calls it: by (short) name


@shared_task(name="threads.tasks.process_large_data")
def process_large_data(data: list[float]) -> dict[str, Any]:
    """The guide's 1.2 example: a slow aggregate over a list of numbers."""
    # slow operation
    values = [float(value) for value in data]
    processed_data = {"count": len(values), "sum": sum(values),
                      "mean": sum(values) / len(values) if values else None,
                      "min": min(values, default=None), "max": max(values, default=None)}
    return processed_data


# event publisher (producer)
@shared_task(name="threads.tasks.publish_user_registered_event")
def publish_user_registered_event(user_id):
    # publish the user-registered event
    send_task('notify_followers', args=[user_id])
    send_task('send_welcome_email', args=[user_id])
    send_task('update_recommendations', args=[user_id])


@shared_task(name="threads.tasks.user_registered_event")
def user_registered_event(user_id):
    """Chain of events fired after a user registers"""
    chain(
        send_welcome_email.s(user_id),
        create_default_follows.s(user_id),
        generate_initial_recommendations.s(user_id),
        update_user_statistics.s(user_id)
    ).apply_async()


# one event triggers several subscribers
@shared_task(name="threads.tasks.post_created_event")
def post_created_event(post_id):
    # publish the post-created event
    chain(
        update_user_stats.s(post_id),
        notify_followers.s(post_id),
        update_search_index.s(post_id),
        generate_recommendations.s(post_id)
    ).apply_async()


@shared_task(name="threads.tasks.post_liked_event")
def post_liked_event(post_id, user_id):
    """Handle a post being liked"""
    group(
        update_post_stats.s(post_id),
        notify_post_author.s(post_id, user_id),
        update_user_recommendations.s(user_id),
        log_interaction.s("like", post_id, user_id)
    ).apply_async()
