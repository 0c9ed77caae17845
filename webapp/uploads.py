"""Screenshot uploads: hostile input, checked by content, re-encoded, stored privately.

What a screenshot has to get through before anyone sees it:

1. At most :data:`MAX_BYTES` (Flask's ``MAX_CONTENT_LENGTH`` stops far larger bodies
   before they are parsed); an empty file is refused.
2. Pillow identifies it with only the PNG, JPEG and WebP decoders enabled
   (``Image.open(fp, formats=...)``): the file name and the browser's Content-Type are
   ignored, so HTML, SVG, PDF, GIF, PHP... are refused whatever they are called.
3. The pixel count is checked from the header before any decoding (:data:`MAX_PIXELS`,
   :data:`MAX_SIDE`), and Pillow's ``DecompressionBombWarning`` is turned into an error: a
   tiny PNG that inflates to gigabytes is refused without being inflated. WebP, which Pillow
   decodes with several full-size buffers, has a lower limit (:data:`MAX_WEBP_PIXELS`). A JPEG may be
   larger (:data:`MAX_JPEG_PIXELS`, e.g. a phone photo of a screen): it is decoded at a
   reduced scale (``Image.draft``) so that what is held in memory is never above
   :data:`MAX_PIXELS`.
4. Decoding takes a share of a per-process memory budget (:data:`DECODE_BUDGET_BYTES`,
   estimated from the pixels and the format, :data:`BYTES_PER_PIXEL`): small screenshots
   decode side by side, a worst-case one waits until it has the budget to itself, so eight
   large uploads at once cannot multiply the memory they need. The image is fully decoded
   (a truncated or damaged file fails here) and re-encoded from its pixels alone, without
   extra full-size copies: EXIF (GPS position included), ICC profiles, comments, text
   chunks and anything appended after the image (polyglots) do not survive. A 16-bit
   greyscale PNG stays 16-bit (converting it to 8-bit RGB would clip it to white).
5. It is written under the storage folder (never ``static/``) with a random name; the
   client's file name is never used. Views serve it with the re-encoded type, ``nosniff``
   and a ``Content-Disposition`` after checking the viewer may see the request.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import os
import secrets
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
# A 5K display is 14.7 megapixels, a full-page capture of 1920 x 8000 15.4: 16 is room enough for
# a screenshot, and 16 MP RGBA is 64 MB once decoded.
MAX_PIXELS = 16_000_000
MAX_SIDE = 20_000
# JPEGs (camera photos of a screen) may be larger: they are decoded at 1/2, 1/4 or 1/8 scale
# (Image.draft) to at most MAX_PIXELS, so their size in memory is bounded just the same.
MAX_JPEG_PIXELS = 4 * MAX_PIXELS  # 64 MP: decoded at half scale or less
# WebP costs far more memory per pixel (Pillow decodes it through libwebp's animation decoder,
# which keeps several full canvases): 6 MP (a 1440p screen) is its limit.
MAX_WEBP_PIXELS = 6_000_000
# Peak working memory per decoded pixel while checking and re-encoding, by format (measured with
# tests/bench/uploads.py on the worst modes: grey + alpha PNG, CMYK JPEG, RGBA WebP).
BYTES_PER_PIXEL = {"PNG": 8, "JPEG": 8, "WEBP": 26}
# Memory one web process spends on decoding screenshots at the same time: one worst-case
# screenshot, or several ordinary ones side by side.
DECODE_BUDGET_BYTES = 160 * 1024 * 1024
# How long an upload waits for its share of the budget before it is refused as "busy": a few
# seconds, so an upload never holds a web thread long (the person uploads again a bit later).
DECODE_WAIT_SECONDS = 5
# Pillow's names for the decoders we allow, and what we re-encode each into.
FORMATS: dict[str, tuple[str, str]] = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
}
MIME_TO_EXT = {mime: ext for mime, ext in FORMATS.values()}

NOT_AN_IMAGE = (
    "This file is not a PNG, JPEG or WebP image. Take a screenshot of the updated DMS record "
    "and upload that image file (PDFs, Word files and other formats are not accepted)."
)


class ScreenshotError(ValueError):
    """A screenshot was refused; ``str(error)`` is the message for the person uploading."""


class MemoryBudget:
    """Bounds the memory spent decoding at the same time in this process (a web worker's threads).

    A decode asks for its estimated bytes; it waits while the others hold too much of the
    budget. A request larger than the whole budget runs alone (it never waits forever).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.in_use = 0
        self._cond = threading.Condition()

    def acquire(self, amount: int, timeout: float) -> bool:
        """Take ``amount`` of the budget; False when it was not free within ``timeout`` seconds."""
        share = min(amount, self.size)
        with self._cond:
            if not self._cond.wait_for(lambda: self.in_use + share <= self.size, timeout=timeout):
                return False
            self.in_use += share
            return True

    def release(self, amount: int) -> None:
        """Give back what :meth:`acquire` took."""
        with self._cond:
            self.in_use -= min(amount, self.size)
            self._cond.notify_all()


_budget = MemoryBudget(DECODE_BUDGET_BYTES)


def _load_malloc_trim():
    """glibc's ``malloc_trim``, or None on other C libraries."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_malloc_trim = _load_malloc_trim()


def _give_memory_back() -> None:
    """Return the freed image buffers to the OS.

    Each web thread allocates from its own glibc arena, which keeps what an image freed for
    later: eight threads that each decoded one screenshot in turn would otherwise hold eight
    decoded images between them although only one was ever decoded at a time.
    """
    if _malloc_trim is not None:
        _malloc_trim(0)


BUSY = (
    "The server is busy checking other screenshots right now. Wait a minute and upload the screenshot "
    "again (your other entries are kept)."
)


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
        raise ScreenshotError(
            f"The screenshot is larger than {MAX_BYTES // (1024 * 1024)} MB. "
            "Crop it to the customer's details, or save it as JPEG, and upload it again."
        )
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
            raise ScreenshotError(
                "The image is damaged or incomplete (the upload may have been cut short). "
                "Save the screenshot again and upload the new file."
            ) from exc


def _too_many_pixels() -> str:
    """The message for a bomb or an absurdly large picture."""
    return (
        f"The image has too many pixels (at most {MAX_PIXELS // 1_000_000} megapixels for a PNG, "
        f"{MAX_WEBP_PIXELS // 1_000_000} for a WebP, {MAX_JPEG_PIXELS // 1_000_000} for a JPEG photo, and "
        f"{MAX_SIDE:,} pixels a side). Crop the screenshot to the DMS record, or save it as JPEG, which "
        "allows the most pixels, then upload it again."
    )


def _reencode(image: Image.Image) -> CleanScreenshot:
    """Decode ``image`` fully and write its pixels, and nothing else, in the same format."""
    fmt = image.format
    if fmt == "MPO":  # Pillow's JPEG decoder calls multi-picture camera JPEGs "MPO": a JPEG all the same
        fmt = "JPEG"
    if fmt not in FORMATS:  # cannot happen with formats=..., but never trust one check
        raise ScreenshotError(NOT_AN_IMAGE)
    width, height = image.size
    limit = {"JPEG": MAX_JPEG_PIXELS, "WEBP": MAX_WEBP_PIXELS}.get(fmt, MAX_PIXELS)
    if width < 1 or height < 1 or width > MAX_SIDE or height > MAX_SIDE or width * height > limit:
        raise ScreenshotError(_too_many_pixels())
    image.seek(0)  # animated PNG/WebP: the first frame is the screenshot
    if fmt == "JPEG" and width * height > MAX_PIXELS:
        # Decode at 1/2, 1/4 or 1/8 scale: the smallest scale still at least the requested size.
        scale = 2
        while (width // scale) * (height // scale) > MAX_PIXELS:
            scale *= 2
        image.draft(image.mode, (max(1, width // scale), max(1, height // scale)))
        if image.size[0] * image.size[1] > MAX_PIXELS:  # draft could not reduce enough
            raise ScreenshotError(_too_many_pixels())
    cost = image.size[0] * image.size[1] * BYTES_PER_PIXEL[fmt]
    if not _budget.acquire(cost, DECODE_WAIT_SECONDS):
        raise ScreenshotError(BUSY)
    try:
        return _decode_and_encode(image, fmt)
    finally:
        image.close()
        _give_memory_back()
        _budget.release(cost)


def _decode_and_encode(image: Image.Image, fmt: str) -> CleanScreenshot:
    """The decoding part of :func:`_reencode`, holding at most one converted copy at a time."""
    image.load()
    # Turn the picture upright as the camera/phone meant before the orientation tag is dropped
    # (in place: no full-size copy when there is nothing to turn).
    ImageOps.exif_transpose(image, in_place=True)
    mode = image.mode
    has_alpha = mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info)
    if fmt == "PNG" and mode in ("I;16", "I;16B", "I;16L", "I"):
        target = "I;16"  # 16-bit greyscale stays 16-bit: RGB would clip every value above 255 to white
    elif fmt == "JPEG":
        target = mode if mode in ("RGB", "L") else "RGB"
    else:
        target = "RGBA" if has_alpha else "RGB"
    if target == mode:
        bare = image  # ours alone: decoded from the upload's bytes
    else:
        bare = image.convert(target)
        image.close()  # free the decoded original before encoding
    # The pixels alone: no info dict (comments, EXIF, ICC, text chunks) reaches the encoder.
    bare.info = {}
    out = io.BytesIO()
    if fmt == "PNG":
        bare.save(out, "PNG", optimize=False, compress_level=6)
    elif fmt == "JPEG":
        bare.save(out, "JPEG", quality=90, optimize=True)
    else:
        bare.save(out, "WEBP", quality=90, method=4)
    width, height = bare.size
    bare.close()
    mime, extension = FORMATS[fmt]
    return CleanScreenshot(out.getvalue(), mime, extension, width=width, height=height)


# ----------------------------------------------------------------------------- storage
def upload_dir() -> Path:
    """Where screenshots live: ``<storage>/update_requests`` (webapp.storage: ``STORAGE_DIR``,
    shared by every machine, default ``<instance>/uploads``), never under ``static/``. The app
    setting ``SCREENSHOT_DIR`` overrides it."""
    from webapp.storage import storage_dir

    configured = current_app.config.get("SCREENSHOT_DIR")
    if configured:
        return Path(configured)
    return storage_dir() / "update_requests"


def store(clean: CleanScreenshot) -> StoredScreenshot:
    """Write ``clean`` under a random name (owner-only permissions) and describe it."""
    name = _write_new(upload_dir(), clean)
    return StoredScreenshot(name, clean.mime, clean.width, clean.height, len(clean.data))


def _write_new(folder: Path, clean: CleanScreenshot) -> str:
    """Write ``clean`` into ``folder`` under a new random name (owner-only permissions); its name."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"{secrets.token_hex(16)}.{clean.extension}"
    # O_EXCL: never overwrite (a collision of 128 random bits would be a bug elsewhere).
    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(clean.data)
    return name


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


# ----------------------------------------------------------------------------- kept between attempts
# A form that fails validation for another field must not lose its screenshot, and no browser
# can put a file back into a file input: the checked screenshot is stored as *pending* and the
# form carries a signed token for it (who, where, which file, until when).
PENDING_SECONDS = 2 * 3600
_PENDING_SALT = "pending-screenshot"
PENDING_EXPIRED = (
    "The screenshot you attached earlier has expired (it is kept for "
    f"{PENDING_SECONDS // 3600} hours). Attach it again."
)


@dataclass(frozen=True)
class PendingScreenshot:
    """A checked screenshot waiting for its form to be submitted without errors."""

    name: str  # file name under pending_dir(), made by keep_pending()
    mime: str
    width: int
    height: int
    size: int
    filename: str  # the person's own name for the file, for "Screenshot <name> kept" only


def pending_dir() -> Path:
    """Where pending screenshots wait: a sub-folder of :func:`upload_dir`."""
    return upload_dir() / "pending"


def _serializer():
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_PENDING_SALT)


