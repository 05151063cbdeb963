"""Step 1: typed constraints, the decision checklist, members' expertise, disqualification."""

from __future__ import annotations

import math
import re

from app import realtime
from app.analysis import checklist as checklist_math
from app.extensions import db
from app.models import (
    Candidate,
    ChecklistAnswer,
    Constraint,
    ConstraintKind,
    ExpertiseRating,
    Priority,
    Review,
    User,
)
from app.models.constraints import AUTH_OPTIONS, DEPLOYMENT_OPTIONS, RELATIONSHIPS
from app.services import audit
from app.services.errors import Conflict, Invalid, NotFound
from app.services.reviews import ensure_editable

MAX_TARGET = 1e9
MAX_QUESTIONS = 30
ASYNC_SUBJECT = "async"


def constraints_of(review: Review) -> list[Constraint]:
    return list(db.session.scalars(
        db.select(Constraint).where(Constraint.review_id == review.id)
        .order_by(Constraint.position, Constraint.id)))


def get_constraint(review: Review, constraint_id: int) -> Constraint:
    found = db.session.get(Constraint, constraint_id)
    if found is None or found.review_id != review.id:
        raise NotFound("That constraint is not part of this review.")
    return found


def _kind(value: str) -> ConstraintKind:
    try:
        return ConstraintKind(value)
    except ValueError:
        raise Invalid("Choose a kind of constraint.", field="kind") from None


def _target(kind: ConstraintKind, value) -> float | None:
    """Measurable kinds (and the model count of data complexity) need a finite number ≥ 0."""
    if value is None or value == "":
        if kind.spec.measurable:
            raise Invalid(f"Give the target in {kind.spec.unit}.", field="target")
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Invalid("The target must be a number.", field="target") from None
    if not math.isfinite(number) or number < 0 or number > MAX_TARGET:
        raise Invalid("The target must be a number of 0 or more.", field="target")
    if kind is ConstraintKind.ERROR_RATE and number > 100:
        raise Invalid("An error rate is a percentage between 0 and 100.", field="target")
    return number


def _picked(values, options, field: str, what: str) -> list[str]:
    allowed = {key for key, _ in options}
    picked = [v for v in (values or []) if v]
    if not picked:
        raise Invalid(f"Pick at least one {what}.", field=field)
    if set(picked) - allowed:
        raise Invalid(f"Unknown {what}.", field=field)
    return [key for key, _ in options if key in picked]


def _details(kind: ConstraintKind, relationships, auth, deployment, description) -> dict:
    if kind is ConstraintKind.DATA:
        if relationships not in {k for k, _ in RELATIONSHIPS}:
            raise Invalid("Choose how complex the relationships are.", field="relationships")
        return {"relationships": relationships}
    if kind is ConstraintKind.AUTH:
        return {"options": _picked(auth, AUTH_OPTIONS, "auth", "authentication need")}
    if kind is ConstraintKind.DEPLOYMENT:
        return {"options": _picked(deployment, DEPLOYMENT_OPTIONS, "deployment", "deployment target")}
    if kind is ConstraintKind.FREEFORM and not (description or "").strip():
        raise Invalid("Describe the constraint.", field="description")
    return {}


def _apply(constraint: Constraint, *, kind, priority, knockout=False, target=None, relationships=None,
           auth=None, deployment=None, description="") -> None:
    """Validate everything first, then assign: an invalid constraint is never half-changed."""
    kind = _kind(kind)
    if priority not in {p.value for p in Priority}:
        raise Invalid("Choose must, should or could.", field="priority")
    description = (description or "").strip()
    if len(description) > 2000:
        raise Invalid("Keep the description under 2000 characters.", field="description")
    values = dict(kind=kind.value, priority=priority, knockout=bool(knockout),
                  target=_target(kind, target), description=description,
                  details=_details(kind, relationships, auth, deployment, description))
    for key, value in values.items():
        setattr(constraint, key, value)


def add_constraint(actor: User, review: Review, **fields) -> Constraint:
    """Add a typed constraint. Raises Invalid (with the field) for bad input, Conflict if frozen."""
    ensure_editable(review)
    constraint = Constraint(review_id=review.id, created_by=actor,
                            position=len(constraints_of(review)))
    _apply(constraint, **fields)
    db.session.add(constraint)
    db.session.flush()
    audit.record("constraint.added", actor=actor, team_id=review.team_id, review_id=review.id,
                 constraint_id=constraint.id, kind=constraint.kind)
    db.session.commit()
    realtime.push_refresh(review.id, "constraints")
    return constraint


