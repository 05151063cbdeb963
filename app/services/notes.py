"""Step 3, prototype notes: adding, editing (with history) and deleting spike notes.

Any member of the review's team may add a note; its authors and the team's facilitators and
owners may edit or delete it (others get Forbidden). Every change checks that the review is not
frozen (Conflict), is validated completely before anything is touched (Invalid, NotFound: nothing
half-saved), is audited, committed once and announced to the room as a ``prototypes`` refresh.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from sqlalchemy.orm import joinedload, selectinload

from app import realtime
from app.extensions import db
from app.models import Candidate, NoteRevision, PrototypeNote, Review, Role, User
from app.models.notes import DEFAULT_BUDGET_HOURS, WEB_SCHEMES
from app.services import audit, reviews
from app.services.errors import Forbidden, Invalid, NotFound

REGION = "prototypes"
MAX_TITLE = 120
MAX_BODY = 100_000
MAX_HOURS = 1000.0
MAX_ITEMS = 30
MAX_ITEM = 300
MAX_LINKS = 20
MAX_LINK = 2000
BULLET = re.compile(r"^(?:[-*+•]|\d+[.)])\s+")  # "- point", "1. point": the list is the list
# Field name -> label, in the order a revision lists its changes.
FIELD_LABELS = {
    "candidate": "Candidate",
    "title": "Title",
    "authors": "Authors",
    "budget_hours": "Time budget (h)",
    "spent_hours": "Hours spent",
    "friction": "Friction points",
    "pros": "Pros",
    "cons": "Cons",
    "body": "Notes",
    "links": "Links",
}


@dataclass(frozen=True)
class NoteDraft:
    """What a person submits for a note; the service checks and cleans all of it."""

    candidate_id: int | None
    title: str
    author_ids: Sequence[int] = ()
    budget_hours: float | None = DEFAULT_BUDGET_HOURS
    spent_hours: float | None = 0.0
    friction: Sequence[str] = ()
    pros: Sequence[str] = ()
    cons: Sequence[str] = ()
    body: str = ""
    links: Sequence[str] = ()


@dataclass
class _Clean:
    """A draft that passed every check, resolved to rows and plain values."""

    candidate: Candidate
    authors: list[User]
    values: dict = field(default_factory=dict)


# ---- queries ---------------------------------------------------------------------------------


def notes_for_review(review: Review) -> list[PrototypeNote]:
    """Every note of the review, by candidate (in the review's order), oldest first; with
    what a note card shows loaded up front (every viewer re-fetches the region on a change)."""
    return list(db.session.scalars(
        db.select(PrototypeNote).join(Candidate, PrototypeNote.candidate_id == Candidate.id)
        .where(PrototypeNote.review_id == review.id)
        .order_by(Candidate.position, PrototypeNote.created_at, PrototypeNote.id)
        .options(selectinload(PrototypeNote.authors), joinedload(PrototypeNote.created_by),
                 selectinload(PrototypeNote.revisions).joinedload(NoteRevision.editor))
    ))


def notes_with_authors(review: Review) -> list[PrototypeNote]:
    """The review's notes in the same order, with only their authors loaded (joined: one
    statement) — for the decision evidence, which lists no history."""
    return list(db.session.scalars(
        db.select(PrototypeNote).join(Candidate, PrototypeNote.candidate_id == Candidate.id)
        .where(PrototypeNote.review_id == review.id)
        .order_by(Candidate.position, PrototypeNote.created_at, PrototypeNote.id)
        .options(joinedload(PrototypeNote.authors))).unique())


def note_titles(review: Review) -> list[tuple[int, str, str]]:
    """(id, candidate name, title) of the review's notes in the same order, in one statement
    (what a matrix cell offers as evidence)."""
    return [tuple(row) for row in db.session.execute(
        db.select(PrototypeNote.id, Candidate.name, PrototypeNote.title)
        .join(Candidate, PrototypeNote.candidate_id == Candidate.id)
        .where(PrototypeNote.review_id == review.id)
        .order_by(Candidate.position, PrototypeNote.created_at, PrototypeNote.id))]


def notes_by_candidate(review: Review) -> list[tuple[Candidate, list[PrototypeNote]]]:
    """Each candidate of the review with its notes (candidates without notes too)."""
    grouped: dict[int, list[PrototypeNote]] = {c.id: [] for c in review.candidates}
    for note in notes_for_review(review):
        grouped.setdefault(note.candidate_id, []).append(note)
    return [(c, grouped[c.id]) for c in review.candidates]


def get_note(review: Review, note_id: int) -> PrototypeNote:
    """The note with this id in this review; NotFound for any other id (also another review's
    note), so a cited note cannot leak across teams."""
    note = db.session.get(PrototypeNote, note_id)
    if note is None or note.review_id != review.id:
        raise NotFound("There is no such prototype note in this review.")
    return note


def may_edit(actor: User, note: PrototypeNote) -> bool:
    """Authors edit and delete their notes; facilitators and owners edit and delete any."""
    if note.is_author(actor.id):
        return True
    membership = note.review.team.membership_of(actor.id)
    return membership is not None and membership.role_enum.at_least(Role.FACILITATOR)


def editable_note_ids(actor: User, review: Review, notes: Iterable[PrototypeNote]) -> set[int]:
    """The ids of the notes the actor may change now (none once the review is frozen)."""
    if review.is_frozen:
        return set()
    return {note.id for note in notes if may_edit(actor, note)}


def note_for_edit(actor: User, review: Review, note_id: int) -> PrototypeNote:
    """The note, if the actor may change it now. Raises NotFound, Conflict (frozen review) or
    Forbidden (neither an author nor a facilitator)."""
    reviews.ensure_editable(review)
    note = get_note(review, note_id)
    if not may_edit(actor, note):
        raise Forbidden("Only the note's authors and the team's facilitators can change it.")
    return note


def team_people(review: Review) -> list[User]:
    """Who can be named as an author: the review team's members, by name."""
    return sorted((m.user for m in review.team.memberships), key=lambda u: u.name.lower())