def display_filename(filename: str | None) -> str:
    """The person's file name, safe to show: no folders, no control characters, at most 80 characters."""
    from webapp.domain.normalise import clean_text

    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return clean_text(base, 80) or "screenshot"


def keep_pending(clean: CleanScreenshot, filename: str | None, user_id: int, location_id: int) -> str:
    """Store ``clean`` as pending and return its token (valid for :data:`PENDING_SECONDS`,
    only for ``user_id`` at ``location_id``). Expired pending files are swept on the way."""
    sweep_pending()
    name = _write_new(pending_dir(), clean)
    return _serializer().dumps(
        {
            "n": name,
            "m": clean.mime,
            "w": clean.width,
            "h": clean.height,
            "s": len(clean.data),
            "f": display_filename(filename),
            "u": user_id,
            "l": location_id,
        }
    )


def pending(token: str | None, user_id: int, location_id: int) -> PendingScreenshot | None:
    """The pending screenshot of ``token``, or None: no token, forged, expired, someone else's,
    another location's, or its file is gone. Raises nothing."""
    from itsdangerous import BadSignature

    if not token or len(token) > 2000:
        return None
    try:
        data = _serializer().loads(token, max_age=PENDING_SECONDS)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("u") != user_id or data.get("l") != location_id:
        return None
    try:
        path = _pending_path(data.get("n"))
        if not path.is_file():
            return None
        return PendingScreenshot(
            data["n"], data["m"], int(data["w"]), int(data["h"]), int(data["s"]), display_filename(data.get("f"))
        )
    except (FileNotFoundError, KeyError, TypeError, ValueError):
        return None


