"""Step 5, the team vote: open it, cast and change ballots, close it (by hand or at its
deadline), count it, and remind the members who have not voted.

What must hold, and where it is enforced:

- one ballot per member per vote: the database's unique key (session, user), with an upsert
  that survives a concurrent insert (IntegrityError → retry as an update);
- no ballot after the close: a ballot is written only in the same transaction as a guard
  ``UPDATE vote_sessions ... WHERE status = 'open' AND (closes_at IS NULL OR closes_at > now)``
  that must hit the row; the close is ``UPDATE ... WHERE status = 'open'``. The row lock (the
  database lock on SQLite) orders the two: a ballot racing the close is counted or refused;
- exactly one closer: only the caller whose conditional UPDATE changed the row counts the
  ballots, stores the result and broadcasts;
- hidden tallies and anonymous ballots stay hidden: everything a page, a partial, a push or an
  export shows comes from :func:`board` and :func:`vote_view`, which leave them out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app, url_for
from markupsafe import Markup
from sqlalchemy import bindparam, event, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import realtime
from app.analysis import voting
from app.extensions import db
from app.models import (
    Ballot,
    Decision,
    Membership,
    NotificationKind,
    QuorumKind,
    RevealPolicy,
    Review,
    User,
    VoteMethod,
    VoteSession,
    VoteStatus,
)
from app.rendering import REVIEW_OPTION
from app.services import audit, notifications
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.reviews import ensure_editable

REGIONS = ("vote", "decision")
TEMPLATE = "reviews/steps/vote.html"
MAX_DEADLINE = timedelta(days=90)
MAX_TIMER_MINUTES = 180
MAX_RETRIES = 3


def _now() -> datetime:
    return datetime.now(UTC)


# --- queries ----------------------------------------------------------------------------------

def sessions_of(review: Review) -> list[VoteSession]:
    return list(db.session.scalars(db.select(VoteSession).where(VoteSession.review_id == review.id)
                                   .order_by(VoteSession.number)))


def latest_session(review: Review) -> VoteSession | None:
    return db.session.scalar(db.select(VoteSession).where(VoteSession.review_id == review.id)
                             .order_by(VoteSession.number.desc()).limit(1))


def open_session(review: Review) -> VoteSession | None:
    return db.session.scalar(db.select(VoteSession).where(
        VoteSession.review_id == review.id, VoteSession.status == VoteStatus.OPEN.value))


def get_session(review: Review, session_id: int) -> VoteSession:
    found = db.session.get(VoteSession, session_id)
    if found is None or found.review_id != review.id:
        raise NotFound("That vote is not part of this review.")
    return found


def ballots_of(session: VoteSession) -> list[Ballot]:
    return list(db.session.scalars(db.select(Ballot).where(Ballot.session_id == session.id)
                                   .order_by(Ballot.id)))


def own_ballot(session: VoteSession, user: User) -> Ballot | None:
    return db.session.scalar(db.select(Ballot).where(Ballot.session_id == session.id,
                                                     Ballot.user_id == user.id))


def eligible_roles(review: Review) -> dict[int, str]:
    """The review team's voting members (owner, facilitator, member): user id → role."""
    rows = db.session.execute(db.select(Membership.user_id, Membership.role).where(
        Membership.team_id == review.team_id, Membership.role.in_(voting.VOTING_ROLES)))
    return dict(rows.all())


def eligible_voters(review: Review) -> list[User]:
    ids = eligible_roles(review)
    if not ids:
        return []
    return list(db.session.scalars(db.select(User).where(User.id.in_(ids)).order_by(User.name)))


# --- opening ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class VoteSettings:
    """How a vote runs; :func:`open_vote` checks every field."""

    method: str
    closes_at: datetime | None = None
    quorum_kind: str = QuorumKind.NONE.value
    quorum_value: float | str | None = None
    quorum_each_role: bool = False
    reveal: str = RevealPolicy.LIVE.value
    anonymous: bool = False
    timer_minutes: int | None = None


def _choice(enum, value, field: str, message: str):
    try:
        return enum(value)
    except ValueError:
        raise Invalid(message, field=field) from None


