"""One error renderer: HTML page, htmx fragment or JSON, for HTTP errors and domain errors."""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.rendering import render
from app.services.errors import DomainError

MESSAGES = {
    400: "The request could not be understood.",
    401: "Please log in to continue.",
    403: "You do not have permission to do that in this team.",
    404: "There is nothing here, or it belongs to a team you are not in.",
    405: "That action is not available here.",
    409: "That conflicts with the current state.",
    413: "That upload is too large.",
    422: "Some of what you entered needs fixing.",
    429: "Too many attempts. Wait a minute and try again.",
    500: "Something went wrong on our side. It has been logged.",
}


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return request.path.startswith("/api/") or (best == "application/json" and not request.htmx)


def render_error(status: int, message: str | None = None, code: str | None = None):
    message = message or MESSAGES.get(status, "Error.")
    if wants_json():
        response = jsonify({"error": {"code": code or str(status), "message": message}})
        response.status_code = status
        return response
    return render("errors/error.html", "error", status=status, code=status, message=message)


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(err: DomainError):
        db.session.rollback()
        return render_error(err.status, err.message, err.code)

    @app.errorhandler(CSRFError)
    def csrf_error(err: CSRFError):
        return render_error(400, "The form was stale or its security token was missing. "
                                 "Reload the page and try again.", "csrf")

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        if err.code and err.code >= 500:
            db.session.rollback()
        if err.code == 429:
            return render_error(429, None, "rate_limited")
        if err.code == 413:  # uploads are benchmark runs: say what to do instead
            limit = app.config.get("MAX_CONTENT_LENGTH")
            if request.content_length is not None and limit and request.content_length <= limit:
                # Not the size: the multipart body has too many parts or too large a text field.
                parts = app.config.get("MAX_FORM_PARTS")
                return render_error(413, f"The form has too many parts (at most {parts}) or a "
                                         "field that is too long. Upload the files of one run "
                                         "(at most 8) with the form's own fields.",
                                    "too_many_parts")
            mb = app.config.get("BENCHMARK_MAX_UPLOAD_MB", 512)
            return render_error(413, f"The upload is larger than {mb} MB, the limit for one run. "
                                     "Upload the tool's summary file, or compress the file with "
                                     "gzip (.gz).", "too_large")
        message = err.description if err.code in (400, 409, 413, 422) else None
        return render_error(err.code or 500, message)

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error")
        return render_error(500, code="server_error")
