"""The screenshot upload is hostile input: every nasty file gets a clear error or a clean image.

Each hostile file is generated here, then sent through the real request form (multipart
POST, CSRF and all) and, where useful, straight to :mod:`webapp.uploads`. A refused file
re-renders the form with a message on the screenshot field (422, or 413 above Flask's
MAX_CONTENT_LENGTH) and stores nothing; an accepted one is stored re-encoded, under a
random name, without metadata or anything a polyglot had hidden in it.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import soup
from tests.factories import PASSWORD
from webapp import uploads
from webapp.extensions import db
from webapp.models import Role, UpdateRequest

# ----------------------------------------------------------------------------- hostile files


def _png(size=(120, 80), colour=(200, 30, 30), mode="RGB", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, "PNG", **save)
    return out.getvalue()


def _jpeg(size=(120, 80), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 60)).save(out, "JPEG", quality=85, **save)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int, height: int) -> bytes:
    """A 1-bit greyscale PNG of ``width`` × ``height`` zeros: tiny on disk, huge in memory."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


GPS_LATITUDE = (40.0, 26.0, 46.0)


def jpeg_with_gps() -> bytes:
    """A JPEG whose EXIF says where it was taken (and by what camera)."""
    image = Image.new("RGB", (160, 120), (90, 90, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0110] = "Model X"  # Model
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = GPS_LATITUDE
    gps[3] = "W"
    gps[4] = (79.0, 58.0, 56.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"taken at the customer's house")
    return out.getvalue()


def webp_with_exif() -> bytes:
    image = Image.new("RGB", (90, 60), (10, 10, 10))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    gps = exif.get_ifd(0x8825)
    gps[2] = GPS_LATITUDE
    out = io.BytesIO()
    image.save(out, "WEBP", exif=exif)
    return out.getvalue()


def php_jpeg_polyglot() -> bytes:
    """A real JPEG that a PHP interpreter would also run: code in a comment and after EOI."""
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (255, 255, 0)).save(out, "JPEG", comment=b"<?php system($_GET['c']); ?>")
    return out.getvalue() + b"<?php echo 'pwned'; ?>"


