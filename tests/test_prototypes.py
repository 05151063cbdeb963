"""Step 3: prototype notes — adding, editing with history, deleting, who may do what, bad
input, the frozen record, and the live region (page, htmx and refresh show the same block)."""

from __future__ import annotations

import pytest

from app import create_app
from app.config import TestingConfig
from app.extensions import db
from app.models import AuditEvent, NoteRevision, PrototypeNote, Review, ReviewStatus
from app.services import notes
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.notes import MAX_BODY, NoteDraft
from tests.conftest import IsolatedClient
from tests.factories import PASSWORD, make_review, make_team, make_user
from tests.test_markdown import elements
from tests.test_socketio import element, events

HX = {"HX-Request": "true"}


def login(app, user):
    c = app.test_client()
    assert c.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
    return c


def form_data(candidate_id, **fields) -> dict:
    data = {"candidate_id": candidate_id, "title": "Orders API spike", "budget_hours": "16",
            "spent_hours": "6", "friction": "", "pros": "", "cons": "", "body": "", "links": ""}
    data.update(fields)
    return {f"note-{k}": v for k, v in data.items()}


def count(model, *where) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(model).where(*where))


def audit_actions() -> list[str]:
    return list(db.session.scalars(db.select(AuditEvent.action).order_by(AuditEvent.id)))


def add(world, persona="member", **fields) -> PrototypeNote:
    """A note through the service, by a persona (its author unless author_ids says else)."""
    draft = NoteDraft(candidate_id=fields.pop("candidate_id", world.review.candidates[0].id),
                      title=fields.pop("title", "Orders API spike"), **fields)
    return notes.add_note(world.users[persona], world.review, draft)


def step_page(client, review) -> str:
    r = client.get(f"/reviews/{review.id}/steps/prototypes")
    assert r.status_code == 200
    return r.get_data(as_text=True)


def region(client, review) -> str:
    r = client.get(f"/reviews/{review.id}/regions/prototypes", headers=HX)
    assert r.status_code == 200
    return r.get_data(as_text=True)


def refreshed(listener) -> list[list[str]]:
    """The regions named by each ``refresh`` the socket received since the last call."""
    return [event["regions"] for event in events(listener, "refresh")]


def url(review, tail="") -> str:
    return f"/reviews/{review.id}/prototypes/notes{tail}"


# ---- adding ----------------------------------------------------------------------------------


def test_member_adds_a_note_with_htmx(app, world):
    django = world.review.candidates[0]
    r = login(app, world.users["member"]).post(url(world.review), headers=HX, data=form_data(
        django.id, friction="- DRF nested serializers\n\n* settings split",
        pros="admin for free\n", cons="heavier workers", body="## Findings\n\n- *fast*",
        links="https://www.django-rest-framework.org/\n"))
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.headers["HX-Trigger"] == "prototypes-changed"  # this viewer's region reloads
    html = r.get_data(as_text=True)
    assert html.strip().startswith('<section id="new-note"') and "Added" in html
    note = db.session.scalar(db.select(PrototypeNote))
    assert note.candidate_id == django.id and note.title == "Orders API spike"
    assert [a.name for a in note.authors] == ["Member Person"]  # the writer by default
    assert note.friction == ["DRF nested serializers", "settings split"]
    assert note.pros == ["admin for free"] and note.cons == ["heavier workers"]
    assert note.links == ["https://www.django-rest-framework.org/"]
    assert (note.budget_hours, note.spent_hours) == (16, 6)
    assert "prototype_note.added" in audit_actions()


def test_add_without_htmx_redirects_to_the_notes_anchor(app, world):
    c = login(app, world.users["member"])
    flask = world.review.candidates[1]
    r = c.post(url(world.review), data=form_data(flask.id, title="Flask spike"))
    note = db.session.scalar(db.select(PrototypeNote))
    assert r.status_code == 303
    assert r.headers["Location"].endswith(
        f"/reviews/{world.review.id}/steps/prototypes#note-{note.id}")
    page = step_page(c, world.review)
    assert f'id="note-{note.id}"' in page and "Flask spike" in page and "added" in page