def update_constraint(actor: User, review: Review, constraint_id: int, **fields) -> Constraint:
    ensure_editable(review)
    constraint = get_constraint(review, constraint_id)
    before = {"priority": constraint.priority, "target": constraint.target,
              "knockout": constraint.knockout}
    _apply(constraint, **fields)
    audit.record("constraint.updated", actor=actor, team_id=review.team_id, review_id=review.id,
                 constraint_id=constraint.id, before=before)
    db.session.commit()
    realtime.push_refresh(review.id, "constraints")
    return constraint


def remove_constraint(actor: User, review: Review, constraint_id: int) -> None:
    ensure_editable(review)
    constraint = get_constraint(review, constraint_id)
    audit.record("constraint.removed", actor=actor, team_id=review.team_id, review_id=review.id,
                 constraint_id=constraint.id, kind=constraint.kind)
    db.session.delete(constraint)
    db.session.commit()
    realtime.push_refresh(review.id, "constraints")


# --- the decision checklist -------------------------------------------------------------

def questions(review: Review) -> list[checklist_math.Question]:
    return checklist_math.questions_from_data(review.checklist or [])


def answers(review: Review) -> dict[str, ChecklistAnswer]:
    rows = db.session.scalars(db.select(ChecklistAnswer).where(ChecklistAnswer.review_id == review.id))
    return {row.question_key: row for row in rows}


def suggestions(review: Review, given_answers: dict[str, ChecklistAnswer] | None = None
                ) -> list[checklist_math.Suggestion]:
    """Candidates suggested by the checklist's answers (``given_answers``: :func:`answers`,
    when the caller has read them already)."""
    given = {key: row.answer for key, row in
             (answers(review) if given_answers is None else given_answers).items()}
    names = [c.name for c in review.candidates if not c.disqualified]
    return checklist_math.suggest(questions(review), given, names)


def answer_question(actor: User, review: Review, key: str, answer: bool | None) -> None:
    """Record the team's answer (the latest one wins; who answered is kept)."""
    ensure_editable(review)
    if key not in {q.key for q in questions(review)}:
        raise NotFound("That question is not on this review's checklist.")
    row = answers(review).get(key) or ChecklistAnswer(review_id=review.id, question_key=key)
    row.answer, row.answered_by = answer, actor
    db.session.add(row)
    audit.record("checklist.answered", actor=actor, team_id=review.team_id, review_id=review.id,
                 question=key, answer=answer)
    db.session.commit()
    realtime.push_refresh(review.id, "checklist")


def _question_key(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:30] or "question"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


def add_question(actor: User, review: Review, text: str, suggests: list[str], reason: str) -> None:
    """Blank reviews write their own checklist: a yes/no question whose "yes" suggests some of
    the review's candidates. Raises Conflict for a framework review (its checklist is the
    guide's), Invalid for bad input."""
    ensure_editable(review)
    if review.template != "blank":
        raise Conflict("The framework checklist comes from the guide; add questions to blank reviews.")
    text, reason = (text or "").strip(), (reason or "").strip()
    if not text or len(text) > 200:
        raise Invalid("Write the question (up to 200 characters).", field="text")
    by_name = {c.name: c for c in review.candidates}
    if not suggests or set(suggests) - set(by_name):
        raise Invalid("Pick the candidates a “yes” suggests.", field="suggests")
    current = list(review.checklist or [])
    if len(current) >= MAX_QUESTIONS:
        raise Invalid(f"A checklist holds at most {MAX_QUESTIONS} questions.", field="text")
    key = _question_key(text, {q["key"] for q in current})
    reason = reason or f"Suggested when “{text}” is yes."
    rule = {"answer": True, "candidates": list(suggests), "reason": reason}
    review.checklist = [*current, {"key": key, "text": text, "rules": [rule]}]
    checklist_math.validate_checklist(questions(review))
    audit.record("checklist.question_added", actor=actor, team_id=review.team_id,
                 review_id=review.id, question=key)
    db.session.commit()
    realtime.push_refresh(review.id, "checklist")


def remove_question(actor: User, review: Review, key: str) -> None:
    ensure_editable(review)
    if review.template != "blank":
        raise Conflict("The framework checklist comes from the guide and cannot be edited.")
    remaining = [q for q in review.checklist or [] if q["key"] != key]
    if len(remaining) == len(review.checklist or []):
        raise NotFound("That question is not on this review's checklist.")
    review.checklist = remaining
    db.session.execute(db.delete(ChecklistAnswer).where(ChecklistAnswer.review_id == review.id,
                                                        ChecklistAnswer.question_key == key))
    audit.record("checklist.question_removed", actor=actor, team_id=review.team_id,
                 review_id=review.id, question=key)
    db.session.commit()
    realtime.push_refresh(review.id, "checklist")


# --- expertise --------------------------------------------------------------------------

def expertise_of(review: Review) -> dict[tuple[int, str], int]:
    rows = db.session.scalars(db.select(ExpertiseRating).where(ExpertiseRating.review_id == review.id))
    return {(row.user_id, row.subject): row.level for row in rows}


def subjects(review: Review) -> list[tuple[str, str]]:
    return [(f"candidate:{c.id}", c.name) for c in review.candidates] + [(ASYNC_SUBJECT, "Async Python")]


def rate_expertise(actor: User, review: Review, levels: dict[str, int | None]) -> None:
    """A member rates their OWN familiarity (0–5) per candidate and with async Python."""
    ensure_editable(review)
    known = {key for key, _ in subjects(review)}
    if set(levels) - known:
        raise Invalid("Rate only this review's candidates and async Python.", field="levels")
    for level in levels.values():
        if level is not None and (not isinstance(level, int) or not 0 <= level <= 5):
            raise Invalid("Familiarity is a number from 0 to 5.", field="levels")
    existing = {r.subject: r for r in db.session.scalars(db.select(ExpertiseRating).where(
        ExpertiseRating.review_id == review.id, ExpertiseRating.user_id == actor.id))}
    for subject, level in levels.items():
        row = existing.get(subject)
        if level is None and row:
            db.session.delete(row)
        elif level is not None:
            row = row or ExpertiseRating(review_id=review.id, user_id=actor.id, subject=subject)
            row.level = level
            db.session.add(row)
    audit.record("expertise.rated", actor=actor, team_id=review.team_id, review_id=review.id)
    db.session.commit()
    realtime.push_refresh(review.id, "expertise")


# --- disqualification -------------------------------------------------------------------

def _candidate(review: Review, candidate_id: int) -> Candidate:
    found = next((c for c in review.candidates if c.id == candidate_id), None)
    if found is None:
        raise NotFound("That candidate is not part of this review.")
    return found


def disqualify(actor: User, review: Review, candidate_id: int, reason: str,
               constraint_id: int | None = None) -> Candidate:
    """Mark a candidate as failing a knock-out constraint, with the reason (required)."""
    ensure_editable(review)
    candidate = _candidate(review, candidate_id)
    reason = (reason or "").strip()
    if not reason or len(reason) > 300:
        raise Invalid("Say why the candidate fails (up to 300 characters).", field="reason")
    if constraint_id:
        constraint = get_constraint(review, constraint_id)
        if not constraint.knockout:
            raise Invalid("Only a knock-out constraint disqualifies a candidate.", field="constraint_id")
    candidate.disqualified_reason = reason
    candidate.disqualified_by_constraint_id = constraint_id or None
    audit.record("candidate.disqualified", actor=actor, team_id=review.team_id,
                 review_id=review.id, candidate=candidate.name, reason=reason)
    db.session.commit()
    _push_candidates(review)
    return candidate


def requalify(actor: User, review: Review, candidate_id: int) -> Candidate:
    ensure_editable(review)
    candidate = _candidate(review, candidate_id)
    candidate.disqualified_reason = None
    candidate.disqualified_by_constraint_id = None
    audit.record("candidate.requalified", actor=actor, team_id=review.team_id,
                 review_id=review.id, candidate=candidate.name)
    db.session.commit()
    _push_candidates(review)
    return candidate


def _push_candidates(review: Review) -> None:
    realtime.push_candidates(review)
    realtime.push_refresh(review.id, "constraints", "checklist", "mapping")

