"""Security headers on every response, and a strict Content-Security-Policy.

No inline scripts or styles and no eval: htmx is configured for this in the
``htmx-config`` meta tag (see base.html).
"""

from __future__ import annotations

import hashlib
import os

from flask import Flask, Response, request
from flask_login import current_user
from werkzeug.security import safe_join

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


#: Static files are linked as ``/static/<file>?v=<digest of its content>`` (url_for adds it), so a
#: browser keeps them this long without asking again: a changed file gets a new address. Without the
#: right ``v`` the answer keeps Flask's ``no-cache`` (asked again at every page load).
STATIC_MAX_AGE = 365 * 24 * 3600


def static_version(app: Flask, filename: str) -> str | None:
    """A short digest of a static file's content (None when there is no such file); worked out
    again only when the file's size or modification time changes."""
    path = safe_join(app.static_folder or "", filename)
    try:
        stat = os.stat(path) if path else None
    except OSError:
        stat = None
    if stat is None:
        return None
    key = (filename, stat.st_mtime_ns, stat.st_size)
    versions = app.extensions.setdefault("static_versions", {})
    if key not in versions:
        with open(path, "rb") as fh:
            versions[key] = hashlib.sha256(fh.read()).hexdigest()[:12]
    return versions[key]


def init_app(app: Flask) -> None:
    """Install the after-request hook (and trust ``PROXY_HOPS`` reverse proxies' headers)."""
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # request.remote_addr becomes the visitor's address (audit log, sign-in throttling).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    @app.url_defaults
    def _versioned_static(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            version = static_version(app, values["filename"])
            if version:
                values["v"] = version

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config.get("PREFERRED_URL_SCHEME") == "https":
            headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        if request.endpoint == "static":
            version = request.args.get("v")
            if version and version == static_version(app, (request.view_args or {}).get("filename", "")):
                headers["Cache-Control"] = f"public, max-age={STATIC_MAX_AGE}, immutable"
        elif current_user.is_authenticated:
            # Pages carry customer data: browsers and proxies must not keep copies.
            headers.setdefault("Cache-Control", "no-store")
        if response.mimetype == "text/html":
            response.vary.add("HX-Request")
        return response
