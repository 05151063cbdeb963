"""Failures in scale-out mode during a vote: Redis gone for 30 s, an app process killed.

Nine voters (the demo's three and six seeded members) cast and change ranked ballots through
nginx on both processes; what was committed is read back from PostgreSQL, and what people are
shown (the vote board pushed over Socket.IO, the view re-fetched after a missed update) is
compared with it. Loopback only; every wait is bounded."""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from app.services.demo import DEMO_PASSWORD
from tests.scaleout.cluster import Browser, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
REVIEW = 1  # the demo review, with an open ranked vote (live tallies, named ballots)
VOTERS = 6  # seeded members on top of the demo's three voters
DEMO_VOTERS = [("facilitator@example.com", "Fran Facilitator"), ("ana@example.com", "Ana Member"),
               ("ben@example.com", "Ben Member")]


# --- the vote as people see it, and as PostgreSQL stores it --------------------------------------

class Vote:
    """The demo review's open vote: its id and candidates (id -> name, in ballot order)."""

    def __init__(self, browser: Browser) -> None:
        page = browser.http.get(f"{browser.cluster.url}/reviews/{REVIEW}/steps/vote", timeout=30).text
        self.id = int(re.search(rf"/reviews/{REVIEW}/votes/(\d+)/ballot", page).group(1))
        data = browser.http.get(f"{browser.cluster.url}/reviews/{REVIEW}/votes/{self.id}.json",
                                timeout=30).json()
        self.names = {c["id"]: c["name"] for c in data["candidates"]}

    def order(self, k: int) -> list[int]:
        """The k-th of the ballots the test casts: rotations, then reversed rotations."""
        ids = list(self.names)
        n = len(ids)
        turned = ids[k % n:] + ids[:k % n]
        return turned if (k // n) % 2 == 0 else turned[::-1]

    def text(self, order: list[int]) -> str:
        """A ballot as the board words it (votes.ballot_text)."""
        return "  ".join(f"{i}. {self.names[c]}" for i, c in enumerate(order, 1))


def committed(cluster, vote: Vote) -> dict[str, list[int]]:
    """email -> the ballot stored in PostgreSQL (no voter may have two)."""
    rows = cluster.sql("SELECT u.email, b.payload FROM ballots b JOIN users u ON u.id = b.user_id "
                       "WHERE b.session_id = %s", (vote.id,))
    emails = Counter(email for email, _ in rows)
    assert not [e for e, n in emails.items() if n > 1], f"duplicated ballots: {emails}"
    return {email: list(payload) for email, payload in rows}


def ballot_count(cluster, vote: Vote) -> int:
    """The vote's own count of stored ballots (the guard every ballot is written through)."""
    return cluster.sql("SELECT ballot_count FROM vote_sessions WHERE id = %s", (vote.id,))[0][0]


def ballot_events(cluster) -> Counter:
    """Audit events of ballots in the demo review: cast (first ballot) and changed."""
    return Counter(dict(cluster.sql(
        "SELECT action, count(*) FROM audit_events WHERE review_id = %s AND action IN "
        "('vote.ballot_cast', 'vote.ballot_changed') GROUP BY action", (REVIEW,))))


def element(html: str, element_id: str) -> str:
    """The outer HTML of the <div> with this id (nested divs counted)."""
    start = html.index(f'<div id="{element_id}"')
    depth = 0
    for tag in re.finditer(r"<(/?)div\b", html[start:]):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            return html[start:start + tag.end()]
    raise AssertionError(f"unclosed #{element_id}")


def shown(html: str, vote: Vote) -> dict:
    """What a vote board shows: the participation line, the tally (first choices per
    candidate) and the named ballots (name -> ballot text)."""
    board = element(html, "vote-board")
    participation = re.search(r"(\d+) ballots? of (\d+) possible", board)
    tally = {name: int(n) for name, n in re.findall(
        r'<th scope="row">([^<]+)</th>\s*<td><span class="bar"[^>]*></span> (\d+)', board)}
    named = dict(re.findall(r"<li>([^<:]+): ([^<]+)</li>", board))
    return {"participation": participation and participation.groups(), "tally": tally,
            "named": named}


def expected(stored: dict[str, list[int]], people: dict[str, str], vote: Vote) -> dict:
    """The board the stored ballots make: everyone eligible voted here."""
    first = Counter(order[0] for order in stored.values())
    return {"participation": (str(len(stored)), str(len(people))),
            "tally": {name: first.get(cid, 0) for cid, name in vote.names.items()},
            "named": {people[email]: vote.text(order) for email, order in stored.items()}}


def boards_received(browser: Browser, since: int = 0) -> list[str]:
    return [data["html"] for name, data in browser.events[since:]
            if name == "fragment" and 'id="vote-board"' in data["html"]]


def sign_in(people: dict[str, str], browsers, late: int = 0) -> dict[str, Browser]:
    """One browser per voter, spread over both processes; all but the last ``late`` log in."""
    voters = dict(zip(people, browsers(len(people)), strict=True))
    assert len({b.node for b in voters.values()}) == 2
    for email in list(voters)[:len(voters) - late]:
        assert voters[email].login(email, DEMO_PASSWORD).status_code == 303
    return voters


# --- Redis gone for 30 s -------------------------------------------------------------------------

@pytest.mark.timeout(600)
@pytest.mark.parametrize("cluster", [{"own_redis": True, "voters": VOTERS}], indirect=True)
def test_redis_down_for_30s_ballots_commit_live_updates_resume_and_views_resync(cluster, browsers):
    people = dict(DEMO_VOTERS + cluster.voters)  # email -> name, nine voters
    late = list(people)[-2:]  # these two log in during the outage
    voters = sign_in(people, browsers, late=len(late))
    vote = Vote(voters["facilitator@example.com"])
    by_node: dict[str, Browser] = {}
    for b in voters.values():
        by_node.setdefault(b.node, b)
    watchers = list(by_node.values())  # one live client on each process
    for w in watchers:
        w.join(REVIEW)
    seen = {w: w.heartbeat(REVIEW) for w in watchers}
    before = committed(cluster, vote)
    events_before = ballot_events(cluster)
    assert set(before) == {"ana@example.com", "ben@example.com"}  # the demo's ballots

    cluster.redis.stop()
    outage_started = time.monotonic()

    def vote_as(i: int, email: str) -> list[list[int]]:
        """Every voter casts; every other one changes their mind once."""
        b = voters[email]
        if email in late:
            assert b.login(email, DEMO_PASSWORD).status_code == 303  # logins work without Redis
        orders = [vote.order(i)] + ([vote.order(i + 5)] if i % 2 == 0 else [])
        for order in orders:
            r = b.cast(REVIEW, vote.id, order)
            assert r.status_code == 200, (email, r.status_code, r.text[:300])
        return orders

    with ThreadPoolExecutor(len(voters)) as pool:
        cast = dict(zip(voters, pool.map(vote_as, range(len(voters)), voters), strict=True))
    final = {email: orders[-1] for email, orders in cast.items()}
    casts = sum(len(orders) for orders in cast.values())
    assert casts > len(voters)  # some changed their ballot
    # Every ballot committed, while Redis is still down.
    assert committed(cluster, vote) == final

    # A process pushes to its own clients, but nothing crosses to the other while Redis is
    # down. A ballot changed through one process: the live client on the other misses the
    # push, its heartbeat (answered by its own process from the database) reports a newer
    # revision than it has seen, and — as app.js does — it re-fetches its view: every ballot.
    for i, w in enumerate(watchers):
        email = next(e for e, b in voters.items() if b.node != w.node)
        final[email], mark = vote.order(20 + i), len(w.events)
        r = voters[email].cast(REVIEW, vote.id, final[email])
        assert r.status_code == 200, r.status_code
        casts += 1
        ack = w.heartbeat(REVIEW)
        assert ack > max(seen[w], w.seen_rev()), "the client did not notice what it missed"
        assert not any(f"{people[email]}: {vote.text(final[email])}" in board
                       for board in boards_received(w, mark))  # the push really was lost
        view = w.live(REVIEW, "vote")
        assert int(re.search(r'id="workspace" data-review-room="\d+" data-revision="(\d+)"',
                             view).group(1)) >= ack
        assert shown(view, vote) == expected(final, people, vote)
    assert committed(cluster, vote) == final
    time.sleep(max(0.0, 30 - (time.monotonic() - outage_started)))

    cluster.redis.start()
    # Live updates resume once each process's Redis listener has reconnected: a ballot changed
    # now reaches the live clients on both processes as a pushed board.
    changer_email = late[-1]
    changer, k = voters[changer_email], itertools.count(100)

    def board_reaches_everyone() -> bool:
        marks = {w: len(w.events) for w in watchers}
        order = vote.order(next(k))
        r = changer.cast(REVIEW, vote.id, order)
        assert r.status_code == 200, r.status_code
        final[changer_email] = order
        nonlocal casts
        casts += 1
        want = f"{people[changer_email]}: {vote.text(order)}"
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if all(any(want in board for board in boards_received(w, marks[w])) for w in watchers):
                return True
            time.sleep(0.2)
        return False

    wait_for(board_reaches_everyone, timeout=120, interval=0.5,
             what="live updates on both processes after Redis returned")

    # PostgreSQL has exactly one ballot per voter, each the last one cast; every acknowledged
    # cast was written exactly once (one audit event each); the pushed boards and the boards
    # re-fetched on both processes show exactly those ballots and their tallies.
    stored = committed(cluster, vote)
    assert stored == final
    assert ballot_count(cluster, vote) == len(stored) == len(people)
    events = ballot_events(cluster) - events_before
    newcomers = len(set(final) - set(before))
    assert events == Counter({"vote.ballot_cast": newcomers, "vote.ballot_changed": casts - newcomers})
    want = expected(stored, people, vote)
    for w in watchers:
        assert shown(boards_received(w)[-1], vote) == want
        assert shown(w.live(REVIEW, "vote"), vote) == want


# --- an app process killed -------------------------------------------------------------------------

@pytest.mark.timeout(600)
@pytest.mark.parametrize("cluster", [{"voters": VOTERS}], indirect=True)
def test_killed_process_loses_no_committed_ballot_and_its_clients_move_within_10s(cluster, browsers):
    people = dict(DEMO_VOTERS + cluster.voters)
    voters = sign_in(people, browsers)
    vote = Vote(voters["facilitator@example.com"])
    node = {email: b.node for email, b in voters.items()}
    victim_node = node["facilitator@example.com"]
    moved = [email for email in voters if node[email] == victim_node]
    stayed = [email for email in voters if node[email] != victim_node]
    assert moved and stayed
    for b in voters.values():
        b.join(REVIEW)
    events_before = ballot_events(cluster)

    # Everyone keeps casting (each voter one request at a time) while the process dies.
    outcomes: dict[str, list[tuple[list[int], str]]] = {email: [] for email in voters}
    stop = threading.Event()

    def keep_voting(i: int, email: str) -> None:
        for k in itertools.count():
            if stop.is_set() and k >= 2:
                return
            order = vote.order(i + k)
            try:
                r = voters[email].cast(REVIEW, vote.id, order)
                status = "ok" if r.status_code == 200 else f"http {r.status_code}"
            except requests.RequestException as err:
                status = f"unknown: {type(err).__name__}"
            outcomes[email].append((order, status))
            time.sleep(0.2)

    threads = [threading.Thread(target=keep_voting, args=(i, email), daemon=True)
               for i, email in enumerate(voters)]
    for t in threads:
        t.start()
    wait_for(lambda: all(any(s == "ok" for _, s in outcomes[e]) for e in voters), timeout=60,
             what="a committed ballot from every voter")
    cluster.kill_app(cluster.port_of(victim_node))
    killed_at = time.monotonic()
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join(timeout=90)
    assert not any(t.is_alive() for t in threads), "a voter's request hung"

    # The clients of the killed process noticed and reconnected, to the other one, within 10 s.
    def reconnected(b: Browser) -> float | None:
        gone = next((t for kind, t in b.connections if kind == "disconnect" and t >= killed_at), None)
        back = gone and next((t for kind, t in b.connections if kind == "connect" and t >= gone), None)
        return back and back - killed_at

    wait_for(lambda: all(reconnected(voters[e]) for e in moved),
             timeout=max(0.5, killed_at + 10 - time.monotonic()), what="reconnects within 10 s")
    assert all(reconnected(voters[e]) < 10 for e in moved)
    assert all(voters[e].sio.connected and voters[e].node != victim_node for e in moved)

    # No committed ballot was lost: each voter's stored ballot is the last one acknowledged
    # (200), or one sent after it whose answer was lost in the crash (it may have committed).
    for email in stayed:
        assert all(s == "ok" for _, s in outcomes[email]), (email, outcomes[email])
    stored = committed(cluster, vote)
    acked = unknown = 0
    for email, sent in outcomes.items():
        last_ok = max(i for i, (_, s) in enumerate(sent) if s == "ok")
        possible = [order for order, _ in sent[last_ok:]]
        assert stored[email] in possible, (email, stored[email], sent[last_ok:])
        acked += sum(s == "ok" for _, s in sent)
        unknown += sum(s != "ok" for _, s in sent)
    assert len(stored) == len(people) == ballot_count(cluster, vote)
    events = ballot_events(cluster) - events_before
    assert acked <= sum(events.values()) <= acked + unknown  # each acknowledged cast written once
    assert events["vote.ballot_cast"] == len(people) - 2  # Ana and Ben had voted in the demo

    # The moved clients vote through the surviving process and see every ballot live.
    final = dict(stored)
    for i, email in enumerate(moved):
        final[email] = vote.order(50 + i)
        r = voters[email].cast(REVIEW, vote.id, final[email])
        assert r.status_code == 200, (email, r.status_code)
    assert committed(cluster, vote) == final
    want = expected(final, people, vote)
    for email, b in voters.items():
        wait_for(lambda b=b: boards_received(b) and shown(boards_received(b)[-1], vote) == want,
                 timeout=10, what=f"the full board pushed to {email}")
        assert shown(b.live(REVIEW, "vote"), vote) == want
