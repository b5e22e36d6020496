"""E-mail through Django's e-mail backends (console by default; SMTP or file by settings)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.utils import timezone

from compat import shared_task
from threads.models import Profile


@shared_task(name="threads.tasks.send_welcome_email")
def send_welcome_email(user_id: int) -> dict[str, Any]:
    """Send the welcome e-mail once, however often this runs.

    Call shapes: ``send_welcome_email(user_id)`` — alone (``send_task('send_welcome_email', args=[user_id])``)
    and as the FIRST step of ``user_registered_event``'s chain, so nothing is prepended. Returns
    ``{"user_id", "sent"}``, which the next step (``create_default_follows``) receives first.

    Once-only: the profile's ``welcome_email_sent_at`` is claimed with one conditional UPDATE before
    sending, and released again if the backend fails (so a retry can send it).
    """
    user = get_user_model().objects.get(pk=user_id)
    Profile.objects.get_or_create(user=user)
    claimed = Profile.objects.filter(user=user, welcome_email_sent_at__isnull=True).update(
        welcome_email_sent_at=timezone.now()
    )
    if not claimed or not user.email:
        return {"user_id": user_id, "sent": False}
    try:
        send_mail(
            "Welcome to Threads",
            f"Hi {user.username},\n\nwelcome to Threads! Say something in 500 characters or less.\n",
            settings.DEFAULT_FROM_EMAIL,
            [user.email],
        )
    except Exception:
        Profile.objects.filter(user=user).update(welcome_email_sent_at=None)
        raise
    return {"user_id": user_id, "sent": True}
