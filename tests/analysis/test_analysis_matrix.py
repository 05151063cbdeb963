"""Weighted matrix: hand-computed totals, spreads, ranks, sensitivity and stability."""

import math
from fractions import Fraction

import pytest

from app.analysis.matrix import (
    Candidate,
    Criterion,
    MatrixError,
    ScoreEntry,
    Surd,
    compute_matrix,
    perturbation_stability,
    sensitivity,
)

# Three criteria, three candidates, two members (m1, m2). Cell means:
#            Django  Flask  FastAPI
#   speed 3    4       4      4        (Flask 5/3 and FastAPI 3/5: spread 1)
#   perf  2    3       3      5        (Django 2/4: spread 1)
#   eco   1    5       4      3
# Totals: Django (12+6+5)/6 = 23/6, Flask (12+6+4)/6 = 11/3, FastAPI (12+10+3)/6 = 25/6.
CRITERIA = [Criterion("speed", 3, "Speed"), Criterion("perf", 2), Criterion("eco", 1)]
CANDIDATES = [Candidate("dj", name="Django"), Candidate("fl", name="Flask"), Candidate("fa")]
CELLS = {
    ("speed", "dj"): (4, 4),
    ("speed", "fl"): (5, 3),
    ("speed", "fa"): (3, 5),
    ("perf", "dj"): (2, 4),
    ("perf", "fl"): (3, 3),
    ("perf", "fa"): (5, 5),
    ("eco", "dj"): (5, 5),
    ("eco", "fl"): (4, 4),
    ("eco", "fa"): (3, 3),
}
SCORES = [
    ScoreEntry(member, crit, cand, value)
    for (crit, cand), values in CELLS.items()
    for member, value in zip(("m1", "m2"), values, strict=True)
]


def scores_from(cells):
    """{(criterion, candidate): (values...)} -> score tuples, one member per value."""
    return [
        (f"m{i}", crit, cand, value)
        for (crit, cand), values in cells.items()
        for i, value in enumerate(values)
    ]


# --------------------------------------------------------------------------- matrix


def test_totals_are_weighted_means_of_cell_means():
    result = compute_matrix(CRITERIA, CANDIDATES, SCORES)
    exact = {row.candidate_id: row.total_exact for row in result.totals}
    assert exact == {"dj": Fraction(23, 6), "fl": Fraction(11, 3), "fa": Fraction(25, 6)}
    assert result.total_for("fa").total == pytest.approx(25 / 6)
    assert [(r.candidate_id, r.rank) for r in result.totals] == [("fa", 1), ("dj", 2), ("fl", 3)]
    assert result.leaders == ("fa",)
    assert not result.contested
    assert all(r.scored_weight == 6 and r.missing_criteria == () for r in result.totals)


def test_cell_mean_spread_min_max():
    result = compute_matrix(CRITERIA, CANDIDATES, SCORES)
    cell = result.cell("speed", "fl")
    assert (cell.n, cell.mean, cell.spread, cell.min, cell.max) == (2, 4.0, 1.0, 3.0, 5.0)
    assert result.cell("eco", "dj").spread == 0.0
    # population sd of 1, 2, 3, 5 = sqrt(((1.75)^2 + 0.75^2 + 0.25^2 + 2.25^2) / 4) = sqrt(2.1875)
    crowd = compute_matrix(
        [Criterion("c", 1)],
        [Candidate("a")],
        [(m, "c", "a", v) for m, v in enumerate((1, 2, 3, 5))],
    )
    assert crowd.cell("c", "a").spread == pytest.approx(math.sqrt(2.1875))
    with pytest.raises(KeyError):
        result.cell("speed", "nope")


def test_single_score_has_zero_spread():
    result = compute_matrix([Criterion("c", 1)], [Candidate("a")], [("m", "c", "a", 4)])
    assert result.cell("c", "a").spread == 0.0


def test_cells_ordered_by_disagreement():
    result = compute_matrix(CRITERIA, CANDIDATES, SCORES)
    top = [(c.criterion_id, c.candidate_id) for c in result.by_disagreement[:3]]
    assert top == [("speed", "fl"), ("speed", "fa"), ("perf", "dj")]
    assert all(c.spread == 0 for c in result.by_disagreement[3:])


def test_rank_with_a_tie_is_1_1_3():
    cells = {("c", "a"): (5,), ("c", "b"): (5,), ("c", "z"): (3,)}
    result = compute_matrix([Criterion("c", 2)], [Candidate(x) for x in "abz"], scores_from(cells))
    assert [(r.candidate_id, r.rank) for r in result.totals] == [("a", 1), ("b", 1), ("z", 3)]
    assert result.leaders == ("a", "b")
    assert result.contested


