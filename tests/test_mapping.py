"""Step 2: criteria, blind scoring, reveal, rounds, totals, sensitivity and exports."""

from __future__ import annotations

import csv
import io

import pytest

from app.extensions import db
from app.models import Criterion, Role, Score
from app.services import constraints, mapping
from app.services.errors import Conflict, Invalid, NotFound
from tests.factories import PASSWORD, add_member, make_review, make_user
from tests.test_socketio import element

HX = {"HX-Request": "true"}
SECRET = "SECRET-RATIONALE-OF-ANA"


def login(app, user):
    c = app.test_client()
    c.post("/login", data={"email": user.email, "password": PASSWORD})
    return c


def small_review(world, weights=(3, 1)):
    """A blank review with two candidates and two criteria, for hand-computed numbers."""
    review = make_review(world.team, template="blank", title="Small", extra_candidates=["A", "B"])
    for i, w in enumerate(weights):
        mapping.add_criterion(world.users["owner"], review, f"C{i + 1}", w)
    return review


def cell_ids(review):
    crits = mapping.criteria_of(review)
    return crits, list(review.candidates)


def test_framework_template_preloads_criteria_with_reference_scores(app, world):
    crits = {c.name: c for c in mapping.criteria_of(world.review)}
    assert len(crits) == 11
    assert crits["Built-in admin panel"].reference == {"Django": 5, "Flask": 2, "FastAPI": 1}
    assert crits["Real-time / WebSocket support"].reference == {"FastAPI": 5, "Django": 3, "Flask": 2}
    page = login(app, world.users["member"]).get(f"/reviews/{world.review.id}/steps/mapping").get_data(as_text=True)
    assert "guide 5" in page


def test_criteria_add_rename_reweight_reorder_remove(app, world):
    c = login(app, world.users["facilitator"])
    url = f"/reviews/{world.review.id}/criteria"
    assert c.post(url, data={"criterion-name": "Type safety", "criterion-weight": "4.5"}, headers=HX).status_code == 200
    bad = c.post(url, data={"criterion-name": "Other", "criterion-weight": "abc"}, headers=HX)
    assert bad.status_code == 422 and "number from 0 to 5" in bad.get_data(as_text=True)
    assert c.post(url, data={"criterion-name": "type safety", "criterion-weight": "1"}).status_code == 422
    assert c.post(url, data={"criterion-name": "Too heavy", "criterion-weight": "6"}).status_code == 422
    new = db.session.scalar(db.select(Criterion).where(Criterion.name == "Type safety"))
    assert new.weight == 4.5 and new.position == 11
    c.post(f"{url}/{new.id}", data={"criterion-edit-name": "Typing", "criterion-edit-weight": "2"})
    c.post(f"{url}/{new.id}/move", data={"direction": "up"})
    db.session.expire_all()
    names = [x.name for x in mapping.criteria_of(world.review)]
    assert names[-2:] == ["Typing", "Upgrade path / LTS"]
    assert c.post(f"{url}/{mapping.criteria_of(world.review)[0].id}/move", data={"direction": "up"}).status_code == 422
    c.post(f"{url}/{new.id}/remove")
    assert "Typing" not in [x.name for x in mapping.criteria_of(world.review)]


@pytest.mark.parametrize("value, status, message", [
    ("9", 422, "whole number from 1 to 5"),
    ("0", 422, "whole number from 1 to 5"),
    ("abc", 422, "whole number from 1 to 5"),
    ("", 422, "whole number from 1 to 5"),
])
def test_bad_scores(app, world, value, status, message):
    crit, cand = mapping.criteria_of(world.review)[0], world.review.candidates[0]
    r = login(app, world.users["member"]).post(
        f"/reviews/{world.review.id}/scores/{crit.id}/{cand.id}", data={"value": value}, headers=HX)
    assert r.status_code == status and message in r.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(Score)) == 0


