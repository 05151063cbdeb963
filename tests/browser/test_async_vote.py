"""An asynchronous vote in real browsers, closed by the app's own scheduler.

The story: the facilitator opens a ranked vote with a deadline in the workshop (through the
form), two people vote there, a member who missed the workshop logs in later from the
notification and votes before the deadline, one member never votes. Shortly before the deadline
the scheduler reminds only that member; at the deadline it closes the vote by itself and every
open browser shows the result.

The server is this module's own gunicorn with the background scheduler on (one pass a second)
and a reminder window of 30 minutes. The vote form takes the deadline in whole hours, so the
test lets time pass the only way a test can without changing the app's clock: it moves the
vote's ``opened_at``/``closes_at`` back in the SQLite file (as tests/test_vote_deadline.py
does in-process). Everything after that — the reminder pass, the close, the count, the push to
the browsers — is the running app's scheduler at work.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.browser.conftest import demo_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
REVIEW = "/reviews/1"
VOTE_STEP = REVIEW + "/steps/vote"
TITLE = "Web framework for the orders service"
REMINDER = f"Vote closing soon: {TITLE}"
DORA = ("Dora Newcomer", "dora@example.com", "dora-async-vote-passphrase")


@dataclass
class Server:
    url: str
    db: Path
    log: Path


@pytest.fixture(scope="module")
def scheduled_server(tmp_path_factory):
    """The app under gunicorn with its scheduler on: a pass every second, reminders 30 min
    before a deadline."""
    tmp = tmp_path_factory.mktemp("async-vote")
    with demo_server(tmp, TRADEOFF_SCHEDULER="on", TRADEOFF_SCHEDULER_INTERVAL="1",
                     VOTE_REMINDER_BEFORE_HOURS="0.5") as url:
        yield Server(url, tmp / "instance" / "tradeoff.sqlite3", tmp / "server.log")


@pytest.fixture
def people(people):
    """conftest's people, with patience for a busy machine."""
    def open_person(*args, **kwargs):
        person = people(*args, **kwargs)
        person.context.set_default_timeout(30000)
        return person
    return open_person


@pytest.fixture(scope="module")
def live_server(scheduled_server):
    """Overrides conftest's server for this module: `people` opens browsers on this one."""
    return scheduled_server.url


# --- time passing, in the database ------------------------------------------------------------

def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _open_vote_times(db: Path) -> tuple[int, datetime, datetime]:
    with sqlite3.connect(db, timeout=30) as conn:
        row = conn.execute("SELECT id, opened_at, closes_at FROM vote_sessions "
                           "WHERE review_id = 1 AND status = 'open'").fetchone()
    assert row is not None, "no open vote on review 1"
    return row[0], datetime.fromisoformat(row[1]).replace(tzinfo=UTC), \
        datetime.fromisoformat(row[2]).replace(tzinfo=UTC)


def let_time_pass(db: Path, *, until_deadline: timedelta) -> None:
    """Move the open vote's opening and deadline back together, so that its deadline is
    ``until_deadline`` away — as if that much time had passed since it opened."""
    session_id, opened, closes = _open_vote_times(db)
    shift = closes - (datetime.now(UTC) + until_deadline)
    assert shift > timedelta(0)
    with sqlite3.connect(db, timeout=30) as conn:
        conn.execute("UPDATE vote_sessions SET opened_at = ?, closes_at = ? WHERE id = ?",
                     (_stamp(opened - shift), _stamp(closes - shift), session_id))


# --- the browsers -----------------------------------------------------------------------------

def rank(person, order: dict[str, str]) -> None:
    """Fill the ranked ballot (candidate name → rank) and submit it."""
    page = person.page
    for name, place in order.items():
        page.select_option(_ballot_select(page, name), place)
    page.click("#region-vote form.ballot button[type=submit]")
    page.wait_for_selector("#region-vote legend .badge:has-text('you have voted')")


def _ballot_select(page, name: str) -> str:
    label = page.locator("#region-vote .ballot-grid label", has_text=re.compile(f"^{name}$"))
    return "#" + label.get_attribute("for")


def notification_titles(person) -> list[str]:
    person.go("/notifications")
    return person.page.locator("#notification-list li strong").all_inner_texts()