def _deadline(closes_at: datetime | None, now: datetime) -> datetime | None:
    if closes_at is None:
        return None
    if closes_at.tzinfo is None:
        raise Invalid("Give the deadline with its time zone.", field="deadline")
    if not now < closes_at <= now + MAX_DEADLINE:
        raise Invalid("The deadline must be in the future, at most 90 days away.", field="deadline")
    return closes_at


def _quorum(kind: QuorumKind, value, each_role: bool) -> tuple[float, bool]:
    if kind is QuorumKind.NONE:
        return 0.0, False
    try:
        number = float(str(value).strip().rstrip("%")) if value not in (None, "") else None
    except ValueError:
        number = None
    if number is not None and kind is QuorumKind.SHARE and number > 1:
        number = number / 100  # "60" or "60%" means 60 %
    ok = number is not None and (
        (kind is QuorumKind.COUNT and number >= 1 and number == int(number) and number <= 1000)
        or (kind is QuorumKind.SHARE and 0 < number <= 1))
    if not ok:
        raise Invalid("A quorum is a whole number of ballots (1 or more) or a share such as "
                      "0.5 or 50%.", field="quorum_value")
    return number, bool(each_role)


def _timer(minutes, now: datetime) -> datetime | None:
    if minutes in (None, "", 0):
        return None
    if not isinstance(minutes, int) or not 1 <= minutes <= MAX_TIMER_MINUTES:
        raise Invalid(f"A countdown runs 1 to {MAX_TIMER_MINUTES} minutes.", field="timer_minutes")
    return now + timedelta(minutes=minutes)


def _open_decision(review: Review) -> Decision | None:
    return db.session.scalar(db.select(Decision).where(Decision.review_id == review.id))


def open_vote(actor: User, review: Review, settings: VoteSettings) -> VoteSession:
    """Open a vote on the review's candidates that are not disqualified (frozen from now on).

    Raises Conflict (frozen review, a vote already open, a decision being signed), Invalid
    (method, fewer than two candidates, deadline, quorum, reveal policy or timer)."""
    ensure_editable(review)
    if _open_decision(review) is not None:
        raise Conflict("A decision has been drafted; discard it before voting again.")
    if open_session(review) is not None:
        raise Conflict("A vote is already open. Close it before opening another.")
    now = _now()
    method = _choice(VoteMethod, settings.method, "method", "Choose a voting method.")
    kind = _choice(QuorumKind, settings.quorum_kind, "quorum_kind", "Choose a kind of quorum.")
    reveal = _choice(RevealPolicy, settings.reveal, "reveal", "Choose when tallies are shown.")
    candidates = [{"id": c.id, "name": c.name} for c in review.candidates if not c.disqualified]
    if len(candidates) < 2:
        raise Invalid("A vote needs at least two candidates that are not disqualified.",
                      field="method")
    closes_at = _deadline(settings.closes_at, now)
    quorum_value, each_role = _quorum(kind, settings.quorum_value, settings.quorum_each_role)
    latest = latest_session(review)
    session = VoteSession(
        review_id=review.id, number=(latest.number + 1) if latest else 1, method=method.value,
        candidates=candidates, quorum_kind=kind.value, quorum_value=quorum_value,
        quorum_each_role=each_role, reveal=reveal.value, anonymous=bool(settings.anonymous),
        opened_by_id=actor.id, opened_at=now, closes_at=closes_at,
        timer_ends_at=_timer(settings.timer_minutes, now))
    db.session.add(session)
    db.session.flush()
    audit.record("vote.opened", actor=actor, team_id=review.team_id, review_id=review.id,
                 vote=session.number, method=method.value, reveal=reveal.value,
                 anonymous=session.anonymous,
                 closes_at=closes_at.isoformat() if closes_at else None)
    try:
        db.session.commit()
    except IntegrityError:  # opened at the same moment by someone else: same number
        db.session.rollback()
        raise Conflict("A vote was opened a moment ago. Reload to see it.") from None
    notify(session, NotificationKind.VOTE_OPENED)
    realtime.push_refresh(review.id, *REGIONS)
    return session


