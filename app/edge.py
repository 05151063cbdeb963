"""What the app does at the network edge: trust a configured number of proxies, keep a
browser on one process behind the load balancer, and (for diagnostics) name the process."""

from __future__ import annotations

import os
import secrets
import socket

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

LB_COOKIE = "tradeoff_lb"


def register(app: Flask) -> None:
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
        return response
