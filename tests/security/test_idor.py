"""Insecure direct object references: another team's ids, every endpoint, every role.

tests/test_access_matrix.py gives every endpoint × persona the status its rule declares, with
the world's own ids (an outsider gets 404). What it does not try is an id that belongs to
*another team* inside a URL the attacker may use: their own review's URL with a foreign run,
file, note, constraint, criterion, candidate, vote, invitation or membership id — or the same
ids in form fields. Here each of those is refused (403/404 in the URL, 4xx in a form), no byte
of the other team's data appears in the answer, and not one row or stored file changes.

Socket events with another review's id are already refused in test_access_matrix's
test_socket_event_matrix; the API's review and run ids in test_api; both are not repeated."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from flask import url_for

from app.models import ApiToken, Notification, Role
from app.services import benchmarks, constraints, decisions, mapping, notes, teams, tokens, votes
from tests import test_access_matrix
from tests.factories import PASSWORD, add_member, make_review, make_team, make_user
from tests.security.state import changes, snapshot
from tests.security.test_csrf_everywhere import plausible
from tests.test_access_matrix import RULES
from tests.test_archive import sign_in_team
from tests.test_benchmarks import AB_TEXT

url_args = test_access_matrix.url_args  # the access matrix's fixture: real ids of the world

SECRET = "FOREIGN-SECRET"
SCOPES = {"team_id", "review_id"}
NESTED = {"run_id", "file_id", "membership_id", "invitation_id", "candidate_id", "criterion_id",
          "constraint_id", "note_id", "session_id"}
ROLES = ["observer", "member", "facilitator", "owner"]


@pytest.fixture
def foreign(app, world):
    """Another team with everything the world's team has, all named with SECRET, and an
    archived (signed-off) record."""
    boss = make_user(f"{SECRET} Boss", "boss@foreign.example")
    team = make_team(boss, f"{SECRET} team")
    helper = add_member(team, Role.MEMBER, make_user(f"{SECRET} Helper", "helper@foreign.example"))
    review = make_review(team, boss, title=f"{SECRET} review", question=f"{SECRET} question")
    candidate = review.candidates[0]
    teams.create_invitation(boss, team, Role.MEMBER, timedelta(days=1), note=SECRET)
    invitation = teams.open_invitations(team)[0]
    constraint = constraints.add_constraint(boss, review, kind="traffic_rps", priority="must",
                                            target=100)
    run = benchmarks.ingest_run(helper, review, candidate.id,
                                [benchmarks.IncomingFile(f"{SECRET}.txt", io.BytesIO(AB_TEXT.encode()))],
                                benchmarks.RunDetails(label=SECRET))
    note = notes.add_note(helper, review, notes.NoteDraft(candidate_id=candidate.id,
                                                          title=f"{SECRET} note"))
    session = votes.open_vote(boss, review, votes.VoteSettings("single"))
    votes.cast_ballot(helper, review, session.id, candidate.id)
    votes.close_vote(boss, review, session.id)
    decisions.draft_decision(boss, review, decisions.DecisionDraft(
        candidate_id=candidate.id, rationale=f"{SECRET} rationale",
        revisit_on=date.today() + timedelta(days=30)))
    archived = sign_in_team(team, [boss, helper], f"{SECRET} archived", "A", tags="secret")
    token, _ = tokens.create_token(boss, f"{SECRET} token")
    from app.extensions import db

    notification = db.session.scalar(db.select(Notification).where(Notification.user_id == helper.id))
    assert notification is not None
    mapping.current_round(world.review)  # created on first view otherwise (a GET-time insert)
    return {
        "run_id": run.id, "file_id": run.files[0].id, "team_id": team.id, "review_id": review.id,
        "membership_id": team.membership_of(helper.id).id, "invitation_id": invitation.id,
        "candidate_id": candidate.id, "criterion_id": mapping.criteria_of(review)[0].id,
        "constraint_id": constraint.id, "note_id": note.id, "session_id": session.id,
        "archived_review_id": archived.id, "token_id": token.id,
        "notification_id": notification.id, "helper": helper,
    }


def login(app, user):
    client = app.test_client()
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
    return client


def build(app, endpoint: str, args: dict) -> str:
    url_rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with app.test_request_context():
        return url_for(endpoint, **{k: args[k] for k in url_rule.arguments})


def arguments(app, endpoint: str) -> set[str]:
    return set(next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint).arguments)


def leaked(response) -> bool:
    """SECRET anywhere in the answer: body or headers (a download's file name)."""
    text = response.get_data(as_text=True) + " ".join(response.headers.values())
    return SECRET.lower() in text.lower()


def test_the_foreign_world_is_reachable_by_its_own_team(app, foreign):
    """The control: the foreign pages do show SECRET to their own team, so "not leaked" below
    means refused, not merely a page that never contains it."""
    boss = login(app, foreign["helper"])
    for endpoint in ("benchmarks.show_run", "prototypes.show_note", "archive.record_page",
                     "benchmarks.download_file", "reviews.workspace"):
        r = boss.get(build(app, endpoint, foreign))
        assert r.status_code == 200 and leaked(r), endpoint


@pytest.mark.parametrize("persona", ROLES)
def test_foreign_ids_inside_ones_own_review_urls(app, world, url_args, foreign, persona):
    """Every endpoint with a nested id, the persona's own team/review in the URL and one
    foreign id at a time (e.g. own review, foreign run; own run, foreign file)."""
    client = login(app, world.users[persona])
    data = plausible(url_args)
    failures, tried = [], 0
    for endpoint, method, rule in RULES:
        if rule is None or rule.scope == "token":
            continue
        for name in sorted(arguments(app, endpoint) & NESTED):
            url = build(app, endpoint, {**url_args, name: foreign[name]})
            before = snapshot(app)
            r = client.open(url, method=method, data=data)
            changed = changes(before, snapshot(app))
            tried += 1
            if r.status_code not in (403, 404) or leaked(r) or changed:
                failures.append((endpoint, method, name, r.status_code, leaked(r), changed))
    assert not failures, failures
    assert tried > 20


@pytest.mark.parametrize("persona", ROLES)
def test_another_teams_urls_outright(app, world, url_args, foreign, persona):
    """All ids foreign (their team, their review, their objects): 404, nothing shown or
    changed — for GET and for every state-changing route, with plausible form data."""
    client = login(app, world.users[persona])
    data = plausible(url_args)
    failures, tried = [], 0
    for endpoint, method, rule in RULES:
        if rule is None or rule.scope not in ("team", "review"):
            continue
        url = build(app, endpoint, {**url_args, **{k: foreign[k] for k in SCOPES | NESTED}})
        before = snapshot(app)
        r = client.open(url, method=method, data=data)
        changed = changes(before, snapshot(app))
        tried += 1
        if r.status_code != 404 or leaked(r) or changed:
            failures.append((endpoint, method, r.status_code, leaked(r), changed))
    assert not failures, failures
    assert tried > 50


def test_archived_records_and_exports_of_another_team(app, world, foreign):
    """Archived means frozen, not public: record page, JSON/Markdown exports, CSV/Markdown
    matrix exports and starter files of a foreign archived review are 404 for everyone."""
    for persona in ROLES + ["non_member"]:
        client = login(app, world.users[persona])
        for endpoint in ("archive.record_page", "archive.export_json", "archive.export_markdown",
                         "mapping.export_csv", "mapping.export_markdown", "benchmarks.report",
                         "benchmarks.starter_k6", "benchmarks.starter_locust", "reviews.live"):
            r = client.get(build(app, endpoint, {"review_id": foreign["archived_review_id"]}))
            assert r.status_code == 404 and not leaked(r), (persona, endpoint, r.status_code)


def test_lists_and_searches_show_nothing_foreign(app, world, foreign):
    for persona in ROLES + ["non_member"]:
        client = login(app, world.users[persona])
        # (the search words are not SECRET itself: the page echoes its query)
        for path in ("/", "/teams", "/reviews", "/archive", "/archive?q=archived",
                     "/archive?tag=secret", "/notifications", "/account/tokens"):
            r = client.get(path)
            assert r.status_code == 200 and not leaked(r), (persona, path)


def test_foreign_ids_in_form_fields(app, world, url_args, foreign):
    """Ids that travel in the form body, not the URL, with the persona's own URLs."""
    me, review = world.users["owner"], world.review.id
    voting = make_review(world.team, me, title="Own vote")  # the world's review has a draft
    own_session = votes.open_vote(me, voting, votes.VoteSettings("single"))
    cases = [
        ("/reviews/{r}/disqualify", {"dq-candidate_id": foreign["candidate_id"], "dq-reason": "x"}),
        ("/reviews/{r}/disqualify", {"dq-candidate_id": url_args["candidate_id"],
                                     "dq-constraint_id": foreign["constraint_id"], "dq-reason": "x"}),
        ("/reviews/{r}/benchmarks/knockouts", {"candidate_id": foreign["candidate_id"],
                                               "constraint_id": url_args["constraint_id"],
                                               "run_id": url_args["run_id"]}),
        ("/reviews/{r}/benchmarks/knockouts", {"candidate_id": url_args["candidate_id"],
                                               "constraint_id": foreign["constraint_id"],
                                               "run_id": foreign["run_id"]}),
        (f"/reviews/{{r}}/scores/{url_args['criterion_id']}/{url_args['candidate_id']}",
         {"value": "4", "evidence": f"note:{foreign['note_id']}"}),
        (f"/reviews/{{r}}/scores/{url_args['criterion_id']}/{url_args['candidate_id']}",
         {"value": "4", "evidence": f"run:{foreign['run_id']}"}),
        ("/reviews/{r}/prototypes/notes", {"note-candidate_id": foreign["candidate_id"],
                                           "note-title": "x", "note-budget_hours": "16",
                                           "note-spent_hours": "0"}),
        ("/reviews/{r}/prototypes/notes", {"note-candidate_id": url_args["candidate_id"],
                                           "note-title": "x", "note-budget_hours": "16",
                                           "note-spent_hours": "0",
                                           "note-author_ids": foreign["helper"].id}),
        (f"/reviews/{voting.id}/votes/{own_session.id}/ballot",
         {"ballot-choice": foreign["candidate_id"]}),
        ("/reviews/{r}/decision", {"decision-candidate_id": foreign["candidate_id"],
                                   "decision-rationale": "x", "decision-deviation_reason": "x"}),
        ("/notifications/read", {"notification_id": foreign["notification_id"]}),
        ("/account/tokens/revoke", {"token_id": foreign["token_id"]}),
    ]
    client = login(app, me)
    failures = []
    for path, data in cases:
        before = snapshot(app)
        r = client.post(path.format(r=review), data=data, headers={"HX-Request": "true"})
        changed = changes(before, snapshot(app))
        if r.status_code < 400 or leaked(r) or changed:
            failures.append((path, data, r.status_code, leaked(r), changed))
    upload = {"upload-candidate": str(foreign["candidate_id"]),
              "upload-files": (io.BytesIO(AB_TEXT.encode()), "ab.txt")}
    before = snapshot(app)
    r = client.post(f"/reviews/{review}/benchmarks", data=upload, content_type="multipart/form-data",
                    headers={"HX-Request": "true"})
    if r.status_code < 400 or leaked(r) or changes(before, snapshot(app)):
        failures.append(("upload", r.status_code, changes(before, snapshot(app))))
    assert not failures, failures


def test_api_upload_naming_a_foreign_candidate(app, world, foreign):
    _, secret = tokens.create_token(world.users["member"], "ci")
    before = snapshot(app)
    r = app.test_client().post(
        f"/api/v1/reviews/{world.review.id}/benchmarks",
        headers={"Authorization": f"Bearer {secret}"},
        data={"candidate": str(foreign["candidate_id"]), "file": (io.BytesIO(AB_TEXT.encode()), "ab.txt")},
        content_type="multipart/form-data")
    assert 400 <= r.status_code < 500 and not leaked(r), (r.status_code, r.get_data(as_text=True))
    last_used = [c.name for c in ApiToken.__table__.columns].index("last_used_at")
    assert changes(before, snapshot(app), ignore={"api_tokens": {last_used}}) == {}


def test_api_reads_with_foreign_ids(app, world, foreign):
    _, secret = tokens.create_token(world.users["owner"], "ci")
    client = app.test_client()
    for endpoint, method, rule in RULES:
        if rule is None or rule.scope != "token" or method != "GET":
            continue
        args = arguments(app, endpoint)
        if not args:
            r = client.get(build(app, endpoint, {}), headers={"Authorization": f"Bearer {secret}"})
            assert r.status_code == 200 and not leaked(r), endpoint  # lists: own teams only
            continue
        r = client.get(build(app, endpoint, foreign), headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 404 and not leaked(r), (endpoint, r.status_code)