def png_with_script_chunks() -> bytes:
    """A real PNG carrying HTML in a text chunk and a ZIP-ish tail after IEND."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(document.cookie)</script>")
    return _png(pnginfo=info) + b"PK\x03\x04<html><script>alert(1)</script></html>"


def mpo_bytes() -> bytes:
    """A multi-picture JPEG, as some phone cameras write (with GPS in its EXIF)."""
    exif = Image.Exif()
    exif.get_ifd(0x8825)[2] = GPS_LATITUDE
    out = io.BytesIO()
    Image.new("RGB", (50, 40), (5, 5, 5)).save(
        out, "MPO", save_all=True, exif=exif, append_images=[Image.new("RGB", (50, 40), (9, 9, 9))]
    )
    return out.getvalue()


def gif_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("P", (40, 40), 3).save(out, "GIF")
    return out.getvalue()


def tiff_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 40), (1, 2, 3)).save(out, "TIFF")
    return out.getvalue()


def pdf_bytes() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


NOT_AN_IMAGE = "not a PNG, JPEG or WebP image"
DAMAGED = "damaged or incomplete"
TOO_MANY_PIXELS = "too many pixels"

# (id, file name, browser's Content-Type, bytes-or-factory, expected message or None for "accepted")
HOSTILE = [
    (
        "html-with-script",
        "screenshot.png",
        "image/png",
        lambda: b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>",
        NOT_AN_IMAGE,
    ),
    (
        "svg-with-script",
        "dms.svg",
        "image/svg+xml",
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>',
        NOT_AN_IMAGE,
    ),
    (
        "svg-renamed-png",
        "dms.png",
        "image/png",
        lambda: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        NOT_AN_IMAGE,
    ),
    (
        "png-magic-then-html",
        "dms.png",
        "image/png",
        lambda: b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>",
        None,
    ),  # message checked below
    ("gif-renamed-png", "dms.png", "image/png", gif_bytes, NOT_AN_IMAGE),
    ("tiff", "dms.tiff", "image/tiff", tiff_bytes, NOT_AN_IMAGE),
    ("pdf", "dms-record.pdf", "application/pdf", pdf_bytes, NOT_AN_IMAGE),
    ("pdf-renamed-jpg", "dms.jpg", "image/jpeg", pdf_bytes, NOT_AN_IMAGE),
    ("zero-bytes", "empty.png", "image/png", lambda: b"", "empty (0 bytes)"),
    ("truncated-png", "cut.png", "image/png", lambda: _png((400, 300), (1, 2, 3))[:-40][:200], DAMAGED),
    ("truncated-jpeg", "cut.jpg", "image/jpeg", lambda: jpeg_with_gps()[: len(jpeg_with_gps()) // 2], DAMAGED),
    ("png-bomb-400-megapixels", "bomb.png", "image/png", lambda: png_bomb(20_000, 20_000), TOO_MANY_PIXELS),
    ("png-bomb-100-megapixels", "bomb.png", "image/png", lambda: png_bomb(10_000, 10_000), TOO_MANY_PIXELS),
    ("png-49-megapixels", "huge.png", "image/png", lambda: png_bomb(7_000, 7_000), TOO_MANY_PIXELS),
    ("png-too-tall", "scroll.png", "image/png", lambda: png_bomb(2, 30_000), TOO_MANY_PIXELS),
    (
        "eleven-megabytes",
        "big.png",
        "image/png",
        lambda: _png((16, 16)) + b"\x00" * (11 * 1024 * 1024),
        "larger than 10 MB",
    ),
]
# Accepted after re-encoding: (id, file name, Content-Type, factory, expected stored MIME type)
CLEANED = [
    ("exif-gps-jpeg", "IMG_0001.JPG", "image/jpeg", jpeg_with_gps, "image/jpeg"),
    ("php-jpeg-polyglot", "shell.php.jpg", "application/x-php", php_jpeg_polyglot, "image/jpeg"),
    ("png-with-script-text-and-tail", "dms.png", "image/png", png_with_script_chunks, "image/png"),
    ("webp-with-exif", "dms.webp", "image/webp", webp_with_exif, "image/webp"),
    ("dot-dot-slash-and-nul-name", "../../../etc/cron.d/x\x00.png", "text/html", lambda: _png(), "image/png"),
    ("png-named-jpg", "photo.jpg", "image/jpeg", lambda: _png(), "image/png"),
    ("multi-picture-jpeg", "IMG_0002.JPG", "image/jpeg", mpo_bytes, "image/jpeg"),
]


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture()
def advisor_and_customer(make):
    location = make.location(name="Alpha Motors", dms_vendor="dealertrack")
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    customer = make.customer(location, email="old@example.com")
    return advisor, customer


def _post(client, customer, filename, content_type, data, **fields):
    form = {"update_email": "y", "email": "new.address@example.com", **fields}
    if data is not None:
        form["screenshot"] = (io.BytesIO(data), filename, content_type)
    return client.post(f"/customers/{customer.id}/update-request", data=form, content_type="multipart/form-data")


def _stored_files(app) -> set[Path]:
    with app.app_context():
        folder = uploads.upload_dir()
    return set(folder.glob("*")) if folder.exists() else set()


def _request_count(app) -> int:
    with app.app_context():
        return db.session.query(UpdateRequest).count()


# ----------------------------------------------------------------------------- the hostile files
def test_there_are_at_least_fifteen_hostile_files():
    assert len(HOSTILE) + len(CLEANED) + 1 >= 15  # +1: the 50 MB file below


@pytest.mark.parametrize("name, filename, content_type, factory, expected", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_file_is_refused_with_a_clear_message(
    app, client, auth, advisor_and_customer, name, filename, content_type, factory, expected
):
    advisor, customer = advisor_and_customer
    auth.login(advisor.email, PASSWORD)
    before = _stored_files(app)
    response = _post(client, customer, filename, content_type, factory())
    assert response.status_code == 422, response.status_code
    page = soup(response)
    error = page.select_one("#screenshot-error")
    assert error is not None, page.select(".error")
    if expected is None:  # PNG signature followed by junk: refused as one or the other, clearly
        assert NOT_AN_IMAGE in error.text or DAMAGED in error.text
    else:
        assert expected in error.text
    # The rest of the form is kept, nothing was stored.
    assert page.select_one("#email")["value"] == "new.address@example.com"
    assert page.select_one("#screenshot")["aria-invalid"] == "true"
    assert _stored_files(app) == before
    assert _request_count(app) == 0


@pytest.mark.parametrize("name, filename, content_type, factory, mime", CLEANED, ids=[c[0] for c in CLEANED])
def test_image_is_accepted_only_as_a_clean_reencoded_copy(
    app, client, auth, advisor_and_customer, name, filename, content_type, factory, mime
):
    advisor, customer = advisor_and_customer
    auth.login(advisor.email, PASSWORD)
    original = factory()
    before = _stored_files(app)
    response = _post(client, customer, filename, content_type, original)
    assert response.status_code == 303, soup(response).select(".error")
    new_files = _stored_files(app) - before
    assert len(new_files) == 1
    stored = new_files.pop()
    with app.app_context():
        folder = uploads.upload_dir().resolve()
        update_request = db.session.query(UpdateRequest).one()
        assert update_request.screenshot_name == stored.name
        assert update_request.screenshot_mime == mime
    # Random name in the private folder: nothing of the client's name, never under static/.
    assert stored.resolve().parent == folder
    assert len(stored.stem) == 32 and all(c in "0123456789abcdef" for c in stored.stem)
    assert "static" not in stored.resolve().parts
    data = stored.read_bytes()
    for needle in (b"<?php", b"<script", b"SecretCam", b"Exif", b"customer's house", b"PK\x03\x04", b"pwned"):
        assert needle not in data, needle
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert Image.MIME[image.format] == mime
        assert not image.getexif(), "no EXIF survives re-encoding"
        assert "exif" not in image.info and "icc_profile" not in image.info and "comment" not in image.info
        assert image.size == Image.open(io.BytesIO(original)).size

    # Served through the access-checked view with the re-encoded type.
    served = client.get(f"/update-requests/{update_request.id}/screenshot")
    assert served.status_code == 200
    assert served.get_data() == data
    assert served.headers["Content-Type"] == mime
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Disposition"].startswith("inline")
    assert "sandbox" in served.headers["Content-Security-Policy"]


def test_gps_coordinates_are_gone_after_upload(app, client, auth, advisor_and_customer):
    advisor, customer = advisor_and_customer
    original = jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as image:  # the test file really has them
        assert image.getexif().get_ifd(0x8825)[2] == GPS_LATITUDE
    auth.login(advisor.email, PASSWORD)
    assert _post(client, customer, "IMG.JPG", "image/jpeg", original).status_code == 303
    with app.app_context():
        update_request = db.session.query(UpdateRequest).one()
    served = client.get(f"/update-requests/{update_request.id}/screenshot").get_data()
    with Image.open(io.BytesIO(served)) as image:
        assert image.getexif().get_ifd(0x8825) == {}
        assert 0x8825 not in image.getexif()


def test_fifty_megabyte_upload_is_refused_on_the_form(app, client, auth, advisor_and_customer):
    """Above MAX_CONTENT_LENGTH the body is not even parsed; the form says why (413)."""
    advisor, customer = advisor_and_customer
    auth.login(advisor.email, PASSWORD)
    response = _post(client, customer, "huge.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (50 * 1024 * 1024))
    assert response.status_code == 413
    page = soup(response)
    assert "too large" in page.select_one("#screenshot-error").text
    assert "10 MB" in page.select_one("#screenshot-error").text
    assert page.select_one("h1").text == "Customer Info Update Request"
    assert _request_count(app) == 0
    boosted = client.post(
        f"/customers/{customer.id}/update-request",
        data=b"x" * (13 * 1024 * 1024),
        content_type="multipart/form-data; boundary=zzz",
        htmx=True,
        headers={"HX-Boosted": "true"},
    )
    assert boosted.status_code == 422  # htmx swaps 422: the message shows on the form
    assert "too large" in soup(boosted).select_one("#screenshot-error").text


def test_fifty_megabyte_stream_is_not_read_into_memory():
    """clean_screenshot reads one byte past the limit, never the whole stream."""

    class Endless(io.RawIOBase):
        read_total = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            n = len(buffer)
            buffer[:n] = b"\x00" * n
            Endless.read_total += n
            return n

    with pytest.raises(uploads.ScreenshotError, match="larger than 10 MB"):
        uploads.clean_screenshot(io.BufferedReader(Endless(), buffer_size=1024 * 1024))
    assert Endless.read_total <= uploads.MAX_BYTES + 2 * 1024 * 1024


def test_missing_screenshot_is_required(app, client, auth, advisor_and_customer):
    advisor, customer = advisor_and_customer
    auth.login(advisor.email, PASSWORD)
    response = _post(client, customer, None, None, None)
    assert response.status_code == 422
    assert "Attach a screenshot" in soup(response).select_one("#screenshot-error").text
    empty_input = _post(client, customer, "", "application/octet-stream", b"")
    assert "Attach a screenshot" in soup(empty_input).select_one("#screenshot-error").text


def test_decompression_bomb_is_refused_before_decoding(monkeypatch):
    """The pixel check happens on the header: the bomb's pixels are never decoded."""
    loaded = []
    original_load = Image.Image.load

    def spy(self):
        loaded.append(self.size)
        return original_load(self)

    monkeypatch.setattr(Image.Image, "load", spy)
    with pytest.raises(uploads.ScreenshotError, match=TOO_MANY_PIXELS):
        uploads.clean_screenshot(io.BytesIO(png_bomb(10_000, 10_000)))
    assert (10_000, 10_000) not in loaded


