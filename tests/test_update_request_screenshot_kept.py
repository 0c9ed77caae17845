"""Issue 19, item 16: a screenshot is not silently dropped when another field fails validation.

No browser can put a file back into a file input, so the checked screenshot is kept on the
server as *pending* and the re-rendered form carries a signed token for it (this person,
this location, expiring): "Screenshot <name> kept — you need not upload it again", with a
way to replace it.
"""

from __future__ import annotations

import io
import time

import pytest

from tests.conftest import soup
from tests.factories import screenshot_png
from tests.test_update_requests import _login, _only_request
from webapp import uploads
from webapp.extensions import db
from webapp.models import UpdateRequest

BAD_PHONE = {"update_phones": "y", "phone": "12", "mobile_phone": ""}
GOOD_PHONE = {"update_phones": "y", "phone": "(217) 555-0199", "mobile_phone": ""}


def _post(client, customer, file=None, htmx=False, **fields):
    data = dict(fields)
    if file is not None:
        data["screenshot"] = file
    return client.post(
        f"/customers/{customer.id}/update-request", data=data, content_type="multipart/form-data", htmx=htmx
    )


def _png(name="dms-record.png", colour=(30, 90, 160)):
    return (io.BytesIO(screenshot_png(colour=colour)), name, "image/png")


@pytest.fixture(autouse=True)
def _no_pending_files(app):
    """The uploads folder is shared by the test session: start each test with no kept screenshot
    (other files' re-rendered forms leave theirs, as they would for two hours in production)."""
    import shutil

    with app.app_context():
        shutil.rmtree(uploads.pending_dir(), ignore_errors=True)


def _pending_files(app):
    with app.app_context():
        folder = uploads.pending_dir()
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _kept_token(response):
    """The kept message and the token of a re-rendered form."""
    page = soup(response)
    kept = page.select_one(".ur-screenshot-kept")
    token = page.select_one("input[type=hidden][name=screenshot_token]")
    return page, kept, (token["value"] if token is not None and token.has_attr("value") else "")


@pytest.mark.parametrize("htmx", [False, True])
def test_screenshot_is_kept_when_another_field_fails_and_used_on_the_next_submit(
    app, client, update_request_shop, htmx
):
    customer = update_request_shop["customer"]
    _login(client, update_request_shop["advisor"])
    response = _post(client, customer, _png(), htmx=htmx, **BAD_PHONE)
    assert response.status_code == 422
    page, kept, token = _kept_token(response)
    assert "not a valid phone number" in page.select_one("#phone-error").text
    assert kept is not None
    assert " ".join(kept.text.split()) == "Screenshot dms-record.png kept — you need not upload it again."
    assert token and len(_pending_files(app)) == 1
    # No error for the screenshot; the file input is there to replace it, no longer required.
    assert page.select_one("#screenshot-error") is None
    file_input = page.select_one("input[type=file]#screenshot")
    assert not file_input.has_attr("required")
    assert "Replace the screenshot" in page.select_one('label[for="screenshot"]').text
    assert "screenshot-kept" in file_input["aria-describedby"]

    # Fixing the phone and submitting again, without the file, makes the request with it.
    response = _post(client, customer, htmx=htmx, screenshot_token=token, **GOOD_PHONE)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    made = _only_request(app)
    assert made.screenshot_mime == "image/png" and made.screenshot_bytes > 0
    image = client.get(f"/update-requests/{made.id}/screenshot")
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert _pending_files(app) == []  # moved among the stored screenshots, not copied


def test_a_new_file_replaces_the_kept_one(app, client, update_request_shop):
    customer = update_request_shop["customer"]
    _login(client, update_request_shop["advisor"])
    _, _, first = _kept_token(_post(client, customer, _png("first.png"), **BAD_PHONE))
    response = _post(client, customer, _png("second.png", colour=(200, 10, 10)), screenshot_token=first, **BAD_PHONE)
    assert response.status_code == 422
    _, kept, second = _kept_token(response)
    assert "second.png" in kept.text and second != first
    assert len(_pending_files(app)) == 1  # the first one is gone
    assert _post(client, customer, screenshot_token=second, **GOOD_PHONE).status_code == 303
    with app.app_context():
        from PIL import Image

        stored = uploads.path_of(_only_request(app).screenshot_name)
        with Image.open(stored) as image:
            assert image.convert("RGB").getpixel((0, 0)) == (200, 10, 10)


def test_a_refused_replacement_keeps_the_earlier_screenshot(app, client, update_request_shop):
    customer = update_request_shop["customer"]
    _login(client, update_request_shop["advisor"])
    _, _, token = _kept_token(
        _post(client, customer, _png("good.png"), **GOOD_PHONE, update_email="y", email="jon@@example")
    )
    response = _post(
        client,
        customer,
        (io.BytesIO(b"%PDF-1.4 not an image"), "x.pdf", "application/pdf"),
        screenshot_token=token,
        **GOOD_PHONE,
    )
    assert response.status_code == 422
    page, kept, again = _kept_token(response)
    assert "not a PNG, JPEG or WebP" in page.select_one("#screenshot-error").text
    assert kept is not None and "good.png" in kept.text and again == token
    assert _post(client, customer, screenshot_token=token, **GOOD_PHONE).status_code == 303


def test_the_token_is_for_the_same_person_and_location_only(app, client, update_request_shop, make):
    customer = update_request_shop["customer"]
    _login(client, update_request_shop["advisor"])
    _, _, token = _kept_token(_post(client, customer, _png(), **BAD_PHONE))
    _login(client, update_request_shop["advisor2"])  # a colleague at the same location
    response = _post(client, customer, screenshot_token=token, **GOOD_PHONE)
    assert response.status_code == 422
    page, kept, _ = _kept_token(response)
    assert kept is None and "Attach a screenshot" in page.select_one("#screenshot-error").text
    with app.app_context():
        assert db.session.query(UpdateRequest).count() == 0
        # Nor at another location, for the same person (the token names the location).
        assert uploads.pending(token, update_request_shop["advisor"].id, update_request_shop["beta"].id) is None
        assert uploads.pending(token, update_request_shop["advisor"].id, update_request_shop["alpha"].id) is not None
        assert uploads.pending(token + "x", update_request_shop["advisor"].id, update_request_shop["alpha"].id) is None


def test_an_expired_token_says_so(app, client, update_request_shop, monkeypatch):
    customer = update_request_shop["customer"]
    _login(client, update_request_shop["advisor"])
    _, _, token = _kept_token(_post(client, customer, _png(), **BAD_PHONE))
    monkeypatch.setattr(uploads, "PENDING_SECONDS", -1)
    response = _post(client, customer, screenshot_token=token, **GOOD_PHONE)
    assert response.status_code == 422
    page, kept, _ = _kept_token(response)
    assert kept is None and "has expired" in page.select_one("#screenshot-error").text
    with app.app_context():
        assert uploads.sweep_pending(now=time.time() + 120) >= 1  # and its file is swept
    assert _pending_files(app) == []
