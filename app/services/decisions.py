"""Step 5 after the vote: the decision, its sign-off, and the frozen, content-hashed record.

- The facilitator drafts the decision once a vote has closed with its quorum: the chosen
  candidate (the winner unless a reason says otherwise), rationale, consequences, tags, a
  revisit date and the sign-off rule. Revising the text clears the signatures: people sign a
  text, not a slot.
- Members sign (agree, abstain, object or block; objections and blocks need a reason). When
  the review's rule holds, the facilitator signs the decision off: the review is archived and
  frozen (every change path answers 409), and the record stores a canonical JSON snapshot of
  the whole review with its SHA-256.
- :func:`verify_all` (``flask archive verify``) recomputes each hash from the stored snapshot
  and rebuilds the snapshot from the live rows: a record whose data changed is reported.
- Exports (MADR Markdown, JSON) are rendered from the stored snapshot, never from live rows.
- The archive lists records across a user's teams; a record due for revisit is flagged and its
  team notified once; "supersede" starts a new review prefilled from the record.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from flask import url_for
from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from app import realtime
from app.analysis import voting
from app.extensions import db
from app.models import (
    AuditEvent,
    Decision,
    DecisionStatus,
    Membership,
    NotificationKind,
    Review,
    ReviewStatus,
    Score,
    ScoringRound,
    SignOff,
    SignOffRule,
    Stance,
    Team,
    User,
)
from app.services import audit, constraints, mapping, notifications, reviews, votes
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.markdown import md_plain, md_text
from app.services.reviews import ensure_editable

try:  # step 3 and step 4 are optional parts of a record: used when their services exist
    from app.services import notes as notes_service
except ImportError:  # pragma: no cover - depends on what else is installed
    notes_service = None
try:
    from app.services import benchmarks as benchmark_service
except ImportError:  # pragma: no cover
    benchmark_service = None

FORMAT = "tradeoff.decision-record/1"
REGIONS = ("decision", "vote")
MAX_TEXT = 20_000
MAX_TAGS = 10
MAX_TAG = 30
MAX_REVISIT = timedelta(days=3660)


def _now() -> datetime:
    return datetime.now(UTC)


def _today() -> date:
    return _now().date()


# --- queries ----------------------------------------------------------------------------------

def decision_of(review: Review) -> Decision | None:
    return db.session.scalar(db.select(Decision).where(Decision.review_id == review.id))


def decision_and_predecessor(review: Review) -> tuple[Decision | None, Decision | None]:
    """:func:`decision_of` and :func:`predecessor_of` in one statement (the vote step shows
    both)."""
    found = list(db.session.scalars(db.select(Decision).where(or_(
        Decision.review_id == review.id, Decision.successor_review_id == review.id))))
    return (next((d for d in found if d.review_id == review.id), None),
            next((d for d in found if d.successor_review_id == review.id), None))


def predecessor_of(review: Review) -> Decision | None:
    """The archived decision this review was started to revisit ("supersede"), if any."""
    return db.session.scalar(db.select(Decision).where(Decision.successor_review_id == review.id))


def record_of(review: Review) -> Decision:
    """The review's decision, drafted or signed off. Raises NotFound without one."""
    found = decision_of(review)
    if found is None:
        raise NotFound("This review has no decision yet.")
    return found


# --- drafting -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DecisionDraft:
    """What the facilitator submits; :func:`draft_decision` checks all of it."""

    candidate_id: int | None
    rationale: str
    consequences: str = ""
    deviation_reason: str = ""
    tags: tuple[str, ...] | str = ()
    revisit_on: date | None = None
    rule: str = SignOffRule.CONSENT.value
    quorum_kind: str = "share"
    quorum_value: float | str | None = 0.5


def _text(value: str | None, field_name: str, label: str, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise Invalid(f"Write the {label}.", field=field_name)
    if len(text) > MAX_TEXT:
        raise Invalid(f"Keep the {label} under {MAX_TEXT:,} characters.", field=field_name)
    return text


def _tags(value) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value or ())
    tags = list(dict.fromkeys(re.sub(r"\s+", "-", t.strip().lower()) for t in items if t.strip()))
    if len(tags) > MAX_TAGS or any(len(t) > MAX_TAG for t in tags):
        raise Invalid(f"Up to {MAX_TAGS} tags of at most {MAX_TAG} characters.", field="tags")
    return tags


def _revisit(value: date | None, today: date) -> date:
    if value is None:
        raise Invalid("Set a date to revisit this decision.", field="revisit_on")
    if not today < value <= today + MAX_REVISIT:
        raise Invalid("The revisit date must be in the future (within ten years).",
                      field="revisit_on")
    return value


def _signoff_quorum(kind: str, value) -> tuple[str, float]:
    try:
        number = float(str(value).strip().rstrip("%"))
    except (TypeError, ValueError):
        number = math.nan
    if kind == "share" and number > 1:
        number /= 100
    ok = (kind == "count" and number >= 1 and number == int(number)) or \
         (kind == "share" and 0 < number <= 1)
    if not ok:
        raise Invalid("The agreements needed are a count (1 or more) or a share such as 0.5.",
                      field="quorum_value")
    return kind, number


