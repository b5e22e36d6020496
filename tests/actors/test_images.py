"""The image pipeline with Pillow, eager: real PNG/JPEG files, non-images, limits, idempotence."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from tests.threads.support import image_bytes, make_user
from threads.models import Image, Notification
from threads.tasks import process_image_pipeline, validate_image

pytestmark = pytest.mark.django_db


def upload(data: bytes, name: str = "upload.bin") -> Image:
    image = Image(owner=make_user())
    image.original.save(name, ContentFile(data), save=False)
    image.save()
    return image


def test_a_jpeg_with_exif_is_compressed_thumbnailed_and_stripped(eager):
    image = upload(image_bytes("JPEG", size=(3000, 1000), exif=True), "photo.jpg")
    process_image_pipeline.delay(image.pk)
    image.refresh_from_db()
    assert image.status == "done" and image.reason == ""
    meta = image.metadata
    assert meta["original"] == {
        "format": "JPEG",
        "width": 3000,
        "height": 1000,
        "mode": "RGB",
        "bytes": default_storage.size(image.original.name),
        "had_exif": True,
    }
    assert (meta["width"], meta["height"], meta["format"]) == (2048, 683, "JPEG")  # longest side capped
    assert meta["exif_stripped"] is True and meta["thumbnail_sizes"] == [64, 256, 640]
    with default_storage.open(image.compressed.name) as handle, PILImage.open(handle) as stored:
        assert not stored.getexif()
    for size, name in image.thumbnails.items():
        with default_storage.open(name) as handle, PILImage.open(handle) as thumb:
            assert max(thumb.size) == int(size)
    assert Notification.objects.get(recipient=image.owner).kind == "image_done"


def test_a_png_with_transparency_stays_png(eager):
    out = io.BytesIO()
    PILImage.new("RGBA", (50, 40), (0, 0, 255, 128)).save(out, "PNG")
    image = upload(out.getvalue(), "alpha.png")
    process_image_pipeline.delay(image.pk)
    image.refresh_from_db()
    assert image.status == "done" and image.metadata["format"] == "PNG"
    assert image.compressed.name.endswith(".png")


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"I am a text file pretending to be an image", "not a recognised image"),
        (b"", "the file is empty"),
        (image_bytes("PNG")[:60], "damaged or truncated"),
        (image_bytes("BMP"), "unsupported image format BMP"),
    ],
)
def test_non_images_are_rejected_with_a_reason(eager, data, reason):
    image = upload(data, "fake.png")
    process_image_pipeline.delay(image.pk)
    image.refresh_from_db()
    assert image.status == "rejected" and reason in image.reason
    assert not image.compressed and image.thumbnails == {}
    note = Notification.objects.get(recipient=image.owner)
    assert note.kind == "image_rejected" and reason in note.message


def test_pixel_and_size_limits_guard_against_bombs(eager):
    eager.THREADS_IMAGE_MAX_PIXELS = 100 * 100
    image = upload(image_bytes("PNG", size=(101, 100)))
    assert validate_image.delay(image.pk).get()["valid"] is False
    image.refresh_from_db()
    assert "decompression-bomb guard" in image.reason
    eager.THREADS_IMAGE_MAX_PIXELS, eager.THREADS_IMAGE_MAX_BYTES = 10**8, 100
    image = upload(image_bytes("PNG"))
    validate_image.delay(image.pk)
    image.refresh_from_db()
    assert image.status == "rejected" and "the limit is 100 bytes" in image.reason


def test_running_the_pipeline_twice_changes_nothing_more(eager):
    image = upload(image_bytes("PNG"), "twice.png")
    process_image_pipeline.delay(image.pk)
    image.refresh_from_db()
    first = (image.compressed.name, dict(image.thumbnails))
    process_image_pipeline.delay(image.pk)
    image.refresh_from_db()
    assert (image.compressed.name, image.thumbnails) == first  # same files, overwritten in place
    assert Notification.objects.filter(recipient=image.owner).count() == 1
    files = default_storage.listdir("images/thumbs")[1]
    assert sorted(files) == sorted(name.rsplit("/", 1)[1] for name in image.thumbnails.values())
