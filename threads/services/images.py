"""Image work with Pillow: sniff and validate, re-encode without EXIF, thumbnails, metadata.

Limits (settings): ``THREADS_IMAGE_MAX_BYTES`` (file size, checked before decoding),
``THREADS_IMAGE_MAX_PIXELS`` (width x height from the header, checked before decoding, and Pillow's
decompression-bomb guard set to the same figure), ``THREADS_IMAGE_MAX_SIDE`` (compressed copy's longest
side), ``THREADS_THUMBNAIL_SIZES``. Files go through Django's storage API (``default_storage``).

File names are the server's, never the client's: an upload is stored as ``<random>.<ext>`` with the
extension of the format its header names (``.bin`` when it names none we accept), and the copies the
pipeline makes are named by ``file_token(image_id)``, a keyed hash: stable across redeliveries,
not guessable from the id. ``MEDIA_TYPES`` is what ``threads/media.py`` serves inline.
"""

from __future__ import annotations

import io
import uuid
import warnings
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.crypto import salted_hmac
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}


class InvalidImage(Exception):
    """The upload is not an image this service accepts; the message is the reason shown to users."""


@dataclass
class Sniffed:
    format: str
    width: int
    height: int
    mode: str
    has_exif: bool
    size_bytes: int


def sniff_format(handle: BinaryIO) -> str | None:
    """The accepted format (``ALLOWED_FORMATS``) a file's header names, read without decoding; else None.

    The handle is rewound before and after.
    """
    handle.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            with PILImage.open(handle) as image:
                fmt = image.format
    except Exception:  # any file at all may come in: whatever Pillow makes of it, the answer is "none"
        return None
    finally:
        handle.seek(0)
    return fmt if fmt in ALLOWED_FORMATS else None


def original_name(handle: BinaryIO) -> str:
    """A server-chosen name for an upload: random, with the extension of its sniffed format."""
    return f"{uuid.uuid4().hex}.{EXTENSIONS.get(sniff_format(handle) or '', 'bin')}"


def file_token(image_id: int) -> str:
    """The name stem of an image's derived files: the same on every run, unguessable without the key."""
    return salted_hmac("threads.images.file_token", str(image_id)).hexdigest()[:32]


def discard(name: str) -> None:
    """Delete a stored file if it is there."""
    if name and default_storage.exists(name):
        default_storage.delete(name)


def read(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def sniff(data: bytes) -> Sniffed:
    """Identify and fully verify ``data``; ``InvalidImage`` with a clear reason otherwise."""
    max_bytes = settings.THREADS_IMAGE_MAX_BYTES
    if not data:
        raise InvalidImage("the file is empty")
    if len(data) > max_bytes:
        raise InvalidImage(f"the file is {len(data)} bytes; the limit is {max_bytes} bytes")
    max_pixels = settings.THREADS_IMAGE_MAX_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error", PILImage.DecompressionBombWarning)
        try:
            with PILImage.open(io.BytesIO(data)) as image:  # reads the header only
                fmt, (width, height), mode = image.format, image.size, image.mode
                has_exif = bool(image.getexif())
                if fmt not in ALLOWED_FORMATS:
                    raise InvalidImage(
                        f"unsupported image format {fmt}; allowed: {', '.join(sorted(ALLOWED_FORMATS))}"
                    )
                if width * height > max_pixels:
                    raise InvalidImage(
                        f"the image is {width}x{height} = {width * height} pixels; the limit is {max_pixels} "
                        "(decompression-bomb guard)"
                    )
            with PILImage.open(io.BytesIO(data)) as image:
                image.verify()  # structure and checksums, without decoding pixels
            with PILImage.open(io.BytesIO(data)) as image:
                image.load()  # a truncated or corrupt pixel stream fails here
        except InvalidImage:
            raise
        except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
            raise InvalidImage(f"refused as a possible decompression bomb: {exc}") from exc
        except UnidentifiedImageError as exc:
            raise InvalidImage("the file is not a recognised image (no image signature found)") from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise InvalidImage(f"the image is damaged or truncated: {exc}") from exc
    return Sniffed(fmt, width, height, mode, has_exif, len(data))


def _open(data: bytes) -> PILImage.Image:
    image = PILImage.open(io.BytesIO(data))
    image = ImageOps.exif_transpose(image)  # keep the visible orientation once EXIF is gone
    return image


def _encode(image: PILImage.Image) -> tuple[bytes, str, str]:
    """Re-encode without metadata: JPEG for opaque images, PNG when there is transparency."""
    out = io.BytesIO()
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image.convert("RGBA").save(out, "PNG", optimize=True)
        return out.getvalue(), "PNG", "png"
    image.convert("RGB").save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue(), "JPEG", "jpg"


def save(name: str, data: bytes) -> str:
    """Write ``data`` at exactly ``name`` (replacing an earlier run's file); returns the stored name."""
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(data))


def compress(data: bytes, image_id: int) -> tuple[str, int, str]:
    """The compressed, EXIF-free copy (longest side capped); returns (stored name, bytes, format)."""
    with _open(data) as image:
        image.thumbnail((settings.THREADS_IMAGE_MAX_SIDE, settings.THREADS_IMAGE_MAX_SIDE))
        encoded, fmt, ext = _encode(image)
    return save(f"images/compressed/{file_token(image_id)}.{ext}", encoded), len(encoded), fmt


def thumbnails(data: bytes, image_id: int) -> dict[str, str]:
    """One thumbnail per configured size (square bounding box); {size: stored name}."""
    made = {}
    with _open(data) as image:
        for size in settings.THREADS_THUMBNAIL_SIZES:
            copy = image.copy()
            copy.thumbnail((size, size))
            encoded, _, ext = _encode(copy)
            made[str(size)] = save(f"images/thumbs/{file_token(image_id)}-{size}.{ext}", encoded)
    return made


def describe(data: bytes) -> dict:
    """Dimensions, format and mode of stored image bytes, and whether they carry EXIF."""
    with PILImage.open(io.BytesIO(data)) as image:
        return {
            "width": image.width,
            "height": image.height,
            "format": image.format,
            "mode": image.mode,
            "has_exif": bool(image.getexif()),
        }
