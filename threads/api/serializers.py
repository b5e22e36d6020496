"""Input validation and output shapes of the API."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from threads.models import Comment, FactCheck, Image, Notification, Post, Profile
from threads.services import usernames

USERNAME = re.compile(r"\A[\w.@+-]{3,150}\Z")


class StrictStringMixin:
    """Only a JSON string is a string: DRF's string fields otherwise turn ``123`` into ``"123"``."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(StrictStringMixin, serializers.CharField):
    pass


class StrictRegexField(StrictStringMixin, serializers.RegexField):
    pass


class StrictEmailField(StrictStringMixin, serializers.EmailField):
    pass


class RegisterSerializer(serializers.Serializer):
    username = StrictRegexField(USERNAME, max_length=150)
    email = StrictEmailField()
    password = StrictCharField(write_only=True, max_length=128)

    def validate_username(self, value: str) -> str:
        """Stored as NFKC, unique by NFKC_Casefold, refused when it could pass for another name."""
        value = usernames.display_form(value)
        if not USERNAME.match(value):  # NFKC may lengthen a name or turn a letter into a space
            raise serializers.ValidationError("Enter a valid username (3-150 letters, digits and .@+-_).")
        reason = usernames.confusable_reason(value)
        if reason:
            raise serializers.ValidationError(f"This username could be mistaken for another. {reason}")
        taken = Profile.objects.filter(username_key=usernames.username_key(value)).exists()
        if taken or get_user_model().objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("This username is taken.")
        return value

    def validate(self, attrs):
        user = get_user_model()(username=attrs["username"], email=attrs["email"])
        try:
            validate_password(attrs["password"], user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


class TokenRequestSerializer(serializers.Serializer):
    username = StrictCharField(max_length=300)
    password = StrictCharField(write_only=True, max_length=1024)

    def validate_username(self, value: str) -> str:
        """The account's own spelling for any spelling with the same key (``ALICE`` logs in as ``alice``)."""
        key = usernames.username_key(value)
        stored = Profile.objects.filter(username_key=key).values_list("user__username", flat=True).first()
        return stored or usernames.display_form(value)


class ContentSerializer(serializers.Serializer):
    """A post's or comment's text: not blank, at most ``THREADS_POST_MAX_LENGTH`` characters."""

    content = StrictCharField(trim_whitespace=True)

    def validate_content(self, value: str) -> str:
        limit = settings.THREADS_POST_MAX_LENGTH
        if len(value) > limit:
            raise serializers.ValidationError(f"Ensure this field has no more than {limit} characters.")
        return value


class ImageUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)
    post = serializers.IntegerField(required=False)


def fact_check_data(check: FactCheck | None) -> dict | None:
    if check is None:
        return None
    return {
        "verdict": check.verdict,
        "confidence": check.confidence,
        "explanation": check.explanation,
        "provider": check.provider,
        "checked_at": check.checked_at,
    }


def owner_or_staff(request, image: Image) -> bool:
    """Whether the request is the image's owner's or staff's: they see it unattached, and its original
    upload (EXIF and all); others see attached images' processed copies only."""
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and (user.pk == image.owner_id or user.is_staff))


def image_data(image: Image, request) -> dict:
    def url(name: str) -> str | None:
        if not name:
            return None
        from django.core.files.storage import default_storage

        return request.build_absolute_uri(default_storage.url(name)) if request else default_storage.url(name)

    return {
        "id": image.pk,
        "status": image.status,
        "reason": image.reason,
        "post": image.post_id,
        "original": url(image.original.name) if owner_or_staff(request, image) else None,
        "compressed": url(image.compressed.name),
        "thumbnails": {size: url(name) for size, name in (image.thumbnails or {}).items()},
        "metadata": image.metadata,
    }


def post_data(
    post: Post,
    counts: dict[str, int],
    request=None,
    fact_check: FactCheck | None = None,
    images: list[Image] | None = None,
) -> dict:
    return {
        "id": post.pk,
        "author": {"id": post.author_id, "username": post.author.username},
        "content": post.content,
        "created_at": post.created_at,
        "likes_count": counts["likes_count"],
        "comments_count": counts["comments_count"],
        "fact_check": fact_check_data(fact_check),
        "images": [image_data(image, request) for image in (images or [])],
    }


class CommentOutSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username")

    class Meta:
        model = Comment
        fields = ["id", "post", "author", "content", "created_at"]


class NotificationSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None)

    class Meta:
        model = Notification
        fields = ["id", "kind", "message", "actor", "post", "data", "read", "created_at"]
