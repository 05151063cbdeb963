"""The app works in a real browser *under* its Content-Security-Policy (no inline script, no
eval): login, the live room over Socket.IO, htmx step navigation, the facilitator moving
everyone, a benchmark upload with its progress bar, a confirmation dialog and selecting a new
API token — with not one CSP violation reported by Chromium and no JavaScript error.

(tests/browser runs its contexts with bypass_csp, because Playwright's own helpers evaluate
strings in the page; this test uses none of them.)"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.security.attack_server import PASSWORD, serve
from tests.test_benchmarks import AB_TEXT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WATCH = """
document.addEventListener('securitypolicyviolation', (e) => {
  (window.__cspViolations = window.__cspViolations || []).push(
    `${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    # Not the production flag: its Secure cookies are not sent to http://127.0.0.1.
    yield from serve(tmp_path_factory, env_extra={"TRADEOFF_ENV": "development"})


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only with chromium

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Watched:
    """A browser context that enforces the CSP and records every violation and error."""

    def __init__(self, browser, server, email: str) -> None:
        self.server = server
        self.context = browser.new_context(bypass_csp=False)
        self.context.set_default_timeout(15000)
        self.context.add_init_script(WATCH)  # runs as DevTools, not as page script
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("console", lambda msg: self.errors.append(f"console: {msg.text}")
                     if msg.type == "error" else None)
        self.page.goto(server.url + "/login")
        self.page.fill("#email", email)
        self.page.fill("#password", PASSWORD)
        self.page.click("form#login-form button[type=submit]")
        self.page.wait_for_url(server.url + "/")

    def go(self, path: str) -> None:
        self.page.goto(self.server.url + path)

    def wait(self, selector: str) -> None:
        """wait_for_selector, failing with what the page reported (a CSP violation would
        typically show up as a step that never arrives)."""
        try:
            self.page.wait_for_selector(selector)
        except Exception as err:  # noqa: BLE001 - re-raised with the page's story
            raise AssertionError(f"{selector} never appeared at {self.page.url}: "
                                 f"violations={self.violations()} errors={self.errors}") from err

    def violations(self) -> list[str]:
        return self.page.evaluate("window.__cspViolations || []")

    def assert_clean(self, where: str) -> None:
        assert self.violations() == [], where
        assert self.errors == [], (where, self.errors)


def test_the_app_runs_under_its_policy(browser, server):
    review = f"/reviews/{server.world['review_id']}"
    owner = Watched(browser, server, "owner@example.com")
    member = Watched(browser, server, "member@example.com")
    try:
        # The live room: Socket.IO connects (connect-src 'self'), presence is pushed.
        owner.go(review)
        member.go(review)
        for p in (owner, member):
            p.wait("#live-status[data-state=online]")
        owner.wait("#presence :text('Member Person')")

        # Every step page, then an htmx step change, and the facilitator moving everyone
        # (the member's page follows through Socket.IO and an htmx request).
        for step in ("constraints", "mapping", "prototypes", "vote", "benchmarks"):
            owner.go(f"{review}/steps/{step}")
            owner.wait(f"#step-section[data-step={step}]")
        owner.wait("#live-status[data-state=online]")
        owner.page.click("#step-nav a[data-step=constraints]")
        owner.wait("#step-section[data-step=constraints]")
        owner.page.click("#step-nav a[data-step=benchmarks]")
        owner.wait("#step-section[data-step=benchmarks]")
        owner.page.click("text=Move everyone to this step")
        member.wait("#step-section[data-step=benchmarks]")

        # An upload through the htmx form (data-upload-progress shows the bar).
        member.page.select_option("#upload-candidate", label="Django")
        member.page.set_input_files("#upload-files", files=[
            {"name": "ab.txt", "mimeType": "text/plain", "buffer": AB_TEXT.encode()}])
        member.page.click("#benchmark-upload button[type=submit]")
        member.wait("#benchmark-upload .flash:has-text('ab.txt')")

        # A plain form with a confirmation (data-confirm): cancelling keeps the run.
        owner.go(review + "/steps/benchmarks")
        run_link = owner.page.locator("a[href*='/benchmarks/runs/']").first
        run_path = re.sub(r"^https?://[^/]+", "", run_link.get_attribute("href"))
        owner.go(run_path)
        owner.page.once("dialog", lambda d: d.dismiss())
        owner.page.click("form button:has-text('Delete')")
        owner.page.wait_for_timeout(500)
        assert owner.page.url.endswith(run_path)
        owner.page.once("dialog", lambda d: d.accept())
        owner.page.click("form button:has-text('Delete')")
        owner.page.wait_for_url(re.compile(r"/steps/benchmarks|/reviews/\d+$"))

        # A new API token: clicking its field selects all of it (data-select-all).
        member.go("/account/tokens")
        member.page.fill("input[name=name]", "CI")
        member.page.click("button:has-text('Create token')")
        field = member.page.locator("input[data-select-all]")
        field.click()
        selected = field.evaluate("f => f.selectionEnd - f.selectionStart")
        assert selected == len(field.input_value()) > 20

        for p, where in ((owner, "owner"), (member, "member")):
            p.assert_clean(where)
    finally:
        owner.context.close()
        member.context.close()


def test_the_policy_is_enforced_in_the_browser(browser, server):
    """The control: an inline script injected into a live page is refused and reported, so
    "no violation" above means the policy was on, not that nothing was watching."""
    visitor = Watched(browser, server, "observer@example.com")
    try:
        visitor.page.evaluate("""() => {
            const s = document.createElement('script');
            s.textContent = 'window.__ranInline = true';
            document.body.appendChild(s);
        }""")
        visitor.page.wait_for_timeout(300)
        assert visitor.page.evaluate("window.__ranInline === undefined")
        assert any(v.startswith("script-src") for v in visitor.violations())
    finally:
        visitor.context.close()
