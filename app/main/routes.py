"""The landing page / dashboard and a health check."""

from flask import jsonify
from flask_login import current_user
from sqlalchemy import text

from app.access import access
from app.extensions import db
from app.main import bp
from app.rendering import render
from app.services import reviews, teams


@bp.get("/")
@access("public")
def index():
    if not current_user.is_authenticated:
        return render("main/landing.html")
    return render("main/dashboard.html", teams=teams.teams_of(current_user),
                  reviews=reviews.reviews_of(current_user)[:12])


@bp.get("/healthz")
@access("public")
def health():
    """For load balancers: 200 when the database answers."""
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ok")