def _closed_vote_with_quorum(review: Review):
    if votes.open_session(review) is not None:
        raise Conflict("Close the vote before drafting the decision.")
    session = votes.latest_session(review)
    if session is None:
        raise Conflict("Hold a vote before drafting the decision.")
    if not (session.result or {}).get("quorum", {}).get("met"):
        raise Conflict("The last vote did not reach its quorum; open a new vote.")
    return session


def _chosen(review: Review, candidate_id, winners: list, reason: str):
    candidate = next((c for c in review.candidates if c.id == candidate_id), None)
    if candidate is None:
        raise Invalid("Choose one of this review's candidates.", field="candidate_id")
    if candidate.disqualified:
        raise Invalid(f"{candidate.name} is disqualified.", field="candidate_id")
    if winners != [candidate.id] and not reason:
        what = "a tie" if len(winners) > 1 else "the vote's winner"
        raise Invalid(f"Say why the decision differs from {what}.", field="deviation_reason")
    return candidate


def draft_decision(actor: User, review: Review, draft: DecisionDraft) -> Decision:
    """Draft (or revise) the decision. Revising changes the text people sign, so the
    signatures given so far are cleared (the audit log keeps them).

    Raises Conflict (frozen, a vote still open, no closed vote with quorum), Invalid (a field)."""
    ensure_editable(review)
    session = _closed_vote_with_quorum(review)
    reason = _text(draft.deviation_reason, "deviation_reason", "reason")
    candidate = _chosen(review, draft.candidate_id, list(session.result["winners"]), reason)
    try:
        rule = SignOffRule(draft.rule)
    except ValueError:
        raise Invalid("Choose a sign-off rule.", field="rule") from None
    kind, value = _signoff_quorum(draft.quorum_kind, draft.quorum_value)
    values = dict(
        vote_session_id=session.id, candidate_id=candidate.id, chosen_name=candidate.name,
        deviation_reason=reason if session.result["winners"] != [candidate.id] else "",
        rationale=_text(draft.rationale, "rationale", "rationale", required=True),
        consequences=_text(draft.consequences, "consequences", "consequences"),
        tags=_tags(draft.tags), rule=rule.value, quorum_kind=kind, quorum_value=value)
    revisit_on = _revisit(draft.revisit_on, _today())
    decision = decision_of(review)
    if decision is None:
        decision = Decision(review_id=review.id, drafted_by_id=actor.id, drafted_at=_now(),
                            **values)
        db.session.add(decision)
        action, cleared = "decision.drafted", 0
    else:
        changed = any(getattr(decision, k) != v for k, v in values.items()) or \
            review.revisit_on != revisit_on
        if not changed:
            return decision
        cleared = len(decision.signoffs)
        decision.signoffs.clear()
        for key, value_ in values.items():
            setattr(decision, key, value_)
        decision.revision += 1
        decision.drafted_by_id, decision.drafted_at = actor.id, _now()
        action = "decision.revised"
    review.revisit_on = revisit_on
    db.session.flush()
    audit.record(action, actor=actor, team_id=review.team_id, review_id=review.id,
                 chosen=candidate.name, revision=decision.revision, signoffs_cleared=cleared)
    try:
        db.session.commit()
    except IntegrityError:  # drafted at the same moment in another tab
        db.session.rollback()
        raise Conflict("The decision was drafted a moment ago; reload to see it.") from None
    _notify_proposed(review, decision)
    realtime.push_refresh(review.id, *REGIONS)
    return decision


def _notify_proposed(review: Review, decision: Decision) -> None:
    """Ask the voting members to sign — again after a revision, which cleared the signatures."""
    with realtime.render_context():
        url = url_for("reviews.show_step", review_id=review.id, step="vote")
    notifications.send_once(
        notifications.Draft(user_id=uid, kind=NotificationKind.DECISION_PROPOSED.value,
                            subject=f"decision:{decision.id}:r{decision.revision}",
                            review_id=review.id, url=url,
                            title=f"Sign the decision: {review.title}",
                            body=f"The facilitator proposes {decision.chosen_name} for "
                                 f"“{review.title}”. Agree, abstain, object or block.")
        for uid in votes.eligible_roles(review))


def discard_decision(actor: User, review: Review) -> None:
    """Withdraw a proposed decision (and its signatures), e.g. to vote again."""
    ensure_editable(review)
    decision = record_of(review)
    audit.record("decision.discarded", actor=actor, team_id=review.team_id, review_id=review.id,
                 chosen=decision.chosen_name, signoffs=len(decision.signoffs))
    db.session.delete(decision)
    db.session.commit()
    realtime.push_refresh(review.id, *REGIONS)


# --- signing ---------------------------------------------------------------------------------

