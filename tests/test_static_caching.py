"""Static files are linked with a digest of their content and kept by browsers for a year; a file
that changes gets a new address (webapp/security.py)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from flask import Flask

from tests.conftest import soup
from webapp.security import STATIC_MAX_AGE, static_version


def test_pages_link_static_files_by_digest_and_browsers_keep_them(client, app):
    page = soup(client.get("/login"))
    urls = [link["href"] for link in page.select("link[href^='/static/']")]
    urls += [script["src"] for script in page.select("script[src]")]
    assert len(urls) >= 4
    for url in urls:
        path, _, query = url.partition("?")
        content = Path(app.static_folder, path.removeprefix("/static/")).read_bytes()
        assert query == f"v={hashlib.sha256(content).hexdigest()[:12]}", url
        answer = client.get(url)
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == f"public, max-age={STATIC_MAX_AGE}, immutable"


def test_a_file_asked_for_without_its_current_digest_is_revalidated(client):
    for url in ("/static/css/app.css", "/static/css/app.css?v=0123456789ab"):
        answer = client.get(url)
        assert answer.status_code == 200
        control = answer.headers.get("Cache-Control", "")
        assert "immutable" not in control and "max-age=31536000" not in control, url


def test_a_changed_file_gets_a_new_digest(tmp_path):
    app = Flask("static-digest", static_folder=str(tmp_path))
    style = tmp_path / "site.css"
    style.write_text("body { color: black; }")
    before = static_version(app, "site.css")
    assert before == static_version(app, "site.css")
    style.write_text("body { color: navy; }")
    os.utime(style, ns=(0, style.stat().st_mtime_ns + 1_000_000))
    assert static_version(app, "site.css") not in (None, before)
    assert static_version(app, "missing.css") is None
    assert static_version(app, "../outside.css") is None