def test_form_defaults_to_two_days_and_the_writer(app, world):
    page = step_page(login(app, world.users["member"]), world.review)
    form = element(page, "new-note")
    assert 'name="note-budget_hours"' in form and 'value="16"' in form
    ticked = [attrs["value"] for tag, attrs in elements(form)
              if attrs.get("name") == "note-author_ids" and "checked" in attrs]
    assert ticked == [str(world.users["member"].id)]
    note = add(world)
    assert note.budget_hours == 16 and note.spent_hours == 0


def test_authors_can_be_several_team_members(app, world):
    ids = [world.users["member"].id, world.users["facilitator"].id]
    data = form_data(world.review.candidates[0].id)
    data["note-author_ids"] = [str(i) for i in ids]
    r = login(app, world.users["owner"]).post(url(world.review), data=data, headers=HX)
    assert r.status_code == 201
    note = db.session.scalar(db.select(PrototypeNote))
    assert sorted(a.id for a in note.authors) == sorted(ids)
    assert note.created_by_id == world.users["owner"].id


@pytest.mark.parametrize("spent, over", [("22", True), ("16", False), ("3.5", False)])
def test_over_budget_warning(app, world, spent, over):
    c = login(app, world.users["member"])
    c.post(url(world.review), data=form_data(world.review.candidates[2].id, spent_hours=spent))
    page = step_page(c, world.review)
    assert ("Over budget" in page) == over
    if over:
        assert "ran 6 h over its time box" in page and 'class="note over-budget"' in page


# ---- bad input: a clear message, a 4xx, nothing stored ----------------------------------------


@pytest.mark.parametrize("fields, status, message", [
    ({"budget_hours": "abc"}, 422, "Enter hours as a number"),
    ({"spent_hours": "-3"}, 422, "Hours must be between 0 and 1000"),
    ({"spent_hours": "nan"}, 422, "Hours must be between 0 and 1000"),
    ({"spent_hours": "inf"}, 422, "Hours must be between 0 and 1000"),
    ({"budget_hours": ""}, 422, "Enter the hours"),
    ({"title": "   "}, 422, "Give the note a title"),
    ({"title": "x" * 121}, 422, "120 characters"),
    ({"body": "x" * 1_000_000}, 422, "limited to 100,000 characters"),
    ({"links": "https://ok.example\njavascript:alert(1)"}, 422, "http:// or https://"),
    ({"links": "ftp://files.example/x"}, 422, "http:// or https://"),
    ({"links": "data:text/html,hi"}, 422, "http:// or https://"),
    ({"friction": "\n".join(f"point {i}" for i in range(31))}, 422, "30 points or fewer"),
    ({"candidate_id": "abc"}, 422, "Choose one of the candidates"),
    ({"candidate_id": "999999"}, 404, "not part of this review"),
    ({"author_ids": "999999"}, 422, "members of this team"),
])
def test_bad_input_is_refused_inline(app, world, fields, status, message):
    c = login(app, world.users["member"])
    data = form_data(**{"candidate_id": world.review.candidates[0].id, **fields})
    for headers in (HX, {}):
        r = c.post(url(world.review), data=data, headers=headers)
        assert r.status_code == status, r.get_data(as_text=True)[:300]
        html = r.get_data(as_text=True)
        assert message in html
        assert 'id="new-note"' in html  # the form again, with what was typed
    assert count(PrototypeNote) == 0 and "prototype_note.added" not in audit_actions()


def test_every_form_error_shows_at_once(app, world):
    data = form_data(world.review.candidates[0].id, spent_hours="-4", title="",
                     links="javascript:alert(1)")
    r = login(app, world.users["member"]).post(url(world.review), data=data, headers=HX)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    for message in ("Hours must be between", "Give the note a title", "http:// or https://"):
        assert message in html