# ---- checks ----------------------------------------------------------------------------------


def _find_candidate(review: Review, candidate_id: int | None) -> Candidate:
    candidate = next((c for c in review.candidates if c.id == candidate_id), None)
    if candidate is None:
        raise NotFound("That candidate is not part of this review.", field="candidate_id")
    return candidate


def _find_authors(actor: User, review: Review, author_ids: Sequence[int]) -> list[User]:
    """The named authors, or the writer when nobody is named. Raises Invalid for anyone who
    is not in the review's team."""
    if not author_ids:
        return [actor]
    people = {u.id: u for u in team_people(review)}
    if any(i not in people for i in author_ids):
        raise Invalid("Authors must be members of this team.", field="author_ids")
    return sorted({people[i] for i in author_ids}, key=lambda u: u.name.lower())


def _check_hours(value: float | None, name: str, label: str) -> float:
    if value is None or isinstance(value, bool):
        raise Invalid(f"Enter the {label} as a number of hours.", field=name)
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise Invalid(f"The {label} must be zero or more hours.", field=name)
    if value > MAX_HOURS:
        raise Invalid(f"The {label} cannot exceed {MAX_HOURS:g} hours.", field=name)
    return round(value, 2)


def _clean_items(items: Iterable[str], name: str) -> list[str]:
    """Strip bullets and blanks from a list; Invalid when it is too long."""
    cleaned = [text for text in (BULLET.sub("", (item or "").strip()) for item in items) if text]
    if len(cleaned) > MAX_ITEMS:
        raise Invalid(f"Keep it to {MAX_ITEMS} points or fewer.", field=name)
    if any(len(text) > MAX_ITEM for text in cleaned):
        raise Invalid(f"Keep each point under {MAX_ITEM} characters.", field=name)
    return cleaned


def _check_link(link: str) -> str:
    shown = link if len(link) <= 60 else link[:57] + "…"
    try:
        parts = urlsplit(link)
    except ValueError:
        parts = None
    if (parts is None or parts.scheme.lower() not in WEB_SCHEMES or not parts.hostname
            or any(ch.isspace() or ord(ch) < 32 for ch in link)):
        raise Invalid(f"Links must be http:// or https:// addresses; “{shown}” is not.",
                      field="links")
    if len(link) > MAX_LINK:
        raise Invalid(f"Links must be under {MAX_LINK} characters.", field="links")
    return link


def clean_links(links: Iterable[str]) -> list[str]:
    """Stripped, de-duplicated http(s) links. Raises Invalid (field ``links``) for any other
    scheme — ``javascript:``, ``data:``, ``ftp:`` — or too many or too long links."""
    cleaned = list(dict.fromkeys(_check_link(link.strip()) for link in links if link.strip()))
    if len(cleaned) > MAX_LINKS:
        raise Invalid(f"Keep it to {MAX_LINKS} links or fewer.", field="links")
    return cleaned


