"""Step 3 — prototype notes: time-boxed spikes per candidate, citable as evidence."""

from flask import Blueprint

bp = Blueprint("prototypes", __name__)

from app.prototypes import routes  # noqa: E402,F401
