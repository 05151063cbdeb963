"""Real-browser tests: the app served by gunicorn on loopback (SQLite file, demo data) and
driven by Playwright in Debian's Chromium. Nothing downloads a browser. Screenshots of every
step go to test-artifacts/ (kept by CI as the run's artifacts)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.scaleout.cluster import free_port, http_ok, wait_for

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


@contextmanager
def demo_server(tmp: Path, **env_extra: str):
    """gunicorn (one worker, 50 threads) on a free loopback port over a fresh SQLite file with
    the demo data, its log in ``tmp/server.log``; yields the base URL and stops the server after.
    Skips without Chromium (every user of this server drives a browser)."""
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    env = {**{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
           "TRADEOFF_INSTANCE_PATH": str(tmp / "instance"), "LOGIN_RATE_LIMIT": "1000 per minute",
           **env_extra}
    flask = [str(VENV_BIN / "flask"), "--app", "wsgi"]
    for command in (["db", "upgrade"], ["demo"]):
        subprocess.run([*flask, *command], cwd=ROOT, env=env, check=True, capture_output=True,
                       timeout=120)
    port = free_port()
    with open(tmp / "server.log", "w") as log:
        proc = subprocess.Popen([str(VENV_BIN / "gunicorn"), "--workers", "1", "--threads", "50",
                                 "--bind", f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: http_ok(url + "/healthz"), timeout=60, what="live server")
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=15)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    with demo_server(tmp_path_factory.mktemp("live"), VOTE_REMINDER_BEFORE_HOURS="24") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only with chromium

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Person:
    """One person's browser context: log in, look around, and keep screenshots."""

    def __init__(self, browser, base: str, name: str, width: int = 1280) -> None:
        self.base, self.name = base, name
        # bypass_csp: Playwright's own helpers (wait_for_function, add_script_tag for axe) eval
        # strings in the page, which the app's CSP forbids. That the app itself runs under its
        # CSP is tests/security/test_csp_browser.py's job.
        self.context = browser.new_context(viewport={"width": width, "height": 900},
                                           bypass_csp=True)
        self.context.set_default_timeout(10000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def login(self, email: str, password: str = "tradeoff-demo") -> None:
        self.page.goto(self.base + "/login")
        self.page.fill("#email", email)
        self.page.fill("#password", password)
        self.page.click("form#login-form button[type=submit]")
        self.page.wait_for_url(self.base + "/")

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def shot(self, step: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        safe = re.sub(r"[^a-z0-9-]+", "-", f"{step}-{self.name}".lower())
        self.page.screenshot(path=str(ARTIFACTS / f"{safe}.png"), full_page=True)

    def axe(self) -> list[dict]:
        """Serious and critical axe-core violations on the current page."""
        self.page.add_script_tag(path=str(AXE))
        result = self.page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def people(browser, live_server):
    made: list[Person] = []

    def open_person(name: str, email: str | None = None, width: int = 1280) -> Person:
        person = Person(browser, live_server, name, width)
        if email:
            person.login(email)
        made.append(person)
        return person

    yield open_person
    for person in made:
        assert not person.errors, f"JavaScript errors for {person.name}: {person.errors}"
        person.close()
