from flask import Blueprint

bp = Blueprint("archive", __name__)

from app.archive import guard, routes  # noqa: E402,F401