def test_decimal_weights_tie_exactly():
    # 0.1 + 0.2 == 0.3 here: A = (0.5 + 1.0 + 0.3) / 0.6 = 3 = (0.1 + 0.2 + 1.5) / 0.6 = B.
    criteria = [Criterion("x", 0.1), Criterion("y", 0.2), Criterion("z", 0.3)]
    cells = {
        ("x", "A"): (5,),
        ("y", "A"): (5,),
        ("z", "A"): (1,),
        ("x", "B"): (1,),
        ("y", "B"): (1,),
        ("z", "B"): (5,),
    }
    result = compute_matrix(criteria, [Candidate("A"), Candidate("B")], scores_from(cells))
    assert result.leaders == ("A", "B")
    assert result.total_for("A").total_exact == 3


def test_disqualified_candidate_is_listed_but_not_ranked():
    candidates = [Candidate("dj"), Candidate("fl"), Candidate("fa", disqualified=True)]
    result = compute_matrix(CRITERIA, candidates, SCORES)
    assert [(r.candidate_id, r.rank) for r in result.totals] == [("dj", 1), ("fl", 2), ("fa", None)]
    knocked_out = result.total_for("fa")
    assert knocked_out.disqualified and knocked_out.total_exact == Fraction(25, 6)
    assert result.leaders == ("dj",)


def test_missing_scores_are_excluded_and_reported():
    cells = dict(CELLS)
    del cells[("perf", "fa")]  # FastAPI: (3*4 + 1*3) / 4 = 15/4
    result = compute_matrix(CRITERIA, CANDIDATES, scores_from(cells))
    row = result.total_for("fa")
    assert row.total_exact == Fraction(15, 4)
    assert row.missing_criteria == ("perf",)
    assert row.scored_weight == 4
    empty = result.cell("perf", "fa")
    assert (empty.n, empty.mean, empty.spread, empty.min, empty.max) == (0, None, None, None, None)
    assert result.by_disagreement[-1] is empty
    assert result.leaders == ("dj",)  # 23/6 > 15/4 > 11/3


def test_candidate_without_scores_has_no_total_and_no_rank():
    result = compute_matrix(CRITERIA, [*CANDIDATES, Candidate("new")], SCORES)
    row = result.total_for("new")
    assert (row.total, row.rank, row.scored_weight) == (None, None, 0)
    assert row.missing_criteria == ("speed", "perf", "eco")
    assert result.totals[-1] is row


def test_zero_weight_criterion_does_not_count():
    criteria = [Criterion("speed", 3), Criterion("perf", 0), Criterion("eco", 1)]
    result = compute_matrix(criteria, CANDIDATES, SCORES)
    # Django (12 + 5) / 4, Flask (12 + 4) / 4, FastAPI (12 + 3) / 4
    exact = {r.candidate_id: r.total_exact for r in result.totals}
    assert exact == {"dj": Fraction(17, 4), "fl": Fraction(4), "fa": Fraction(15, 4)}


def test_all_weights_zero_leaves_no_totals():
    criteria = [Criterion(c.id, 0) for c in CRITERIA]
    result = compute_matrix(criteria, CANDIDATES, SCORES)
    assert result.leaders == ()
    assert all(r.total is None and r.rank is None for r in result.totals)


@pytest.mark.parametrize(
    ("criteria", "candidates", "scores", "message"),
    [
        ([Criterion("c", -1)], [Candidate("a")], [], ">= 0"),
        ([Criterion("c", float("nan"))], [Candidate("a")], [], "finite"),
        ([Criterion("c", "3")], [Candidate("a")], [], "number"),
        ([Criterion("c", 1), Criterion("c", 2)], [Candidate("a")], [], "duplicate criterion"),
        ([Criterion("c", 1)], [Candidate("a"), Candidate("a")], [], "duplicate candidate"),
        ([Criterion("c", 1)], [Candidate("a")], [("m", "x", "a", 3)], "unknown criterion"),
        ([Criterion("c", 1)], [Candidate("a")], [("m", "c", "x", 3)], "unknown candidate"),
        ([Criterion("c", 1)], [Candidate("a")], [("m", "c", "a", 6)], "outside"),
        ([Criterion("c", 1)], [Candidate("a")], [("m", "c", "a", 0)], "outside"),
        ([Criterion("c", 1)], [Candidate("a")], [("m", "c", "a", True)], "number"),
        ([Criterion("c", 1)], [Candidate("a")], [("m", "c", "a", 3), ("m", "c", "a", 4)], "twice"),
    ],
)
def test_invalid_input(criteria, candidates, scores, message):
    with pytest.raises(MatrixError, match=message):
        compute_matrix(criteria, candidates, scores)


