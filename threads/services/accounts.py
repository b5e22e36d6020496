"""Registering users (the guide's ``register_user``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from threads.models import Profile, UserStatistics


def create_user(user_data: dict[str, Any]):
    """Create the user, its profile, statistics row and API token in one transaction."""
    with transaction.atomic():
        user = get_user_model().objects.create_user(
            username=user_data["username"], email=user_data.get("email", ""), password=user_data["password"]
        )
        Profile.objects.create(user=user)
        UserStatistics.objects.create(user=user)
        Token.objects.create(user=user)
    return user


# called after registration (the guide, section 3.3, whose `user_registered_event.delay(user.id)` after
# `create_user` becomes `delay_on_commit` in one transaction: the user and its event commit together,
# whatever the broker's state, and the event is sent once the user is committed)
def register_user(user_data):
    from threads.tasks import user_registered_event

    with transaction.atomic():
        user = create_user(user_data)
        user_registered_event.delay_on_commit(user.id)
    return user
