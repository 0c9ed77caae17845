"""Screenshot uploads: hostile input, checked by content, re-encoded, stored privately.

What a screenshot has to get through before anyone sees it:

1. At most :data:`MAX_BYTES` (Flask's ``MAX_CONTENT_LENGTH`` stops far larger bodies
   before they are parsed); an empty file is refused.
2. Pillow identifies it with only the PNG, JPEG and WebP decoders enabled
   (``Image.open(fp, formats=...)``): the file name and the browser's Content-Type are
   ignored, so HTML, SVG, PDF, GIF, PHP... are refused whatever they are called.
3. The pixel count is checked from the header before any decoding (:data:`MAX_PIXELS`),
   and Pillow's ``DecompressionBombWarning`` is turned into an error: a tiny PNG that
   inflates to gigabytes is refused without being inflated.
4. The image is fully decoded (a truncated or damaged file fails here) and re-encoded
   from its pixels alone: EXIF (GPS position included), ICC profiles, comments, text
   chunks and anything appended after the image (polyglots) do not survive.
5. It is written under the instance folder (never ``static/``) with a random name; the
   client's file name is never used. Views serve it with the re-encoded type, ``nosniff``
   and a ``Content-Disposition`` after checking the viewer may see the request.
"""
from __future__ import annotations

import io
import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 5K display is ~15 megapixels; 40 leaves room for tall scrolls
MAX_SIDE = 20_000
# Pillow's names for the decoders we allow, and what we re-encode each into.
FORMATS: dict[str, tuple[str, str]] = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
}
MIME_TO_EXT = {mime: ext for mime, ext in FORMATS.values()}

NOT_AN_IMAGE = ("This file is not a PNG, JPEG or WebP image. Take a screenshot of the updated DMS record "
                "and upload that image file (PDFs, Word files and other formats are not accepted).")


class ScreenshotError(ValueError):
    """A screenshot was refused; ``str(error)`` is the message for the person uploading."""


@dataclass(frozen=True)
class CleanScreenshot:
    """A screenshot re-encoded from its pixels, ready to store."""

    data: bytes
    mime: str
    extension: str
    width: int
    height: int


@dataclass(frozen=True)
class StoredScreenshot:
    """Where a clean screenshot was stored and what it is."""

    name: str
    mime: str
    width: int
    height: int
    size: int


def _read_limited(stream: BinaryIO) -> bytes:
    """Read at most one byte past the limit, so a huge stream is never held in memory."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ScreenshotError(f"The screenshot is larger than {MAX_BYTES // (1024 * 1024)} MB. "
                              "Crop it to the customer's details, or save it as JPEG, and upload it again.")
    if not data:
        raise ScreenshotError("The file is empty (0 bytes). Choose the screenshot file again.")
    return data


def clean_screenshot(stream: BinaryIO) -> CleanScreenshot:
    """Check an uploaded screenshot and re-encode it; raises :class:`ScreenshotError`."""
    data = _read_limited(stream)
    with warnings.catch_warnings():
        # Pillow only *warns* between MAX_IMAGE_PIXELS and twice that: make it refuse.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
                return _reencode(image)
        except ScreenshotError:
            raise
        except UnidentifiedImageError as exc:
            raise ScreenshotError(NOT_AN_IMAGE) from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ScreenshotError(_too_many_pixels()) from exc
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, MemoryError) as exc:
            # Pillow reports truncated/corrupt data with any of these.
            raise ScreenshotError("The image is damaged or incomplete (the upload may have been cut short). "
                                  "Save the screenshot again and upload the new file.") from exc


def _too_many_pixels() -> str:
    """The message for a bomb or an absurdly large picture."""
    return (f"The image has too many pixels (at most {MAX_PIXELS // 1_000_000} megapixels and "
            f"{MAX_SIDE:,} pixels a side). Upload a normal screenshot of the DMS record.")


def _reencode(image: Image.Image) -> CleanScreenshot:
    """Decode ``image`` fully and write its pixels, and nothing else, in the same format."""
    fmt = image.format
    if fmt == "MPO":  # Pillow's JPEG decoder calls multi-picture camera JPEGs "MPO": a JPEG all the same
        fmt = "JPEG"
    if fmt not in FORMATS:  # cannot happen with formats=..., but never trust one check
        raise ScreenshotError(NOT_AN_IMAGE)
    width, height = image.size
    if width < 1 or height < 1 or width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ScreenshotError(_too_many_pixels())
    image.seek(0)  # animated PNG/WebP: the first frame is the screenshot
    image.load()
    # Turn the picture upright as the camera/phone meant before the orientation tag is dropped.
    upright = ImageOps.exif_transpose(image) or image
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info)
    if fmt == "JPEG":
        pixels = upright.convert("RGB") if upright.mode not in ("RGB", "L") else upright.copy()
    else:
        pixels = upright.convert("RGBA" if has_alpha else "RGB")
    # A fresh image of the pixels alone: no info dict (comments, EXIF, ICC, text chunks).
    bare = Image.new(pixels.mode, pixels.size)
    bare.paste(pixels)
    bare.info = {}
    out = io.BytesIO()
    if fmt == "PNG":
        bare.save(out, "PNG", optimize=False, compress_level=6)
    elif fmt == "JPEG":
        bare.save(out, "JPEG", quality=90, optimize=True)
    else:
        bare.save(out, "WEBP", quality=90, method=4)
    mime, extension = FORMATS[fmt]
    return CleanScreenshot(out.getvalue(), mime, extension, width=bare.width, height=bare.height)


# ----------------------------------------------------------------------------- storage
def upload_dir() -> Path:
    """Where screenshots live: ``<instance>/uploads/update_requests`` (outside ``static/``)."""
    configured = current_app.config.get("SCREENSHOT_DIR")
    if configured:
        return Path(configured)
    instance = current_app.config.get("INSTANCE_DIR") or current_app.instance_path
    return Path(instance) / "uploads" / "update_requests"


def store(clean: CleanScreenshot) -> StoredScreenshot:
    """Write ``clean`` under a random name (owner-only permissions) and describe it."""
    folder = upload_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"{secrets.token_hex(16)}.{clean.extension}"
    # O_EXCL: never overwrite (a collision of 128 random bits would be a bug elsewhere).
    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(clean.data)
    return StoredScreenshot(name, clean.mime, clean.width, clean.height, len(clean.data))


def path_of(name: str) -> Path:
    """The file of a stored screenshot; refuses anything but a name :func:`store` made."""
    stem, _, extension = (name or "").partition(".")
    if len(stem) != 32 or set(stem) - set("0123456789abcdef") or extension not in MIME_TO_EXT.values():
        raise FileNotFoundError(name)
    return upload_dir() / name


def remove(name: str) -> None:
    """Delete a stored screenshot (e.g. when saving its request failed)."""
    try:
        path_of(name).unlink()
    except FileNotFoundError:
        pass
