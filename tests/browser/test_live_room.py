"""The live review room in a real browser: presence, the facilitator moving everyone, blind
scoring, accessibility and small screens."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]
REVIEW = "/reviews/1"


def test_presence_and_following_the_facilitator(people):
    fran = people("facilitator", "facilitator@example.com")
    ana = people("member-ana", "ana@example.com")
    fran.go(REVIEW)
    ana.go(REVIEW)
    for p in (fran, ana):
        p.page.wait_for_selector("#live-status[data-state=online]")
    fran.page.wait_for_function("document.querySelector('#presence').textContent.includes('Ana Member')")
    ana.page.wait_for_function("document.querySelector('#presence').textContent.includes('Fran Facilitator')")
    fran.shot("01-room")

    fran.page.click("#step-nav a[data-step=constraints]")
    fran.page.wait_for_selector("#step-section[data-step=constraints]")
    fran.page.click("text=Move everyone to this step")
    ana.page.wait_for_selector("#step-section[data-step=constraints]")
    assert ana.page.get_attribute("#step-nav a[aria-current=step]", "data-step") == "constraints"
    assert ana.page.url.endswith("/steps/constraints")
    ana.shot("02-followed")

    ana.close()
    fran.page.wait_for_function("!document.querySelector('#presence').textContent.includes('Ana Member')")


def test_a_constraint_added_by_one_appears_for_the_other(people):
    fran = people("facilitator", "facilitator@example.com")
    ben = people("member-ben", "ben@example.com")
    fran.go(REVIEW + "/steps/constraints")
    ben.go(REVIEW + "/steps/constraints")
    ben.page.wait_for_selector("#live-status[data-state=online]")
    fran.page.click("#region-constraints summary:has-text('Add a constraint')")
    fran.page.select_option("#constraint-kind", "freeform")
    fran.page.fill("#constraint-description", "Runs on the shared Postgres 16 cluster")
    fran.page.click("#region-constraints button:has-text('Add constraint')")
    ben.page.wait_for_selector("#region-constraints :text('shared Postgres 16 cluster')")
    ben.shot("03-constraint-live")


def test_main_pages_have_no_serious_accessibility_violations(people, live_server):
    fran = people("facilitator", "facilitator@example.com")
    pages = ["/", "/teams", "/teams/1", "/reviews", "/account", "/teams/1/reviews/new",
             REVIEW + "/steps/constraints", REVIEW + "/steps/mapping", REVIEW + "/steps/prototypes",
             REVIEW + "/steps/benchmarks", REVIEW + "/steps/vote"]
    problems = {}
    for path in pages:
        fran.go(path)
        violations = fran.axe()
        if violations:
            problems[path] = [(v["id"], v["impact"], len(v["nodes"])) for v in violations]
    anonymous = people("anonymous")
    for path in ("/", "/login", "/register"):
        anonymous.go(path)
        if violations := anonymous.axe():
            problems[path] = [(v["id"], v["impact"], len(v["nodes"])) for v in violations]
    assert not problems


def test_keyboard_only_login_and_step_navigation(people):
    kim = people("keyboard")
    kim.go("/login")
    kim.page.focus("a.skip-link")  # the first link of every page, shown on focus
    assert kim.page.evaluate("document.querySelector('a.skip-link').getBoundingClientRect().left") >= 0
    kim.page.focus("#email")
    kim.page.keyboard.type("ana@example.com")
    kim.page.keyboard.press("Tab")
    kim.page.keyboard.type("tradeoff-demo")
    kim.page.keyboard.press("Enter")
    kim.page.wait_for_url(kim.base + "/")
    kim.go(REVIEW)
    kim.page.focus("#step-nav a[data-step=vote]")
    kim.page.keyboard.press("Enter")
    kim.page.wait_for_selector("#step-section[data-step=vote]")
    outline = kim.page.evaluate(
        "getComputedStyle(document.querySelector('#step-nav a[data-step=vote]')).outlineStyle")
    assert outline in ("solid", "auto")  # visible focus


@pytest.mark.parametrize("width", [375, 1280])
def test_layout_fits_phone_and_desktop(people, width):
    ana = people(f"ana-{width}", "ana@example.com", width=width)
    for path in ("/", REVIEW + "/steps/mapping", REVIEW + "/steps/constraints", "/teams/1"):
        ana.go(path)
        overflow = ana.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (path, overflow)
    ana.shot(f"04-layout-{width}")
