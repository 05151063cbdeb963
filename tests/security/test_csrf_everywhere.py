"""CSRF on every state-changing endpoint of ``app.url_map``, and no state change on any GET.

tests/test_csrf.py shows the mechanism on a few routes (form field, htmx header, a token of
another session). Here every POST/PUT/PATCH/DELETE rule, built with real ids of the test world
(the access matrix's ``url_args``), is sent as the logged-in owner with plausible form data and
a missing, garbage, foreign-session or pre-login token: each is refused with the CSRF error and
not one row or stored file changes. The control: the same request with the page's token passes
the CSRF check. The JSON API is CSRF-exempt by design because only a bearer token
authenticates it: a cookie alone or a bad token gets 401 and changes nothing."""

from __future__ import annotations

import re

import pytest
from flask import url_for

from app.models import ApiToken, Review
from app.services import tokens
from tests import test_access_matrix
from tests.conftest import built_app, csrf_from
from tests.factories import PASSWORD
from tests.security.state import changes, snapshot
from tests.test_access_matrix import RULES

url_args = test_access_matrix.url_args  # the access matrix's fixture: real ids of the world

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
WEB = [(e, m) for e, m, rule in RULES if m in STATE_CHANGING and rule.scope != "token"]
API = [(e, m) for e, m, rule in RULES if m in STATE_CHANGING and rule.scope == "token"]
READS = [(e, m, rule) for e, m, rule in RULES if m == "GET"]
JSON = {"Accept": "application/json"}


def plausible(url_args: dict) -> dict:
    """Form data that would be valid for most forms, so that a request which got past the CSRF
    check would really change something (the "nothing changed" check has teeth)."""
    cand = str(url_args["candidate_id"])
    return {
        "name": "Changed by CSRF", "weight": "4", "direction": "up", "value": "4",
        "rationale": "csrf", "step": "vote", "role": "observer", "note": "csrf",
        "candidate-name": "CSRF Framework", "details-title": "CSRF title", "title": "CSRF",
        "question-text": "CSRF question?", "dq-candidate_id": cand, "dq-reason": "csrf",
        "constraint-kind": "traffic_rps", "constraint-priority": "must", "constraint-target": "50",
        "constraint-edit-kind": "traffic_rps", "constraint-edit-priority": "must",
        "constraint-edit-target": "50", "criterion-name": "CSRF criterion", "criterion-weight": "2",
        "criterion-edit-name": "CSRF criterion", "criterion-edit-weight": "2",
        "note-candidate_id": cand, "note-title": "CSRF note", "note-budget_hours": "16",
        "note-spent_hours": "1", "run-label": "csrf", "plan-endpoints": "GET / 1",
        "ballot-choice": cand, "decision-candidate_id": cand, "decision-rationale": "csrf",
        "stance": "agree", "reason": "csrf", "minutes": "5", "answer": "yes",
        "candidate_id": cand, "constraint_id": str(url_args["constraint_id"]),
        "run_id": str(url_args["run_id"]), "token_id": "1", "notification_id": "",
        "email": "owner@example.com", "password": PASSWORD, "confirm": PASSWORD,
    }


@pytest.fixture
def app(tmp_path, monkeypatch):
    with built_app(tmp_path, monkeypatch, WTF_CSRF_ENABLED=True) as app:
        yield app


def page_token(client, path="/account") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def logged_in_owner(app, world):
    """The owner's browser, plus a token this browser held before it logged in."""
    client = app.test_client()
    pre_login = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"email": world.users["owner"].email, "password": PASSWORD,
                                    "csrf_token": pre_login})
    assert r.status_code == 303
    return client, pre_login


def build(app, endpoint: str, url_args: dict) -> str:
    url_rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with app.test_request_context():
        return url_for(endpoint, **{k: url_args[k] for k in url_rule.arguments})


def is_csrf_refusal(response) -> bool:
    body = response.get_json(silent=True) or {}
    return response.status_code == 400 and body.get("error", {}).get("code") == "csrf"


def test_every_state_changing_endpoint_is_listed():
    """The lists below come from app.url_map; an empty list would make the checks vacuous."""
    assert len(WEB) > 40 and ("auth.logout", "POST") in WEB and ("teams.invite", "POST") in WEB
    assert ("api.create_team", "POST") in API


def test_every_state_changing_endpoint_refuses_a_missing_or_wrong_token(app, world, url_args):
    owner, pre_login = logged_in_owner(app, world)
    stranger = app.test_client()
    foreign = csrf_from(stranger.get("/login").get_data(as_text=True))  # valid, other session
    data = plausible(url_args)
    attempts = {
        "missing": ({}, {}),
        "garbage": ({"csrf_token": "IjAwMDAi.ZZZZZZ.forged-signature"}, {"X-CSRFToken": "nope"}),
        "other session": ({"csrf_token": foreign}, {"X-CSRFToken": foreign}),
        "before login": ({"csrf_token": pre_login}, {"X-CSRFToken": pre_login}),
    }
    failures = []
    for endpoint, method in WEB:
        url = build(app, endpoint, url_args)
        for name, (fields, headers) in attempts.items():
            before = snapshot(app)
            r = owner.open(url, method=method, data={**data, **fields}, headers={**JSON, **headers})
            changed = changes(before, snapshot(app))
            if not is_csrf_refusal(r) or changed:
                failures.append((endpoint, method, name, r.status_code, changed))
    assert not failures, failures
    assert owner.get("/account").status_code == 200  # the refused logout did not log out


