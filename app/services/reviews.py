"""Reviews: creating them from a template, their candidates, and moving through the steps."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from app import realtime
from app.extensions import db
from app.models import Candidate, Criterion, Membership, Review, ReviewStatus, Step, Team, User
from app.services import audit
from app.services.errors import Conflict, Invalid, NotFound
from app.services.templates import TEMPLATES

MAX_CANDIDATES = 12


def reviews_of(user: User) -> list[Review]:
    """Every review in the user's teams, newest first."""
    return list(
        db.session.scalars(
            db.select(Review)
            .join(Membership, Membership.team_id == Review.team_id)
            .where(Membership.user_id == user.id)
            .order_by(Review.updated_at.desc())
        )
    )


def ensure_editable(review: Review) -> None:
    """Raise Conflict for a signed-off or archived review: its record is frozen."""
    if review.is_frozen:
        raise Conflict("This review is signed off; its record is frozen and cannot change.")


def _clean_names(names: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        name = (name or "").strip()
        if name and name.lower() not in seen:
            seen[name.lower()] = name[:60]
    return list(seen.values())


def create_review(actor: User, team: Team, *, title: str, question: str, template: str,
                  extra_candidates: list[str] | None = None) -> Review:
    """Create a review from a template. Raises Invalid for an unknown template or no title."""
    spec = TEMPLATES.get(template)
    if spec is None:
        raise Invalid("Choose one of the templates.", field="template")
    title = (title or "").strip()
    if not title:
        raise Invalid("Give the review a title.", field="title")
    names = _clean_names([n for n, _ in spec.candidates] + list(extra_candidates or []))
    if len(names) > MAX_CANDIDATES:
        raise Invalid(f"A review can compare at most {MAX_CANDIDATES} candidates.", field="candidates")
    described = dict(spec.candidates + spec.optional_candidates)
    review = Review(team=team, title=title[:120], question=(question or spec.default_question).strip(),
                    template=spec.key, created_by=actor, checklist=spec.checklist_data())
    review.candidates = [
        Candidate(name=n, description=described.get(n, ""), position=i) for i, n in enumerate(names)
    ]
    review.criteria = [Criterion(name=n, weight=w, reference=ref, position=i)
                       for i, (n, w, ref) in enumerate(spec.criteria)]
    db.session.add(review)
    db.session.flush()
    audit.record("review.created", actor=actor, team_id=team.id, review_id=review.id,
                 title=review.title, template=spec.key)
    db.session.commit()
    return review


DETAILS_REGION = "details"  # the workspace header: title, question, status, the edit form


def update_details(actor: User, review: Review, *, title: str, question: str) -> Review:
    ensure_editable(review)
    title = (title or "").strip()
    if not title:
        raise Invalid("Give the review a title.", field="title")
    review.title, review.question = title[:120], (question or "").strip()
    audit.record("review.updated", actor=actor, team_id=review.team_id, review_id=review.id)
    db.session.commit()
    realtime.push_refresh(review.id, DETAILS_REGION)
    return review


def add_candidate(actor: User, review: Review, name: str, description: str = "") -> Candidate:
    """Add a candidate. Raises Invalid for an empty or duplicate name or too many candidates."""
    ensure_editable(review)
    name = (name or "").strip()[:60]
    if not name:
        raise Invalid("Give the candidate a name.", field="name")
    if any(c.name.lower() == name.lower() for c in review.candidates):
        raise Invalid(f"{name} is already a candidate.", field="name")
    if len(review.candidates) >= MAX_CANDIDATES:
        raise Invalid(f"A review can compare at most {MAX_CANDIDATES} candidates.", field="name")
    candidate = Candidate(name=name, description=description.strip()[:300],
                          position=max((c.position for c in review.candidates), default=-1) + 1)
    review.candidates.append(candidate)
    audit.record("candidate.added", actor=actor, team_id=review.team_id, review_id=review.id,
                 name=name)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Invalid(f"{name} is already a candidate.", field="name") from None
    realtime.push_candidates(review)
    return candidate


def remove_candidate(actor: User, review: Review, candidate_id: int) -> None:
    ensure_editable(review)
    candidate = next((c for c in review.candidates if c.id == candidate_id), None)
    if candidate is None:
        raise NotFound("That candidate is not part of this review.")
    review.candidates.remove(candidate)
    audit.record("candidate.removed", actor=actor, team_id=review.team_id, review_id=review.id,
                 name=candidate.name)
    db.session.commit()
    realtime.push_candidates(review)


def set_step(actor: User, review: Review, step: str) -> Review:
    """Move the workshop to ``step``; everyone in the room follows.

    A draft review starts (in progress) the first time the facilitator moves it.
    Raises Invalid for an unknown step, Conflict for a frozen review."""
    ensure_editable(review)
    try:
        target = Step(step)
    except ValueError:
        raise Invalid("There is no such step.", field="step") from None
    old = review.current_step
    review.current_step = target.value
    started = review.status == ReviewStatus.DRAFT
    if started:
        review.status = ReviewStatus.IN_PROGRESS.value
    audit.record("review.step_changed", actor=actor, team_id=review.team_id, review_id=review.id,
                 old=old, new=target.value)
    db.session.commit()
    realtime.push_step(review)
    if started:  # the header's status badge
        realtime.push_refresh(review.id, DETAILS_REGION)
    return review