def set_timer(actor: User, review: Review, session_id: int, minutes: int | None) -> VoteSession:
    """Start (or with 0/None stop) the live countdown everyone in the room sees."""
    ensure_editable(review)
    session = get_session(review, session_id)
    if not session.is_open:
        raise Conflict("This vote has closed.")
    session.timer_ends_at = _timer(minutes, _now())
    audit.record("vote.timer_set", actor=actor, team_id=review.team_id, review_id=review.id,
                 vote=session.number, minutes=minutes or 0)
    db.session.commit()
    push_board(review)
    return session


# --- ballots ----------------------------------------------------------------------------------

def _store_payload(method: str, ballot):
    """Normalized ballot → JSON (score sheets as [[id, score], ...]: JSON keys are strings)."""
    if method == VoteMethod.SCORE:
        return [[cid, score] for cid, score in ballot.items()]
    if method in (VoteMethod.APPROVAL, VoteMethod.RANKED):
        return list(ballot)
    return ballot


def load_payload(method: str, payload):
    """Stored JSON → the ballot shape app/analysis/voting counts."""
    if method == VoteMethod.SCORE:
        return {int(cid): int(score) for cid, score in payload}
    if method in (VoteMethod.APPROVAL, VoteMethod.RANKED):
        return tuple(payload)
    return payload


def _voting_role(review: Review, user: User) -> str:
    """The user's role if it votes (as :func:`eligible_roles` has it), in one one-row statement."""
    role = db.session.scalar(db.select(Membership.role).where(
        Membership.team_id == review.team_id, Membership.user_id == user.id,
        Membership.role.in_(voting.VOTING_ROLES)))
    if role is None:
        raise Forbidden("Only the team's members, facilitators and owners vote; observers watch.")
    return role


_SESSIONS = VoteSession.__table__
_GUARD = (update(_SESSIONS)
          .where(_SESSIONS.c.id == bindparam("session_id"), _SESSIONS.c.status == VoteStatus.OPEN.value,
                 or_(_SESSIONS.c.closes_at.is_(None), _SESSIONS.c.closes_at > bindparam("now")))
          .values(ballot_count=_SESSIONS.c.ballot_count + bindparam("add")))


def _guard(session: VoteSession, now: datetime, add: int) -> bool:
    """The write every ballot goes through: hits the row only while the vote accepts ballots
    (and locks it until the transaction ends). Names its review for the page-cache stamp
    (app/rendering.py), which the transaction's revision bump has moved already."""
    result = db.session.execute(_GUARD, {"session_id": session.id, "now": now, "add": add},
                                execution_options={REVIEW_OPTION: session.review_id})
    return result.rowcount == 1


def _write_ballot(session: VoteSession, actor: User, role: str, payload) -> tuple[Ballot, bool, int]:
    """Insert or update the actor's ballot in one transaction behind the guard; returns the
    ballot, whether it is new and the review's live revision, counted in the same transaction
    (one commit per ballot). Raises Conflict when the vote no longer accepts ballots."""
    for _attempt in range(MAX_RETRIES):
        now = _now()
        try:
            # The revision (and the review's page-cache stamp) first: the review row before the
            # vote's, the order every other writer takes them in (their stamp comes first).
            rev = realtime.bump_revision(session.review_id, commit=False)
            if not _guard(session, now, 0):
                db.session.rollback()
                raise Conflict("This vote has closed; ballots are no longer accepted.")
            ballot = own_ballot(session, actor)
            created = ballot is None
            if created:
                ballot = Ballot(session_id=session.id, user_id=actor.id, role=role,
                                payload=payload, cast_at=now, updated_at=now)
                db.session.add(ballot)
                _guard(session, now, 1)  # flushes the insert first: a duplicate fails here
            else:
                ballot.payload, ballot.role, ballot.updated_at = payload, role, now
            audit.record("vote.ballot_cast" if created else "vote.ballot_changed", actor=actor,
                         team_id=session.review.team_id, review_id=session.review_id,
                         vote=session.number)
            db.session.commit()
            return ballot, created, rev
        except IntegrityError:  # the same member's other request inserted first: update it
            db.session.rollback()
    raise Conflict("Your ballot could not be saved just now; please submit it again.")