def test_only_the_three_decoders_are_used():
    """Formats Pillow could read (GIF, TIFF, BMP...) are refused by content, whatever the name."""
    for fmt in ("GIF", "TIFF", "BMP", "ICO", "PPM"):
        out = io.BytesIO()
        Image.new("RGB", (16, 16)).save(out, fmt)
        with pytest.raises(uploads.ScreenshotError, match=NOT_AN_IMAGE):
            uploads.clean_screenshot(io.BytesIO(out.getvalue()))


def test_transparency_and_orientation_survive_cleaning():
    """Re-encoding keeps what the reviewer needs to see: alpha, and an upright picture."""
    rgba = io.BytesIO()
    Image.new("RGBA", (30, 20), (255, 0, 0, 128)).save(rgba, "PNG")
    clean = uploads.clean_screenshot(io.BytesIO(rgba.getvalue()))
    assert Image.open(io.BytesIO(clean.data)).mode == "RGBA"

    rotated = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    Image.new("RGB", (40, 20), (0, 0, 0)).save(rotated, "JPEG", exif=exif)
    clean = uploads.clean_screenshot(io.BytesIO(rotated.getvalue()))
    assert (clean.width, clean.height) == (20, 40)
    assert not Image.open(io.BytesIO(clean.data)).getexif()


