"""Everything is usable by keyboard: only page.keyboard (Tab, Shift+Tab, Enter, Space, arrow
keys, typing) drives these journeys — no mouse clicks, no element.focus(). Every element that
Tab reaches must show where the focus is, and every page starts with a skip link to the main
content."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]
REVIEW = "/reviews/1"

FOCUS_INFO = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e), r = e.getBoundingClientRect();
  return {tag: e.tagName.toLowerCase(), id: e.id, cls: String(e.className),
          text: (e.innerText || e.value || e.getAttribute('aria-label') || '').trim().slice(0, 50),
          // a date field's calendar button has the focus inside the field (:focus-within)
          focused: e.matches(':focus, :focus-within'), focusVisible: e.matches(':focus-visible'),
          outline: s.outlineStyle,
          outlineWidth: parseFloat(s.outlineWidth) || 0,
          width: r.width, height: r.height, inMain: !!e.closest('main')};
}"""


def focus(person) -> dict | None:
    return person.page.evaluate(FOCUS_INFO)


def assert_focus_shown(person, info: dict | None = None) -> dict:
    """The focused element is a real, visible box with a visible focus indicator."""
    info = info or focus(person)
    assert info is not None, "focus fell back to the page body"
    assert info["focused"], info
    assert info["width"] > 0 and info["height"] > 0, info
    ring = info["outline"] not in ("none", "hidden", "") and info["outlineWidth"] >= 2
    assert ring, f"no visible focus ring on {info}"
    return info


def tab_to(person, selector: str, *, back: bool = False, limit: int = 150) -> dict:
    """Press Tab (or Shift+Tab) until the focused element matches ``selector`` (a Playwright
    selector); every stop on the way must show its focus."""
    seen, target = [], person.page.locator(selector)
    for _ in range(limit):
        person.page.keyboard.press("Shift+Tab" if back else "Tab")
        info = focus(person)
        if info is None:  # past the last (or first) stop: the next press wraps around
            seen.append("(wrap)")
            continue
        assert_focus_shown(person, info)
        seen.append(f"{info['tag']}#{info['id']}:{info['text'][:20]}")
        if target.evaluate_all("els => els.includes(document.activeElement)"):
            return info
    raise AssertionError(f"Tab never reached {selector}; stops: {seen[-25:]}")


def keyboard_login(person, email: str) -> None:
    person.context.set_default_timeout(30000)  # a busy CI machine
    person.go("/login")
    tab_to(person, "#email")
    person.page.keyboard.type(email)
    person.page.keyboard.press("Tab")
    person.page.keyboard.type("tradeoff-demo")
    person.page.keyboard.press("Enter")
    person.page.wait_for_url(person.base + "/")


def open_step(person, step: str) -> None:
    """Follow the step navigation by keyboard, starting from the skip link."""
    person.go(REVIEW)
    person.page.wait_for_selector("#live-status[data-state=online]")
    tab_to(person, f"#step-nav a[data-step={step}]")
    person.page.keyboard.press("Enter")
    person.page.wait_for_selector(f"#step-section[data-step={step}]")


def test_every_page_starts_with_a_skip_link_to_the_main_content(people):
    kim = people("kbd-skip")
    keyboard_login(kim, "ana@example.com")
    for path in ("/", "/teams/1", REVIEW + "/steps/vote", "/notifications"):
        kim.go(path)
        kim.page.keyboard.press("Tab")
        info = assert_focus_shown(kim)
        assert "skip-link" in info["cls"] and info["text"] == "Skip to content", (path, info)
        box = kim.page.evaluate("document.activeElement.getBoundingClientRect().toJSON()")
        assert box["left"] >= 0 and box["top"] >= 0 and box["right"] <= 1280, box  # on screen
        kim.page.keyboard.press("Enter")
        assert kim.page.evaluate("document.activeElement.id") == "main", path
        kim.page.keyboard.press("Tab")  # the next stop is inside the main content
        assert focus(kim)["inMain"], (path, focus(kim))
    kim.shot("kbd-01-skip-link")


