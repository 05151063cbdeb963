"""Personal API tokens: the settings page (create — shown once — and revoke), hashed storage,
and ``flask users token EMAIL``."""

from __future__ import annotations

import hashlib
import re

from app.extensions import db
from app.models import ApiToken, AuditEvent
from app.services import tokens
from tests.test_benchmarks import login

HX = {"HX-Request": "true"}


def test_create_shows_the_token_once_and_stores_only_its_hash(app, world):
    client = login(app, world.users["member"])
    r = client.post("/account/tokens", data={"name": "GitHub Actions"}, headers=HX)
    assert r.status_code == 201
    secret = re.search(r'value="(tro_[^"]+)"', r.get_data(as_text=True))[1]
    row = db.session.scalar(db.select(ApiToken))
    assert row.name == "GitHub Actions" and row.user_id == world.users["member"].id
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str([row.token_hash, row.prefix]) and secret.startswith(row.prefix)
    later = client.get("/account/tokens").get_data(as_text=True)
    assert secret not in later and row.prefix in later and "GitHub Actions" in later
    headers = {"Authorization": f"Bearer {secret}"}
    assert app.test_client().get("/api/v1/reviews", headers=headers).status_code == 200
    db.session.expire_all()
    assert row.last_used_at is not None
    assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "api_token.created"))


def test_revoke_from_the_settings_page(app, world):
    token, secret = tokens.create_token(world.users["member"], "old")
    client = login(app, world.users["member"])
    r = client.post("/account/tokens/revoke", data={"token_id": token.id}, headers=HX)
    assert r.status_code == 200 and "revoked" in r.get_data(as_text=True)
    assert app.test_client().get("/api/v1/reviews",
                                 headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_nobody_revokes_someone_elses_token(app, world):
    token, secret = tokens.create_token(world.users["owner"], "owner's")
    r = login(app, world.users["member"]).post("/account/tokens/revoke",
                                               data={"token_id": token.id})
    assert r.status_code == 404
    assert app.test_client().get("/api/v1/reviews",
                                 headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_settings_need_a_login_and_list_only_your_tokens(app, world):
    assert app.test_client().get("/account/tokens").status_code in (302, 303)
    tokens.create_token(world.users["owner"], "owner-only")
    page = login(app, world.users["member"]).get("/account/tokens").get_data(as_text=True)
    assert "owner-only" not in page and "No tokens yet" in page
    nav = login(app, world.users["member"]).get("/").get_data(as_text=True)
    assert 'href="/account/tokens"' in nav


def test_long_names_are_refused(app, world):
    r = login(app, world.users["member"]).post("/account/tokens", data={"name": "x" * 81})
    assert r.status_code == 422 and db.session.scalar(
        db.select(db.func.count()).select_from(ApiToken)) == 0


def test_cli_prints_a_working_token(app, runner, world):
    result = runner.invoke(args=["users", "token", world.users["observer"].email])
    assert result.exit_code == 0
    secret = result.output.strip()
    assert tokens.authenticate(secret).id == world.users["observer"].id
    missing = runner.invoke(args=["users", "token", "nobody@example.com"])
    assert missing.exit_code != 0 and "no account" in missing.output
