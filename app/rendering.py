"""The one place that decides between a full page and an htmx fragment."""

from __future__ import annotations

from flask import Response, make_response, render_template, request
from jinja2_fragments.flask import render_block


def wants_fragment() -> bool:
    """An htmx request that is not a boosted navigation or a history restore."""
    hx = request.htmx
    return bool(hx) and not hx.boosted and not hx.history_restore_request


def render(template: str, block: str | None = None, *, status: int = 200, **context) -> Response:
    """Render ``template`` whole, or only ``block`` for an htmx request; same context either way."""
    if block and wants_fragment():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def attachment(body: str, mimetype: str, filename: str) -> Response:
    """An export sent as a download (never rendered inline, never cached)."""
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect_to(url: str) -> Response:
    """A redirect that htmx follows as a full navigation (HX-Location keeps history right)."""
    if request.htmx:
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    response = make_response("", 303)
    response.headers["Location"] = url
    return response