def test_a_candidate_of_another_review_is_not_found(app, world):
    other = make_review(world.team, title="Another decision")
    r = login(app, world.users["member"]).post(
        url(world.review), data=form_data(other.candidates[0].id), headers=HX)
    assert r.status_code == 404 and "not part of this review" in r.get_data(as_text=True)
    assert count(PrototypeNote) == 0


def test_an_author_from_another_team_is_refused(app, world):
    data = form_data(world.review.candidates[0].id)
    data["note-author_ids"] = [str(world.users["non_member"].id)]
    r = login(app, world.users["member"]).post(url(world.review), data=data, headers=HX)
    assert r.status_code == 422 and "members of this team" in r.get_data(as_text=True)
    assert count(PrototypeNote) == 0


def test_the_service_checks_everything_before_storing(app, world):
    for draft_fields, error in [
        ({"spent_hours": float("nan")}, Invalid),
        ({"budget_hours": -1.0}, Invalid),
        ({"body": "x" * (MAX_BODY + 1)}, Invalid),
        ({"links": ["javascript:alert(1)"]}, Invalid),
        ({"links": ["https://"]}, Invalid),
        ({"candidate_id": 999999}, NotFound),
    ]:
        with pytest.raises(error):
            add(world, **draft_fields)
    assert count(PrototypeNote) == 0


# ---- editing, history ------------------------------------------------------------------------


def test_author_edits_and_history_keeps_previous_values(app, world):
    note = add(world, spent_hours=10, pros=["fast"], body="first version")
    c = login(app, world.users["member"])
    assert c.get(url(world.review, f"/{note.id}/edit")).status_code == 200
    r = c.post(url(world.review, f"/{note.id}/edit"), data=form_data(
        world.review.candidates[0].id, title="Orders API spike, day 2", spent_hours="20",
        pros="fast\nadmin", body="second version"))
    assert r.status_code == 303 and r.headers["Location"].endswith(f"#note-{note.id}")

    db.session.expire_all()
    revision = db.session.scalar(db.select(NoteRevision))
    assert revision.editor_id == world.users["member"].id and revision.note_id == note.id
    assert revision.changes == {
        "title": {"old": "Orders API spike", "new": "Orders API spike, day 2"},
        "spent_hours": {"old": 10.0, "new": 20.0},
        "pros": {"old": ["fast"], "new": ["fast", "admin"]},
        "body": {"old": "first version", "new": "second version"},
    }
    page = c.get(url(world.review, f"/{note.id}")).get_data(as_text=True)
    history = element(page, f"note-{note.id}")
    assert '<span class="was">Orders API spike</span>' in history
    assert '<span class="was">10</span>' in history and "first version" in history
    assert "Member Person" in history
    assert "prototype_note.updated" in audit_actions()


def test_edit_that_changes_nothing_records_nothing(app, world):
    note = add(world)
    c = login(app, world.users["member"])
    r = c.post(url(world.review, f"/{note.id}/edit"),
               data=form_data(note.candidate_id, spent_hours="0"))
    assert r.status_code == 303
    assert count(NoteRevision) == 0 and "prototype_note.updated" not in audit_actions()


def test_author_order_is_not_a_change(app, world):
    ids = [world.users["member"].id, world.users["facilitator"].id]
    note = add(world, author_ids=ids)
    for order in (ids, ids[::-1]):
        notes.update_note(world.users["member"], world.review, note.id,
                          NoteDraft(candidate_id=note.candidate_id, title=note.title,
                                    author_ids=order))
    assert count(NoteRevision) == 0


def test_bad_edit_changes_nothing(app, world):
    note = add(world, spent_hours=4)
    c = login(app, world.users["member"])
    for data, status in [(form_data(note.candidate_id, spent_hours="abc", title="New"), 422),
                         (form_data(note.candidate_id, links="javascript:alert(1)"), 422),
                         (form_data(999999, title="New"), 404)]:
        r = c.post(url(world.review, f"/{note.id}/edit"), data=data, headers=HX)
        assert r.status_code == status
        assert r.get_data(as_text=True).strip().startswith('<div id="edit-note"')
    db.session.expire_all()
    note = db.session.get(PrototypeNote, note.id)
    assert (note.title, note.spent_hours, note.links) == ("Orders API spike", 4, [])
    assert count(NoteRevision) == 0


def test_edit_moves_a_note_to_another_candidate(app, world):
    note = add(world)
    flask = world.review.candidates[1]
    login(app, world.users["member"]).post(url(world.review, f"/{note.id}/edit"),
                                           data=form_data(flask.id))
    db.session.expire_all()
    assert db.session.get(PrototypeNote, note.id).candidate_id == flask.id
    assert db.session.scalar(db.select(NoteRevision)).changes["candidate"] == {
        "old": "Django", "new": "Flask"}


# ---- who may do what -------------------------------------------------------------------------


def test_observer_reads_but_cannot_write(app, world):
    note = add(world)
    c = login(app, world.users["observer"])
    page = step_page(c, world.review)
    assert "Orders API spike" in page and 'id="new-note"' not in page
    assert f"/notes/{note.id}/edit" not in page
    assert c.get(url(world.review, f"/{note.id}")).status_code == 200
    assert c.post(url(world.review), data=form_data(note.candidate_id)).status_code == 403
    assert c.post(url(world.review, f"/{note.id}/delete")).status_code == 403
    assert count(PrototypeNote) == 1


def test_other_members_may_not_edit_or_delete(app, world):
    note = add(world, persona="facilitator")  # written by the facilitator, who is its author
    c = login(app, world.users["member"])
    assert f"/notes/{note.id}/edit" not in region(c, world.review)
    assert c.get(url(world.review, f"/{note.id}/edit")).status_code == 403
    r = c.post(url(world.review, f"/{note.id}/edit"),
               data=form_data(note.candidate_id, title="Mine"))
    assert r.status_code == 403
    assert c.post(url(world.review, f"/{note.id}/delete")).status_code == 403
    r = c.post(url(world.review, f"/{note.id}/delete"), headers=HX)
    assert r.status_code == 403 and 'id="region-prototypes"' in r.get_data(as_text=True)
    assert "authors" in r.get_data(as_text=True)  # the reason, inside the region it replaces
    with pytest.raises(Forbidden):
        notes.update_note(world.users["member"], world.review, note.id,
                          NoteDraft(candidate_id=note.candidate_id, title="Mine"))
    with pytest.raises(Forbidden):
        notes.delete_note(world.users["member"], world.review, note.id)
    db.session.expire_all()
    assert db.session.get(PrototypeNote, note.id).title == "Orders API spike"


def test_co_authors_and_facilitators_may_edit(app, world):
    note = add(world, persona="owner", author_ids=[world.users["member"].id])
    for persona in ("member", "facilitator", "owner"):
        r = login(app, world.users[persona]).post(
            url(world.review, f"/{note.id}/edit"),
            data=form_data(note.candidate_id, title=f"Edited by {persona}",
                           author_ids=str(world.users["member"].id)))
        assert r.status_code == 303, persona
    assert count(NoteRevision) == 3
    assert f"/notes/{note.id}/edit" in region(login(app, world.users["member"]), world.review)


@pytest.mark.parametrize("persona", ["member", "facilitator"])
def test_author_or_facilitator_deletes_and_it_is_audited(app, world, persona):
    note = add(world)
    notes.update_note(world.users["member"], world.review, note.id,
                      NoteDraft(candidate_id=note.candidate_id, title="Renamed"))
    r = login(app, world.users[persona]).post(url(world.review, f"/{note.id}/delete"), headers=HX)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert html.strip().startswith('<div id="region-prototypes"') and "Renamed" not in html
    assert count(PrototypeNote) == 0 and count(NoteRevision) == 0
    deleted = db.session.scalar(db.select(AuditEvent).where(
        AuditEvent.action == "prototype_note.deleted"))
    assert deleted.actor_id == world.users[persona].id and deleted.detail["title"] == "Renamed"