def sign(actor: User, review: Review, stance: str, reason: str = "") -> SignOff:
    """Record the actor's stance on the proposed decision (changeable until sign-off).

    Raises Forbidden (observers), NotFound (nothing to sign), Conflict (frozen), Invalid (an
    unknown stance, an objection or block without a reason)."""
    ensure_editable(review)
    decision = record_of(review)
    role = votes.eligible_roles(review).get(actor.id)
    if role is None:
        raise Forbidden("Only the team's members, facilitators and owners sign; observers watch.")
    try:
        chosen = Stance(stance)
    except ValueError:
        raise Invalid("Choose agree, abstain, object or block.", field="stance") from None
    reason = _text(reason, "reason", "reason")
    if chosen.needs_reason and not reason:
        raise Invalid(f"Say why you {chosen.value}.", field="reason")
    for _attempt in range(3):
        row = db.session.scalar(db.select(SignOff).where(SignOff.decision_id == decision.id,
                                                         SignOff.user_id == actor.id))
        row = row or SignOff(decision_id=decision.id, user_id=actor.id)
        row.role, row.stance, row.reason, row.signed_at = role, chosen.value, reason, _now()
        db.session.add(row)
        audit.record("decision.signed", actor=actor, team_id=review.team_id, review_id=review.id,
                     stance=chosen.value, revision=decision.revision)
        try:
            db.session.commit()
            break
        except IntegrityError:  # the same member signed in another tab at the same moment
            db.session.rollback()
    else:
        raise Conflict("Your sign-off could not be saved just now; please try again.")
    realtime.push_refresh(review.id, "decision")
    return row


@dataclass
class SignOffStatus:
    """Where the sign-off stands under the decision's rule."""

    counts: dict[str, int]
    eligible: int
    required: int
    met: bool
    message: str
    waiting: list[str] = field(default_factory=list)


def signoff_status(review: Review, decision: Decision) -> SignOffStatus:
    eligible = votes.eligible_roles(review)
    current = [s for s in decision.signoffs if s.user_id in eligible]
    counts = Counter(s.stance for s in current)
    counts = {stance.value: counts.get(stance.value, 0) for stance in Stance}
    agreeing = Counter(s.role for s in current if s.stance == Stance.AGREE)
    quorum = voting.check_quorum(agreeing, Counter(eligible.values()),
                                 (decision.quorum_kind, decision.quorum_value, False))
    agree, block, objections = counts["agree"], counts["block"], counts["object"]
    met = {
        SignOffRule.CONSENT: quorum.met and block == 0,
        SignOffRule.NO_OBJECTION: quorum.met and block == 0 and objections == 0,
        SignOffRule.UNANIMOUS: bool(eligible) and agree == len(eligible),
        SignOffRule.MAJORITY: quorum.met and agree > objections + block,
    }[decision.rule_enum]
    required = len(eligible) if decision.rule_enum is SignOffRule.UNANIMOUS else quorum.required
    signed = {s.user_id for s in current}
    waiting = sorted(u.name for u in votes.eligible_voters(review) if u.id not in signed)
    message = (f"{agree} agree, {counts['abstain']} abstain, {objections} object, {block} block; "
               f"{required} agreement{'s' if required != 1 else ''} needed. "
               + ("The rule is met." if met else "The rule is not met yet."))
    return SignOffStatus(counts, len(eligible), required, met, message, waiting)


# --- signing off: freeze, snapshot, hash ------------------------------------------------

