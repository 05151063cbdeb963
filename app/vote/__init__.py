from flask import Blueprint

bp = Blueprint("vote", __name__)

from app.vote import routes  # noqa: E402,F401
