"""Security headers on every response, and a strict Content-Security-Policy.

No inline scripts or styles and no eval: htmx is configured for this in the
``htmx-config`` meta tag (see base.html).
"""
from __future__ import annotations

from flask import Flask, Response, request
from flask_login import current_user

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


def init_app(app: Flask) -> None:
    """Install the after-request hook (and trust ``PROXY_HOPS`` reverse proxies' headers)."""
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # request.remote_addr becomes the visitor's address (audit log, sign-in throttling).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

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
        # Pages carry customer data: browsers and proxies must not keep copies.
        if current_user.is_authenticated and request.endpoint != "static":
            headers.setdefault("Cache-Control", "no-store")
        if response.mimetype == "text/html":
            response.vary.add("HX-Request")
        return response