@pytest.mark.parametrize(
    "name",
    [
        "../secret_key",
        "x.php",
        "../../etc/passwd",
        "a" * 32 + ".html",
        "A" * 32 + ".png",
        "",
        "0" * 32 + ".png/../../x",
    ],
)
def test_stored_names_cannot_be_steered(app, name):
    with app.app_context(), pytest.raises(FileNotFoundError):
        uploads.path_of(name)


# ----------------------------------------------------------------------------- memory (issue 20, item 4)
def flat_png(width: int, height: int) -> bytes:
    """A flat RGB PNG (one colour): a few hundred kB on disk, width x height x 3 bytes decoded."""
    row = b"\x00" + b"\x80\x80\x80" * width
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def test_the_reported_6320_square_png_is_refused_from_its_header(monkeypatch):
    """The file of the report (6320 x 6320, 131 kB, 120 MB decoded) is not decoded at all."""
    data = flat_png(6320, 6320)
    assert len(data) < 200_000
    loaded = []
    original_load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: loaded.append(self.size) or original_load(self))
    with pytest.raises(uploads.ScreenshotError, match=TOO_MANY_PIXELS):
        uploads.clean_screenshot(io.BytesIO(data))
    assert (6320, 6320) not in loaded


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(monkeypatch):
    """A JPEG above the pixel limit (a phone photo of a screen) is decoded smaller, never at full size."""
    monkeypatch.setattr(uploads, "MAX_PIXELS", 1_000_000)
    monkeypatch.setattr(uploads, "MAX_JPEG_PIXELS", 4_000_000)
    photo = _jpeg(size=(2000, 1600))
    loaded = []
    original_load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: loaded.append(self.size) or original_load(self))
    clean = uploads.clean_screenshot(io.BytesIO(photo))
    assert (clean.width, clean.height) == (1000, 800)
    assert (2000, 1600) not in loaded
    # The same size as a PNG is refused: only JPEG can be decoded at a reduced scale.
    with pytest.raises(uploads.ScreenshotError, match=TOO_MANY_PIXELS):
        uploads.clean_screenshot(io.BytesIO(_png(size=(2000, 1600))))
    with pytest.raises(uploads.ScreenshotError, match=TOO_MANY_PIXELS):
        uploads.clean_screenshot(io.BytesIO(_jpeg(size=(2500, 1700))))  # above MAX_JPEG_PIXELS


