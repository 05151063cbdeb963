"""Security headers on every response, a Content-Security-Policy that allows no inline script,
pages that need none, and no Werkzeug debugger (or traceback) with the production config."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import url_for

from app import create_app
from app.config import Config
from app.edge import CONTENT_SECURITY_POLICY
from app.extensions import db
from tests import test_access_matrix
from tests.conftest import IsolatedClient
from tests.factories import PASSWORD
from tests.security.attack_server import Visitor, serve
from tests.test_access_matrix import RULES

url_args = test_access_matrix.url_args  # the access matrix's fixture: real ids of the world

ROOT = Path(__file__).resolve().parents[2]
REFERRER_POLICIES = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
INLINE_HANDLER = re.compile(r"""<[^>]*\s(on[a-z]+|hx-on[:\w-]*)\s*=""", re.I)
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I)
JS_URL = re.compile(r"""(href|src|action|formaction)\s*=\s*["']?\s*javascript:""", re.I)


def directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def assert_secure_headers(response, where: str) -> None:
    h = response.headers
    csp = h.get("Content-Security-Policy")
    assert csp, f"{where}: no Content-Security-Policy"
    d = directives(csp)
    scripts = d.get("script-src", d.get("default-src"))
    assert scripts is not None, f"{where}: CSP restricts no scripts: {csp}"
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"} & set(scripts), \
        f"{where}: {csp}"
    assert d.get("frame-ancestors") == ["'none'"], f"{where}: {csp}"
    assert "object-src" in d or d.get("default-src") in (["'none'"], ["'self'"]), f"{where}: {csp}"
    assert h.get("X-Content-Type-Options") == "nosniff", where
    assert h.get("Referrer-Policy") in REFERRER_POLICIES, (where, h.get("Referrer-Policy"))


def test_the_policy_itself():
    d = directives(CONTENT_SECURITY_POLICY)
    assert d["script-src"] == ["'self'"] and d["frame-ancestors"] == ["'none'"]
    assert d["object-src"] == ["'none'"] and d["base-uri"] == ["'self'"]
    assert d["style-src"] == ["'self'"]  # style elements only from /static (attributes: allowed)


def test_every_get_endpoint_sends_the_headers(app, world, url_args):
    owner = app.test_client()
    owner.post("/login", data={"email": world.users["owner"].email, "password": PASSWORD})
    checked = 0
    for endpoint, method, rule in RULES:
        if method != "GET" or rule.scope == "token":
            continue
        url_rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        with app.test_request_context():
            url = url_for(endpoint, **{k: url_args[k] for k in url_rule.arguments})
        assert_secure_headers(owner.get(url), url)
        assert_secure_headers(owner.get(url, headers={"HX-Request": "true"}), "htmx " + url)
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("path, headers", [
    ("/no-such-page", {}), ("/no-such-page", {"Accept": "application/json"}),
    ("/static/js/app.js", {}), ("/api/v1/reviews", {}), ("/login", {}), ("/healthz", {}),
])
def test_errors_static_files_and_the_api_send_them_too(client, path, headers):
    assert_secure_headers(client.get(path, headers=headers), path)


def test_attachments_keep_their_stricter_policy(app, world, url_args):
    """A downloaded benchmark file is sandboxed (default-src 'none'): the edge must not
    overwrite a view's own, stricter policy."""
    owner = app.test_client()
    owner.post("/login", data={"email": world.users["owner"].email, "password": PASSWORD})
    r = owner.get(f"/reviews/{url_args['review_id']}/benchmarks/runs/{url_args['run_id']}"
                  f"/files/{url_args['file_id']}")
    assert r.status_code == 200
    d = directives(r.headers["Content-Security-Policy"])
    assert d["default-src"] == ["'none'"] and "sandbox" in d
    assert d["frame-ancestors"] == ["'none'"]  # does not fall back to default-src


def page_problems(html: str) -> list[str]:
    problems = [m.group(0)[:80] for m in INLINE_SCRIPT.finditer(html)]
    problems += [m.group(0)[-80:] for m in INLINE_HANDLER.finditer(html)]
    problems += [m.group(0) for m in JS_URL.finditer(html)]
    return problems


def test_templates_contain_no_inline_script():
    """What the policy would block must not be needed: no <script> without src, no on*=
    handler, no hx-on (htmx would eval it), no javascript: URL, in any template."""
    found = {}
    for path in sorted((ROOT / "templates").rglob("*.html")):
        problems = page_problems(path.read_text())
        if problems:
            found[str(path.relative_to(ROOT))] = problems
    assert not found, found


def test_rendered_pages_contain_no_inline_script(app, world, url_args):
    """The same on every page as rendered for the owner, every workspace step included."""
    owner = app.test_client()
    owner.post("/login", data={"email": world.users["owner"].email, "password": PASSWORD})
    review = url_args["review_id"]
    paths = ["/", "/teams", f"/teams/{url_args['team_id']}", "/reviews", "/archive",
             "/account", "/account/tokens", "/notifications", f"/reviews/{review}/record",
             f"/reviews/{review}/prototypes/notes/{url_args['note_id']}",
             f"/reviews/{review}/benchmarks/runs/{url_args['run_id']}"]
    paths += [f"/reviews/{review}/steps/{s}" for s in
              ("constraints", "mapping", "prototypes", "benchmarks", "vote")]
    found = {}
    for path in paths:
        r = owner.get(path)
        assert r.status_code == 200, path
        problems = page_problems(r.get_data(as_text=True))
        if problems:
            found[path] = problems
    assert not found, found


def test_htmx_runs_without_eval(client):
    """htmx's hx-on and trigger filters use eval; the CSP forbids it and so does its config."""
    html = client.get("/login").get_data(as_text=True)
    config = json.loads(re.search(r"""<meta name="htmx-config" content='([^']+)'""", html).group(1))
    assert config["allowEval"] is False and config["allowScriptTags"] is False
    assert config["includeIndicatorStyles"] is False  # it would inject a <style> element


# -- the debugger ------------------------------------------------------------------------------


@pytest.fixture
def production_app(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("TRADEOFF_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "production-like-secret-" + "z" * 30)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    for name in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    app = create_app(Config())
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.drop_all()


def test_production_refuses_debug_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("TRADEOFF_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "production-like-secret-" + "z" * 30)
    monkeypatch.setenv("FLASK_DEBUG", "1")  # what `flask run --debug` sets before loading
    with pytest.raises(RuntimeError, match="Debug mode"):
        create_app(Config())


def test_production_errors_are_not_tracebacks(production_app):
    app = production_app
    assert app.debug is False and not app.config.get("PROPAGATE_EXCEPTIONS")

    @app.get("/explode")
    def explode():
        raise RuntimeError("secret internals: password=hunter2")

    client = app.test_client()
    for headers in ({}, {"Accept": "application/json"}, {"HX-Request": "true"}):
        r = client.get("/explode", headers=headers)
        body = r.get_data(as_text=True)
        assert r.status_code == 500, headers
        for tell in ("Traceback", "hunter2", "RuntimeError", "Werkzeug", "__debugger__", 'File "'):
            assert tell not in body, (headers, tell)
        assert_secure_headers(r, "500")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve(tmp_path_factory)


def test_gunicorn_has_no_console_and_sends_the_headers(server):
    visitor = Visitor(server)
    for path in ("/console", "/console?__debugger__=yes&cmd=resource&f=debugger.js",
                 "/?__debugger__=yes&cmd=resource&f=debugger.js", "/no-such-page"):
        r = visitor.get(path)  # (the index ignores the query: 200 with the ordinary page)
        assert r.status_code in (200, 302, 404), (path, r.status_code)
        for tell in ("Werkzeug", "EVALEX", "CONSOLE_MODE", "debugger.js", "Traceback"):
            assert tell not in r.text, (path, tell)
        assert "Server" not in r.headers or "Werkzeug" not in r.headers["Server"]
        assert_secure_headers(r, path)
    assert_secure_headers(visitor.get("/login"), "gunicorn /login")