# --------------------------------------------------------------------------- sensitivity

# Two criteria of weight 1. Django: speed 5, perf 1 (total 3); Flask: speed 2, perf 3 (2.5).
# Same denominators, so Django leads iff 1 + 5w > 3 + 2w (w = speed weight), i.e. w > 2/3,
# and (w = perf weight) iff 5 + w > 2 + 3w, i.e. w < 3/2.
FLIP_CRITERIA = [Criterion("speed", 1, "Speed"), Criterion("perf", 1, "Performance")]
FLIP_CANDIDATES = [Candidate("dj", name="Django"), Candidate("fl", name="Flask")]
FLIP_SCORES = scores_from(
    {("speed", "dj"): (5,), ("perf", "dj"): (1,), ("speed", "fl"): (2,), ("perf", "fl"): (3,)}
)


def test_small_weight_change_flips_the_leader_at_the_exact_threshold():
    report = sensitivity(FLIP_CRITERIA, FLIP_CANDIDATES, FLIP_SCORES)
    assert report.leaders == ("dj",) and not report.contested
    speed, perf = report.items
    assert not speed.up.changes
    assert speed.down.changes and speed.down.new_weight_exact == Fraction(2, 3)
    assert speed.down.delta == pytest.approx(-1 / 3)
    assert speed.down.new_leaders == ("fl",)
    assert speed.smallest is speed.down
    assert perf.up.new_weight_exact == Fraction(3, 2) and perf.up.new_leaders == ("fl",)
    assert perf.up.new_weight == 1.5 and perf.up.delta == 0.5
    assert not perf.down.changes
    assert perf.summary == "Raising Performance from 1 to 1.5 makes Flask lead."
    assert speed.summary == "Lowering Speed from 1 to 0.67 makes Flask lead."
    assert report.most_sensitive is speed


def test_just_before_and_past_the_threshold():
    def leaders_with_perf(weight):
        criteria = [Criterion("speed", 1), Criterion("perf", weight)]
        return compute_matrix(criteria, FLIP_CANDIDATES, FLIP_SCORES).leaders

    assert leaders_with_perf(Fraction(3, 2) - Fraction(1, 10**9)) == ("dj",)
    assert leaders_with_perf(Fraction(3, 2)) == ("dj", "fl")
    assert leaders_with_perf(Fraction(3, 2) + Fraction(1, 10**9)) == ("fl",)


def test_irrational_threshold_is_exact():
    # A scores i=5, j=1 (w_j=1); B scores i=1, k=5 (w_k=2); i has weight 1.
    # A(w) = (1 + 5w)/(1 + w), B(w) = (10 + w)/(2 + w); numerator of A - B = 4w^2 - 8,
    # so A overtakes B at w = sqrt(2). At w = 1: A = 3 < B = 11/3.
    criteria = [Criterion("i", 1), Criterion("j", 1), Criterion("k", 2)]
    cells = {("i", "A"): (5,), ("j", "A"): (1,), ("i", "B"): (1,), ("k", "B"): (5,)}
    report = sensitivity(criteria, [Candidate("A"), Candidate("B")], scores_from(cells))
    assert report.leaders == ("B",)
    item = report.items[0]
    assert item.up.new_weight_exact == Surd.make(Fraction(0), Fraction(1), Fraction(2))
    assert item.up.new_weight == pytest.approx(math.sqrt(2))
    assert item.up.new_leaders == ("A",)
    assert str(item.up.new_weight_exact) == "sqrt(2)"
    assert not item.down.changes


def test_no_change_within_range():
    cells = {
        ("speed", "dj"): (5,),
        ("perf", "dj"): (5,),
        ("speed", "fl"): (1,),
        ("perf", "fl"): (2,),
    }
    report = sensitivity(FLIP_CRITERIA, FLIP_CANDIDATES, scores_from(cells))
    for item in report.items:
        assert not item.up.changes and not item.down.changes
        assert item.smallest is None
        assert item.summary == "No change within 0\u20135."
    assert report.most_sensitive is None


