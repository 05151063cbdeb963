"""Vote counting: hand-computed examples for every method, IRV ties, Condorcet, quorum."""

import pytest

from app.analysis.voting import (
    BallotError,
    QuorumError,
    QuorumRule,
    check_quorum,
    condorcet_check,
    count_votes,
    pairwise_matrix,
    quorum_met,
    validate_ballot,
)

ABC = ["A", "B", "C"]


def rows(result):
    return [(r.candidate_id, r.votes, r.rank) for r in result.tally]


# --------------------------------------------------------------------------- single / approval


def test_single_plurality():
    result = count_votes("single", ABC, ["A", "B", "A", "C"], names={"A": "Django"})
    assert result.winners == ("A",)
    assert rows(result) == [("A", 2, 1), ("B", 1, 2), ("C", 1, 2)]
    assert result.tally[0].share == 0.5
    assert result.ballots_counted == 4
    assert result.summary == "Django wins with 2 votes of 4 (50%)."
    assert result.rounds == () and result.condorcet is None


def test_single_tie_and_no_ballots():
    tie = count_votes("single", ABC, ["A", "B"])
    assert tie.winners == ("A", "B")
    assert tie.summary == "A and B tie with 1 vote each (2 ballots)."
    empty = count_votes("single", ABC, [])
    assert (empty.winners, empty.ballots_counted) == ((), 0)
    assert empty.summary == "No ballots were counted."
    assert all(r.share is None for r in empty.tally)


def test_approval():
    ballots = [["A", "B"], ["B"], ["C", "B"], []]
    result = count_votes("approval", ABC, ballots)
    assert result.winners == ("B",)
    assert rows(result) == [("B", 3, 1), ("A", 1, 2), ("C", 1, 2)]
    assert result.tally[0].share == 0.75
    assert result.summary == "B wins with 3 approvals of 4 (75%)."


def test_approval_nobody_approved():
    result = count_votes("approval", ABC, [[], set()])
    assert result.winners == ()
    assert result.summary == "No candidate received any approval on 2 ballots."


# --------------------------------------------------------------------------- score


def test_score_total_then_mean():
    # A: 5 + 0 = 5 (mean 2.5); B: 5 (mean 5, one ballot); C: 3 + 3 = 6 (mean 3).
    ballots = [{"A": 5, "B": 5, "C": 3}, {"A": 0, "C": 3}]
    result = count_votes("score", ABC, ballots)
    assert result.winners == ("C",)
    assert [(r.candidate_id, r.votes, r.mean, r.mentions, r.rank) for r in result.tally] == [
        ("C", 6, 3.0, 2, 1),
        ("B", 5, 5.0, 1, 2),
        ("A", 5, 2.5, 2, 3),
    ]
    assert result.summary == "C wins with 6 points (mean 3.00 from 2 of 2 ballots)."


def test_score_full_tie_and_unscored_candidate():
    result = count_votes("score", ABC, [{"A": 4, "B": 4}])
    assert result.winners == ("A", "B")
    assert rows(result) == [("A", 4, 1), ("B", 4, 1), ("C", 0, 3)]
    assert result.tally[2].mean is None
    assert result.summary == "A and B tie with 4 points each (mean 4.00)."


# --------------------------------------------------------------------------- ranked: IRV


def test_irv_majority_in_first_round():
    result = count_votes("ranked", ABC, [("A", "B"), ("A",), ("B", "A")])
    assert result.winners == ("A",)
    (only,) = result.rounds
    assert (only.counts, only.continuing, only.majority, only.elected) == (
        {"A": 2, "B": 1, "C": 0},
        3,
        2,
        ("A",),
    )
    assert result.summary.startswith("A wins in round 1 with 2 of 3 continuing ballots (67%).")


def test_irv_exhausted_ballots_shrink_the_majority():
    # Round 1: A 4, B 3, C 2 of 9 (majority 5): C is eliminated; C's ballots rank nobody else.
    # Round 2: A 4, B 3, 2 exhausted: 4 of 7 continuing is a majority although 4/9 < 50 %.
    ballots = [("A",)] * 4 + [("B",)] * 3 + [("C",)] * 2
    result = count_votes("ranked", ABC, ballots)
    first, second = result.rounds
    assert (first.counts, first.majority, first.eliminated) == ({"A": 4, "B": 3, "C": 2}, 5, "C")
    assert (second.counts, second.exhausted, second.continuing, second.majority) == (
        {"A": 4, "B": 3},
        2,
        7,
        4,
    )
    assert result.winners == ("A",)
    assert [(r.candidate_id, r.rank, r.eliminated_in) for r in result.tally] == [
        ("A", 1, None),
        ("B", 2, None),
        ("C", 3, 1),
    ]


