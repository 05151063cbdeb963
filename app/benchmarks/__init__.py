"""Step 4 — benchmarks: upload load-test results per candidate, compare them, check targets."""

from flask import Blueprint

bp = Blueprint("benchmarks", __name__)

from app.benchmarks import routes  # noqa: E402,F401