def test_delete_without_htmx_redirects_to_the_step(app, world):
    note = add(world)
    r = login(app, world.users["member"]).post(url(world.review, f"/{note.id}/delete"))
    assert r.status_code == 303 and r.headers["Location"].endswith("/steps/prototypes")
    assert count(PrototypeNote) == 0


# ---- the frozen record -----------------------------------------------------------------------


def test_frozen_review_refuses_every_change(app, world):
    note = add(world)
    world.review.status = ReviewStatus.SIGNED_OFF.value
    db.session.commit()
    c = login(app, world.users["owner"])
    r = c.post(url(world.review), data=form_data(note.candidate_id, title="Late"), headers=HX)
    assert r.status_code == 409 and "frozen" in r.get_data(as_text=True)
    assert c.get(url(world.review, f"/{note.id}/edit")).status_code == 409
    r = c.post(url(world.review, f"/{note.id}/edit"),
               data=form_data(note.candidate_id, title="Late"))
    assert r.status_code == 409
    assert c.post(url(world.review, f"/{note.id}/delete")).status_code == 409
    with pytest.raises(Conflict):
        add(world, persona="owner")
    page = step_page(c, world.review)
    assert 'id="new-note"' not in page and f"/notes/{note.id}/edit" not in page
    assert count(PrototypeNote) == 1 and count(NoteRevision) == 0


# ---- reading, citing ------------------------------------------------------------------------


def test_each_note_has_a_stable_address(app, world):
    note = add(world, body="**bold** claim")
    c = login(app, world.users["observer"])
    r = c.get(url(world.review, f"/{note.id}"))
    assert r.status_code == 200
    assert "<strong>bold</strong> claim" in r.get_data(as_text=True)
    permalink = f'href="/reviews/{world.review.id}/prototypes/notes/{note.id}"'
    assert permalink in region(c, world.review)
    assert notes.get_note(world.review, note.id) is note
    assert notes.notes_for_review(world.review) == [note]


def test_a_note_is_not_found_through_another_review(app, world):
    note = add(world)
    other = make_review(world.team, title="Second review")
    assert login(app, world.users["member"]).get(url(other, f"/{note.id}")).status_code == 404
    assert login(app, world.users["member"]).get(url(world.review, "/999999")).status_code == 404
    with pytest.raises(NotFound):
        notes.get_note(other, note.id)
    stranger = world.users["non_member"]
    assert login(app, stranger).get(url(world.review, f"/{note.id}")).status_code == 404


def test_notes_are_grouped_by_candidate_in_review_order(app, world):
    django, flask, fastapi = world.review.candidates[:3]
    second = add(world, candidate_id=fastapi.id, title="FastAPI spike")
    first = add(world, candidate_id=django.id, title="Django spike")
    assert notes.notes_for_review(world.review) == [first, second]
    groups = notes.notes_by_candidate(world.review)
    assert [(c.name, [n.title for n in ns]) for c, ns in groups][:3] == [
        ("Django", ["Django spike"]), ("Flask", []), ("FastAPI", ["FastAPI spike"])]


def test_user_markdown_is_sanitized_on_the_page(app, world):
    add(world, body='<img src=x onerror=alert(1)> [x](javascript:alert(1)) '
                    '<a href="javascript:alert(2)" hx-get="/logout">y</a>',
        links=["https://ok.example/a?b=1&c=<2>"])
    html = region(login(app, world.users["member"]), world.review)
    tags = elements(html)
    assert "img" not in [tag for tag, _ in tags]
    hrefs = [attrs.get("href", "") for tag, attrs in tags if tag == "a"]
    assert not [h for h in hrefs if h.lower().startswith("javascript")]
    assert not [attrs for tag, attrs in tags if "/logout" in attrs.get("hx-get", "")]
    assert "https://ok.example/a?b=1&c=<2>" in hrefs  # escaped in the attribute, intact


def test_disqualified_candidate_is_marked(app, world):
    candidate = world.review.candidates[1]
    add(world, candidate_id=candidate.id, title="Flask spike")
    candidate.disqualified_reason = "no SSO support"
    db.session.commit()
    html = region(login(app, world.users["member"]), world.review)
    assert "disqualified: no SSO support" in html and "Flask spike" in html