def canonical_json(data) -> str:
    """The one serialization that is hashed: sorted keys, no spaces, UTF-8 text as is."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(snapshot: str) -> str:
    return hashlib.sha256(snapshot.encode("utf-8")).hexdigest()


def sign_off(actor: User, review: Review) -> Decision:
    """Sign the decision off and archive the review: from now on nothing changes it.

    Exactly one caller wins (a conditional UPDATE on the decision). The snapshot is built from
    the rows as the database holds them (after a flush and expiry), so that the live rebuild
    of :func:`verify` sees the same values. Raises Conflict (frozen already, a vote open, the
    rule not met), NotFound (no decision)."""
    ensure_editable(review)
    decision = record_of(review)
    if votes.open_session(review) is not None:
        raise Conflict("A vote is open; close it before signing the decision off.")
    status = signoff_status(review, decision)
    if not status.met:
        raise Conflict(f"Not signed off yet: {status.message}")
    now = _now()
    table = Decision.__table__
    won = db.session.execute(update(table).where(
        table.c.id == decision.id, table.c.status == DecisionStatus.PROPOSED.value).values(
        status=DecisionStatus.SIGNED_OFF.value, signed_off_at=now,
        signed_off_by_id=actor.id)).rowcount == 1
    if not won:
        db.session.rollback()
        raise Conflict("This decision is already signed off.")
    review.status = ReviewStatus.ARCHIVED.value
    audit.record("decision.signed_off", actor=actor, team_id=review.team_id, review_id=review.id,
                 chosen=decision.chosen_name, revision=decision.revision)
    db.session.flush()
    decision.audit_until_id = db.session.scalar(db.select(db.func.max(AuditEvent.id)).where(
        AuditEvent.review_id == review.id))
    db.session.flush()
    db.session.expire_all()
    snapshot = canonical_json(record_data(review, decision))
    decision.snapshot, decision.content_hash = snapshot, content_hash(snapshot)
    db.session.commit()
    # Every region on every open page: the header shows "Archived", and no step keeps a form.
    realtime.push_refresh(review.id, realtime.ALL_REGIONS)
    return decision


# --- the record's content ------------------------------------------------------------------------

def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    return value.isoformat()


def _person(user: User | None) -> dict | None:
    return {"id": user.id, "name": user.name} if user else None


def _review_data(review: Review) -> dict:
    return {"id": review.id, "title": review.title, "question": review.question,
            "template": review.template, "team": {"id": review.team.id, "name": review.team.name},
            "created_at": _iso(review.created_at), "created_by": _person(review.created_by),
            "revisit_on": _iso(review.revisit_on)}


def _candidates_data(review: Review) -> list[dict]:
    return [{"id": c.id, "name": c.name, "description": c.description, "position": c.position,
             "disqualified": c.disqualified_reason,
             "disqualified_by_constraint_id": c.disqualified_by_constraint_id}
            for c in review.candidates]


def _constraints_data(rows) -> list[dict]:
    return [{"id": c.id, "kind": c.kind, "label": c.kind_enum.spec.label,
             "comparison": c.kind_enum.spec.comparison, "priority": c.priority,
             "knockout": c.knockout, "target": c.target, "unit": c.unit, "details": c.details,
             "description": c.description} for c in rows]


def _matrix_data(review: Review, criteria, candidates) -> dict | None:
    """The latest revealed scoring round: cell means/spreads, totals, ranks, sensitivity.
    Read only (never creates a round); nothing here is per viewer. The round, then its scores
    as plain rows; the analysis comes from the cache the mapping step fills."""
    round_ = db.session.scalar(db.select(ScoringRound).where(
        ScoringRound.review_id == review.id, ScoringRound.revealed_at.is_not(None))
        .order_by(ScoringRound.number.desc()).limit(1))
    if round_ is None or not criteria:
        return None
    rows = db.session.execute(db.select(Score.user_id, Score.criterion_id, Score.candidate_id,
                                        Score.value).where(Score.round_id == round_.id)
                              .order_by(Score.id)).all()
    result, report, stability = mapping.analyse_scores(criteria, candidates, rows)
    return {
        "round": round_.number, "revealed_at": _iso(round_.revealed_at),
        "cells": [{"criterion_id": c.criterion_id, "candidate_id": c.candidate_id, "n": c.n,
                   "mean": c.mean, "spread": c.spread} for c in result.cells],
        "totals": [{"candidate_id": t.candidate_id, "total": t.total, "rank": t.rank,
                    "disqualified": t.disqualified} for t in result.totals],
        "leaders": list(result.leaders),
        "sensitivity": [{"criterion_id": item.criterion_id, "summary": item.summary}
                        for item in report.items],
        "stability": stability.summary,
    }


def _notes_data(review: Review) -> list[dict]:
    if notes_service is None or not hasattr(notes_service, "notes_for_review"):
        return []
    read = getattr(notes_service, "notes_with_authors", notes_service.notes_for_review)
    return [{"id": n.id, "candidate": n.candidate.name, "title": n.title,
             "authors": sorted(a.name for a in n.authors), "budget_hours": n.budget_hours,
             "spent_hours": n.spent_hours, "friction": list(n.friction), "pros": list(n.pros),
             "cons": list(n.cons), "body": n.body, "links": list(n.links)}
            for n in read(review)]


def _benchmark_data(review: Review, rows=None) -> list[dict]:
    """Per candidate, the compared run (pinned, else the latest) and its constraint checks.
    ``rows``: the review's constraints, when the caller has read them already."""
    needed = ("runs_of", "measurable_constraints", "check_run")
    if benchmark_service is None or not all(hasattr(benchmark_service, n) for n in needed):
        return []
    measurable = benchmark_service.measurable_constraints(review, rows)
    chosen: dict[int, object] = {}
    for run in benchmark_service.runs_of(review):  # newest first per candidate
        if run.candidate_id not in chosen or (run.pinned and not chosen[run.candidate_id].pinned):
            chosen[run.candidate_id] = run
    out = []
    for candidate in review.candidates:
        run = chosen.get(candidate.id)
        if run is None:
            continue
        out.append({
            "candidate_id": candidate.id, "candidate": candidate.name, "run_id": run.id,
            "label": run.label, "tool": run.tool, "rps": run.figure("rps"),
            "p95_ms": run.latency("p95"), "error_rate_pct": run.error_rate_pct,
            "cpu_percent": run.cpu_percent, "memory_mb": run.memory_mb,
            "checks": [{"constraint_id": c.constraint_id, "status": c.status, "message": c.message}
                       for c in benchmark_service.check_run(run, measurable)],
        })
    return out


def _constraint_checks(candidates, rows, runs: list[dict]) -> list[dict]:
    """Did each candidate meet each constraint: failed (knock-out) for a disqualified one,
    else the benchmark check of a measurable constraint, else not measured."""
    by_candidate = {r["candidate_id"]: {c["constraint_id"]: c["status"] for c in r["checks"]}
                    for r in runs}
    out = []
    for candidate in candidates:
        for constraint in rows:
            if candidate.disqualified_by_constraint_id == constraint.id:
                status = "fail"
            else:
                status = by_candidate.get(candidate.id, {}).get(constraint.id, "not measured")
            out.append({"candidate_id": candidate.id, "constraint_id": constraint.id,
                        "status": status})
    return out


def _decision_data(decision: Decision, vote_result: dict | None) -> dict:
    winners = (vote_result or {}).get("winners", [])
    names = {c["id"]: c["name"] for c in (decision.vote_session.candidates
                                          if decision.vote_session else [])}
    return {
        "id": decision.id, "status": decision.status, "revision": decision.revision,
        "chosen": {"id": decision.candidate_id, "name": decision.chosen_name},
        "vote_winners": [names.get(w, str(w)) for w in winners],
        "deviation_reason": decision.deviation_reason, "rationale": decision.rationale,
        "consequences": decision.consequences, "tags": list(decision.tags),
        "rule": decision.rule, "rule_label": decision.rule_enum.label,
        "quorum": {"kind": decision.quorum_kind, "value": decision.quorum_value},
        "drafted_by": _person(decision.drafted_by), "drafted_at": _iso(decision.drafted_at),
        "signed_off_at": _iso(decision.signed_off_at),
        "signed_off_by": _person(decision.signed_off_by),
    }


def _audit_data(review: Review, until_id: int | None) -> list[dict]:
    query = db.select(AuditEvent).where(AuditEvent.review_id == review.id)
    if until_id is not None:
        query = query.where(AuditEvent.id <= until_id)
    return [{"id": e.id, "at": _iso(e.at), "actor": _person(e.actor), "action": e.action,
             "detail": e.detail} for e in db.session.scalars(query.order_by(AuditEvent.id))]


def evidence(review: Review, session=None, *, board=None) -> dict:
    """What the review gathered, as plain data: constraints and whether each candidate met
    them, the matrix, prototype notes, benchmark summaries and the vote (``session``, else the
    latest). The decision draft shows it; the record embeds it. ``board``: the session's vote
    board when the caller has built it already (the vote step)."""
    rows = constraints.constraints_of(review)
    criteria = mapping.criteria_of(review)
    candidates = list(review.candidates)
    runs = _benchmark_data(review, rows)
    session = session or votes.latest_session(review)
    return {
        "format": FORMAT,
        "review": _review_data(review),
        "candidates": _candidates_data(review),
        "constraints": _constraints_data(rows),
        "constraint_checks": _constraint_checks(candidates, rows, runs),
        "criteria": [{"id": c.id, "name": c.name, "weight": c.weight, "position": c.position}
                     for c in criteria],
        "matrix": _matrix_data(review, criteria, candidates),
        "prototype_notes": _notes_data(review),
        "benchmarks": runs,
        "vote": votes.public_result(session, board) if session else None,
    }


def record_data(review: Review, decision: Decision) -> dict:
    """The whole review as plain data: what the hash covers and the exports show. Nothing
    in it depends on who looks; hidden ballots stay hidden (see votes.public_result)."""
    data = evidence(review, decision.vote_session)
    signoffs = list(decision.signoffs)
    data.update({
        "decision": _decision_data(decision, (data["vote"] or {}).get("result")),
        "signoffs": [{"user": _person(s.user), "role": s.role, "stance": s.stance,
                      "reason": s.reason, "signed_at": _iso(s.signed_at)} for s in signoffs],
        "dissent": [{"user": s.user.name, "stance": s.stance, "reason": s.reason}
                    for s in signoffs if s.stance_enum in (Stance.OBJECT, Stance.BLOCK)],
        "audit": _audit_data(review, decision.audit_until_id),
    })
    return data


def record(decision: Decision) -> dict:
    """The record as data: the frozen snapshot once signed off, else a live preview."""
    if decision.snapshot:
        return json.loads(decision.snapshot)
    return record_data(decision.review, decision)


# --- verification -----------------------------------------------------------------------

@dataclass
class Verification:
    decision_id: int
    review_id: int
    title: str
    hash_ok: bool
    live_ok: bool
    changed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.hash_ok and self.live_ok

    @property
    def message(self) -> str:
        if self.ok:
            return "the record matches its hash and the review's data"
        parts = []
        if not self.hash_ok:
            parts.append("the stored snapshot no longer matches its SHA-256 hash")
        if not self.live_ok:
            parts.append("the review's data changed since sign-off (" +
                         ", ".join(self.changed) + ")")
        return "; ".join(parts)


def verify(decision: Decision) -> Verification:
    """Recompute the hash of the stored snapshot, and rebuild the snapshot from the live rows."""
    stored = decision.snapshot or ""
    hash_ok = content_hash(stored) == decision.content_hash
    live = record_data(decision.review, decision)
    try:
        frozen = json.loads(stored)
    except ValueError:
        frozen = {}
    changed = sorted(k for k in set(live) | set(frozen) if canonical_json(live.get(k)) !=
                     canonical_json(frozen.get(k)))
    return Verification(decision.id, decision.review_id, decision.review.title, hash_ok,
                        not changed and canonical_json(live) == stored, changed)


def verify_all() -> list[Verification]:
    signed = db.session.scalars(db.select(Decision).where(
        Decision.status == DecisionStatus.SIGNED_OFF.value).order_by(Decision.id)).all()
    return [verify(d) for d in signed]


# --- exports --------------------------------------------------------------------------------------

def export_json(decision: Decision) -> str:
    """The canonical snapshot itself (a preview, unhashed, before sign-off)."""
    return decision.snapshot or canonical_json(record(decision))


def _md(text) -> str:
    """Typed Markdown (question, rationale, reasons) for the export: no raw HTML."""
    return md_text(text)


