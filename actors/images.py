"""The image pipeline (Pillow, on ``image_queue``): validate, compress, thumbnails, metadata, notify.

Each step after ``validate_image`` is chained, so it receives the previous step's result first:
``step(previous_result, image_id)``. Steps alone take ``step(image_id)``. A rejected image is a
domain outcome, not a task failure: ``validate_image`` stores the reason and returns
``{"valid": False}``; the later steps see the status and pass the result on untouched, so the owner
is still notified, and the rejected file is deleted. Every step writes deterministic file names, so a
redelivered step overwrites its own output instead of adding files.
"""

from __future__ import annotations

from typing import Any

from compat import chain, shared_task
from threads.models import Image, Notification
from threads.services import images as imaging


def _image_id(first: Any, image_id: int | None) -> int:
    return first if image_id is None else image_id


def _skip(image: Image) -> bool:
    return image.status == Image.REJECTED


@shared_task(name="threads.tasks.process_image_pipeline")
def process_image_pipeline(image_id):
    """Image processing pipeline"""
    chain(
        validate_image.s(image_id),
        compress_image.s(image_id),
        generate_thumbnails.s(image_id),
        update_image_metadata.s(image_id),
        notify_processing_complete.s(image_id)
    ).apply_async()


@shared_task(name="threads.tasks.validate_image")
def validate_image(image_id: int) -> dict[str, Any]:
    """Sniff the upload's real format and check size/pixel limits; reject non-images with a reason.

    First step of the pipeline (nothing prepended). Returns ``{"image_id", "valid", ...}``.
    """
    image = Image.objects.get(pk=image_id)
    if not image.original:  # rejected before (a redelivery): its file is gone
        return {"image_id": image_id, "valid": False, "reason": image.reason}
    try:
        sniffed = imaging.sniff(imaging.read(image.original.name))
    except imaging.InvalidImage as exc:
        # A rejected file is never served: the row keeps the reason, the file goes.
        Image.objects.filter(pk=image_id).update(status=Image.REJECTED, reason=str(exc), original="")
        imaging.discard(image.original.name)
        return {"image_id": image_id, "valid": False, "reason": str(exc)}
    metadata = {**image.metadata, "original": {"format": sniffed.format, "width": sniffed.width,
                                               "height": sniffed.height, "mode": sniffed.mode,
                                               "bytes": sniffed.size_bytes, "had_exif": sniffed.has_exif}}
    Image.objects.filter(pk=image_id).update(status=Image.PROCESSING, reason="", metadata=metadata)
    return {"image_id": image_id, "valid": True, "format": sniffed.format}


@shared_task(name="threads.tasks.compress_image")
def compress_image(first: Any, image_id: int | None = None) -> dict[str, Any]:
    """Re-encode without EXIF, longest side capped.

    Shapes: ``(image_id)``, ``(previous_result, image_id)``.
    """
    image = Image.objects.get(pk=_image_id(first, image_id))
    if _skip(image):
        return {"image_id": image.pk, "valid": False}
    name, size, fmt = imaging.compress(imaging.read(image.original.name), image.pk)
    image.compressed.name = name
    image.save(update_fields=["compressed", "updated_at"])
    return {"image_id": image.pk, "valid": True, "compressed": name, "bytes": size, "format": fmt}


@shared_task(name="threads.tasks.generate_thumbnails")
def generate_thumbnails(first: Any, image_id: int | None = None) -> dict[str, Any]:
    """One thumbnail per ``THREADS_THUMBNAIL_SIZES``.

    Shapes: ``(image_id)``, ``(previous_result, image_id)``.
    """
    image = Image.objects.get(pk=_image_id(first, image_id))
    if _skip(image):
        return {"image_id": image.pk, "valid": False}
    source = image.compressed.name or image.original.name
    made = imaging.thumbnails(imaging.read(source), image.pk)
    Image.objects.filter(pk=image.pk).update(thumbnails=made)
    return {"image_id": image.pk, "valid": True, "thumbnails": made}


@shared_task(name="threads.tasks.update_image_metadata")
def update_image_metadata(first: Any, image_id: int | None = None) -> dict[str, Any]:
    """Record dimensions, format, sizes and that EXIF was stripped; mark the image done.

    Shapes: ``(image_id)``, ``(previous_result, image_id)``.
    """
    image = Image.objects.get(pk=_image_id(first, image_id))
    if _skip(image):
        return {"image_id": image.pk, "valid": False}
    stored = imaging.read(image.compressed.name)
    described = imaging.describe(stored)
    metadata = {
        **image.metadata,
        "width": described["width"],
        "height": described["height"],
        "format": described["format"],
        "mode": described["mode"],
        "compressed_bytes": len(stored),
        "exif_stripped": not described["has_exif"],
        "thumbnail_sizes": sorted(int(size) for size in image.thumbnails),
    }
    Image.objects.filter(pk=image.pk).update(metadata=metadata, status=Image.DONE)
    return {"image_id": image.pk, "valid": True, "metadata": metadata}


@shared_task(name="threads.tasks.notify_processing_complete")
def notify_processing_complete(first: Any, image_id: int | None = None) -> dict[str, Any]:
    """Tell the owner how processing ended (done or rejected, with the reason), once per image.

    Shapes: ``(image_id)``, ``(previous_result, image_id)``.
    """
    image = Image.objects.get(pk=_image_id(first, image_id))
    if image.status == Image.REJECTED:
        message = f"Your image was rejected: {image.reason}"
    else:
        message = "Your image is ready"
    Notification.objects.bulk_create(
        [Notification(recipient_id=image.owner_id, kind=f"image_{image.status}", post_id=image.post_id,
                      message=message[:300], data={"image": image.pk}, dedupe_key=f"image:{image.pk}")],
        ignore_conflicts=True,
    )
    return {"image_id": image.pk, "status": image.status}