def cast_ballot(actor: User, review: Review, session_id: int, ballot) -> Ballot:
    """Cast or change the actor's ballot while the vote is open.

    ``ballot`` has the shape of app/analysis/voting for the vote's method. Raises Forbidden
    (observers, non-members), NotFound, Conflict (closed vote, frozen review), Invalid (a
    ballot that does not fit the method or names a candidate outside this vote)."""
    ensure_editable(review)
    session = get_session(review, session_id)
    role = _voting_role(review, actor)
    if not session.is_open:
        raise Conflict("This vote has closed; ballots are no longer accepted.")
    try:
        clean = voting.validate_ballot(session.method, session.candidate_ids, ballot)
    except voting.BallotError as err:
        raise Invalid(_ballot_message(session, err), field="ballot") from None
    stored, _created, rev = _write_ballot(session, actor, role, _store_payload(session.method, clean))
    push_board(review, rev=rev)
    return stored


def _ballot_message(session: VoteSession, err: voting.BallotError) -> str:
    text = str(err)
    if text.startswith("unknown candidate"):
        return "That is not a candidate in this vote."
    return text[:1].upper() + text[1:] + "."


# --- closing and counting -------------------------------------------------------------------

def _quorum_rule(session: VoteSession) -> tuple | None:
    if session.quorum_kind == QuorumKind.NONE:
        return None
    return (session.quorum_kind, session.quorum_value, session.quorum_each_role)


def quorum_status(session: VoteSession, ballots: list[Ballot], eligible: dict[int, str]) -> dict:
    """Whether the quorum is met: numbers only, never what anyone voted."""
    rule = _quorum_rule(session)
    if rule is None:
        return {"met": True, "required": 0, "ballots": len(ballots), "eligible": len(eligible),
                "message": f"No quorum required ({len(ballots)} of {len(eligible)} voted)."}
    status = voting.check_quorum(Counter(b.role for b in ballots), Counter(eligible.values()),
                                 rule)
    return {"met": status.met, "required": status.required, "ballots": status.ballots,
            "eligible": status.eligible, "message": status.message}


def _round_data(r: voting.IrvRound) -> dict:
    return {"number": r.number, "counts": [[cid, n] for cid, n in r.counts.items()],
            "continuing": r.continuing, "exhausted": r.exhausted, "majority": r.majority,
            "elected": list(r.elected), "eliminated": r.eliminated, "tie_break": r.tie_break,
            "note": r.note}


def _condorcet_data(c: voting.CondorcetResult | None) -> dict | None:
    if c is None:
        return None
    return {"winner": c.winner, "status": c.status, "cycle": list(c.cycle),
            "agrees_with_irv": c.agrees_with_irv, "message": c.message,
            "pairwise": [[a, b, n] for a, row in c.pairwise.items() for b, n in row.items()]}


def result_data(session: VoteSession, ballots: list[Ballot], eligible: dict[int, str]) -> dict:
    """Count the ballots: the result as JSON-ready data (stored on the session at the close)."""
    names = session.names
    result = voting.count_votes(session.method, session.candidate_ids,
                                [load_payload(session.method, b.payload) for b in ballots], names)
    return {
        "method": result.method, "winners": list(result.winners), "summary": result.summary,
        "ballots_counted": result.ballots_counted,
        "tally": [{"candidate_id": r.candidate_id, "name": names.get(r.candidate_id, "?"),
                   "votes": r.votes, "share": r.share, "mean": r.mean, "mentions": r.mentions,
                   "rank": r.rank, "eliminated_in": r.eliminated_in} for r in result.tally],
        "rounds": [_round_data(r) for r in result.rounds],
        "condorcet": _condorcet_data(result.condorcet),
        "quorum": quorum_status(session, ballots, eligible),
    }


def _close(session: VoteSession, actor: User | None, reason: str) -> bool:
    """Close if still open; only the caller whose UPDATE wins counts, stores and broadcasts."""
    table = VoteSession.__table__
    won = db.session.execute(
        update(table).where(table.c.id == session.id, table.c.status == VoteStatus.OPEN.value)
        .values(status=VoteStatus.CLOSED.value, closed_at=_now(), close_reason=reason,
                closed_by_id=actor.id if actor else None, timer_ends_at=None)).rowcount == 1
    if not won:
        db.session.rollback()
        return False
    db.session.expire(session)
    review = session.review
    ballots = ballots_of(session)
    session.result = result_data(session, ballots, eligible_roles(review))
    audit.record("vote.closed", actor=actor, team_id=review.team_id, review_id=review.id,
                 vote=session.number, reason=reason, ballots=len(ballots))
    db.session.commit()
    realtime.push_refresh(review.id, *REGIONS)
    return True