def _cell(text) -> str:
    """A name in a Markdown table row."""
    return md_plain(text).replace("|", "\\|")


def _fmt(x, digits: int = 2) -> str:
    if x is None:
        return "—"
    return f"{x:.{digits}f}".rstrip("0").rstrip(".")


def _target(c: dict) -> str:
    sign = {">=": "≥ ", "<=": "≤ "}.get(c["comparison"], "")
    if c["target"] is None:
        return ""
    return f" {sign}{_fmt(c['target'])} {c['unit']}".rstrip()


def _driver(c: dict) -> str:
    extra = [c["priority"]] + (["knock-out"] if c["knockout"] else [])
    options = ", ".join(o.replace("_", " ") for o in c["details"].get("options", []))
    detail = f": {options}" if options else ""
    if c["details"].get("relationships"):
        detail += f" ({c['details']['relationships']} relationships)"
    text = f"{c['label']}{_target(c)}{detail} ({', '.join(extra)})"
    return text + (f" — {_md(c['description'])}" if c["description"] else "")


def _status_line(data: dict, successor: str | None) -> str:
    status = data["decision"]["status"]
    if successor:
        return f"superseded by {successor}"
    return "accepted" if status == DecisionStatus.SIGNED_OFF else "proposed"


def _vote_lines(vote: dict | None) -> list[str]:
    if not vote or not vote.get("result"):
        return []
    result = vote["result"]
    secret = " Ballots were anonymous." if vote["anonymous"] else ""
    lines = ["", "### Vote", "",
             f"{md_plain(result['summary'])} Method: {vote['method']}; "
             f"{result['ballots_counted']} ballot(s). {md_plain(result['quorum']['message'])}"
             f"{secret}", "",
             "| Option | Votes | Rank |", "|---|---|---|"]
    lines += [f"| {_cell(row['name'])} | {row['votes']} | {row['rank']} |"
              for row in result["tally"]]
    if result.get("rounds"):
        lines += ["", "Instant-runoff rounds:", ""]
        lines += [f"* Round {r['number']}: {md_plain(r['note'])}" for r in result["rounds"]]
    condorcet = result.get("condorcet")
    if condorcet and condorcet.get("agrees_with_irv") is False:
        lines += ["", md_plain(condorcet["message"])]
    return lines


def _pros_cons(data: dict, candidate: dict) -> list[str]:
    cid = candidate["id"]
    criteria = {c["id"]: md_plain(c["name"]) for c in data["criteria"]}
    constraints_by_id = {c["id"]: c for c in data["constraints"]}
    lines: list[str] = []
    matrix = data.get("matrix")
    if matrix:
        total = next((t for t in matrix["totals"] if t["candidate_id"] == cid), None)
        if total and total["total"] is not None:
            rank = f", rank {total['rank']}" if total["rank"] else ""
            lines.append(f"* Weighted total {_fmt(total['total'])} of 5{rank}")
        for cell in matrix["cells"]:
            if cell["candidate_id"] != cid or cell["mean"] is None:
                continue
            name = criteria.get(cell["criterion_id"], "?")
            if cell["mean"] >= 4:
                lines.append(f"* Good, because {name} scored {_fmt(cell['mean'], 1)} (team mean)")
            elif cell["mean"] <= 2:
                lines.append(f"* Bad, because {name} scored {_fmt(cell['mean'], 1)} (team mean)")
    for note in data["prototype_notes"]:
        if note["candidate"] == candidate["name"]:
            source = f"(prototype “{md_plain(note['title'])}”)"
            lines += [f"* Good, because {md_plain(p)} {source}" for p in note["pros"]]
            lines += [f"* Bad, because {md_plain(c)} {source}" for c in note["cons"]]
    for check in data["constraint_checks"]:
        constraint = constraints_by_id.get(check["constraint_id"])
        if check["candidate_id"] == cid and constraint and check["status"] in ("pass", "fail"):
            verdict = ("Good, because it meets" if check["status"] == "pass"
                       else "Bad, because it fails")
            lines.append(f"* {verdict} “{constraint['label']}{_target(constraint)}”")
    if candidate["disqualified"]:
        lines.append(f"* Disqualified: {_md(candidate['disqualified'])}")
    return lines or ["* No evidence was recorded for this option."]