def pending_expired(token: str | None) -> bool:
    """True when ``token`` is a genuine pending-screenshot token that has expired (to say so)."""
    from itsdangerous import BadSignature, SignatureExpired

    if not token or len(token) > 2000:
        return False
    try:
        _serializer().loads(token, max_age=PENDING_SECONDS)
    except SignatureExpired:
        return True
    except (BadSignature, ValueError, TypeError):
        return False
    return False


def _pending_path(name: str | None) -> Path:
    """A pending file's path; refuses anything but a name :func:`keep_pending` made."""
    return pending_dir() / path_of(name or "").name


def claim_pending(item: PendingScreenshot) -> StoredScreenshot:
    """Move a pending screenshot among the stored ones (its form was submitted): same name."""
    os.replace(_pending_path(item.name), path_of(item.name))
    return StoredScreenshot(item.name, item.mime, item.width, item.height, item.size)


def drop_pending(item: PendingScreenshot | None) -> None:
    """Delete a pending screenshot (replaced by another one)."""
    if item is None:
        return
    try:
        _pending_path(item.name).unlink()
    except FileNotFoundError:
        pass


def sweep_pending(now: float | None = None) -> int:
    """Delete pending screenshots older than :data:`PENDING_SECONDS` (their tokens have expired)."""
    import time

    folder = pending_dir()
    if not folder.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - PENDING_SECONDS - 60
    removed = 0
    for entry in folder.iterdir():
        try:
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed
