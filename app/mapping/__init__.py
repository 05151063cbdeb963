from flask import Blueprint

bp = Blueprint("mapping", __name__)

from app.mapping import routes  # noqa: E402,F401
