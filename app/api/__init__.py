"""The JSON API v1 for CI pipelines (``/api/v1``, personal API tokens only) and the settings
page where people create and revoke their tokens."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
tokens_bp = Blueprint("tokens", __name__)

from app.api import routes, settings  # noqa: E402,F401