def test_webp_has_its_own_lower_pixel_limit(monkeypatch):
    """WebP decodes through several full-size buffers: its limit is lower than PNG's."""
    assert uploads.MAX_WEBP_PIXELS < uploads.MAX_PIXELS
    monkeypatch.setattr(uploads, "MAX_WEBP_PIXELS", 50 * 40)
    small, large = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (50, 40), (1, 2, 3)).save(small, "WEBP")
    Image.new("RGB", (51, 40), (1, 2, 3)).save(large, "WEBP")
    assert uploads.clean_screenshot(io.BytesIO(small.getvalue())).mime == "image/webp"
    with pytest.raises(uploads.ScreenshotError, match=TOO_MANY_PIXELS):
        uploads.clean_screenshot(io.BytesIO(large.getvalue()))


def test_concurrent_decodes_share_one_memory_budget(monkeypatch):
    """Uploads that each need the whole budget are decoded one after the other, never together."""
    import threading
    import time

    monkeypatch.setattr(uploads, "_budget", uploads.MemoryBudget(100 * 80 * uploads.BYTES_PER_PIXEL["PNG"]))
    active, peak, lock = [0], [0], threading.Lock()
    original = uploads._decode_and_encode

    def counting(image, fmt):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)  # hold the decode long enough for the others to try
        try:
            return original(image, fmt)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(uploads, "_decode_and_encode", counting)
    results, errors = [], []

    def upload():
        try:
            results.append(uploads.clean_screenshot(io.BytesIO(_png(size=(100, 80)))))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upload) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 6
    assert peak[0] == 1
    assert uploads._budget.in_use == 0  # every share was given back

    # Small screenshots fit in the budget together.
    budget = uploads.MemoryBudget(100)
    assert budget.acquire(40, timeout=0) and budget.acquire(60, timeout=0)
    assert not budget.acquire(1, timeout=0)
    budget.release(60)
    assert budget.acquire(50, timeout=0)
    assert uploads.MemoryBudget(10).acquire(1_000, timeout=0)  # larger than the budget: runs alone


def test_an_upload_that_cannot_get_the_budget_is_refused_as_busy(app, client, auth, advisor_and_customer, monkeypatch):
    advisor, customer = advisor_and_customer
    auth.login(advisor.email, PASSWORD)
    budget = uploads.MemoryBudget(1000)
    assert budget.acquire(1000, timeout=0)  # another upload is decoding
    monkeypatch.setattr(uploads, "_budget", budget)
    monkeypatch.setattr(uploads, "DECODE_WAIT_SECONDS", 0.01)
    before = _stored_files(app)
    response = _post(client, customer, "shot.png", "image/png", _png())
    assert response.status_code == 422
    assert "busy" in soup(response).select_one("#screenshot-error").text
    assert soup(response).select_one("input[name=email]")["value"] == "new.address@example.com"  # nothing lost
    assert _stored_files(app) == before and _request_count(app) == 0


def test_sixteen_bit_greyscale_png_keeps_its_picture():
    """A 16-bit greyscale PNG is stored as 16-bit greyscale, not clipped to a white picture."""
    image = Image.new("I;16", (64, 32))
    image.putdata([(x % 64) * 1000 + 1000 for x in range(64 * 32)])  # 1,000 ... 64,000: all above 255
    out = io.BytesIO()
    image.save(out, "PNG")
    clean = uploads.clean_screenshot(io.BytesIO(out.getvalue()))
    stored = Image.open(io.BytesIO(clean.data))
    assert stored.mode == "I;16" and clean.mime == "image/png"
    assert stored.getextrema() == (1000, 64000)
    assert [stored.getpixel((x, 0)) for x in range(3)] == [1000, 2000, 3000]