def test_scores_for_unknown_or_foreign_ids_are_404(app, world):
    other = make_review(world.team, title="Other")
    crit = mapping.criteria_of(world.review)[0]
    c = login(app, world.users["member"])
    assert c.post(f"/reviews/{world.review.id}/scores/{crit.id}/{other.candidates[0].id}",
                  data={"value": "3"}).status_code == 404
    assert c.post(f"/reviews/{world.review.id}/scores/{mapping.criteria_of(other)[0].id}/"
                  f"{world.review.candidates[0].id}", data={"value": "3"}).status_code == 404
    assert c.post(f"/reviews/{world.review.id}/scores/999999/{world.review.candidates[0].id}",
                  data={"value": "3"}).status_code == 404


def test_long_rationale_and_foreign_evidence_are_refused(app, world):
    crit, cand = mapping.criteria_of(world.review)[0], world.review.candidates[0]
    with pytest.raises(Invalid):
        mapping.score_cell(world.users["member"], world.review, crit.id, cand.id, 3, "x" * 201)
    with pytest.raises(Invalid):
        mapping.score_cell(world.users["member"], world.review, crit.id, cand.id, 3, "", "note:999999")
    with pytest.raises(Invalid):
        mapping.score_cell(world.users["member"], world.review, crit.id, cand.id, 3, "", "<script>")


def test_disqualified_candidates_are_not_scored(app, world):
    cand = world.review.candidates[0]
    constraints.disqualify(world.users["owner"], world.review, cand.id, "too heavy")
    with pytest.raises(Invalid):
        mapping.score_cell(world.users["member"], world.review, mapping.criteria_of(world.review)[0].id, cand.id, 3)


def test_blind_until_reveal_page_partials_sockets_and_exports(app, world, socket_client):
    ana, ben = world.users["member"], world.users["facilitator"]
    crit, cand = mapping.criteria_of(world.review)[0], world.review.candidates[0]
    ben_client = login(app, ben)
    ben_socket = socket_client(ben_client, world.review.id)
    ben_socket.get_received()
    ana_client = login(app, ana)
    r = ana_client.post(f"/reviews/{world.review.id}/scores/{crit.id}/{cand.id}",
                        data={"value": "5", "rationale": SECRET}, headers=HX)
    assert r.status_code == 200 and SECRET in r.get_data(as_text=True)  # Ana sees her own

    urls = [f"/reviews/{world.review.id}", f"/reviews/{world.review.id}/steps/mapping",
            f"/reviews/{world.review.id}/regions/mapping", f"/reviews/{world.review.id}/regions/mapping-progress",
            f"/reviews/{world.review.id}/mapping/export.csv", f"/reviews/{world.review.id}/mapping/export.md"]
    world.review.current_step = "mapping"
    db.session.commit()
    for url in urls:
        body = ben_client.get(url, headers=HX if "regions" in url else {}).get_data(as_text=True)
        assert SECRET not in body, url
    page = ben_client.get(f"/reviews/{world.review.id}/steps/mapping").get_data(as_text=True)
    cell = element(page, f"cell-{crit.id}-{cand.id}")
    assert "selected" not in cell  # Ben's own select is empty: nothing of Ana's leaks into it
    messages = ben_socket.get_received()
    assert messages and all(SECRET not in str(m) and "value" not in str(m["args"]) for m in messages)
    assert ["mapping-progress"] in [m["args"][0]["regions"] for m in messages if m["name"] == "refresh"]
    export = ben_client.get(f"/reviews/{world.review.id}/mapping/export.csv").get_data(as_text=True)
    assert "5" not in next(row for row in csv.reader(io.StringIO(export)) if row[0] == crit.name)[2:]
    assert "hidden until reveal" in export

    login(app, world.users["owner"]).post(f"/reviews/{world.review.id}/mapping/reveal")
    revealed = ben_client.get(f"/reviews/{world.review.id}/steps/mapping").get_data(as_text=True)
    assert SECRET in revealed and "Weighted total" in revealed


