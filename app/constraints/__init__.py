from flask import Blueprint

bp = Blueprint("constraints", __name__)

from app.constraints import routes  # noqa: E402,F401
