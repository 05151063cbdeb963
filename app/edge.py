"""What the app does at the network edge: trust a configured number of proxies, keep a
browser on one process behind the load balancer, (for diagnostics) name the process, send the
security headers, limit the Socket.IO endpoint, and never run the debugger in production."""

from __future__ import annotations

import os
import secrets
import socket

from flask import Flask, request
from flask.helpers import get_debug_flag
from werkzeug.middleware.proxy_fix import ProxyFix

from app import socket_guard

LB_COOKIE = "tradeoff_lb"

# No inline script at all (no 'unsafe-inline', no 'unsafe-eval'; htmx runs with allowEval off):
# scripts come from /static only. Style attributes are allowed (bar widths, countdowns), style
# elements and sheets only from /static. Pico's icons are data: SVGs. 'self' covers the
# Socket.IO WebSocket (ws:/wss: on the same host). No framing anywhere (clickjacking).
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def refuse_debug_in_production(app: Flask) -> None:
    """The Werkzeug debugger runs code for whoever reaches it: never with production config."""
    if app.config.get("PRODUCTION") and (app.debug or get_debug_flag()):
        raise RuntimeError("Debug mode (FLASK_DEBUG) is not allowed with TRADEOFF_ENV=production.")


def register(app: Flask) -> None:
    refuse_debug_in_production(app)
    socket_guard.install(app)
    hops = app.config.get("PROXY_COUNT", 0)
    if hops:
        # Behind nginx: the client address (rate limits, audit) and scheme come from its headers.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    node = f"{socket.gethostname()}:{os.getpid()}" if app.config.get("EXPOSE_NODE") else None

    @app.after_request
    def edge_headers(response):
        if LB_COOKIE not in request.cookies:
            response.set_cookie(LB_COOKIE, secrets.token_urlsafe(12), max_age=30 * 86400,
                                httponly=True, samesite="Lax",
                                secure=app.config["SESSION_COOKIE_SECURE"])
        if node:
            response.headers["X-Tradeoff-Node"] = node
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # A view may send a stricter policy (attachments: default-src 'none'; sandbox); it is
        # kept, but frame-ancestors never falls back to default-src, so it is added.
        policy = response.headers.get("Content-Security-Policy")
        if policy is None:
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        elif "frame-ancestors" not in policy:
            response.headers["Content-Security-Policy"] = policy + "; frame-ancestors 'none'"
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