def _check_text(draft: NoteDraft) -> tuple[str, str]:
    title = (draft.title or "").strip()
    if not title:
        raise Invalid("Give the note a title.", field="title")
    if len(title) > MAX_TITLE:
        raise Invalid(f"Keep the title under {MAX_TITLE} characters.", field="title")
    body = (draft.body or "").replace("\r\n", "\n")
    if len(body) > MAX_BODY:
        raise Invalid(f"Notes are limited to {MAX_BODY:,} characters; this has "
                      f"{len(body):,}. Link to longer write-ups instead.", field="body")
    return title, body


def _clean(actor: User, review: Review, draft: NoteDraft) -> _Clean:
    """Check the whole draft before anything changes. Raises Invalid or NotFound."""
    title, body = _check_text(draft)
    values = {
        "title": title,
        "budget_hours": _check_hours(draft.budget_hours, "budget_hours", "time budget"),
        "spent_hours": _check_hours(draft.spent_hours, "spent_hours", "hours spent"),
        "friction": _clean_items(draft.friction, "friction"),
        "pros": _clean_items(draft.pros, "pros"),
        "cons": _clean_items(draft.cons, "cons"),
        "body": body,
        "links": clean_links(draft.links),
    }
    candidate = _find_candidate(review, draft.candidate_id)
    return _Clean(candidate, _find_authors(actor, review, draft.author_ids), values)


# ---- changes ---------------------------------------------------------------------------------


def _commit_and_push(review: Review) -> None:
    db.session.commit()
    realtime.push_refresh(review.id, REGION)


def _new_note(actor: User, review: Review, clean: _Clean) -> PrototypeNote:
    """Add the note to the session, with its audit event; the caller commits."""
    note = PrototypeNote(review=review, candidate=clean.candidate, authors=clean.authors,
                         created_by=actor, **clean.values)
    db.session.add(note)
    db.session.flush()
    audit.record("prototype_note.added", actor=actor, team_id=review.team_id,
                 review_id=review.id, note_id=note.id, candidate=clean.candidate.name,
                 title=note.title)
    return note


def add_note(actor: User, review: Review, draft: NoteDraft) -> PrototypeNote:
    """Add a spike note to a candidate of the review. Raises Conflict (frozen review), Invalid
    (a field; nothing is stored) or NotFound (a candidate that is not in this review)."""
    reviews.ensure_editable(review)
    note = _new_note(actor, review, _clean(actor, review, draft))
    _commit_and_push(review)
    return note


def _snapshot(note: PrototypeNote) -> dict:
    """The note's fields as plain values, as history stores them."""
    values = {name: getattr(note, name) for name in FIELD_LABELS
              if name not in ("candidate", "authors")}
    values["candidate"] = note.candidate.name
    values["authors"] = sorted(author.name for author in note.authors)
    return values


def _diff(before: dict, after: dict) -> dict:
    return {name: {"old": before[name], "new": after[name]}
            for name in FIELD_LABELS if before[name] != after[name]}


def update_note(actor: User, review: Review, note_id: int, draft: NoteDraft) -> PrototypeNote:
    """Edit a note, keeping a revision with each changed field's previous and new value.
    An edit that changes nothing records nothing. Raises NotFound, Conflict, Forbidden or
    Invalid (nothing is changed then)."""
    note = note_for_edit(actor, review, note_id)
    clean = _clean(actor, review, draft)
    before = _snapshot(note)
    after = clean.values | {"candidate": clean.candidate.name,
                            "authors": sorted(author.name for author in clean.authors)}
    changes = _diff(before, after)
    if not changes:
        return note
    note.candidate, note.authors = clean.candidate, clean.authors
    for name, value in clean.values.items():
        setattr(note, name, value)
    note.revisions.append(NoteRevision(editor=actor, changes=changes))
    audit.record("prototype_note.updated", actor=actor, team_id=review.team_id,
                 review_id=review.id, note_id=note.id, fields=",".join(changes))
    _commit_and_push(review)
    return note


