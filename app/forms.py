"""Shared form helpers: one FlaskForm per input lives in each blueprint's forms.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import DataRequired, NumberRange

from app.models.base import MAX_ID
from app.services.errors import Invalid

T = TypeVar("T")


class PrefixedForm(FlaskForm):
    """A form that shares its page with others: a prefix keeps its ids and names unique
    (labels point at the right field; no duplicate ids)."""

    prefix_name = ""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("prefix", self.prefix_name)
        super().__init__(*args, **kwargs)


class IdField(IntegerField):
    """A row's id sent by a form: a whole number the database's ids can hold (MAX_ID), else
    the form says there is no such item (a larger one used to reach the database: a 500)."""

    def __init__(self, label=None, validators=None, **kwargs) -> None:
        checks = [DataRequired(), NumberRange(1, MAX_ID, "There is no such item."), *(validators or ())]
        super().__init__(label, checks, **kwargs)


class EmptyForm(FlaskForm):
    """A POST-only button: nothing but the CSRF token."""


def attempt(form: FlaskForm, action: Callable[[], T]) -> T | None:
    """Validate ``form`` and run ``action``; an Invalid from the service becomes a form error
    on its field (or the form as a whole). Returns the action's result, or None."""
    if not form.validate_on_submit():
        return None
    try:
        return action()
    except Invalid as err:
        field = getattr(form, err.field, None) if err.field else None
        if field is not None:
            field.errors = [*field.errors, err.message]
        else:
            form.form_errors.append(err.message)
        return None


def form_status(form: FlaskForm) -> int:
    """422 when a submitted form has errors, so that clients and tests can tell."""
    return 422 if form.is_submitted() and form.errors else 200
