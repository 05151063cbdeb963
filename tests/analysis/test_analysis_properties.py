"""Hypothesis properties: sensitivity thresholds really flip, stability matches brute force,
IRV rounds are consistent."""

import functools
import itertools
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from app.analysis.matrix import (
    Candidate,
    Criterion,
    compute_matrix,
    perturbation_stability,
    sensitivity,
)
from app.analysis.voting import count_votes

EPSILON = Fraction(1, 10**7)
RANGE = (Fraction(0), Fraction(5))
weights = st.integers(0, 5) | st.sampled_from([Fraction(1, 2), Fraction(5, 2), Fraction(7, 2)])


@st.composite
def matrices(draw, max_criteria=3):
    k = draw(st.integers(1, max_criteria))
    n = draw(st.integers(2, 4))
    criteria = [Criterion(f"c{i}", draw(weights)) for i in range(k)]
    knocked_out = draw(st.sampled_from([None, *range(n)]))
    candidates = [Candidate(f"x{j}", disqualified=j == knocked_out) for j in range(n)]
    scores = []
    for crit, cand in itertools.product(criteria, candidates):
        values = draw(st.lists(st.integers(1, 5), max_size=2))
        scores += [(f"m{i}", crit.id, cand.id, v) for i, v in enumerate(values)]
    return criteria, candidates, scores


def leaders_with(criteria, candidates, scores, index, weight):
    changed = [Criterion(c.id, weight if i == index else c.weight) for i, c in enumerate(criteria)]
    return compute_matrix(changed, candidates, scores).leaders


def between(start, stop, parts=7):
    return [start + (stop - start) * Fraction(j, parts) for j in range(1, parts)]


@settings(max_examples=300, deadline=None)
@given(matrices())
def test_reported_threshold_flips_just_past_it_and_not_before(matrix):
    criteria, candidates, scores = matrix
    report = sensitivity(criteria, candidates, scores)
    for index, item in enumerate(report.items):
        w0 = Fraction(criteria[index].weight)
        at = functools.partial(leaders_with, criteria, candidates, scores, index)
        for shift, end, sign in ((item.up, RANGE[1], 1), (item.down, RANGE[0], -1)):
            if not shift.changes:
                if sign * (end - w0) > 0:
                    assert at(end) == report.leaders
                    assert all(set(report.leaders) <= set(at(w)) for w in between(w0, end))
                continue
            threshold = Fraction(float(shift.new_weight_exact))
            if shift.new_weight_exact == end:
                assert at(end) == shift.new_leaders
            else:
                assert at(threshold + sign * EPSILON) == shift.new_leaders
            if abs(threshold - w0) > 2 * EPSILON:
                assert at(threshold - sign * EPSILON) == report.leaders
                assert all(set(report.leaders) <= set(at(w)) for w in between(w0, threshold))


@settings(max_examples=100, deadline=None)
@given(matrices())
def test_exact_stability_matches_brute_force(matrix):
    criteria, candidates, scores = matrix
    leaders = compute_matrix(criteria, candidates, scores).leaders
    stable = 0
    for deltas in itertools.product((-1, 0, 1), repeat=len(criteria)):
        moved = [
            Criterion(c.id, max(0, Fraction(c.weight) + d))
            for c, d in zip(criteria, deltas, strict=True)
        ]
        stable += compute_matrix(moved, candidates, scores).leaders == leaders
    result = perturbation_stability(criteria, candidates, scores)
    assert result.leaders == leaders
    assert result.evaluated == 3 ** len(criteria)
    if leaders:
        assert result.stable == stable


@settings(max_examples=100, deadline=None)
@given(matrices())
def test_total_lies_between_the_weighted_cell_means(matrix):
    criteria, candidates, scores = matrix
    result = compute_matrix(criteria, candidates, scores)
    for row in result.totals:
        means = [
            result.cell(c.id, row.candidate_id).mean
            for c in criteria
            if c.weight and result.cell(c.id, row.candidate_id).n
        ]
        if row.total is None:
            assert not means
        else:
            assert min(means) - 1e-9 <= row.total <= max(means) + 1e-9


rankings = st.permutations("ABCD").flatmap(
    lambda order: st.integers(1, 4).map(lambda k: tuple(order[:k]))
)


@settings(max_examples=200, deadline=None)
@given(st.lists(rankings, max_size=30))
def test_irv_rounds_are_consistent(ballots):
    result = count_votes("ranked", "ABCD", ballots)
    assert result.ballots_counted == len(ballots)
    for round_ in result.rounds:
        assert sum(round_.counts.values()) + round_.exhausted == len(ballots)
        assert bool(round_.elected) != (round_.eliminated is not None)
    if not ballots:
        assert result.winners == () and result.rounds == ()
        return
    last = result.rounds[-1]
    assert last.elected == result.winners
    if len(result.winners) == 1:
        assert 2 * last.counts[result.winners[0]] > last.continuing
    else:
        assert len({last.counts[w] for w in result.winners}) == 1
    first = result.rounds[0].counts
    majority = [c for c, v in first.items() if 2 * v > len(ballots)]
    if majority:
        assert result.winners == tuple(majority) and len(result.rounds) == 1
    condorcet = result.condorcet
    if condorcet.winner is not None:
        w = condorcet.winner
        assert all(condorcet.pairwise[w][o] > condorcet.pairwise[o][w] for o in "ABCD" if o != w)
        assert condorcet.agrees_with_irv == (result.winners == (w,))