def test_an_async_vote_closes_at_its_deadline_and_reminds_only_the_non_voter(
        people, scheduled_server):
    server = scheduled_server
    fran = people("async-facilitator", "facilitator@example.com")

    # A new member joins through an invitation link: she will never vote.
    fran.go("/teams/1")
    fran.page.select_option("#role", "member")
    fran.page.fill("#note", "Dora")
    fran.page.click("#invitations button:has-text('Create invitation link')")
    link = fran.page.input_value("#new-link")
    assert link.startswith(server.url + "/invite/")
    dora = people("async-non-voter")
    dora.go("/register")
    dora.page.fill("#name", DORA[0])
    dora.page.fill("#email", DORA[1])
    dora.page.fill("#password", DORA[2])
    dora.page.fill("#confirm", DORA[2])
    dora.page.click("form#register-form button[type=submit]")
    dora.page.wait_for_url(server.url + "/")
    dora.page.goto(link)
    dora.page.click("main button:has-text('Join the team')")
    dora.page.wait_for_selector("text=You joined")
    dora.shot("async-01-joined")

    # The workshop: Fran and Ana in the room; Fran moves everyone to the vote.
    ana = people("async-ana", "ana@example.com")
    fran.go(REVIEW)
    ana.go(REVIEW)
    for p in (fran, ana):
        p.page.wait_for_selector("#live-status[data-state=online]")
    fran.page.click("#step-nav a[data-step=vote]")
    fran.page.wait_for_selector("#step-section[data-step=vote]")
    fran.page.click("text=Move everyone to this step")
    ana.page.wait_for_selector("#step-section[data-step=vote]")

    # The demo's earlier vote is closed by hand; a new one opens with a deadline in an hour,
    # tallies hidden until it closes. Ana's network is slow meanwhile (3 s per request), so the
    # second push reaches her while the first one's region fetches are still under way: both
    # must still end up on her screen (a second refresh used to be dropped by htmx's queue).
    slow = ana.context.new_cdp_session(ana.page)
    slow.send("Network.enable")
    slow.send("Network.emulateNetworkConditions", {"offline": False, "latency": 3000,
                                                    "downloadThroughput": -1,
                                                    "uploadThroughput": -1})
    fran.page.once("dialog", lambda dialog: dialog.accept())
    fran.page.click("#region-vote button:has-text('Close the vote now')")
    fran.page.wait_for_selector("#region-vote .badge.vote-closed")
    fran.page.click("#region-vote details.open-vote > summary")
    fran.page.select_option("#vote-method", "ranked")
    fran.page.select_option("#vote-reveal", "on_close")
    fran.page.fill("#vote-deadline", "1")
    fran.page.select_option("#vote-quorum_kind", "share")
    fran.page.fill("#vote-quorum_value", "50%")
    fran.shot("async-02-open-form")
    fran.page.click("#region-vote details.open-vote button[type=submit]")
    fran.page.wait_for_selector("#vote-h:has-text('Vote 2')")
    ana.page.wait_for_selector("#vote-h:has-text('Vote 2')", timeout=30000)  # pushed
    ana.page.wait_for_selector("#region-vote .badge.vote-open")
    ana.page.wait_for_selector("#region-decision :text('Once a vote has closed with its quorum')",
                               timeout=30000)
    slow.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0,
                                                    "downloadThroughput": -1,
                                                    "uploadThroughput": -1})
    settings = fran.page.inner_text("#region-vote .vote-settings")
    assert "Tallies stay hidden until the vote closes." in settings
    assert "Deadline:" in settings
    assert "Closes by itself in 59 minutes" in fran.page.inner_text("#vote-board") or \
        "Closes by itself in 60 minutes" in fran.page.inner_text("#vote-board")
    fran.shot("async-03-vote-open")

    # Fran and Ana vote in the workshop; the room sees who voted, never what.
    rank(fran, {"FastAPI": "1", "Django": "2"})
    rank(ana, {"FastAPI": "1", "Litestar": "2"})
    for p in (fran, ana):
        p.page.wait_for_selector("#vote-board .participation:has-text('2 ballots of 4 possible')")
        assert p.page.locator("#vote-board table.tally").count() == 0
        assert "Tallies are hidden until the vote closes." in p.page.inner_text("#vote-board")
    ana.shot("async-04-workshop-voted")

    # Ben missed the workshop: he logs in later, finds the vote through his notifications and
    # votes before the deadline. The room sees his ballot arrive.
    ben = people("async-ben-absent", "ben@example.com")
    assert ben.page.get_attribute(".notif-link", "aria-label").startswith("Notifications, ")
    ben.go("/notifications")
    ben.shot("async-05-ben-notified")
    ben.page.click(f"#notification-list a:has-text('Vote open: {TITLE}') >> nth=0")
    ben.page.wait_for_selector("#step-section[data-step=vote]")
    assert "Vote 2" in ben.page.inner_text("#vote-h")
    assert "Deadline:" in ben.page.inner_text("#region-vote .vote-settings")
    rank(ben, {"Litestar": "1", "FastAPI": "2"})
    fran.page.wait_for_selector("#vote-board .participation:has-text('3 ballots of 4 possible')")
    waiting = fran.page.locator("#vote-board li.waiting").all_inner_texts()
    assert [w.replace("has not voted yet", "").strip() for w in waiting] == [DORA[0]]
    ben.shot("async-06-ben-voted")

    # 40 minutes pass: 20 minutes before the deadline, inside the reminder window. The
    # scheduler's next pass reminds Dora, the only one who has not voted.
    let_time_pass(server.db, until_deadline=timedelta(minutes=20))
    dora.page.goto(server.url + "/notifications")
    deadline = time.monotonic() + 30
    while REMINDER not in notification_titles(dora):
        assert time.monotonic() < deadline, "the scheduler sent no reminder to the non-voter"
        dora.page.wait_for_timeout(1000)
    dora.shot("async-07-dora-reminded")
    dora.page.click(f"#notification-list a:has-text('{REMINDER}')")
    dora.page.wait_for_selector("#step-section[data-step=vote]")
    dora.page.wait_for_selector("#live-status[data-state=online]")
    assert "Closes by itself in 20 minutes" in dora.page.inner_text("#vote-board") or \
        "Closes by itself in 19 minutes" in dora.page.inner_text("#vote-board")

    # The deadline arrives: the scheduler closes the vote by itself and every open browser
    # shows the result, pushed live (nobody reloads).
    ben.page.wait_for_selector("#live-status[data-state=online]")
    let_time_pass(server.db, until_deadline=timedelta(seconds=2))
    for p in (fran, ana, ben, dora):
        p.page.wait_for_selector("#region-vote .badge.vote-closed", timeout=30000)
        p.page.wait_for_selector("#vote-board h4:text-is('Result')")
        assert "3 ballots counted" in p.page.inner_text("#vote-board .participation")
        assert p.page.locator("#vote-board table.tally tr.winner th").all_inner_texts() == ["FastAPI"]
        assert "FastAPI" in p.page.inner_text("#vote-board .result-summary")
        assert p.page.locator("#region-vote form.ballot").count() == 0  # no more ballots
        # The decision region follows (pushed in the same refresh): the next step is drafting.
        p.page.wait_for_selector(
            "#region-decision :text('Draft the decision')" if p is fran else
            "#region-decision :text('the facilitator drafts the decision next')", timeout=20000)
        p.shot("async-08-result")
    json_url = fran.page.get_attribute("#region-vote .vote-actions a:text-is('JSON')", "href")
    data = fran.page.request.get(server.url + json_url).json()
    assert data["number"] == 2
    assert data["status"] == "closed" and data["result"]["winners"] == [3]
    assert sorted(data["voted"]) == ["Ana Member", "Ben Member", "Fran Facilitator"]
    assert datetime.fromisoformat(data["closed_at"]) >= datetime.fromisoformat(data["closes_at"])
    fran.go("/teams/1")  # the team's activity log: closed by nobody, at the deadline
    closes = [r for r in fran.page.locator("table.audit tbody tr").all_inner_texts()
              if "vote.closed" in r and "vote=2" in r]
    assert len(closes) == 1 and "reason=deadline" in closes[0] and "\t—\t" in closes[0], closes

    # The reminder reached Dora only: in the app's notifications and in its mail log.
    assert REMINDER in notification_titles(dora)
    for voter in (fran, ana, ben):
        titles = notification_titles(voter)
        assert f"Vote open: {TITLE}" in titles  # they were told the vote opened
        assert REMINDER not in titles, voter.name
    olga = people("async-observer", "olga@example.com")
    assert not [t for t in notification_titles(olga) if TITLE in t]  # observers do not vote
    olga.shot("async-09-observer-inbox")
    mail_log = server.log.read_text()
    reminded = re.findall(r"mail \(no SMTP_HOST set\) to (\S+): \[Tradeoff\] Vote closing soon",
                          mail_log)
    assert reminded == [DORA[1]]