def export_markdown(decision: Decision, base_url: str = "") -> str:
    """The record as a MADR-style ADR, rendered from the record data (frozen once signed)."""
    data = record(decision)
    review, outcome = data["review"], data["decision"]
    base = base_url.rstrip("/")
    successor = decision.successor
    successor_link = (f"[{md_plain(successor.title)}]({base}/reviews/{successor.id})"
                      if successor else None)
    deciders = ", ".join(f"{md_plain(s['user']['name'])} ({s['stance']})"
                         for s in data["signoffs"]) or "—"
    day = (outcome["signed_off_at"] or outcome["drafted_at"] or "")[:10]
    lines = [f"# {md_plain(review['title'])}", "",
             f"* Status: {_status_line(data, successor_link)}",
             f"* Deciders: {deciders}",
             f"* Date: {day}"]
    if outcome["tags"]:
        lines.append(f"* Tags: {', '.join(md_plain(t) for t in outcome['tags'])}")
    if review["revisit_on"]:
        lines.append(f"* Revisit on: {review['revisit_on']}")
    if decision.content_hash:
        lines.append(f"* Content hash (SHA-256): `{decision.content_hash}`")
    lines += ["", "## Context and Problem Statement", "",
              _md(review["question"]) or "—", "",
              f"Team: {md_plain(review['team']['name'])}. Decided in the review "
              f"“{md_plain(review['title'])}”, "
              f"signed off under the rule: {outcome['rule_label'].lower()}.",
              "", "## Decision Drivers", ""]
    ordered = sorted(data["constraints"], key=lambda c: ({"must": 0, "should": 1}.get(
        c["priority"], 2), c["id"]))
    drivers = [f"* {_driver(c)}" for c in ordered]
    drivers += [f"* {md_plain(c['name'])} (weight {_fmt(c['weight'])})"
                for c in sorted(data["criteria"], key=lambda c: (-c["weight"], c["position"]))
                if c["weight"] > 0]
    lines += drivers or ["* —"]
    lines += ["", "## Considered Options", ""]
    lines += [f"* {md_plain(c['name'])}"
              + (f" — {_md(c['description'])}" if c["description"] else "")
              + (" (disqualified)" if c["disqualified"] else "") for c in data["candidates"]]
    lines += ["", "## Decision Outcome", "",
              f"Chosen option: “{md_plain(outcome['chosen']['name'])}”, because "
              f"{_md(outcome['rationale'])}"]
    if outcome["deviation_reason"]:
        winners = ", ".join(md_plain(w) for w in outcome["vote_winners"]) or "none"
        lines += ["", f"The vote's result ({winners}) was not followed: "
                      f"{_md(outcome['deviation_reason'])}"]
    lines += _vote_lines(data["vote"])
    if data["matrix"]:
        lines += ["", "### Sensitivity", "", f"Stability: {md_plain(data['matrix']['stability'])}", ""]
        names = {c["id"]: c["name"] for c in data["criteria"]}
        lines += [f"* {md_plain(names.get(s['criterion_id'], '?'))}: {md_plain(s['summary'])}"
                  for s in data["matrix"]["sensitivity"]]
    lines += ["", "### Consequences", "", _md(outcome["consequences"]) or "—",
              "", "## Pros and Cons of the Options", ""]
    for candidate in data["candidates"]:
        lines += [f"### {md_plain(candidate['name'])}", "", *_pros_cons(data, candidate), ""]
    lines += ["## Dissent", ""]
    lines += [f"* {md_plain(d['user'])} ({d['stance']}): {_md(d['reason'])}"
              for d in data["dissent"]] or \
        ["None recorded."]
    lines += ["", "## Links", "", f"* Review: {base}/reviews/{review['id']}",
              f"* Record: {base}/reviews/{review['id']}/record"]
    if successor_link:
        lines.append(f"* Superseded by: {successor_link}")
    lines += [f"* {md_text(link)}" for note in data["prototype_notes"] for link in note["links"]]
    return "\n".join(lines).rstrip() + "\n"


# --- the archive ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ArchiveFilters:
    q: str = ""
    team_id: int | None = None
    chosen: str = ""
    status: str = ""  # "accepted", "superseded", "revisit_due"
    date_from: date | None = None
    date_to: date | None = None
    tag: str = ""


@dataclass
class ArchiveEntry:
    decision: Decision
    review: Review
    due: bool

    @property
    def superseded(self) -> bool:
        return self.decision.successor_review_id is not None

    @property
    def status(self) -> str:
        return "superseded" if self.superseded else "revisit due" if self.due else "accepted"


def is_due(decision: Decision, review: Review, today: date | None = None) -> bool:
    today = today or _today()
    return (decision.is_signed_off and decision.successor_review_id is None
            and review.revisit_on is not None and review.revisit_on <= today)


def _archive_query(user: User):
    return (db.select(Decision, Review).join(Review, Decision.review_id == Review.id)
            .join(Membership, Membership.team_id == Review.team_id)
            .where(Membership.user_id == user.id,
                   Decision.status == DecisionStatus.SIGNED_OFF.value))


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def archive_entries(user: User, filters: ArchiveFilters = ArchiveFilters(),
                    today: date | None = None) -> list[ArchiveEntry]:
    """Signed-off decisions in the user's teams, newest first, filtered."""
    today = today or _today()
    query = _archive_query(user)
    if filters.team_id:
        query = query.where(Review.team_id == filters.team_id)
    if filters.chosen:
        query = query.where(db.func.lower(Decision.chosen_name) == filters.chosen.lower())
    if filters.date_from:
        query = query.where(Decision.signed_off_at >= _day_start(filters.date_from))
    if filters.date_to:
        query = query.where(Decision.signed_off_at < _day_start(filters.date_to + timedelta(1)))
    if filters.status == "superseded":
        query = query.where(Decision.successor_review_id.is_not(None))
    elif filters.status in ("accepted", "revisit_due"):
        query = query.where(Decision.successor_review_id.is_(None))
    if filters.q.strip():
        like = f"%{filters.q.strip().lower()}%"
        query = query.where(or_(*(db.func.lower(col).like(like) for col in (
            Review.title, Review.question, Decision.chosen_name, Decision.rationale,
            Decision.consequences))))
    rows = db.session.execute(query.order_by(Decision.signed_off_at.desc(), Decision.id.desc()))
    entries = [ArchiveEntry(d, r, is_due(d, r, today)) for d, r in rows]
    if filters.tag:
        entries = [e for e in entries if filters.tag.strip().lower() in e.decision.tags]
    if filters.status == "revisit_due":
        entries = [e for e in entries if e.due]
    elif filters.status == "accepted":
        entries = [e for e in entries if not e.due]
    return entries