def test_progress_counts_who_has_finished(app, world):
    review = small_review(world)
    crits, cands = cell_ids(review)
    for crit in crits:
        for cand in cands:
            mapping.score_cell(world.users["member"], review, crit.id, cand.id, 3)
    mapping.score_cell(world.users["facilitator"], review, crits[0].id, cands[0].id, 3)
    progress = mapping.progress(review)
    assert (progress.finished, progress.total) == (1, 3)  # owner, facilitator, member vote; observer not
    assert progress.text == "1 of 3 have scored"


def test_totals_spread_rank_and_a_flip_on_hand_computed_numbers(app, world):
    """C1 (weight 3): A scores 4 and 2 (mean 3, spread 1), B scores 3 and 3.
    C2 (weight 1): A scores 1 and 1, B scores 5 and 5.
    A = (3*3 + 1*1)/4 = 2.5; B = (3*3 + 1*5)/4 = 3.5 → B leads.
    Both means on C1 are 3, so C1's weight never changes the leader; only C2 = 0 makes them tie.
    Perturbations (±1 on each weight): the three with C2 → 0 tie, the other six keep B: 6/9."""
    review = small_review(world)
    (c1, c2), (a, b) = cell_ids(review)
    m, f = world.users["member"], world.users["facilitator"]
    for user, va1, vb1 in ((m, 4, 3), (f, 2, 3)):
        mapping.score_cell(user, review, c1.id, a.id, va1)
        mapping.score_cell(user, review, c1.id, b.id, vb1)
        mapping.score_cell(user, review, c2.id, a.id, 1)
        mapping.score_cell(user, review, c2.id, b.id, 5)
    mapping.reveal(world.users["owner"], review)
    view = mapping.matrix_view(review, world.users["observer"])
    assert view.cell(c1.id, a.id).mean == 3 and view.cell(c1.id, a.id).spread == 1
    assert view.total(a.id).total == pytest.approx(2.5) and view.total(b.id).total == pytest.approx(3.5)
    assert (view.total(b.id).rank, view.total(a.id).rank) == (1, 2)
    assert view.result.by_disagreement[0].criterion_id == c1.id
    s1, s2 = view.sensitivity.items
    assert "No change within 0–5" in s1.summary
    assert s2.down.changes and s2.down.new_weight == 0 and set(s2.down.new_leaders) == {a.id, b.id}
    assert view.stability.share == pytest.approx(6 / 9) and view.stability.method == "exact"


def test_a_small_weight_change_flips_the_leader(app, world):
    """C1: A 5, B 1; C2: A 1, B 4. Weights 1 and 1: A = 3, B = 2.5 → A leads.
    B overtakes when 5w + 1 < w + 4·1 ... with C2 weight x: A = (5 + x)/(1 + x), B = (1 + 4x)/(1 + x):
    tie at 5 + x = 1 + 4x → x = 4/3. So raising C2 from 1 to 1.33 flips the lead."""
    review = small_review(world, weights=(1, 1))
    (c1, c2), (a, b) = cell_ids(review)
    for crit, va, vb in ((c1, 5, 1), (c2, 1, 4)):
        mapping.score_cell(world.users["member"], review, crit.id, a.id, va)
        mapping.score_cell(world.users["member"], review, crit.id, b.id, vb)
    mapping.reveal(world.users["owner"], review)
    view = mapping.matrix_view(review, world.users["member"])
    item = next(i for i in view.sensitivity.items if i.criterion_id == c2.id)
    assert item.up.changes and item.up.new_weight == pytest.approx(4 / 3)
    assert item.up.new_leaders == (b.id,)
    assert "Raising C2 from 1 to 1.33 makes B lead" in item.summary