def test_irv_elimination_tie_broken_by_previous_round():
    # Round 1: A 6, B 5, C 3, D 2, E 1 (17 ballots) -> E out, its ballot goes to D.
    # Round 2: A 6, B 5, C 3, D 3 -> C and D tie; in round 1 D had 2 < 3, so D is out.
    # Round 3: D's 3 ballots go to B: A 6, B 8, C 3 -> C out, its 3 ballots go to A.
    # Round 4: A 9, B 8: 9 of 17 is a majority.
    ballots = [("A",)] * 6 + [("B",)] * 5 + [("C", "A")] * 3 + [("D", "B")] * 2 + [("E", "D", "B")]
    result = count_votes("ranked", "ABCDE", ballots)
    counts = [r.counts for r in result.rounds]
    assert counts == [
        {"A": 6, "B": 5, "C": 3, "D": 2, "E": 1},
        {"A": 6, "B": 5, "C": 3, "D": 3},
        {"A": 6, "B": 8, "C": 3},
        {"A": 9, "B": 8},
    ]
    assert [r.eliminated for r in result.rounds] == ["E", "D", "C", None]
    tie_round = result.rounds[1]
    assert tie_round.tie_break == "previous rounds"
    assert tie_round.note == (
        "C and D tie for the fewest votes (3); D had fewer votes in round 1 (C 3, D 2) "
        "and is eliminated."
    )
    assert result.winners == ("A",)
    assert [r.rank for r in result.tally] == [1, 2, 3, 4, 5]  # A, B, C, D, E


def test_irv_borda_tie_break_then_final_tie():
    # Round 1: A 2, B 1, C 1, D 2 (6 ballots, majority 4). B and C tie with no earlier
    # round; Borda (3/2/1 points): B = 2+2+3 = 7, C = 2+3 = 5 -> C is out, its ballot to D.
    # Round 2: A 2, B 1, D 3 -> B out, its ballot to A. Round 3: A 3, D 3 -> final tie.
    ballots = [("A", "B"), ("A", "B"), ("D", "C"), ("D",), ("B", "A"), ("C", "D")]
    result = count_votes("ranked", "ABCD", ballots)
    first, second, third = result.rounds
    assert (first.eliminated, first.tie_break) == ("C", "borda")
    assert "lowest Borda score (B 7, C 5)" in first.note
    assert (second.counts, second.eliminated, second.tie_break) == (
        {"A": 2, "B": 1, "D": 3},
        "B",
        None,
    )
    assert third.counts == {"A": 3, "D": 3}
    assert result.winners == ("A", "D") and third.elected == ("A", "D")
    assert "no tie-break picks a winner" in third.note
    assert result.summary == "A and D tie in round 3 with 3 votes each."


def test_irv_last_resort_candidate_order_is_announced():
    # A 2, B 1, C 1; B and C have equal Borda scores: C (listed last) goes, arbitrarily.
    result = count_votes("ranked", ABC, [("A",), ("A",), ("B",), ("C",)])
    first, second = result.rounds
    assert (first.eliminated, first.tie_break) == ("C", "candidate order")
    assert "arbitrary" in first.note
    assert (second.counts, second.exhausted, second.elected) == ({"A": 2, "B": 1}, 1, ("A",))


def test_irv_immediate_tie():
    result = count_votes("ranked", ["A", "B"], [("A", "B"), ("B", "A")])
    assert result.winners == ("A", "B") and len(result.rounds) == 1
    assert result.condorcet.status == "tie"
    assert result.condorcet.agrees_with_irv is None


def test_centre_squeeze_irv_and_condorcet_disagree():
    # 35 A>B>C, 33 C>B>A, 16 B>A>C, 16 B>C>A.
    # IRV: round 1 A 35, B 32, C 33 -> B out; round 2 A 51, C 49 -> A wins.
    # Head-to-head: B beats A 65-35 and C 67-33, so B is the Condorcet winner.
    ballots = [tuple("ABC")] * 35 + [tuple("CBA")] * 33 + [tuple("BAC")] * 16 + [tuple("BCA")] * 16
    result = count_votes("ranked", ABC, ballots)
    assert [r.counts for r in result.rounds] == [{"A": 35, "B": 32, "C": 33}, {"A": 51, "C": 49}]
    assert result.winners == ("A",)
    condorcet = result.condorcet
    assert condorcet.pairwise == {
        "A": {"B": 35, "C": 51},
        "B": {"A": 65, "C": 67},
        "C": {"A": 49, "B": 33},
    }
    assert (condorcet.winner, condorcet.status, condorcet.agrees_with_irv) == ("B", "winner", False)
    assert "the methods disagree" in condorcet.message
    assert result.summary.endswith(condorcet.message)