def archive_choices(user: User) -> dict:
    """What the filters offer: the user's teams, chosen technologies and tags in the archive."""
    rows = db.session.execute(_archive_query(user)).all()
    teams = db.session.scalars(db.select(Team).join(Membership).where(
        Membership.user_id == user.id).order_by(Team.name)).all()
    return {"teams": [(t.id, t.name) for t in teams],
            "chosen": sorted({d.chosen_name for d, _ in rows}, key=str.lower),
            "tags": sorted({t for d, _ in rows for t in d.tags})}


def notify_revisits_due(today: date | None = None) -> int:
    """Tell each team once that one of its records is due for revisit (scheduler pass)."""
    today = today or _today()
    rows = db.session.execute(db.select(Decision, Review).join(
        Review, Decision.review_id == Review.id).where(
        Decision.status == DecisionStatus.SIGNED_OFF.value,
        Decision.successor_review_id.is_(None), Review.revisit_on.is_not(None),
        Review.revisit_on <= today)).all()
    drafts = []
    for decision, review in rows:
        with realtime.render_context():
            url = url_for("archive.record_page", review_id=review.id)
        drafts += [notifications.Draft(
            user_id=m.user_id, kind=NotificationKind.REVISIT_DUE.value,
            subject=f"decision:{decision.id}", review_id=review.id, url=url,
            title=f"Time to revisit: {review.title}",
            body=f"The decision for {decision.chosen_name} in “{review.title}” was due for "
                 f"revisit on {review.revisit_on:%Y-%m-%d}. Keep it, or supersede it with a "
                 "new review.") for m in review.team.memberships]
    return len(notifications.send_once(drafts))


# --- supersede ---------------------------------------------------------------------------------

def _constraint_fields(c: dict) -> dict:
    details = c.get("details") or {}
    return dict(kind=c["kind"], priority=c["priority"], knockout=c["knockout"],
                target=c["target"], relationships=details.get("relationships"),
                auth=details.get("options") if c["kind"] == "auth" else None,
                deployment=details.get("options") if c["kind"] == "deployment" else None,
                description=c["description"])


def _prefill(actor: User, new: Review, data: dict) -> None:
    """Candidates, constraints, criteria and weights of the record into the new review."""
    wanted = [c for c in data["candidates"]]
    names = {c["name"] for c in wanted}
    for candidate in list(new.candidates):
        if candidate.name not in names:
            reviews.remove_candidate(actor, new, candidate.id)
    present = {c.name for c in new.candidates}
    for c in wanted:
        if c["name"] not in present:
            reviews.add_candidate(actor, new, c["name"], c["description"] or "")
    current = {c.name: c for c in mapping.criteria_of(new)}
    wanted_criteria = {c["name"]: c for c in data["criteria"]}
    for name, criterion in current.items():
        if name not in wanted_criteria:
            mapping.remove_criterion(actor, new, criterion.id)
        elif criterion.weight != wanted_criteria[name]["weight"]:
            weight = wanted_criteria[name]["weight"]
            mapping.update_criterion(actor, new, criterion.id, name, weight)
    for c in sorted(data["criteria"], key=lambda c: c["position"]):
        if c["name"] not in current:
            mapping.add_criterion(actor, new, c["name"], c["weight"])
    for c in data["constraints"]:
        constraints.add_constraint(actor, new, **_constraint_fields(c))


def supersede(actor: User, review: Review) -> Review:
    """Start a new review prefilled from the signed-off record (candidates, constraints,
    criteria and weights); the record then links to it and shows "superseded".

    Raises Conflict when the decision is not signed off or already superseded."""
    decision = record_of(review)
    if not decision.is_signed_off:
        raise Conflict("Only a signed-off decision can be superseded.")
    if decision.successor_review_id is not None:
        raise Conflict("This decision has already been superseded.")
    data = json.loads(decision.snapshot)
    new = reviews.create_review(actor, review.team, title=f"{review.title} (revisited)"[:120],
                                question=review.question, template=review.template)
    _prefill(actor, new, data)
    table = Decision.__table__
    won = db.session.execute(update(table).where(
        table.c.id == decision.id, table.c.successor_review_id.is_(None)).values(
        successor_review_id=new.id)).rowcount == 1
    if not won:  # superseded a moment ago by someone else: undo the new review
        db.session.rollback()
        db.session.delete(db.session.get(Review, new.id))
        db.session.commit()
        raise Conflict("This decision was superseded a moment ago.")
    audit.record("decision.superseded", actor=actor, team_id=review.team_id, review_id=review.id,
                 successor=new.id)
    audit.record("review.supersedes", actor=actor, team_id=review.team_id, review_id=new.id,
                 predecessor=review.id)
    db.session.commit()
    db.session.expire(decision)
    return new
