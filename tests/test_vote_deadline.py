"""Votes close at their deadline without any request (the service, the scheduler's job, the
CLI for cron); reminders go once, only to eligible members who have not voted; mail goes
through SMTP when configured and to the log otherwise; the notification list."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import pytest

from app import create_app
from app.config import Config
from app.extensions import db
from app.models import AuditEvent, Ballot, Notification, Role, VoteSession
from app.services import notifications, scheduler, votes
from app.services.errors import Conflict
from tests.factories import add_member, make_user
from tests.test_vote import HX, blank_review, ids, login, open_vote
from tests.test_vote_concurrency import build_app, in_threads, setup_vote

NOW = datetime.now(UTC)


def backdate(session_id: int, when: datetime) -> None:
    """Move a deadline into the past directly in the database (open_vote refuses that)."""
    db.session.execute(db.update(VoteSession).where(VoteSession.id == session_id)
                       .values(closes_at=when))
    db.session.commit()
    db.session.expire_all()


def kinds_for(user) -> list[str]:
    return sorted(n.kind for n in notifications.notifications_for(user))


# --- the deadline --------------------------------------------------------------------------------

def test_close_due_closes_only_votes_past_their_deadline(app, world, socket_client):
    review, other = blank_review(world), blank_review(world, title="No deadline")
    session = open_vote(world, review, closes_at=NOW + timedelta(hours=1))
    forever = open_vote(world, other)
    votes.cast_ballot(world.users["member"], review, session.id, ids(review)["A"])
    sock = socket_client(login(app, world.users["observer"]), review.id)
    sock.get_received()
    assert votes.close_due(NOW + timedelta(minutes=59)) == []
    closed = votes.close_due(NOW + timedelta(hours=1, seconds=1))
    assert [s.id for s in closed] == [session.id]
    db.session.expire_all()
    done = db.session.get(VoteSession, session.id)
    assert done.status == "closed" and done.close_reason == "deadline" and done.closed_by_id is None
    assert done.result["winners"] == [ids(review)["A"]]
    assert db.session.get(VoteSession, forever.id).status == "open"
    assert {"regions": ["vote", "decision"]}.items() <= [
        m["args"][0] for m in sock.get_received() if m["name"] == "refresh"][0].items()
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "vote.closed"))
    assert event.actor_id is None and event.detail["reason"] == "deadline"
    assert votes.close_due(NOW + timedelta(days=1)) == []  # nothing left to close


def test_a_ballot_after_the_deadline_is_refused_before_any_closer_ran(app, world):
    review = blank_review(world)
    session = open_vote(world, review, closes_at=NOW + timedelta(hours=1))
    backdate(session.id, datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(Conflict, match="closed"):
        votes.cast_ballot(world.users["member"], review, session.id, ids(review)["A"])
    assert db.session.scalar(db.select(db.func.count()).select_from(Ballot)) == 0


def test_cli_close_due(runner, app, world):
    review = blank_review(world)
    session = open_vote(world, review, closes_at=NOW + timedelta(hours=1))
    backdate(session.id, datetime.now(UTC) - timedelta(minutes=1))
    result = runner.invoke(args=["votes", "close-due"])
    assert result.exit_code == 0 and "1 vote(s) closed" in result.output
    db.session.expire_all()
    assert db.session.get(VoteSession, session.id).status == "closed"


def test_the_scheduler_job_closes_a_vote_without_any_request(tmp_path, monkeypatch):
    """A real BackgroundScheduler with a one-second interval, as create_app starts it (with a
    15-second one) outside tests; the test only waits and reads the database."""
    app = build_app(tmp_path, monkeypatch, f"sqlite:///{tmp_path / 'sched.sqlite3'}")
    ids_ = setup_vote(app)
    with app.app_context():
        db.session.execute(db.update(VoteSession).values(
            closes_at=datetime.now(UTC) + timedelta(seconds=2)))
        db.session.commit()
    job = scheduler.start(app, interval=1)
    try:
        deadline = time.monotonic() + 20
        status = "open"
        while status == "open" and time.monotonic() < deadline:
            time.sleep(0.25)
            with app.app_context():
                status = db.session.get(VoteSession, ids_["session"]).status
                db.session.remove()
    finally:
        job.shutdown(wait=True)
    assert status == "closed"
    with app.app_context():
        assert db.session.get(VoteSession, ids_["session"]).close_reason == "deadline"
        db.engine.dispose()


def test_create_app_starts_the_scheduler_unless_testing_or_off(app, tmp_path, monkeypatch):
    assert scheduler.EXTENSION_KEY not in app.extensions  # TESTING
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("TRADEOFF_SCHEDULER", "off")
    assert scheduler.EXTENSION_KEY not in create_app(Config()).extensions
    monkeypatch.delenv("TRADEOFF_SCHEDULER")  # the default, as in production
    started = create_app(Config()).extensions[scheduler.EXTENSION_KEY]
    try:
        assert started.running and started.get_job(scheduler.JOB_ID).trigger.interval.seconds == 15
    finally:
        started.shutdown(wait=True)


# --- reminders -----------------------------------------------------------------------------------

def test_opening_notifies_every_eligible_member_once(app, world):
    review = blank_review(world)
    session = open_vote(world, review)
    for persona in ("owner", "facilitator", "member"):
        assert kinds_for(world.users[persona]) == ["vote_opened"]
    assert kinds_for(world.users["observer"]) == [] and kinds_for(world.users["non_member"]) == []
    assert votes.remind_due() == 0  # nothing new: the opened notice went out already
    newcomer = add_member(world.team, Role.MEMBER, make_user("Late Comer"))
    assert votes.remind_due() == 1 and kinds_for(newcomer) == ["vote_opened"]
    votes.cast_ballot(world.users["member"], review, session.id, ids(review)["A"])


def test_deadline_reminders_only_to_members_who_have_not_voted(app, world):
    review = blank_review(world)
    session = open_vote(world, review, closes_at=NOW + timedelta(hours=48))
    votes.cast_ballot(world.users["member"], review, session.id, ids(review)["A"])
    assert votes.remind_due(NOW + timedelta(hours=23)) == 0  # 25 h left: not yet
    sent = votes.remind_due(NOW + timedelta(hours=25))  # 23 h left: inside the 24 h lead
    assert sent == 2
    assert kinds_for(world.users["owner"]) == ["vote_deadline", "vote_opened"]
    assert kinds_for(world.users["facilitator"]) == ["vote_deadline", "vote_opened"]
    assert kinds_for(world.users["member"]) == ["vote_opened"]  # voted: no reminder
    assert votes.remind_due(NOW + timedelta(hours=30)) == 0  # once only
    assert votes.remind_due(NOW + timedelta(hours=49)) == 0  # past the deadline: no reminder


def test_reminder_lead_time_is_configurable(app, world):
    app.config["VOTE_REMINDER_BEFORE_HOURS"] = 2
    review = blank_review(world)
    open_vote(world, review, closes_at=NOW + timedelta(hours=10))
    assert votes.remind_due(NOW + timedelta(hours=7)) == 0
    assert votes.remind_due(NOW + timedelta(hours=8, minutes=1)) == 3


def test_a_vote_opened_inside_the_window_gets_no_second_message(app, world):
    review = blank_review(world)
    open_vote(world, review, closes_at=NOW + timedelta(hours=5))  # the opened notice says when
    assert votes.remind_due(NOW + timedelta(hours=1)) == 0


def test_two_reminder_passes_at_once_send_each_reminder_once(tmp_path, monkeypatch):
    """Two "processes" (threads with their own connections) run the pass together: the unique
    key (user, vote, kind) lets one insert win; only the winner mails."""
    app = build_app(tmp_path, monkeypatch, f"sqlite:///{tmp_path / 'remind.sqlite3'}")
    sent_mail: list = []
    monkeypatch.setattr(notifications, "deliver", lambda notes: sent_mail.extend(
        (n.user_id, n.kind) for n in notes))
    ids_ = setup_vote(app, members=6)
    with app.app_context():
        db.session.execute(db.delete(Notification))
        db.session.execute(db.update(VoteSession).values(
            closes_at=datetime.now(UTC) + timedelta(hours=2),
            opened_at=datetime.now(UTC) - timedelta(days=2)))
        db.session.commit()
    sent_mail.clear()  # the setup's own "vote opened" mails

    def run_pass(_i):
        with app.app_context():
            try:
                return votes.remind_due()
            finally:
                db.session.remove()

    results = in_threads(4, run_pass)
    assert all(isinstance(r, int) for r in results), results
    expected = {(uid, kind) for uid in [ids_["owner"], *ids_["members"]]
                for kind in ("vote_opened", "vote_deadline")}
    assert sum(results) == len(expected) == 14
    assert sorted(sent_mail) == sorted(expected)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Notification)) == 14
        db.engine.dispose()


def test_cli_remind(runner, app, world):
    review = blank_review(world)
    open_vote(world, review, closes_at=NOW + timedelta(hours=1))  # inside the window at open
    add_member(world.team, Role.MEMBER, make_user("Newer"))
    result = runner.invoke(args=["votes", "remind"])
    assert result.exit_code == 0 and "1 vote reminder(s)" in result.output


# --- mail ------------------------------------------------------------------------------------------

class FakeSMTP:
    sent: list = []
    calls: list = []

    def __init__(self, host, port, timeout=None):
        FakeSMTP.calls.append(("connect", host, port))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def starttls(self):
        FakeSMTP.calls.append(("starttls",))

    def login(self, user, password):
        FakeSMTP.calls.append(("login", user, password))

    def send_message(self, message):
        FakeSMTP.sent.append(message)


def test_mail_goes_through_smtp_when_configured(app, world, monkeypatch):
    FakeSMTP.sent, FakeSMTP.calls = [], []
    monkeypatch.setattr(notifications.smtplib, "SMTP", FakeSMTP)
    app.config.update(SMTP_HOST="smtp.example.com", SMTP_PORT=2525, SMTP_USER="bot",
                      SMTP_PASSWORD="pw", SMTP_FROM="tradeoff@example.com", SMTP_STARTTLS=True,
                      TRADEOFF_BASE_URL="https://tradeoff.example.com")
    review = blank_review(world, title="Queue choice")
    open_vote(world, review)
    assert FakeSMTP.calls[:3] == [("connect", "smtp.example.com", 2525), ("starttls",),
                                  ("login", "bot", "pw")]
    assert sorted(m["To"] for m in FakeSMTP.sent) == [
        "facilitator@example.com", "member@example.com", "owner@example.com"]
    message = FakeSMTP.sent[0]
    assert message["Subject"] == "[Tradeoff] Vote open: Queue choice"
    assert message["From"] == "tradeoff@example.com"
    assert f"https://tradeoff.example.com/reviews/{review.id}/steps/vote" in message.get_content()


def test_without_smtp_mail_is_written_to_the_log(app, world, caplog):
    app.config["SMTP_HOST"] = None
    with caplog.at_level(logging.INFO, logger=app.logger.name):
        open_vote(world, blank_review(world, title="Logged vote"))
    logged = [r.getMessage() for r in caplog.records if "no SMTP_HOST" in r.getMessage()]
    assert len(logged) == 3 and any("member@example.com" in m and "Logged vote" in m
                                    for m in logged)


def test_a_mail_failure_does_not_lose_the_notification(app, world, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(notifications.smtplib, "SMTP", broken)
    app.config["SMTP_HOST"] = "smtp.example.com"
    open_vote(world, blank_review(world))
    assert kinds_for(world.users["member"]) == ["vote_opened"]


# --- the notification list ----------------------------------------------------------------------

def test_notification_list_and_mark_as_read(app, world):
    review = blank_review(world, title="Cache store")
    open_vote(world, review)
    client = login(app, world.users["member"])
    page = client.get("/notifications").get_data(as_text=True)
    assert "Vote open: Cache store" in page and f"/reviews/{review.id}/steps/vote" in page
    assert 'class="badge notif-count" aria-hidden="true">1<' in page
    (note,) = notifications.notifications_for(world.users["member"])
    other = notifications.notifications_for(world.users["owner"])[0]
    assert client.post("/notifications/read", data={"notification_id": str(other.id)}).status_code == 404
    r = client.post("/notifications/read", data={"notification_id": str(note.id)}, headers=HX)
    assert r.status_code == 200 and 'id="notification-list"' in r.get_data(as_text=True)
    assert notifications.unread_count(world.users["member"]) == 0
    assert notifications.unread_count(world.users["owner"]) == 1
    owner = login(app, world.users["owner"])
    assert owner.post("/notifications/read", data={}).status_code == 303  # all of them
    assert notifications.unread_count(world.users["owner"]) == 0
    assert "notif-count" not in owner.get("/notifications").get_data(as_text=True)


def test_users_see_only_their_own_notifications(app, world):
    open_vote(world, blank_review(world, title="Secret review"))
    page = login(app, world.users["non_member"]).get("/notifications").get_data(as_text=True)
    assert "Secret review" not in page and "No notifications" in page

