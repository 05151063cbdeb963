"""Reviews from templates, candidates, the step frame and workshop navigation."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import AuditEvent, Review, ReviewStatus, Step
from app.services import reviews
from app.services.errors import Conflict, Invalid
from tests.factories import PASSWORD, make_review, make_user


def login(app, user):
    c = app.test_client()
    c.post("/login", data={"email": user.email, "password": PASSWORD})
    return c


def test_framework_template_preloads_three_and_adds_extras(app, world):
    c = login(app, world.users["facilitator"])
    r = c.post(f"/teams/{world.team.id}/reviews/new", data={
        "title": "API framework", "question": "", "template": "python-web-framework",
        "extra": ["Litestar", "Quart"], "more": "Sanic, django"})
    assert r.status_code == 303
    review = db.session.scalar(db.select(Review).where(Review.title == "API framework"))
    assert [c.name for c in review.candidates] == ["Django", "Flask", "FastAPI", "Litestar", "Quart", "Sanic"]
    assert review.status == "draft" and review.current_step == "constraints"
    assert review.question.startswith("Which Python web framework")


def test_blank_template_uses_only_typed_candidates(app, world):
    review = make_review(world.team, template="blank", title="Queue", extra_candidates=["RabbitMQ", "NATS"])
    assert [c.name for c in review.candidates] == ["RabbitMQ", "NATS"]


@pytest.mark.parametrize("data, status", [
    ({"title": "", "template": "blank"}, 422),
    ({"title": "X", "template": "cobol"}, 422),
    ({"title": "X", "template": "python-web-framework", "extra": ["Django REST"]}, 422),
])
def test_bad_review_input(app, world, data, status):
    r = login(app, world.users["owner"]).post(f"/teams/{world.team.id}/reviews/new", data=data)
    assert r.status_code == status
    assert db.session.scalar(db.select(db.func.count()).select_from(Review)) == 1


def test_workspace_shows_five_steps_with_the_current_one_marked(app, world):
    page = login(app, world.users["observer"]).get(f"/reviews/{world.review.id}").get_data(as_text=True)
    for step in Step:
        assert f'data-step="{step.value}"' in page
    assert page.count('aria-current="step"') == 1
    assert "Move everyone to this step" not in page  # observers cannot steer


def test_every_step_page_renders(app, world):
    c = login(app, world.users["member"])
    for step in Step:
        r = c.get(f"/reviews/{world.review.id}/steps/{step.value}")
        assert r.status_code == 200 and "HX-Request" in r.headers["Vary"]
    assert c.get(f"/reviews/{world.review.id}/steps/lunch").status_code == 404


def test_set_step_starts_the_review_and_is_audited(app, world):
    c = login(app, world.users["facilitator"])
    assert c.post(f"/reviews/{world.review.id}/step", data={"step": "vote"}).status_code == 200
    db.session.expire_all()
    review = db.session.get(Review, world.review.id)
    assert review.current_step == "vote" and review.status == ReviewStatus.IN_PROGRESS
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "review.step_changed"))
    assert event.detail == {"old": "constraints", "new": "vote"}


def test_set_step_rejects_unknown_step(app, world):
    r = login(app, world.users["facilitator"]).post(f"/reviews/{world.review.id}/step",
                                                     data={"step": "party"})
    assert r.status_code == 422


def test_candidates_add_duplicate_remove(app, world):
    c = login(app, world.users["facilitator"])
    url = f"/reviews/{world.review.id}/candidates"
    assert c.post(url, data={"candidate-name": "Litestar"}, headers={"HX-Request": "true"}).status_code == 200
    dup = c.post(url, data={"candidate-name": "litestar"}, headers={"HX-Request": "true"})
    assert dup.status_code == 422 and "already a candidate" in dup.get_data(as_text=True)
    db.session.expire_all()
    review = db.session.get(Review, world.review.id)
    litestar = next(x for x in review.candidates if x.name == "Litestar")
    assert c.post(f"{url}/{litestar.id}/remove").status_code == 200
    db.session.expire_all()
    assert "Litestar" not in [x.name for x in db.session.get(Review, world.review.id).candidates]


def test_edit_details(app, world):
    c = login(app, world.users["facilitator"])
    r = c.post(f"/reviews/{world.review.id}/details", data={"details-title": "New title", "details-question": "Why?"},
               headers={"HX-Request": "true"})
    assert r.status_code == 200 and "New title" in r.get_data(as_text=True)
    assert c.post(f"/reviews/{world.review.id}/details", data={"details-title": ""}).status_code == 422


def test_frozen_review_refuses_changes(app, world):
    world.review.status = ReviewStatus.SIGNED_OFF.value
    db.session.commit()
    with pytest.raises(Conflict):
        reviews.set_step(world.users["owner"], world.review, "vote")
    r = login(app, world.users["owner"]).post(f"/reviews/{world.review.id}/step", data={"step": "vote"})
    assert r.status_code == 409 and "frozen" in r.get_data(as_text=True)


def test_too_many_candidates(app, world):
    with pytest.raises(Invalid):
        make_review(world.team, template="blank", extra_candidates=[f"C{i}" for i in range(13)])


def test_dashboard_lists_reviews_and_empty_states(app, world):
    page = login(app, world.users["member"]).get("/").get_data(as_text=True)
    assert "Pick a framework" in page
    empty = login(app, make_user()).get("/").get_data(as_text=True)
    assert "not in a team yet" in empty and "No reviews yet" in empty