def delete_note(actor: User, review: Review, note_id: int) -> None:
    """Delete a note and its history; the audit log keeps that it existed. Raises NotFound,
    Conflict or Forbidden."""
    note = note_for_edit(actor, review, note_id)
    audit.record("prototype_note.deleted", actor=actor, team_id=review.team_id,
                 review_id=review.id, note_id=note.id, candidate=note.candidate.name,
                 title=note.title)
    db.session.delete(note)
    _commit_and_push(review)


# ---- demo ------------------------------------------------------------------------------------

DEMO_NOTES = {
    "Django": NoteDraft(
        candidate_id=None, title="Orders API spike with DRF", budget_hours=16, spent_hours=14,
        friction=["Nested order lines needed a hand-written serializer create()",
                  "ORM is still sync: async views wrap queries in sync_to_async",
                  "Splitting settings for containers took half a day"],
        pros=["The admin gave support an order browser for free",
              "Auth, migrations and permissions out of the box",
              "drf-spectacular produced a usable OpenAPI schema"],
        cons=["Heavier per-worker memory than the Flask spike",
              "Live order board would need Channels and Redis"],
        body="## What we built\n\nCRUD for `orders` and `order_lines`, token auth, and the "
             "admin.\n\n```python\nclass OrderViewSet(viewsets.ModelViewSet):\n"
             "    queryset = Order.objects.prefetch_related(\"lines\")\n"
             "    serializer_class = OrderSerializer\n```\n\n"
             "| task | hours |\n|---|---:|\n| models + admin | 3 |\n| API + auth | 7 |\n"
             "| container setup | 4 |\n",
        links=["https://www.django-rest-framework.org/",
               "https://docs.djangoproject.com/en/stable/topics/async/"],
    ),
    "Flask": NoteDraft(
        candidate_id=None, title="Orders API spike with Flask, SQLAlchemy and flask-smorest",
        budget_hours=16, spent_hours=12,
        friction=["Choosing between API extensions took the first morning",
                  "Request validation and error shapes wired by hand"],
        pros=["Small and explicit: the whole service fits in one head",
              "Most of the team already runs Flask services",
              "Flask-SocketIO gave a live order board in an hour"],
        cons=["We assemble and maintain our own stack",
              "No admin; Flask-Admin would need theming"],
        body="## Notes\n\n- App factory + blueprints, SQLAlchemy 2 models\n"
             "- `flask-smorest` for schemas and OpenAPI\n\n"
             "Finished early: the spare hours went into a Locust script for step 4.\n",
        links=["https://flask.palletsprojects.com/", "https://flask-smorest.readthedocs.io/"],
    ),
    "FastAPI": NoteDraft(
        candidate_id=None, title="Orders API spike with FastAPI and async SQLAlchemy",
        budget_hours=16, spent_hours=22,
        friction=["Lazy loading under async SQLAlchemy raised MissingGreenlet errors",
                  "Alembic with an async engine needed a custom env.py",
                  "Auth scopes via dependencies: easy once understood, slow to learn"],
        pros=["Validation and OpenAPI docs generated from type hints",
              "Native WebSockets for the live order board",
              "Lowest latency in our first quick load test"],
        cons=["Went 6 h over the time box on async database issues",
              "No admin: would need SQLAdmin or a separate tool",
              "Only one of us has run async Python in production"],
        body="## Over budget\n\nMost of the extra day went into eager-loading strategies "
             "(`selectinload`) after **MissingGreenlet** errors.\n\n> Decide early whether "
             "the team is ready for async everywhere.\n",
        links=["https://fastapi.tiangolo.com/",
               "https://docs.sqlalchemy.org/en/20/orm/extensions/asyncio.html"],
    ),
}


def add_demo_notes(review: Review, authors: Sequence[User]) -> list[PrototypeNote]:
    """Demo content (``flask demo``): one realistic spike note each for Django, Flask and
    FastAPI (FastAPI over budget), by ``authors`` in turn. Does nothing when the review has
    notes already; candidates the review lacks are skipped. One commit, no broadcast."""
    if not authors or notes_for_review(review):
        return []
    by_name = {c.name: c for c in review.candidates}
    added = []
    for i, (name, draft) in enumerate(DEMO_NOTES.items()):
        if name in by_name:
            author = authors[i % len(authors)]
            draft = replace(draft, candidate_id=by_name[name].id, author_ids=[author.id])
            added.append(_new_note(author, review, _clean(author, review, draft)))
    db.session.commit()
    return added