# ---- live: the refresh, and one renderer for page and region ---------------------------------


def test_a_new_note_refreshes_everyone_in_the_room(app, world, socket_client):
    member_client = login(app, world.users["member"])
    listener = socket_client(member_client, world.review.id)
    listener.get_received()
    r = login(app, world.users["facilitator"]).post(
        url(world.review), data=form_data(world.review.candidates[0].id, title="Live note"),
        headers=HX)
    assert r.status_code == 201
    assert ["prototypes"] in refreshed(listener)

    # What the listener then fetches is the very block its page shows.
    fetched = region(member_client, world.review)
    assert "Live note" in fetched
    page = step_page(member_client, world.review)
    assert element(page, "region-prototypes") == fetched.strip()


@pytest.mark.parametrize("persona", ["observer", "member", "facilitator"])
def test_region_matches_the_page_for_each_viewer(app, world, persona):
    add(world, spent_hours=30, pros=["p"], body="# x")
    note = add(world, persona="facilitator", title="Second")
    notes.update_note(world.users["facilitator"], world.review, note.id,
                      NoteDraft(candidate_id=note.candidate_id, title="Second, edited"))
    c = login(app, world.users[persona])
    fetched = region(c, world.review)
    assert element(step_page(c, world.review), "region-prototypes") == fetched.strip()
    assert ("/edit" in fetched) == (persona != "observer")


def test_edits_and_deletes_refresh_the_room(app, world, socket_client):
    note = add(world)
    listener = socket_client(login(app, world.users["observer"]), world.review.id)
    listener.get_received()
    c = login(app, world.users["member"])
    c.post(url(world.review, f"/{note.id}/edit"), data=form_data(note.candidate_id, title="New"))
    assert refreshed(listener) == [["prototypes"]]
    c.post(url(world.review, f"/{note.id}/delete"), headers=HX)
    assert refreshed(listener) == [["prototypes"]]


# ---- demo content ----------------------------------------------------------------------------


def test_demo_notes(app, world):
    authors = [world.users["member"], world.users["facilitator"]]
    added = notes.add_demo_notes(world.review, authors)
    assert [n.candidate.name for n in added] == ["Django", "Flask", "FastAPI"]
    assert added[0].title == "Orders API spike with DRF"
    assert [n.is_over_budget for n in added] == [False, False, True]
    assert all(n.friction and n.pros and n.cons and n.links and n.body for n in added)
    assert notes.add_demo_notes(world.review, authors) == []  # only once
    page = step_page(login(app, world.users["observer"]), world.review)
    assert "Over budget" in page and "<table>" in page


def test_demo_notes_skip_missing_candidates(app, world):
    blank = make_review(world.team, template="blank", title="Queue", extra_candidates=["Flask"])
    added = notes.add_demo_notes(blank, [world.users["member"]])
    assert [n.candidate.name for n in added] == ["Flask"]


# ---- CSRF on: htmx sends the token as a header -------------------------------------------------


def test_htmx_create_needs_the_csrf_header(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    app = create_app(TestingConfig(WTF_CSRF_ENABLED=True))
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.create_all()
        try:
            user = make_user()
            review = make_review(make_team(user), user)
            c = app.test_client()
            token = c.get("/login").get_data(as_text=True).split('"X-CSRFToken": "', 1)[1]
            token = token.split('"', 1)[0]
            c.post("/login", data={"email": user.email, "password": PASSWORD,
                                   "csrf_token": token})
            data = form_data(review.candidates[0].id)
            assert c.post(url(review), data=data, headers=HX).status_code == 400
            page = step_page(c, review)
            token = page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
            r = c.post(url(review), data=data, headers={**HX, "X-CSRFToken": token})
            assert r.status_code == 201
            assert db.session.get(Review, review.id) is not None and count(PrototypeNote) == 1
        finally:
            db.session.remove()
            db.drop_all()
