"""In-app notifications, and the e-mail sent with each one.

A notification is stored once per (user, subject, kind): the unique key is what makes a reminder
pass safe to run in two processes at once — the process whose insert loses sends nothing. Mail
goes through smtplib when ``SMTP_HOST`` is set (``SMTP_PORT``, ``SMTP_USER``, ``SMTP_PASSWORD``,
``SMTP_FROM``, ``SMTP_STARTTLS``); otherwise (development) each mail is written to the app log.
"""

from __future__ import annotations

import logging
import os
import smtplib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage

from flask import Flask, current_app, has_request_context, request
from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Notification, User
from app.services.errors import NotFound

MAX_LIST = 200


def configure(app: Flask) -> None:
    """Mail settings from the environment (a config object may set them first)."""
    env = os.environ
    app.config.setdefault("SMTP_HOST", env.get("SMTP_HOST") or None)
    app.config.setdefault("SMTP_PORT", int(env.get("SMTP_PORT", "587")))
    app.config.setdefault("SMTP_USER", env.get("SMTP_USER") or None)
    app.config.setdefault("SMTP_PASSWORD", env.get("SMTP_PASSWORD") or None)
    app.config.setdefault("SMTP_FROM", env.get("SMTP_FROM", "tradeoff@localhost"))
    starttls = env.get("SMTP_STARTTLS", "1").strip().lower() in {"1", "true", "yes", "on"}
    app.config.setdefault("SMTP_STARTTLS", starttls)
    app.config.setdefault("TRADEOFF_BASE_URL", env.get("TRADEOFF_BASE_URL") or None)
    # Mails written to the log (no SMTP) must show without debug mode: INFO on this child
    # logger only, through the app logger's handler.
    app.logger.getChild("mail").setLevel(logging.INFO)


@dataclass(frozen=True)
class Draft:
    """A notification to send: who, about what (subject + kind = the once-only key)."""

    user_id: int
    kind: str
    subject: str
    title: str
    body: str = ""
    url: str = ""
    review_id: int | None = None

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.user_id, self.subject, self.kind)


def _existing_keys(drafts: Sequence[Draft]) -> set[tuple[int, str, str]]:
    rows = db.session.execute(
        db.select(Notification.user_id, Notification.subject, Notification.kind).where(
            Notification.user_id.in_({d.user_id for d in drafts}),
            Notification.subject.in_({d.subject for d in drafts}),
            Notification.kind.in_({d.kind for d in drafts})))
    return {tuple(row) for row in rows}


def send_once(drafts: Iterable[Draft]) -> list[Notification]:
    """Store the drafts not sent before and e-mail them; returns what this call stored.

    One commit. If a concurrent pass stores some of the same keys first, the commit fails on
    the unique key; the pass rolls back and retries without them (at most three times)."""
    drafts = list({d.key: d for d in drafts}.values())
    if not drafts:
        return []
    for _attempt in range(3):
        known = _existing_keys(drafts)
        new = [Notification(user_id=d.user_id, kind=d.kind, subject=d.subject, title=d.title,
                            body=d.body, url=d.url, review_id=d.review_id)
               for d in drafts if d.key not in known]
        db.session.add_all(new)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            continue
        deliver(new)
        return new
    return []


# --- e-mail ---------------------------------------------------------------------------------

def _absolute(url: str) -> str:
    if not url or "://" in url:
        return url
    base = current_app.config.get("TRADEOFF_BASE_URL")
    if not base and has_request_context():
        base = request.url_root
    return (base or "http://localhost:5000/").rstrip("/") + url


def _message(note: Notification, to: str) -> EmailMessage:
    message = EmailMessage()
    # One line: a typed title with CR/LF must neither inject headers nor make EmailMessage
    # raise (which failed the action that sent the notification).
    message["Subject"] = " ".join(f"[Tradeoff] {note.title}".split())
    message["From"] = current_app.config["SMTP_FROM"]
    message["To"] = to
    link = _absolute(note.url)
    message.set_content(f"{note.body}\n\n{link}\n" if link else f"{note.body}\n")
    return message


def deliver(notes: Sequence[Notification]) -> None:
    """E-mail the notifications (or log them without SMTP). A mail failure is logged, never
    raised: the in-app notification is stored already."""
    if not notes:
        return
    emails = dict(db.session.execute(db.select(User.id, User.email).where(
        User.id.in_({n.user_id for n in notes}))).all())
    messages = [_message(n, emails[n.user_id]) for n in notes if n.user_id in emails]
    config = current_app.config
    if not config.get("SMTP_HOST"):
        for message in messages:
            current_app.logger.getChild("mail").info("mail (no SMTP_HOST set) to %s: %s\n%s", message["To"],
                                    message["Subject"], message.get_content().strip())
        return
    try:
        with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=20) as smtp:
            if config.get("SMTP_STARTTLS"):
                smtp.starttls()
            if config.get("SMTP_USER"):
                smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
            for message in messages:
                smtp.send_message(message)
    except (OSError, smtplib.SMTPException):
        current_app.logger.exception("could not send %d notification mail(s)", len(messages))


# --- the user's list ------------------------------------------------------------------------

def notifications_for(user: User, limit: int = MAX_LIST) -> list[Notification]:
    return list(db.session.scalars(
        db.select(Notification).where(Notification.user_id == user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))


def unread_of(user_id):
    """The statement counting the unread notifications of ``user_id`` (a value or a column)."""
    return db.select(db.func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))


_UNREAD = unread_of(bindparam("user_id"))  # built once


def unread_count(user: User) -> int:
    return db.session.scalar(_UNREAD, {"user_id": user.id}) or 0


def mark_read(user: User, notification_id: int) -> Notification:
    """Mark one of the user's own notifications as read. Raises NotFound for anyone else's."""
    note = db.session.get(Notification, notification_id)
    if note is None or note.user_id != user.id:
        raise NotFound("There is no such notification.")
    if note.read_at is None:
        note.read_at = datetime.now(UTC)
        db.session.commit()
    return note


def mark_all_read(user: User) -> int:
    now = datetime.now(UTC)
    count = db.session.execute(
        db.update(Notification).where(Notification.user_id == user.id,
                                      Notification.read_at.is_(None))
        .values(read_at=now).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return count