def test_add_a_constraint_by_keyboard(people):
    fran = people("kbd-constraint")
    keyboard_login(fran, "facilitator@example.com")
    open_step(fran, "constraints")
    tab_to(fran, "#region-constraints details.add-box > summary")
    fran.page.keyboard.press("Enter")  # opens the disclosure
    assert fran.page.locator("#region-constraints details.add-box").evaluate("d => d.open")
    tab_to(fran, "#constraint-kind")
    for _ in range(10):  # arrow keys walk the options of a focused select
        if fran.page.input_value("#constraint-kind") == "freeform":
            break
        fran.page.keyboard.press("ArrowDown")
    assert fran.page.input_value("#constraint-kind") == "freeform"
    tab_to(fran, "#constraint-priority")
    fran.page.keyboard.type("Must")  # type-ahead picks the option
    assert fran.page.input_value("#constraint-priority") == "must"
    tab_to(fran, "#constraint-knockout")
    fran.page.keyboard.press("Space")
    assert fran.page.is_checked("#constraint-knockout")
    tab_to(fran, "#constraint-description")
    fran.page.keyboard.type("Runs on the shared Postgres 16 cluster")
    tab_to(fran, "#region-constraints details.add-box button[type=submit]")
    fran.page.keyboard.press("Enter")
    added = fran.page.locator("#region-constraints li.constraint",
                              has_text="Runs on the shared Postgres 16 cluster")
    added.wait_for()
    assert "must" in added.inner_text() and "knock-out" in added.inner_text()
    fran.shot("kbd-02-constraint-added")

    # Its Edit link and Cancel work by keyboard too; Shift+Tab walks back.
    tab_to(fran, f"#{added.get_attribute('id')} a:text-is('Edit')", back=True)
    fran.page.keyboard.press("Enter")
    fran.page.wait_for_selector("#region-constraints form button:text-is('Save')")
    tab_to(fran, "#region-constraints form a:text-is('Cancel')")
    fran.page.keyboard.press("Enter")
    fran.page.wait_for_selector("#region-constraints form button:text-is('Save')", state="detached")


def test_score_a_cell_with_its_rationale_by_keyboard(people):
    fran = people("kbd-matrix")
    keyboard_login(fran, "facilitator@example.com")
    open_step(fran, "mapping")
    # The demo's round is revealed: start a blind one (the confirmation is the browser's own
    # dialog, answered here as a keyboard user would with Enter).
    tab_to(fran, "#region-mapping button:has-text('Start a new scoring round')")
    fran.page.once("dialog", lambda dialog: dialog.accept())
    fran.page.keyboard.press("Enter")
    fran.page.wait_for_selector("#matrix-h:has-text('blind scoring')")
    cell = fran.page.get_attribute("table.matrix.scoring select.score-select >> nth=0", "id")
    tab_to(fran, f"#{cell}")
    fran.page.keyboard.type("4")  # saved on change; the cell is swapped in again
    fran.page.wait_for_selector(f"#{cell}.scored")
    assert fran.page.input_value(f"#{cell}") == "4"
    assert focus(fran)["id"] == cell  # the swap keeps the focus where it was
    with fran.page.expect_response(lambda r: "/scores/" in r.url and r.status == 200):
        fran.page.keyboard.press("ArrowUp")  # 4 → 3, saved again
    fran.page.wait_for_selector(f"#{cell}.scored")  # the cell swapped in again
    assert fran.page.input_value(f"#{cell}") == "3" and focus(fran)["id"] == cell
    fran.page.keyboard.press("Tab")  # on to the cell's "why" disclosure
    summary = assert_focus_shown(fran)
    assert summary["tag"] == "summary" and summary["text"] == "why", summary
    fran.page.keyboard.press("Enter")
    rationale = cell.replace("v-", "r-", 1)
    tab_to(fran, f"#{rationale}")
    fran.page.keyboard.type("Async views need care with the ORM")
    tab_to(fran, f"#cell-{cell[2:]} button[type=submit]")
    fran.page.keyboard.press("Enter")
    fran.page.wait_for_selector(f"#cell-{cell[2:]} summary:text('why ✓')")
    fran.go(REVIEW + "/steps/mapping")  # stored, not just shown
    assert fran.page.input_value(f"#{cell}") == "3"
    assert fran.page.input_value(f"#{rationale}") == "Async views need care with the ORM"
    fran.shot("kbd-03-matrix-scored")


def test_add_a_prototype_note_by_keyboard(people):
    ben = people("kbd-note")
    keyboard_login(ben, "ben@example.com")
    open_step(ben, "prototypes")
    tab_to(ben, "#new-note summary:text('Add a prototype note')")
    ben.page.keyboard.press("Space")  # Space opens a disclosure as well as Enter
    assert ben.page.locator("#new-note details").evaluate("d => d.open")
    tab_to(ben, "#note-candidate_id")
    ben.page.keyboard.type("Litestar")
    assert ben.page.locator("#note-candidate_id option:checked").inner_text() == "Litestar"
    tab_to(ben, "#note-title")
    ben.page.keyboard.type("Keyboard-only spike with Litestar DTOs")
    ben.page.keyboard.press("Tab")
    author = assert_focus_shown(ben)
    assert author["tag"] == "input", author  # the first author checkbox
    tab_to(ben, "#note-spent_hours")
    ben.page.keyboard.press("Control+A")
    ben.page.keyboard.type("6")
    tab_to(ben, "#note-pros")
    ben.page.keyboard.type("DTOs are explicit\nOpenAPI for free")
    tab_to(ben, "#new-note button[type=submit]")
    ben.page.keyboard.press("Enter")
    note = ben.page.locator("#region-prototypes article.note",
                            has_text="Keyboard-only spike with Litestar DTOs")
    note.wait_for()
    assert "DTOs are explicit" in note.inner_text() and "6 h" in note.inner_text()
    ben.shot("kbd-04-note-added")
    # The confirmation links to the note; following it by keyboard lands on it.
    tab_to(ben, "#new-note .flash a", back=True)
    ben.page.keyboard.press("Enter")
    assert ben.page.evaluate("location.hash").startswith("#note-")