def close_vote(actor: User, review: Review, session_id: int) -> VoteSession:
    """Close the vote now and count it. Raises NotFound, Conflict (already closed, frozen)."""
    ensure_editable(review)
    session = get_session(review, session_id)
    if not _close(session, actor, "facilitator"):
        raise Conflict("This vote is already closed.")
    return session


def close_due(now: datetime | None = None) -> list[VoteSession]:
    """Close every open vote whose deadline has passed (the scheduler's and cron's job).
    Safe to run in several processes at once: each vote is closed by exactly one of them."""
    now = now or _now()
    due = list(db.session.scalars(db.select(VoteSession).where(
        VoteSession.status == VoteStatus.OPEN.value, VoteSession.closes_at.is_not(None),
        VoteSession.closes_at <= now).order_by(VoteSession.id)))
    return [session for session in due if _close(session, None, "deadline")]


# --- reminders ----------------------------------------------------------------------------------

def reminder_lead() -> timedelta:
    return timedelta(hours=float(current_app.config.get("VOTE_REMINDER_BEFORE_HOURS", 24)))


def _session_url(session: VoteSession) -> str:
    with realtime.render_context():
        return url_for("reviews.show_step", review_id=session.review_id, step="vote")


def _reminder_text(session: VoteSession, kind: NotificationKind) -> tuple[str, str]:
    review = session.review
    deadline = (f" It closes on {session.closes_at:%Y-%m-%d at %H:%M} UTC."
                if session.closes_at else "")
    if kind is NotificationKind.VOTE_OPENED:
        return (f"Vote open: {review.title}",
                f"A {session.method_enum.label.lower()} vote is open in “{review.title}” "
                f"({review.team.name}).{deadline}")
    return (f"Vote closing soon: {review.title}",
            f"You have not voted yet in “{review.title}” ({review.team.name}).{deadline}")


def notify(session: VoteSession, kind: NotificationKind) -> list:
    """Notify the eligible members who have not voted (each at most once per kind)."""
    voted = {b.user_id for b in ballots_of(session)}
    title, body = _reminder_text(session, kind)
    url = _session_url(session)
    drafts = [notifications.Draft(user_id=uid, kind=kind.value, subject=f"vote:{session.id}",
                                  title=title, body=body, url=url, review_id=session.review_id)
              for uid in eligible_roles(session.review) if uid not in voted]
    return notifications.send_once(drafts)


def remind_due(now: datetime | None = None) -> int:
    """The reminder pass: "vote opened" to eligible members not told yet (say, new members),
    and "deadline approaching" within VOTE_REMINDER_BEFORE_HOURS of the deadline — both only
    to those who have not voted. Returns how many notifications this pass stored."""
    now = now or _now()
    lead = reminder_lead()
    sent = 0
    for session in db.session.scalars(db.select(VoteSession).where(
            VoteSession.status == VoteStatus.OPEN.value).order_by(VoteSession.id)).all():
        sent += len(notify(session, NotificationKind.VOTE_OPENED))
        window = session.closes_at - lead if session.closes_at else None
        # A vote opened inside the window already said when it closes: no second message.
        if window and window <= now < session.closes_at and session.opened_at < window:
            sent += len(notify(session, NotificationKind.VOTE_DEADLINE))
    return sent


# --- what people see ----------------------------------------------------------------------------

@dataclass
class Board:
    """The viewer-independent part of the vote: who has voted (never what, while hidden), the
    tallies when the policy allows, named ballots once visible, the timer. Safe to broadcast."""

    session: VoteSession | None
    voted: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    quorum: dict | None = None
    result: dict | None = None  # live tally (policy allows) or the stored result (closed)
    named_ballots: list[tuple[str, str]] = field(default_factory=list)
    timer_seconds: int | None = None
    closes_in: str | None = None

    @property
    def tally_hidden(self) -> bool:
        return self.session is not None and self.session.hides_tally


