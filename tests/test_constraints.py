"""Step 1: typed constraints, the decision checklist, expertise and knock-outs."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Candidate, ChecklistAnswer, Constraint, Review
from app.services import constraints
from app.services.errors import Conflict, Invalid, NotFound
from tests.factories import PASSWORD, make_review
from tests.test_socketio import element

HX = {"HX-Request": "true"}


def login(app, user):
    c = app.test_client()
    c.post("/login", data={"email": user.email, "password": PASSWORD})
    return c


def prefixed(prefix: str, data: dict) -> dict:
    return {f"{prefix}-{k}": v for k, v in data.items()}


def count(model) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(model))


@pytest.mark.parametrize("data, shown", [
    ({"kind": "traffic_rps", "priority": "must", "target": "500"}, "≥ 500 req/s"),
    ({"kind": "latency_p95_ms", "priority": "must", "target": "250", "knockout": "y"}, "≤ 250 ms"),
    ({"kind": "error_rate_pct", "priority": "should", "target": "0.5"}, "≤ 0.5 %"),
    ({"kind": "memory_mb", "priority": "could", "target": "512"}, "≤ 512 MB"),
    ({"kind": "data_complexity", "priority": "should", "target": "40", "relationships": "complex"}, "40 models"),
    ({"kind": "auth", "priority": "must", "auth": ["oauth2_oidc", "rbac"]}, "oauth2 oidc, rbac"),
    ({"kind": "deployment", "priority": "must", "deployment": ["containers"], "description": "k8s"}, "containers"),
    ({"kind": "freeform", "priority": "could", "description": "Must run on Python 3.12"}, "Python 3.12"),
])
def test_add_each_kind(app, world, data, shown):
    r = login(app, world.users["member"]).post(f"/reviews/{world.review.id}/constraints", data=prefixed("constraint", data), headers=HX)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert shown in r.get_data(as_text=True)
    stored = db.session.scalar(db.select(Constraint))
    assert stored.kind == data["kind"]
    if "target" in data:
        assert stored.target == float(data["target"])  # kept as a number for step 4


@pytest.mark.parametrize("data, message", [
    ({"kind": "latency_p95_ms", "priority": "must", "target": "abc"}, "must be a number"),
    ({"kind": "latency_p95_ms", "priority": "must", "target": ""}, "Give the target in ms"),
    ({"kind": "traffic_rps", "priority": "must", "target": "-5"}, "0 or more"),
    ({"kind": "traffic_rps", "priority": "must", "target": "nan"}, "0 or more"),
    ({"kind": "error_rate_pct", "priority": "must", "target": "150"}, "between 0 and 100"),
    ({"kind": "auth", "priority": "must"}, "at least one authentication need"),
    ({"kind": "data_complexity", "priority": "must", "target": "3"}, "relationships"),
    ({"kind": "freeform", "priority": "must"}, "Describe the constraint"),
    ({"kind": "teleport", "priority": "must"}, "Not a valid choice"),
    ({"kind": "freeform", "priority": "must", "description": "x" * 2001}, "2000"),
])
def test_bad_constraints_are_refused_and_nothing_is_stored(app, world, data, message):
    r = login(app, world.users["member"]).post(f"/reviews/{world.review.id}/constraints", data=prefixed("constraint", data), headers=HX)
    assert r.status_code == 422
    assert message in r.get_data(as_text=True)
    assert count(Constraint) == 0


def test_edit_and_remove(app, world):
    c = login(app, world.users["member"])
    c.post(f"/reviews/{world.review.id}/constraints", data=prefixed("constraint", {"kind": "traffic_rps", "priority": "must", "target": "100"}))
    cid = db.session.scalar(db.select(Constraint.id))
    form = c.get(f"/reviews/{world.review.id}/constraints/{cid}/edit", headers=HX).get_data(as_text=True)
    assert 'value="100"' in form
    bad = c.post(f"/reviews/{world.review.id}/constraints/{cid}", data=prefixed("constraint-edit", {"kind": "traffic_rps", "priority": "must", "target": "x"}))
    assert bad.status_code == 422
    db.session.expire_all()
    assert db.session.get(Constraint, cid).target == 100  # a failed edit changes nothing
    c.post(f"/reviews/{world.review.id}/constraints/{cid}", data=prefixed("constraint-edit", {"kind": "traffic_rps", "priority": "should", "target": "800"}))
    db.session.expire_all()
    assert db.session.get(Constraint, cid).target == 800
    assert c.post(f"/reviews/{world.review.id}/constraints/{cid}/remove").status_code == 200
    assert count(Constraint) == 0


def test_constraint_of_another_review_is_404(app, world):
    other = make_review(world.team, title="Other")
    constraints.add_constraint(world.users["owner"], other, kind="traffic_rps", priority="must",
                               knockout=False, target=5)
    cid = db.session.scalar(db.select(Constraint.id))
    r = login(app, world.users["member"]).post(f"/reviews/{world.review.id}/constraints/{cid}/remove")
    assert r.status_code == 404


def suggest(review, **answers):
    for key, value in answers.items():
        db.session.add(ChecklistAnswer(review_id=review.id, question_key=key, answer=value))
    db.session.commit()
    return {s.candidate: s.support for s in constraints.suggestions(review)}


@pytest.mark.parametrize("answers, expected", [
    ({"api_first": True}, {"FastAPI": 1, "Flask": 1}),
    ({"admin_panel": True}, {"Django": 1}),
    ({"realtime": True}, {"FastAPI": 1}),
    ({"async_team": True}, {"FastAPI": 1}),
    ({"async_team": False}, {"Django": 1, "Flask": 1}),
    ({"integrations": True}, {"Django": 1}),
    ({"rapid_prototyping": True}, {"Flask": 1, "Django": 1}),
    ({"high_traffic": True}, {"FastAPI": 1}),
    ({"serverless": True}, {"Flask": 1, "FastAPI": 1}),
    ({"api_first": True, "realtime": True, "high_traffic": True}, {"FastAPI": 3, "Flask": 1}),
    ({"admin_panel": False, "api_first": None}, {}),
])
def test_checklist_suggestions_follow_the_guide(app, world, answers, expected):
    assert suggest(world.review, **answers) == expected


def test_answering_through_the_page_shows_reasons(app, world):
    r = login(app, world.users["member"]).post(f"/reviews/{world.review.id}/checklist/admin_panel",
                                               data={"answer": "yes"}, headers=HX)
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert "Django ships a ready-made admin panel." in body and "Member Person" in body


def test_unknown_question_is_404(app, world):
    r = login(app, world.users["member"]).post(f"/reviews/{world.review.id}/checklist/nope", data={"answer": "yes"})
    assert r.status_code == 404


def test_blank_review_checklist_is_editable_and_may_be_empty(app, world):
    blank = make_review(world.team, template="blank", title="Queue", extra_candidates=["Kafka", "NATS"])
    assert constraints.questions(blank) == [] and constraints.suggestions(blank) == []
    c = login(app, world.users["facilitator"])
    r = c.post(f"/reviews/{blank.id}/checklist", data=prefixed("question", {"text": "Need replay?", "suggests": ["Kafka"],
                                                                         "reason": "Kafka keeps the log."}), headers=HX)
    assert r.status_code == 200 and "Need replay?" in r.get_data(as_text=True)
    db.session.expire_all()
    blank = db.session.get(Review, blank.id)
    key = constraints.questions(blank)[0].key
    c.post(f"/reviews/{blank.id}/checklist/{key}", data={"answer": "yes"})
    assert {s.candidate for s in constraints.suggestions(blank)} == {"Kafka"}
    assert c.post(f"/reviews/{blank.id}/checklist/{key}/remove").status_code == 200
    db.session.expire_all()
    assert constraints.questions(db.session.get(Review, blank.id)) == []


def test_framework_checklist_is_the_guides(app, world):
    with pytest.raises(Conflict):
        constraints.add_question(world.users["owner"], world.review, "Extra?", ["Flask"], "")


def test_expertise_is_rated_by_each_member_for_themselves(app, world):
    django = world.review.candidates[0]
    c = login(app, world.users["member"])
    r = c.post(f"/reviews/{world.review.id}/expertise",
               data={f"level_candidate_{django.id}": "4", "level_async": "1"}, headers=HX)
    assert r.status_code == 200
    ratings = constraints.expertise_of(world.review)
    assert ratings == {(world.users["member"].id, f"candidate:{django.id}"): 4,
                       (world.users["member"].id, "async"): 1}
    bad = c.post(f"/reviews/{world.review.id}/expertise", data={"level_async": "9"})
    assert bad.status_code == 422
    with pytest.raises(Invalid):
        constraints.rate_expertise(world.users["member"], world.review, {"candidate:99999": 3})


def test_disqualify_shows_everywhere_and_is_pushed(app, world, socket_client):
    member_client = login(app, world.users["member"])
    sc = socket_client(member_client, world.review.id)
    sc.get_received()
    flask_ = world.review.candidates[1]
    c = login(app, world.users["facilitator"])
    r = c.post(f"/reviews/{world.review.id}/disqualify",
               data={"dq-candidate_id": flask_.id, "dq-reason": "No SAML without add-ons"}, headers=HX)
    assert r.status_code == 200 and "No SAML without add-ons" in r.get_data(as_text=True)
    pushed = [m["args"][0] for m in sc.get_received()]
    candidates_html = next(p["html"] for p in pushed if "html" in p and 'id="candidates"' in p["html"])
    assert "disqualified" in candidates_html and "No SAML without add-ons" in candidates_html
    assert any("mapping" in p.get("regions", []) for p in pushed)
    page = member_client.get(f"/reviews/{world.review.id}/steps/mapping").get_data(as_text=True)
    assert "No SAML without add-ons" in page  # candidates panel on every step
    c.post(f"/reviews/{world.review.id}/candidates/{flask_.id}/requalify")
    db.session.expire_all()
    assert db.session.get(Candidate, flask_.id).disqualified_reason is None


def test_disqualify_needs_a_reason_and_a_knockout_constraint(app, world):
    flask_ = world.review.candidates[1]
    with pytest.raises(Invalid):
        constraints.disqualify(world.users["owner"], world.review, flask_.id, "  ")
    soft = constraints.add_constraint(world.users["owner"], world.review, kind="traffic_rps",
                                      priority="could", knockout=False, target=10)
    with pytest.raises(Invalid):
        constraints.disqualify(world.users["owner"], world.review, flask_.id, "slow", soft.id)
    with pytest.raises(NotFound):
        constraints.disqualify(world.users["owner"], world.review, 99999, "x")


def test_disqualified_candidates_leave_the_suggestions(app, world):
    constraints.answer_question(world.users["owner"], world.review, "admin_panel", True)
    django = world.review.candidates[0]
    constraints.disqualify(world.users["owner"], world.review, django.id, "too heavy")
    assert constraints.suggestions(world.review) == []


def test_live_refresh_after_a_constraint_is_added(app, world, socket_client):
    member_client = login(app, world.users["observer"])
    sc = socket_client(member_client, world.review.id)
    sc.get_received()
    login(app, world.users["member"]).post(f"/reviews/{world.review.id}/constraints",
                                            data=prefixed("constraint", {"kind": "memory_mb", "priority": "must", "target": "256"}))
    refresh = [m["args"][0] for m in sc.get_received() if m["name"] == "refresh"]
    assert ["constraints"] in [m["regions"] for m in refresh]
    region = member_client.get(f"/reviews/{world.review.id}/regions/constraints", headers=HX)
    page = member_client.get(f"/reviews/{world.review.id}/steps/constraints").get_data(as_text=True)
    assert element(page, "region-constraints") == region.get_data(as_text=True).strip()
    assert "256" in region.get_data(as_text=True)