def test_condorcet_agrees_with_irv():
    result = count_votes("ranked", ABC, [tuple("ABC")] * 3 + [tuple("BCA")] * 2)
    assert result.condorcet.winner == "A" and result.condorcet.agrees_with_irv is True
    assert "also the Condorcet winner" in result.condorcet.message
    assert result.summary == "A wins in round 1 with 3 of 5 continuing ballots (60%)."


def test_condorcet_cycle():
    # 4 A>B>C, 3 B>C>A, 2 C>A>B: A beats B 6-3, B beats C 7-2, C beats A 5-4.
    # IRV: A 4, B 3, C 2 -> C out, to A: A 6, B 3 -> A wins.
    ballots = [tuple("ABC")] * 4 + [tuple("BCA")] * 3 + [tuple("CAB")] * 2
    result = count_votes("ranked", ABC, ballots)
    assert result.winners == ("A",)
    condorcet = result.condorcet
    assert (condorcet.winner, condorcet.status, condorcet.cycle) == (None, "cycle", ("A", "B", "C"))
    assert condorcet.message == "No Condorcet winner (cycle: A > B > C > A)."
    assert condorcet.agrees_with_irv is None


def test_pairwise_counts_ranked_over_unranked():
    matrix = pairwise_matrix(ABC, [("A",), ("B", "A")])
    assert matrix == {"A": {"B": 1, "C": 2}, "B": {"A": 1, "C": 1}, "C": {"A": 0, "B": 0}}
    empty = condorcet_check(ABC, [])
    assert (empty.status, empty.winner) == ("no ballots", None)


def test_ranked_no_ballots():
    result = count_votes("ranked", ABC, [])
    assert (result.winners, result.rounds) == ((), ())
    assert result.summary == "No ballots were counted."


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("method", "payload", "message"),
    [
        ("single", None, "choose one candidate"),
        ("single", "", "choose one candidate"),
        ("single", "Z", "unknown candidate 'Z'"),
        ("single", ["A"], "exactly one candidate"),
        ("approval", "A", "list of candidates"),
        ("approval", {"A": 1}, "list of candidates"),
        ("approval", 7, "list of candidates"),
        ("approval", ["A", "A"], "'A' is approved twice"),
        ("approval", ["Z"], "unknown candidate"),
        ("score", ["A"], "maps candidates to scores"),
        ("score", {"A": 6}, "scores go from 0 to 5"),
        ("score", {"A": -1}, "scores go from 0 to 5"),
        ("score", {"A": 2.5}, "whole number"),
        ("score", {"A": True}, "whole number"),
        ("score", {}, "score at least one candidate"),
        ("score", {"A": None}, "score at least one candidate"),
        ("score", {"Z": 3}, "unknown candidate"),
        ("ranked", [], "rank at least one candidate"),
        ("ranked", [None, None], "rank at least one candidate"),
        ("ranked", ["A", "A"], "'A' is ranked twice"),
        ("ranked", ["A", None, "B"], "gap in the ranking: nothing at position 2"),
        ("ranked", ["Z"], "unknown candidate"),
        ("ranked", "AB", "list of candidates"),
        ("ranked", {"A": 1, "B": 3}, "gap in the ranking: nothing at rank 2"),
        ("ranked", {"A": 1, "B": 1}, "share rank 1"),
        ("ranked", {"A": 0}, "whole number from 1"),
        ("ranked", {"A": "1"}, "whole number from 1"),
        ("plurality", "A", "unknown voting method"),
    ],
)
def test_invalid_ballots(method, payload, message):
    with pytest.raises(BallotError, match=message):
        validate_ballot(method, ABC, payload)


def test_ballots_are_normalized():
    assert validate_ballot("single", ABC, "B") == "B"
    assert validate_ballot("approval", ABC, {"C", "A"}) == ("A", "C")
    assert validate_ballot("score", ABC, {"C": 1, "A": 0, "B": None}) == {"A": 0, "C": 1}
    assert validate_ballot("ranked", ABC, ["C", "A", None]) == ("C", "A")
    assert validate_ballot("ranked", ABC, {"B": 2, "C": 1, "A": None}) == ("C", "B")
    assert validate_ballot("ranked", ABC, ("B", "C", "A")) == ("B", "C", "A")


def test_counting_names_the_bad_ballot():
    with pytest.raises(BallotError, match="^ballot 2: unknown candidate 'Z'$"):
        count_votes("single", ABC, ["A", "Z"])
    with pytest.raises(BallotError, match="unknown voting method"):
        count_votes("borda", ABC, [])
    with pytest.raises(BallotError, match="duplicate candidate"):
        count_votes("single", ["A", "A"], [])


# --------------------------------------------------------------------------- quorum