def ballot_text(session: VoteSession, payload) -> str:
    """A ballot in words ("1. FastAPI  2. Django"), for named ballots once they are visible."""
    names, ballot = session.names, load_payload(session.method, payload)
    if session.method == VoteMethod.SINGLE:
        return names.get(ballot, "?")
    if session.method == VoteMethod.APPROVAL:
        return ", ".join(names.get(c, "?") for c in ballot) or "(approved none)"
    if session.method == VoteMethod.RANKED:
        return "  ".join(f"{i}. {names.get(c, '?')}" for i, c in enumerate(ballot, 1))
    return ", ".join(f"{names.get(c, '?')} {s}" for c, s in ballot.items())


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes >= 48 * 60:
        return f"{minutes // (24 * 60)} days"
    if minutes >= 120:
        return f"{minutes // 60} hours"
    return f"{max(minutes, 1)} minute{'s' if minutes > 1 else ''}"


# The board's two reads as plain Core statements built once, run on the session's connection
# (same transaction): rows, not ORM objects, for the up to hundreds of rows every ballot's board
# reads (the ORM's per-row bookkeeping cost more than the query).
_ELIGIBLE_NAMES = (db.select(Membership.user_id, Membership.role, User.name)
                   .join(User, User.id == Membership.user_id)
                   .where(Membership.team_id == bindparam("team_id"),
                          Membership.role.in_(voting.VOTING_ROLES)))
_BALLOT_ROWS = (db.select(Ballot.id, Ballot.user_id, Ballot.role, Ballot.payload)
                .where(Ballot.session_id == bindparam("session_id")).order_by(Ballot.id))


def _rows(statement, params: dict) -> list:
    """``statement``'s rows on the session's connection, after flushing what is pending (as the
    ORM's autoflush would)."""
    if db.session.new or db.session.dirty or db.session.deleted:
        db.session.flush()
    return db.session.connection().execute(statement, params).all()


def _eligible_names(review: Review) -> tuple[dict[int, str], dict[int, str]]:
    """The voting members' roles and names by user id, in one statement."""
    rows = _rows(_ELIGIBLE_NAMES, {"team_id": review.team_id})
    return {uid: role for uid, role, _ in rows}, {uid: name for uid, _, name in rows}


def board(review: Review, session: VoteSession | None = None, now: datetime | None = None) -> Board:
    session = session or latest_session(review)
    if session is None:
        return Board(None)
    return _board(review, session, now)[0]


def _board(review: Review, session: VoteSession, now: datetime | None = None
           ) -> tuple[Board, list, dict[int, str]]:
    """The board, and the ballots (rows with the Ballot's id, user_id, role and payload) and
    eligible roles it was built from (for the viewer's own part of :func:`vote_view`; never for
    a broadcast)."""
    now = now or _now()
    ballots = _rows(_BALLOT_ROWS, {"session_id": session.id})  # rows: id, user_id, role, payload
    eligible, people = _eligible_names(review)
    voted_ids = {b.user_id for b in ballots}
    if voted_ids - set(people):  # voted, no longer a voting member: still named
        people.update({uid: name for uid, name in db.session.execute(db.select(User.id, User.name)
                       .where(User.id.in_(voted_ids - set(people))))})
    view = Board(session,
                 voted=sorted(people.get(uid, "?") for uid in voted_ids),
                 waiting=sorted(people[uid] for uid in eligible if uid not in voted_ids))
    if not session.is_open:  # what the close counted, not today's membership
        view.result = session.result
        view.quorum = (session.result or {}).get("quorum")
        view.waiting = []
    else:
        view.quorum = quorum_status(session, ballots, eligible)
        if not session.hides_tally:
            view.result = result_data(session, ballots, eligible)
    if view.result is not None and not session.anonymous:
        view.named_ballots = sorted((people.get(b.user_id, "?"), ballot_text(session, b.payload))
                                    for b in ballots)
    if session.is_open and session.timer_ends_at and session.timer_ends_at > now:
        view.timer_seconds = int((session.timer_ends_at - now).total_seconds())
    if session.is_open and session.closes_at:
        view.closes_in = _duration(max((session.closes_at - now).total_seconds(), 0))
    return view, ballots, eligible