def test_the_pages_token_passes_the_check_everywhere(app, world, url_args):
    """The control: the refusals above are the CSRF check, not the form data or the route."""
    owner, _ = logged_in_owner(app, world)
    data = plausible(url_args)
    order = sorted(WEB, key=lambda em: em[0] == "auth.logout")  # log out last
    passed = []
    for endpoint, method in order:
        token = page_token(owner)
        r = owner.open(build(app, endpoint, url_args), method=method,
                       data={**data, "csrf_token": token}, headers=JSON)
        assert not is_csrf_refusal(r), (endpoint, r.get_data(as_text=True)[:200])
        assert r.status_code < 500, (endpoint, r.get_data(as_text=True)[:300])
        passed.append(endpoint)
    assert len(passed) == len(WEB)


def test_htmx_requests_need_the_header_token_too(app, world, url_args):
    """htmx sends the token in X-CSRFToken; HX-Request alone is no proof of same origin."""
    owner, _ = logged_in_owner(app, world)
    before = snapshot(app)
    for endpoint, method in WEB:
        r = owner.open(build(app, endpoint, url_args), method=method, data=plausible(url_args),
                       headers={"HX-Request": "true"})
        assert r.status_code == 400 and "security token" in r.get_data(as_text=True), endpoint
    assert changes(before, snapshot(app)) == {}


# -- the JSON API: CSRF-exempt, bearer only ----------------------------------------------------


def api_body(endpoint: str, url_args: dict) -> dict:
    if endpoint == "api.create_team":
        return {"json": {"name": "API team"}}
    if endpoint == "api.create_review":
        return {"json": {"team_id": url_args["team_id"], "title": "Via API"}}
    return {"data": {"candidate": str(url_args["candidate_id"])}}


@pytest.mark.parametrize("endpoint, method", API, ids=[e for e, _ in API])
def test_api_writes_need_a_valid_bearer_token_not_a_cookie(app, world, url_args, endpoint, method):
    owner, _ = logged_in_owner(app, world)  # holds a login cookie: it must not count
    url = build(app, endpoint, url_args)
    body = api_body(endpoint, url_args)
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic b3duZXI="},
                    {"X-CSRFToken": page_token(owner)}):
        before = snapshot(app)
        r = owner.open(url, method=method, headers=headers, **body)
        assert r.status_code == 401 and r.get_json()["error"], (headers, r.status_code)
        assert changes(before, snapshot(app)) == {}, headers
    _, secret = tokens.create_token(world.users["owner"], "csrf test")
    r = app.test_client().open(url, method=method, headers={"Authorization": f"Bearer {secret}"},
                               **body)
    assert r.status_code not in (400, 401, 403), (r.status_code, r.get_data(as_text=True)[:300])


# -- GET never changes state ---------------------------------------------------------------------


REVIEW_STAMP = [c.name for c in Review.__table__.columns].index("updated_at")


def lazily_created_first_round(changed: dict, review_id: int) -> bool:
    """The one write a page view may cause: the mapping's round 1 is created the first time
    anyone needs it (services/mapping.current_round, race-safe). Exactly one row, number 1, for
    this review, and nothing else."""
    if set(changed) != {"scoring_rounds"}:
        return False
    delta = changed["scoring_rounds"]
    (row,) = delta["added"] or [None]
    return (delta["before"] == 0 and delta["after"] == 1 and not delta["removed"]
            and row is not None and row[1:3] == (repr(review_id), "1"))


def test_no_get_changes_anything(app, world, url_args):
    """Every GET page, fragment, export and download, as the owner: not one row or file
    changes, except the lazily created first mapping round (and, for the API, a token's last
    use — below). A second pass over every GET changes nothing at all."""
    owner, _ = logged_in_owner(app, world)
    failures, seen = [], 0
    for sweep in (1, 2):
        for endpoint, _method, rule in READS:
            if rule.scope == "token":
                continue
            before = snapshot(app)
            r = owner.get(build(app, endpoint, url_args))
            after = snapshot(app)
            changed = changes(before, after)
            seen += 1
            # Creating round 1 is a write to the review's rows, so it also moves the review's
            # updated_at stamp (the page cache's key, app/rendering.py) in the same transaction.
            allowed = sweep == 1 and lazily_created_first_round(
                changes(before, after, ignore={"reviews": {REVIEW_STAMP}}), url_args["review_id"])
            if r.status_code >= 500 or (changed and not allowed):
                failures.append((sweep, endpoint, r.status_code, changed))
    assert not failures, failures
    assert seen > 40


def test_api_reads_change_nothing_but_the_tokens_last_use(app, world, url_args):
    _, secret = tokens.create_token(world.users["owner"], "reader")
    last_used = [c.name for c in ApiToken.__table__.columns].index("last_used_at")
    client = app.test_client()
    for endpoint, _method, rule in READS:
        if rule.scope != "token":
            continue
        before = snapshot(app)
        r = client.get(build(app, endpoint, url_args), headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 200, (endpoint, r.status_code)
        assert changes(before, snapshot(app), ignore={"api_tokens": {last_used}}) == {}, endpoint