def test_cast_a_ranked_ballot_by_keyboard(people):
    fran = people("kbd-vote")
    keyboard_login(fran, "facilitator@example.com")
    open_step(fran, "vote")
    names = fran.page.locator("#region-vote .ballot-grid label").all_inner_texts()
    ids = fran.page.locator("#region-vote .ballot-grid select").evaluate_all(
        "els => els.map(e => e.id)")
    by_name = dict(zip(names, ids, strict=True))
    for name, place in (("Django", "3"), ("FastAPI", "1"), ("Litestar", "2")):
        tab_to(fran, f"#{by_name[name]}")
        fran.page.keyboard.type(place)  # "3" picks the option "3."
        assert fran.page.input_value(f"#{by_name[name]}") == place
    # Change one's mind with arrow keys: Django up from 3 to not ranked and back down again.
    tab_to(fran, f"#{by_name['Django']}", back=True)
    for _ in range(3):
        fran.page.keyboard.press("ArrowUp")
    assert fran.page.input_value(f"#{by_name['Django']}") == ""
    for _ in range(3):
        fran.page.keyboard.press("ArrowDown")
    assert fran.page.input_value(f"#{by_name['Django']}") == "3"
    tab_to(fran, "#region-vote form.ballot button[type=submit]")
    fran.page.keyboard.press("Enter")
    fran.page.wait_for_selector("#region-vote legend .badge:has-text('you have voted')")
    assert any("Fran Facilitator" in t for t in
               fran.page.locator("#vote-board li.voted").all_inner_texts())
    ballots = fran.page.locator("#vote-board details.named-ballots")
    tab_to(fran, "#vote-board details.named-ballots > summary")
    fran.page.keyboard.press("Enter")  # open the named ballots …
    assert ballots.evaluate("d => d.open")
    assert "Fran Facilitator: 1. FastAPI 2. Litestar 3. Django" in ballots.inner_text()
    fran.page.keyboard.press("Enter")  # … and close them again
    assert not ballots.evaluate("d => d.open")
    fran.shot("kbd-05-ballot-cast")


def test_answer_the_checklist_with_arrow_keys(people):
    """A radio group saves on change; the arrow keys must keep working after each save."""
    ana = people("kbd-checklist")
    keyboard_login(ana, "ana@example.com")
    open_step(ana, "constraints")
    row = ana.page.locator("#region-checklist form.checklist-row").first
    question = row.locator("legend").inner_text()
    values = ["yes", "no", ""]  # the order of the radios: Yes, No, Not sure
    start = values.index(row.locator("input:checked").get_attribute("value"))
    tab_to(ana, "#region-checklist form.checklist-row >> nth=0 >> input[type=radio]:checked")
    for step in (1, 2):  # ArrowRight moves to the next radio (and wraps), saving each
        expected = values[(start + step) % 3]
        with ana.page.expect_response(lambda r: "/checklist/" in r.url):
            ana.page.keyboard.press("ArrowRight")
        ana.page.wait_for_function(
            """([q, v]) => {
                 const f = Array.from(document.querySelectorAll('#region-checklist form'))
                   .find(f => f.querySelector('legend').innerText === q);
                 const on = f && f.querySelector('input:checked');
                 return on && on.value === v && on === document.activeElement; }""",
            arg=[question, expected])
        assert_focus_shown(ana)
    ana.go(REVIEW + "/steps/constraints")  # stored
    saved = ana.page.locator("#region-checklist form.checklist-row").first
    assert saved.locator("input:checked").get_attribute("value") == values[(start + 2) % 3]
    ana.shot("kbd-06-checklist")


@pytest.mark.parametrize("path", ["/teams/1", REVIEW + "/steps/constraints",
                                  REVIEW + "/steps/mapping", REVIEW + "/steps/prototypes",
                                  REVIEW + "/steps/benchmarks", REVIEW + "/steps/vote",
                                  "/archive", "/account"])
def test_every_tab_stop_shows_its_focus(people, path):
    """Tab through the whole page, from the skip link until the focus wraps: every stop is a
    visible box with a visible focus indicator, and Shift+Tab walks back the same way."""
    fran = people("kbd-sweep")
    keyboard_login(fran, "facilitator@example.com")
    fran.go(path)
    stops = []
    for _ in range(400):
        fran.page.keyboard.press("Tab")
        info = focus(fran)
        if info is None:
            break
        assert_focus_shown(fran, info)
        stops.append((info["tag"], info["id"], info["text"]))
    else:
        raise AssertionError(f"{path}: the focus never left the page after 400 stops")
    assert len(stops) >= 5, (path, stops)
    assert "Skip to content" in stops[0][2], stops[0]
    fran.page.keyboard.press("Shift+Tab")  # back from the end lands on the last stop
    back = assert_focus_shown(fran)
    assert (back["tag"], back["id"], back["text"]) == stops[-1]