# The board a broadcast was built from, kept for the rest of the database session (the same
# request) so that the caster's own answer does not count the same ballots a second time; any
# write, commit or rollback in the session forgets it (see _forget_board).
_BUILT = "tradeoff.vote_board"


def _remember_board(session: VoteSession, built: tuple[Board, list, dict[int, str]],
                    html: str) -> None:
    db.session.info[_BUILT] = (session.id, built, html)


def _remembered_board(session: VoteSession) -> tuple[Board, list, dict[int, str]] | None:
    found = db.session.info.get(_BUILT)
    return found[1] if found and found[0] == session.id else None


def remembered_board_html(board_view: Board) -> Markup | None:
    """The HTML the ``vote_board`` block rendered for exactly this board object (the one just
    broadcast, see :func:`render_board`), so that an answer embeds it instead of rendering the
    same block a second time; None when this board was not rendered in this session."""
    found = db.session.info.get(_BUILT)
    return Markup(found[2]) if found and found[1][0] is board_view else None


@event.listens_for(Session, "after_flush")
@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget_board(session, *_args) -> None:
    session.info.pop(_BUILT, None)


def render_board(review: Review, session: VoteSession | None = None) -> str:
    session = session or latest_session(review)
    if session is None:
        return realtime.render_fragment(TEMPLATE, "vote_board", review=review, board=Board(None))
    built = _board(review, session)
    html = realtime.render_fragment(TEMPLATE, "vote_board", review=review, board=built[0])
    _remember_board(session, built, html)
    return html


def push_board(review: Review, rev: int | None = None) -> None:
    """Broadcast the board (same block the page renders; it never depends on the viewer).
    ``rev``: the revision already counted with the change (see realtime.bump_revision)."""
    if rev is None:  # count first, render after: the board sent is never older than its revision
        rev = realtime.bump_revision(review.id)
    realtime.broadcast_fragment(review.id, render_board(review), rev=rev)


@dataclass
class VoteView:
    """The vote step for one viewer: the board plus their own ballot and what they may do."""

    board: Board
    session: VoteSession | None
    own: object | None  # the viewer's normalized ballot
    can_vote: bool
    history: list[VoteSession]


def vote_view(review: Review, viewer: User) -> VoteView:
    sessions = sessions_of(review)
    session = sessions[-1] if sessions else None  # the latest (by number)
    if session is None:
        view, ballots, eligible = Board(None), [], {}
    else:  # the board this request has just broadcast, if nothing was written since
        view, ballots, eligible = _remembered_board(session) or _board(review, session)
    own = next((b for b in ballots if b.user_id == viewer.id), None)
    may = (session is not None and session.is_open and not review.is_frozen
           and viewer.id in eligible)
    history = [s for s in sessions if session is None or s.id != session.id]
    return VoteView(view, session, load_payload(session.method, own.payload) if own else None,
                    may, list(reversed(history)))


def public_result(session: VoteSession, view: Board | None = None) -> dict:
    """The vote as data for exports and the JSON endpoint: the settings and participation
    always; the tallies only when the policy allows; names with ballots only when named.
    ``view``: the session's board when the caller has built it already."""
    review = session.review
    if view is None or view.session is not session:
        view = board(review, session)
    data = {
        "number": session.number, "method": session.method, "status": session.status,
        "reveal": session.reveal, "anonymous": session.anonymous,
        "candidates": session.candidates,
        "opened_at": session.opened_at.astimezone(UTC).isoformat(),
        "closes_at": session.closes_at.astimezone(UTC).isoformat() if session.closes_at else None,
        "closed_at": session.closed_at.astimezone(UTC).isoformat() if session.closed_at else None,
        "quorum_rule": {"kind": session.quorum_kind, "value": session.quorum_value,
                        "each_role": session.quorum_each_role},
        "voted": view.voted, "quorum": view.quorum,
        "result": view.result,
    }
    if view.named_ballots:
        data["ballots"] = [{"voter": who, "ballot": text} for who, text in view.named_ballots]
    return data
