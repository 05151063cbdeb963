"""The API tokens settings page: create a token (shown once) and revoke tokens."""

from __future__ import annotations

from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length

from app.access import access
from app.api import tokens_bp as bp
from app.forms import IdField, attempt, form_status
from app.rendering import render
from app.services import tokens

TEMPLATE = "auth/tokens.html"


class TokenForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=80)],
                       description="What it is for, e.g. “GitHub Actions of orders-service”.")


class RevokeForm(FlaskForm):
    token_id = IdField()


def render_tokens(*, form=None, new_token=None, status=200, problem=None):
    return render(TEMPLATE, "tokens", form=form or TokenForm(formdata=None),
                  tokens=tokens.tokens_of(current_user), new_token=new_token, status=status,
                  problem=problem)


@bp.route("/account/tokens", methods=["GET", "POST"])
@access("login")
def index():
    form = TokenForm()
    created = attempt(form, lambda: tokens.create_token(current_user, form.name.data))
    if created:
        return render_tokens(new_token=created[1], status=201)
    return render_tokens(form=form, status=form_status(form))


@bp.post("/account/tokens/revoke")
@access("login")
def revoke():
    """The token's id is in the form, not the URL: only the user's own tokens are found."""
    form = RevokeForm()
    attempt(form, lambda: tokens.revoke_token(current_user, form.token_id.data))
    return render_tokens(status=form_status(form),
                         problem="Choose a token to revoke." if form.errors else None)