def test_touching_totals_are_not_a_change():
    # A: i=2, j=5 (w_j=1); B: i=1, k=4 (w_k=4). Numerator of A - B = (w - 2)^2 >= 0:
    # the totals touch at w = 2 (both 3) and A leads on both sides.
    criteria = [Criterion("i", 1), Criterion("j", 1), Criterion("k", 4)]
    cells = {("i", "A"): (2,), ("j", "A"): (5,), ("i", "B"): (1,), ("k", "B"): (4,)}
    scores = scores_from(cells)
    item = sensitivity(criteria, [Candidate("A"), Candidate("B")], scores).items[0]
    assert not item.up.changes and not item.down.changes
    # ...but a range that ends exactly on the touching point reports the tie there.
    ending = sensitivity(criteria, [Candidate("A"), Candidate("B")], scores, (0, 2)).items[0]
    assert ending.up.new_weight_exact == 2 and ending.up.new_leaders == ("A", "B")


def test_change_at_the_end_of_the_range_is_a_tie():
    # A: i=5, j=1 (w_j=2); B: i=4, j=3.5. A leads iff 2 + 5w > 7 + 4w, i.e. w > 5.
    criteria = [Criterion("i", 1), Criterion("j", 2)]
    cells = {("i", "A"): (5,), ("j", "A"): (1,), ("i", "B"): (4,), ("j", "B"): (3, 4)}
    item = sensitivity(criteria, [Candidate("A"), Candidate("B")], scores_from(cells)).items[0]
    assert item.up.new_weight_exact == 5 and item.up.new_leaders == ("A", "B")
    assert item.summary == "Raising i from 1 to 5 makes A and B tie for the lead."


def test_contested_leader_reports_who_each_direction_favours():
    cells = {
        ("speed", "dj"): (5,),
        ("perf", "dj"): (1,),
        ("speed", "fl"): (1,),
        ("perf", "fl"): (5,),
    }
    report = sensitivity(FLIP_CRITERIA, FLIP_CANDIDATES, scores_from(cells))
    assert report.contested and report.leaders == ("dj", "fl")
    speed = report.items[0]
    assert (speed.up.delta, speed.up.new_leaders) == (0.0, ("dj",))
    assert (speed.down.delta, speed.down.new_leaders) == (0.0, ("fl",))
    assert speed.summary.startswith("Leader already contested (Django and Flask); ")
    assert "even slightly" in speed.summary


def test_weight_zero_removes_a_candidates_only_scored_criterion():
    # Django is scored only on speed (5); Flask scores 4 everywhere. Any positive speed weight
    # keeps Django at 5; at weight 0 Django has no total and Flask leads.
    cells = {("speed", "dj"): (5,), ("speed", "fl"): (4,), ("perf", "fl"): (4,)}
    item = sensitivity(FLIP_CRITERIA, FLIP_CANDIDATES, scores_from(cells)).items[0]
    assert item.down.new_weight_exact == 0 and item.down.new_leaders == ("fl",)
    assert not item.up.changes


def test_disqualified_candidate_never_takes_the_lead():
    candidates = [FLIP_CANDIDATES[0], Candidate("fl", disqualified=True)]
    report = sensitivity(FLIP_CRITERIA, candidates, FLIP_SCORES)
    assert all(not i.up.changes and not i.down.changes for i in report.items)


def test_zero_weight_criterion_can_still_flip_when_raised():
    criteria = [Criterion("speed", 1), Criterion("perf", 0)]
    # perf at 0: Django 5 vs Flask 2; Django leads iff 5 + w > 2 + 3w, i.e. w < 3/2.
    item = sensitivity(criteria, FLIP_CANDIDATES, FLIP_SCORES).items[1]
    assert item.up.new_weight_exact == Fraction(3, 2) and item.up.delta == 1.5
    assert not item.down.changes


def test_sensitivity_rejects_a_bad_range():
    with pytest.raises(MatrixError):
        sensitivity(FLIP_CRITERIA, FLIP_CANDIDATES, FLIP_SCORES, (3, 1))


def test_surd_comparisons_are_exact():
    root2 = Surd.make(Fraction(0), Fraction(1), Fraction(2))
    root8 = Surd.make(Fraction(0), Fraction(1, 2), Fraction(8))  # also sqrt(2)
    root3 = Surd.make(Fraction(0), Fraction(1), Fraction(3))
    assert root2 == root8 and root2 < root3 and Fraction(141, 100) < root2 < Fraction(142, 100)
    assert Surd.make(Fraction(1), Fraction(1), Fraction(4)) == 3  # sqrt(4) folds to 2
    assert Surd.make(Fraction(1), Fraction(-1), Fraction(3)) < 0  # 1 - sqrt(3)
    assert str(Surd.make(Fraction(1, 2), Fraction(-3), Fraction(12))) == "1/2 - 6*sqrt(3)"
    assert str(root8) == "sqrt(2)" and str(Surd.of(Fraction(7, 3))) == "7/3"
    with pytest.raises(ValueError):
        root2.as_fraction()