def test_a_tie_shares_the_rank(app, world):
    review = small_review(world, weights=(1, 1))
    (c1, c2), (a, b) = cell_ids(review)
    for crit in (c1, c2):
        mapping.score_cell(world.users["member"], review, crit.id, a.id, 4)
        mapping.score_cell(world.users["member"], review, crit.id, b.id, 4)
    mapping.reveal(world.users["owner"], review)
    view = mapping.matrix_view(review, world.users["member"])
    assert view.total(a.id).rank == view.total(b.id).rank == 1
    assert view.sensitivity.contested


def test_rounds_keep_history_and_revealed_rounds_refuse_scores(app, world):
    review = small_review(world)
    (c1, _), (a, _) = cell_ids(review)
    with pytest.raises(Conflict):
        mapping.reveal(world.users["owner"], review)  # nothing to reveal yet
    mapping.score_cell(world.users["member"], review, c1.id, a.id, 2)
    with pytest.raises(Conflict):
        mapping.start_new_round(world.users["owner"], review)
    mapping.reveal(world.users["owner"], review)
    with pytest.raises(Conflict):
        mapping.score_cell(world.users["member"], review, c1.id, a.id, 4)
    mapping.start_new_round(world.users["owner"], review)
    mapping.score_cell(world.users["member"], review, c1.id, a.id, 4)
    view = mapping.matrix_view(review, world.users["member"])
    assert view.round.number == 2 and not view.round.revealed and view.result is None
    assert view.own[(c1.id, a.id)].value == 4
    (earlier, result), = view.history
    assert earlier.number == 1 and result.cell(c1.id, a.id).mean == 2


def test_csv_export_neutralises_formulas(app, world):
    review = small_review(world)
    for name in ["=HYPERLINK(\"http://x\")", "+SUM(A1)", "-1+1", "@cmd", "\tTab", "\rCR"]:
        mapping.add_criterion(world.users["owner"], review, name, 1)
    crits, cands = cell_ids(review)
    mapping.score_cell(world.users["member"], review, crits[0].id, cands[0].id, 5)
    mapping.reveal(world.users["owner"], review)
    body = login(app, world.users["member"]).get(f"/reviews/{review.id}/mapping/export.csv")
    assert body.headers["Content-Disposition"].startswith("attachment")
    for row in csv.reader(io.StringIO(body.get_data(as_text=True))):
        for value in row:
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert mapping.neutralise("=1+1") == "'=1+1" and mapping.neutralise("plain") == "plain"


def test_markdown_export(app, world):
    review = small_review(world)
    (c1, _), (a, _) = cell_ids(review)
    mapping.score_cell(world.users["member"], review, c1.id, a.id, 4)
    mapping.reveal(world.users["owner"], review)
    md = login(app, world.users["member"]).get(f"/reviews/{review.id}/mapping/export.md").get_data(as_text=True)
    assert md.startswith("# Small — criteria matrix (round 1)")
    assert "| C1 | 3 | 4 (0) |" in md and "## Sensitivity" in md


def test_observer_cannot_score(app, world):
    crit, cand = mapping.criteria_of(world.review)[0], world.review.candidates[0]
    r = login(app, world.users["observer"]).post(f"/reviews/{world.review.id}/scores/{crit.id}/{cand.id}",
                                                 data={"value": "3"})
    assert r.status_code == 403


def test_score_cell_fragment_is_the_page_cell(app, world):
    crit, cand = mapping.criteria_of(world.review)[0], world.review.candidates[0]
    c = login(app, world.users["member"])
    fragment = c.post(f"/reviews/{world.review.id}/scores/{crit.id}/{cand.id}",
                      data={"value": "4", "rationale": "quick"}, headers=HX).get_data(as_text=True)
    page = c.get(f"/reviews/{world.review.id}/steps/mapping").get_data(as_text=True)
    assert element(page, f"cell-{crit.id}-{cand.id}") == fragment.strip()


def test_new_member_counts_in_progress(app, world):
    newcomer = add_member(world.team, Role.MEMBER, make_user("Newbie"))
    assert newcomer.id in {u.id for u in mapping.voters(world.review)}
    with pytest.raises(NotFound):
        mapping.get_criterion(world.review, 999999)