ELIGIBLE = {"owner": 1, "facilitator": 1, "member": 4, "observer": 5}


def test_count_quorum_ignores_observers():
    assert quorum_met({"member": 3}, ELIGIBLE, ("count", 3))
    assert not quorum_met({"member": 2, "observer": 5}, ELIGIBLE, ("count", 3))
    status = check_quorum({"member": 2, "observer": 5}, ELIGIBLE, QuorumRule("count", 3))
    assert (status.met, status.ballots, status.eligible, status.required) == (False, 2, 6, 3)
    assert status.message == "Quorum not met: 2 of 3 required ballots."


def test_count_quorum_is_capped_at_the_eligible_voters():
    status = check_quorum({"owner": 1, "member": 2}, {"owner": 1, "member": 2}, ("count", 10))
    assert status.met and status.required == 3


@pytest.mark.parametrize(
    ("ballots", "share", "met"),
    [
        (3, 0.5, True),  # ceil(0.5 * 6) = 3
        (2, 0.5, False),
        (4, 0.6, True),  # 0.6 * 6 = 3.6 -> 4
        (3, 0.6, False),
        (6, 1, True),
        (0, 0, True),
    ],
)
def test_share_quorum(ballots, share, met):
    assert quorum_met({"member": ballots}, ELIGIBLE, ("share", share)) is met


def test_share_quorum_is_exact():
    # 0.6 * 5 is 3.0000000000000004 in floats; exactly 3 ballots are enough.
    assert quorum_met({"member": 3}, {"member": 5}, ("share", 0.6))


def test_each_role_quorum():
    rule = QuorumRule("count", 1, each_role=True)
    status = check_quorum({"member": 4, "facilitator": 1}, ELIGIBLE, rule)
    assert not status.met
    assert status.message == "Quorum not met (owner 0/1)."
    assert quorum_met({"member": 1, "owner": 1, "facilitator": 1}, ELIGIBLE, rule)
    # A role without eligible members is not required.
    assert quorum_met({"member": 1, "owner": 1}, {"owner": 1, "member": 4}, rule)
    half = QuorumRule("share", 0.5, each_role=True)  # owner 1, facilitator 1, member 2 of 4
    assert quorum_met({"owner": 1, "facilitator": 1, "member": 2}, ELIGIBLE, half)
    assert not quorum_met({"owner": 1, "facilitator": 1, "member": 1}, ELIGIBLE, half)
    roles = check_quorum({"member": 1}, ELIGIBLE, half).roles
    assert [(r.role, r.ballots, r.eligible, r.required) for r in roles] == [
        ("owner", 0, 1, 1),
        ("facilitator", 0, 1, 1),
        ("member", 1, 4, 2),
    ]


def test_no_eligible_voters_never_meets_quorum():
    status = check_quorum({}, {"observer": 3}, ("count", 0))
    assert not status.met and status.message == "No eligible voters."


@pytest.mark.parametrize(
    ("ballots", "eligible", "rule"),
    [
        ({}, ELIGIBLE, ("majority", 1)),
        ({}, ELIGIBLE, ("share", 1.5)),
        ({}, ELIGIBLE, ("count", -1)),
        ({}, ELIGIBLE, ("count", "3")),
        ({"guest": 1}, ELIGIBLE, ("count", 1)),
        ({}, {"member": -1}, ("count", 1)),
    ],
)
def test_invalid_quorum_input(ballots, eligible, rule):
    with pytest.raises(QuorumError):
        check_quorum(ballots, eligible, rule)


def test_bool_is_not_candidate_one():
    with pytest.raises(BallotError, match="unknown candidate True"):
        validate_ballot("single", [1, 2], True)


def test_tie_between_candidates_without_votes_is_called_harmless():
    # Round 1: A 2, B 2, C 0, D 0, E 1. C and D tie at 0 with equal Borda scores (0), so D
    # (listed last) goes; the note says this cannot matter.
    ballots = [("A",)] * 2 + [("B",)] * 2 + [("E",)]
    result = count_votes("ranked", "ABCDE", ballots)
    first = result.rounds[0]
    assert first.counts == {"A": 2, "B": 2, "C": 0, "D": 0, "E": 1}
    assert first.eliminated == "D" and first.tie_break == "candidate order"
    assert "cannot change the outcome" in first.note


def test_quorum_rule_shapes():
    from decimal import Decimal

    assert quorum_met({"member": 3}, {"member": 5}, ("share", Decimal("0.6")))
    with pytest.raises(QuorumError, match="kind, value"):
        check_quorum({}, ELIGIBLE, ("count",))
    with pytest.raises(QuorumError, match="finite"):
        check_quorum({}, ELIGIBLE, ("share", float("nan")))
