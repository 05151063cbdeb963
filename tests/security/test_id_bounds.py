"""Ids beyond the database's integers (INTEGER: 32 bits on PostgreSQL, which refuses a larger
number with an error; SQLite refuses beyond 64 bits) are "no such item" everywhere an id comes
in — URLs, forms, the JSON API, socket events — never a database error (500)."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Review
from tests.conftest import DATABASES, app_on

BEYOND = [str(2**31), str(10**20)]


@pytest.fixture(params=DATABASES)
def app(request, tmp_path, monkeypatch):
    yield from app_on(request.param, tmp_path, monkeypatch)


@pytest.mark.parametrize("path", ["/reviews/2147483648", "/reviews/2147483648/steps/mapping",
                                  "/teams/99999999999999999999", "/reviews/1/candidates/2147483648/remove"])
def test_an_id_beyond_the_databases_integers_is_a_404(app, world, login_as, path):
    """Ids are INTEGER columns (32 bits on PostgreSQL, which refuses a larger number with an
    error): a larger one in a URL names no row, before any query."""
    c = login_as(world.users["facilitator"])
    method = c.post if path.endswith("/remove") else c.get
    assert method(path).status_code == 404


def test_a_socket_event_naming_an_id_beyond_the_databases_integers_is_refused(app, world, login_as,
                                                                               socket_client):
    c = login_as(world.users["member"])
    sc = socket_client(c, world.review.id)
    assert sc.is_connected()
    ack = sc.emit("heartbeat", {"review_id": 2**31}, callback=True)
    assert ack["ok"] is False and ack["status"] == 404


@pytest.mark.parametrize("value", BEYOND)
def test_an_id_field_beyond_the_databases_integers_is_refused(app, world, login_as, value):
    c = login_as(world.users["owner"])
    review = world.review.id
    sent = {
        "/account/tokens/revoke": {"token_id": value},
        f"/reviews/{review}/benchmarks/knockouts": {"candidate_id": value, "constraint_id": value,
                                                      "run_id": value},
        f"/reviews/{review}/disqualify": {"disqualify-candidate_id": value, "disqualify-constraint_id": "1"},
    }
    for path, data in sent.items():
        response = c.post(path, data=data, headers={"HX-Request": "true"})
        assert 400 <= response.status_code < 500, (path, response.status_code)


@pytest.mark.parametrize("value", [2**31, 10**20])
def test_the_api_refuses_a_team_id_beyond_the_databases_integers(app, world, value):
    from app.services import tokens

    _token, secret = tokens.create_token(world.users["owner"], "probe")
    response = app.test_client().post("/api/v1/reviews", json={"team_id": value, "title": "T"},
                                      headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(Review).where(Review.title == "T")) == 0