# --------------------------------------------------------------------------- stability


def test_perturbation_share_on_a_hand_enumerable_case():
    # Weights (speed, perf) each in {0, 1, 2}; Django leads iff 3*speed > 2*perf (same
    # denominators). True for (1,0) (1,1) (2,0) (2,1) (2,2); (0,0) has no totals: 5 of 9.
    result = perturbation_stability(FLIP_CRITERIA, FLIP_CANDIDATES, FLIP_SCORES)
    assert (result.stable, result.evaluated, result.method, result.seed) == (5, 9, "exact", None)
    assert result.share == pytest.approx(5 / 9)
    assert result.leaders == ("dj",)
    assert (
        result.summary
        == "Django stays first under 56% of all 9 weight perturbations (each weight \u00b11)."
    )


def test_weights_are_floored_at_zero():
    # From weights (speed 0, perf 1): speed becomes 0, 0 (floored) or 1; perf 0, 1 or 2.
    # Flask leads now; it stays first iff 3*speed < 2*perf: with speed 0 for perf 1 and 2
    # (twice, as two deltas give speed 0), with speed 1 only for perf 2; (0, 0) has no
    # totals. 2*2 + 1 = 5 of 9.
    criteria = [Criterion("speed", 0), Criterion("perf", 1)]
    result = perturbation_stability(criteria, FLIP_CANDIDATES, FLIP_SCORES)
    assert result.leaders == ("fl",)
    assert (result.stable, result.evaluated) == (5, 9)


def test_perturbation_matches_brute_force_on_the_main_example():
    expected = 0
    for deltas in __import__("itertools").product((-1, 0, 1), repeat=3):
        weights = [max(0, c.weight + d) for c, d in zip(CRITERIA, deltas, strict=True)]
        criteria = [Criterion(c.id, w) for c, w in zip(CRITERIA, weights, strict=True)]
        expected += compute_matrix(criteria, CANDIDATES, SCORES).leaders == ("fa",)
    result = perturbation_stability(CRITERIA, CANDIDATES, SCORES)
    assert (result.stable, result.evaluated) == (expected, 27)


def test_sampling_is_seeded_and_reported():
    criteria = [Criterion(f"c{i}", 1 + i % 3) for i in range(10)]  # 3**10 > 20 000
    cells = {
        (c.id, cand): ((i % 5) + 1 if cand == "a" else 3,)
        for i, c in enumerate(criteria)
        for cand in ("a", "b")
    }
    scores = scores_from(cells)
    candidates = [Candidate("a"), Candidate("b")]
    first = perturbation_stability(criteria, candidates, scores, samples=500, seed=7)
    again = perturbation_stability(criteria, candidates, scores, samples=500, seed=7)
    assert first == again
    assert (first.method, first.seed, first.evaluated) == ("sampled", 7, 500)
    assert "500 random (seed 7)" in first.summary
    forced = perturbation_stability(CRITERIA, CANDIDATES, SCORES, exact_limit=10, samples=50)
    assert (forced.method, forced.evaluated, forced.seed) == ("sampled", 50, 0)


def test_stability_without_leader_and_with_disqualified():
    zero = [Criterion(c.id, 0) for c in CRITERIA]
    result = perturbation_stability(zero, CANDIDATES, [])
    assert (result.leaders, result.share) == ((), None)
    candidates = [Candidate("dj"), Candidate("fl"), Candidate("fa", disqualified=True)]
    assert perturbation_stability(CRITERIA, candidates, SCORES).leaders == ("dj",)
    with pytest.raises(MatrixError):
        perturbation_stability(CRITERIA, CANDIDATES, SCORES, samples=0)


def test_malformed_score_tuple_and_decimal_weights():
    from decimal import Decimal

    with pytest.raises(MatrixError, match="a score is"):
        compute_matrix([Criterion("c", 1)], [Candidate("a")], [("m", "c", "a")])
    criteria = [Criterion("speed", Decimal("1.5")), Criterion("perf", Decimal("0.5"))]
    # Django (7.5 + 0.5) / 2 = 4, Flask (3 + 1.5) / 2 = 9/4
    result = compute_matrix(criteria, FLIP_CANDIDATES, FLIP_SCORES)
    assert result.total_for("dj").total_exact == 4
    assert result.total_for("fl").total_exact == Fraction(9, 4)
