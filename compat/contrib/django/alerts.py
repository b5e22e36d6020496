"""Alert mail through Django: ``mail_admins`` (the default alert mailer when ``ADMINS`` is set)."""

from django.core.mail import mail_admins as django_mail_admins


def mail_admins(subject: str, text: str) -> None:
    """Send an alert to ``settings.ADMINS`` with Django's configured e-mail backend."""
    django_mail_admins(subject, text, fail_silently=False)
