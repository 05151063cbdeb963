"""Weighted criteria x candidates matrix: cell statistics, totals, ranking, sensitivity.

Definitions (the numbers the Mapping step shows):

* **Cell** (criterion, candidate): ``n`` scores, their ``mean``, ``min``, ``max`` and ``spread``
  = population standard deviation (0 for a single score). All None when nobody scored it.
* **Weighted total** of a candidate = weighted mean of its cell means, on the 1-5 scale::

      total = sum(w_c * mean_c) / sum(w_c)      over criteria c that HAVE a mean for it

  Cells without scores are left out of numerator and denominator alike and reported in
  ``missing_criteria``; ``scored_weight`` says how much weight the total rests on. When that
  weight is 0 (no scores, or only zero-weight criteria scored) the total is None.
* **Rank**: standard competition ranking ("1, 1, 3") of the non-disqualified candidates that
  have a total, compared exactly (see below). Disqualified (knock-out) candidates keep their
  total but get no rank. The **leaders** are the rank-1 candidates; more than one means the
  lead is contested.

All arithmetic is exact (:class:`fractions.Fraction`; floats are read through their shortest
decimal repr, so a weight of 0.1 means 1/10), so ties are real ties and not rounding accidents.
Floats appear only in the reported values.

Sensitivity: with every other weight fixed, each total is ``(A + m*w) / (B + w)`` in the
weight ``w`` of one criterion (or constant when the candidate has no score there), so the
difference of two totals has a numerator that is a polynomial of degree <= 2 in ``w``. Its
roots are solved in closed form and kept exact as :class:`Surd` values ``a + b*sqrt(s)``; the
leader just past each root is decided by the signs of the polynomial and its derivatives at
the root. A root where two totals only touch (and the old leader stays ahead) is not a change.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from numbers import Real
from typing import NamedTuple, TypeAlias

Id: TypeAlias = Hashable
Number: TypeAlias = int | float | Fraction | Decimal

SCORE_MIN = 1
SCORE_MAX = 5
WEIGHT_RANGE: tuple[int, int] = (0, 5)
EXACT_LIMIT = 20_000
DEFAULT_SAMPLES = 10_000
DEFAULT_SEED = 0


class MatrixError(ValueError):
    """The matrix input is inconsistent: unknown or duplicate ids, a bad weight or score."""


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Criterion:
    """A criterion row; ``weight`` must be a finite number >= 0."""

    id: Id
    weight: Number
    name: str = ""


@dataclass(frozen=True)
class Candidate:
    """A candidate column; a disqualified (knock-out) candidate is listed but never ranked."""

    id: Id
    disqualified: bool = False
    name: str = ""


class ScoreEntry(NamedTuple):
    """One member's score for one cell; any 4-tuple in this order is accepted."""

    member_id: Id
    criterion_id: Id
    candidate_id: Id
    value: Number


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class CellStats:
    """Team statistics of one cell; everything but ``n`` is None when nobody scored it."""

    criterion_id: Id
    candidate_id: Id
    n: int
    mean: float | None
    spread: float | None
    min: float | None
    max: float | None


@dataclass(frozen=True)
class CandidateTotal:
    """Weighted total of one candidate (see module docstring for the definition)."""

    candidate_id: Id
    total: float | None
    total_exact: Fraction | None
    rank: int | None
    disqualified: bool
    scored_weight: float
    missing_criteria: tuple[Id, ...]


@dataclass(frozen=True)
class MatrixResult:
    """Everything the Mapping step shows for one round of scores."""

    cells: tuple[CellStats, ...]
    totals: tuple[CandidateTotal, ...]
    leaders: tuple[Id, ...]
    by_disagreement: tuple[CellStats, ...]

    @property
    def contested(self) -> bool:
        """True when two or more candidates share rank 1."""
        return len(self.leaders) > 1

    def cell(self, criterion_id: Id, candidate_id: Id) -> CellStats:
        """The cell for (criterion, candidate). Raises KeyError for unknown ids."""
        for cell in self.cells:
            if (cell.criterion_id, cell.candidate_id) == (criterion_id, candidate_id):
                return cell
        raise KeyError((criterion_id, candidate_id))

    def total_for(self, candidate_id: Id) -> CandidateTotal:
        """The total row of one candidate. Raises KeyError for an unknown id."""
        for row in self.totals:
            if row.candidate_id == candidate_id:
                return row
        raise KeyError(candidate_id)


# --------------------------------------------------------------------------- exact numbers


def _exact(value: object, what: str) -> Fraction:
    """Read a number exactly; floats through their repr so 0.1 means 1/10.

    Raises:
        MatrixError: not a finite real number (bools are refused too).
    """
    if isinstance(value, bool) or not isinstance(value, Real | Decimal):
        raise MatrixError(f"{what} must be a number, not {value!r}")
    if not math.isfinite(value):
        raise MatrixError(f"{what} must be finite, not {value!r}")
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def _sign(x: Fraction) -> int:
    return (x > 0) - (x < 0)


def _surd_sign(a: Fraction, b: Fraction, s: Fraction) -> int:
    """Exact sign of ``a + b*sqrt(s)`` (s >= 0)."""
    sa, sb = _sign(a), (_sign(b) if s else 0)
    if sb == 0:
        return sa
    if sa in (0, sb):
        return sb
    return sa * _sign(a * a - b * b * s)


def _split_square(n: int, limit: int = 1000) -> tuple[int, int]:
    """n = k*k*m with the square factors of primes below ``limit`` moved into k."""
    k, f = 1, 2
    while f < limit and f * f <= n:
        while n % (f * f) == 0:
            n, k = n // (f * f), k * f
        f += 1
    return k, n


def _rational_sqrt(x: Fraction) -> Fraction | None:
    """sqrt(x) when it is rational, else None."""
    n, d = math.isqrt(x.numerator), math.isqrt(x.denominator)
    return Fraction(n, d) if n * n == x.numerator and d * d == x.denominator else None


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Surd:
    """An exact real number ``a + b*sqrt(s)`` (a crossing point of two totals).

    Build with :meth:`of` or :meth:`make`, which keep ``b == s == 0`` for rational values.
    Comparisons (==, <, ...) with other Surds, Fractions and ints are exact.
    """

    a: Fraction
    b: Fraction = Fraction(0)
    s: Fraction = Fraction(0)

    __hash__ = None  # type: ignore[assignment]  # equal values may have different (b, s)

    @classmethod
    def of(cls, value: Fraction | int) -> Surd:
        """A rational value."""
        return cls(Fraction(value))

    @classmethod
    def make(cls, a: Fraction, b: Fraction, s: Fraction) -> Surd:
        """``a + b*sqrt(s)``: rational when sqrt(s) is, else with an integer radicand
        cleared of small square factors (so sqrt(128)/8 reads sqrt(2)).

        Raises:
            ValueError: s < 0.
        """
        if s < 0:
            raise ValueError("negative radicand")
        root = _rational_sqrt(s)
        if b == 0 or root is not None:
            return cls(a + b * (root or 0))
        outside, inside = _split_square(s.numerator * s.denominator)  # sqrt(n/d) = sqrt(nd)/d
        return cls(a, b * outside / s.denominator, Fraction(inside))

    @property
    def is_rational(self) -> bool:
        return self.b == 0

    def as_fraction(self) -> Fraction:
        """The exact value. Raises ValueError when it is irrational."""
        if not self.is_rational:
            raise ValueError(f"{self} is irrational")
        return self.a

    def _coerce(self, other: object) -> Surd | None:
        if isinstance(other, Surd):
            return other
        if isinstance(other, int | Fraction):
            return Surd.of(other)
        return None

    def __eq__(self, other: object) -> bool:
        other_surd = self._coerce(other)
        return NotImplemented if other_surd is None else _cmp(self, other_surd) == 0

    def __lt__(self, other: object) -> bool:
        other_surd = self._coerce(other)
        return NotImplemented if other_surd is None else _cmp(self, other_surd) < 0

    def __sub__(self, other: Fraction) -> Surd:
        return Surd(self.a - other, self.b, self.s)

    def __float__(self) -> float:
        return float(self.a) + float(self.b) * math.sqrt(self.s)

    def __str__(self) -> str:
        if self.is_rational:
            return str(self.a)
        factor = "" if abs(self.b) == 1 else f"{abs(self.b)}*"
        root = f"{factor}sqrt({self.s})"
        if self.a == 0:
            return root if self.b > 0 else f"-{root}"
        return f"{self.a} {'+' if self.b > 0 else '-'} {root}"


def _cmp(x: Surd, y: Surd) -> int:
    """Exact sign of x - y, also for different radicands."""
    u = x.a - y.a
    if y.b == 0:
        return _surd_sign(u, x.b, x.s)
    if x.b == 0:
        return _surd_sign(u, -y.b, y.s)
    if x.s == y.s:
        return _surd_sign(u, x.b - y.b, x.s)
    sx, sv = _surd_sign(u, x.b, x.s), -_sign(y.b)  # x - y = X + V, V = -y.b*sqrt(y.s)
    if sx == 0 or sx == sv:
        return sv if sx == 0 else sx
    gap = _surd_sign(u * u + x.b * x.b * x.s - y.b * y.b * y.s, 2 * u * x.b, x.s)
    return sx * gap  # |X| vs |V| decides between the two opposite signs


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class _Model:
    """Validated input with exact weights and the exact mean of every scored cell."""

    criteria: tuple[Id, ...]
    weights: dict[Id, Fraction]
    candidates: tuple[Id, ...]
    disqualified: frozenset[Id]
    values: dict[tuple[Id, Id], list[Fraction]]
    names: dict[Id, str] = field(default_factory=dict)
    means: dict[tuple[Id, Id], Fraction] = field(init=False)

    def __post_init__(self) -> None:
        means = {cell: Fraction(sum(v), len(v)) for cell, v in self.values.items()}
        object.__setattr__(self, "means", means)

    def mean(self, criterion_id: Id, candidate_id: Id) -> Fraction | None:
        return self.means.get((criterion_id, candidate_id))

    @property
    def eligible(self) -> tuple[Id, ...]:
        """Candidates that may be ranked (not knocked out), in input order."""
        return tuple(c for c in self.candidates if c not in self.disqualified)

    def label(self, item_id: Id) -> str:
        return self.names.get(item_id) or str(item_id)


def _model(
    criteria: Sequence[Criterion],
    candidates: Sequence[Candidate],
    scores: Iterable[Sequence[object]],
) -> _Model:
    """Validate the input and group the scores by cell.

    Raises:
        MatrixError: duplicate ids, a negative or non-numeric weight, a score for an unknown
            criterion or candidate, a value outside 1-5, or two scores of one member in a cell.
    """
    criterion_ids = _unique_ids((c.id for c in criteria), "criterion")
    candidate_ids = _unique_ids((c.id for c in candidates), "candidate")
    weights = {c.id: _weight(c) for c in criteria}
    values = _group_scores(scores, set(criterion_ids), set(candidate_ids))
    names = {c.id: c.name for c in [*criteria, *candidates] if c.name}
    knocked_out = frozenset(c.id for c in candidates if c.disqualified)
    return _Model(criterion_ids, weights, candidate_ids, knocked_out, values, names)


def _unique_ids(ids: Iterable[Id], what: str) -> tuple[Id, ...]:
    result = tuple(ids)
    if len(set(result)) != len(result):
        raise MatrixError(f"duplicate {what} id")
    return result


def _weight(criterion: Criterion) -> Fraction:
    weight = _exact(criterion.weight, f"weight of criterion {criterion.id!r}")
    if weight < 0:
        raise MatrixError(f"weight of criterion {criterion.id!r} must be >= 0")
    return weight


def _group_scores(
    scores: Iterable[Sequence[object]], criteria: set[Id], candidates: set[Id]
) -> dict[tuple[Id, Id], list[Fraction]]:
    cells: dict[tuple[Id, Id], list[Fraction]] = {}
    seen: set[tuple[Id, Id, Id]] = set()
    for entry in scores:
        member, criterion, candidate, value = _unpack(entry)
        _check_score_ids(criterion, candidate, criteria, candidates)
        if (member, criterion, candidate) in seen:
            raise MatrixError(f"member {member!r} scored {criterion!r}/{candidate!r} twice")
        seen.add((member, criterion, candidate))
        cells.setdefault((criterion, candidate), []).append(_score_value(value))
    return cells


def _unpack(entry: Sequence[object]) -> tuple[object, object, object, object]:
    if len(entry) != 4:
        raise MatrixError(f"a score is (member, criterion, candidate, value), not {entry!r}")
    member, criterion, candidate, value = entry
    return member, criterion, candidate, value


def _check_score_ids(criterion: Id, candidate: Id, criteria: set[Id], candidates: set[Id]) -> None:
    if criterion not in criteria:
        raise MatrixError(f"score for unknown criterion {criterion!r}")
    if candidate not in candidates:
        raise MatrixError(f"score for unknown candidate {candidate!r}")


def _score_value(value: object) -> Fraction:
    exact = _exact(value, "score")
    if not SCORE_MIN <= exact <= SCORE_MAX:
        raise MatrixError(f"score {value!r} is outside {SCORE_MIN}-{SCORE_MAX}")
    return exact


# --------------------------------------------------------------------------- matrix


def compute_matrix(
    criteria: Sequence[Criterion],
    candidates: Sequence[Candidate],
    scores: Iterable[Sequence[object]],
) -> MatrixResult:
    """Cell statistics, weighted totals, ranks and the disagreement order for one round.

    ``scores`` are (member_id, criterion_id, candidate_id, value) tuples of one round; the
    caller picks the round. Totals are listed best first: ranked candidates by rank (ties in
    input order), then unranked ones (no total, or disqualified) in input order.

    Raises:
        MatrixError: see :func:`_model`.
    """
    model = _model(criteria, candidates, scores)
    cells = tuple(_cell(model, crit, cand) for crit in model.criteria for cand in model.candidates)
    totals = _totals(model)
    leaders = tuple(row.candidate_id for row in totals if row.rank == 1)
    return MatrixResult(cells, totals, leaders, _by_disagreement(cells))


def _cell(model: _Model, criterion_id: Id, candidate_id: Id) -> CellStats:
    values = model.values.get((criterion_id, candidate_id), [])
    if not values:
        return CellStats(criterion_id, candidate_id, 0, None, None, None, None)
    mean = Fraction(sum(values), len(values))
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    return CellStats(
        criterion_id,
        candidate_id,
        len(values),
        float(mean),
        math.sqrt(variance),
        float(min(values)),
        float(max(values)),
    )


def _by_disagreement(cells: Sequence[CellStats]) -> tuple[CellStats, ...]:
    """Widest spread first; ties keep matrix order; unscored cells last."""
    ranked = sorted(enumerate(cells), key=lambda ic: (ic[1].n == 0, -(ic[1].spread or 0.0), ic[0]))
    return tuple(cell for _, cell in ranked)


def _exact_total(model: _Model, weights: Mapping[Id, Fraction], cand: Id) -> Fraction | None:
    """The weighted mean of the candidate's cell means, or None without scored weight."""
    pairs = [(weights[c], m) for c in model.criteria if (m := model.mean(c, cand)) is not None]
    weight = sum(w for w, _ in pairs)
    return sum(w * m for w, m in pairs) / weight if weight else None


def _totals(model: _Model) -> tuple[CandidateTotal, ...]:
    exact = {cand: _exact_total(model, model.weights, cand) for cand in model.candidates}
    ranks = _competition_ranks({c: exact[c] for c in model.eligible if exact[c] is not None})
    rows = [_total_row(model, cand, exact[cand], ranks.get(cand)) for cand in model.candidates]
    position = {cand: i for i, cand in enumerate(model.candidates)}
    rows.sort(key=lambda r: (r.rank is None, r.rank or 0, position[r.candidate_id]))
    return tuple(rows)


def _total_row(model: _Model, cand: Id, total: Fraction | None, rank: int | None) -> CandidateTotal:
    scored = [c for c in model.criteria if (c, cand) in model.values]
    missing = tuple(c for c in model.criteria if c not in scored)
    scored_weight = float(sum(model.weights[c] for c in scored))
    as_float = None if total is None else float(total)
    return CandidateTotal(
        cand, as_float, total, rank, cand in model.disqualified, scored_weight, missing
    )


def _competition_ranks(values: Mapping[Id, Fraction]) -> dict[Id, int]:
    """Standard competition ranking, highest first: 5, 5, 4 -> 1, 1, 3."""
    ordered = list(values.values())
    return {key: 1 + sum(other > value for other in ordered) for key, value in values.items()}


def _leaders_of(totals: Mapping[Id, Fraction | None]) -> tuple[Id, ...]:
    """Keys with the highest defined total, in mapping order."""
    defined = {key: value for key, value in totals.items() if value is not None}
    best = max(defined.values(), default=None)
    return tuple(key for key, value in defined.items() if value == best)


# --------------------------------------------------------------------------- sensitivity


Poly: TypeAlias = tuple[Fraction, Fraction, Fraction]  # c0 + c1*w + c2*w**2


@dataclass(frozen=True)
class _Line:
    """A total as a function of one weight w: (p0 + p1*w) / (q0 + q1*w)."""

    p0: Fraction
    p1: Fraction
    q0: Fraction
    q1: Fraction

    @property
    def defined_for_positive_w(self) -> bool:
        return self.q0 > 0 or self.q1 > 0

    def at(self, w: Fraction) -> Fraction | None:
        denominator = self.q0 + self.q1 * w
        return (self.p0 + self.p1 * w) / denominator if denominator > 0 else None


def _line(model: _Model, criterion_id: Id, cand: Id) -> _Line:
    others = [
        (model.weights[c], m)
        for c in model.criteria
        if c != criterion_id and (m := model.mean(c, cand)) is not None
    ]
    a, b = sum((w * m for w, m in others), Fraction(0)), sum((w for w, _ in others), Fraction(0))
    own = model.mean(criterion_id, cand)
    return _Line(a, Fraction(0), b, Fraction(0)) if own is None else _Line(a, own, b, Fraction(1))


def _difference(x: _Line, y: _Line) -> Poly:
    """Numerator of x(w) - y(w) over the positive denominator Qx*Qy: Px*Qy - Py*Qx."""
    return (
        x.p0 * y.q0 - y.p0 * x.q0,
        x.p0 * y.q1 + x.p1 * y.q0 - y.p0 * x.q1 - y.p1 * x.q0,
        x.p1 * y.q1 - y.p1 * x.q1,
    )


def _roots(poly: Poly) -> list[Surd]:
    """Real roots of c0 + c1*w + c2*w**2 in closed form (none when identically zero)."""
    c0, c1, c2 = poly
    if c2 == 0:
        return [] if c1 == 0 else [Surd.of(-c0 / c1)]
    disc = c1 * c1 - 4 * c2 * c0
    if disc < 0:
        return []
    centre, half = -c1 / (2 * c2), 1 / (2 * c2)
    return [Surd.make(centre, half, disc), Surd.make(centre, -half, disc)]


def _poly_sign_at(poly: Poly, x: Surd) -> int:
    """Exact sign of the polynomial at x (x*x stays in the same radicand)."""
    c0, c1, c2 = poly
    square_a, square_b = x.a * x.a + x.b * x.b * x.s, 2 * x.a * x.b
    return _surd_sign(c0 + c1 * x.a + c2 * square_a, c1 * x.b + c2 * square_b, x.s)


def _sign_just_past(poly: Poly, x: Surd, direction: int) -> int:
    """Sign of the polynomial just past x in ``direction`` (+1 up, -1 down): Taylor order."""
    _, c1, c2 = poly
    derivative, second = (c1, 2 * c2, Fraction(0)), (2 * c2, Fraction(0), Fraction(0))
    for coefficients, factor in ((poly, 1), (derivative, direction), (second, 1)):
        sign = _poly_sign_at(coefficients, x) * factor
        if sign:
            return sign
    return 0


def _leaders_just_past(lines: Mapping[Id, _Line], x: Surd, direction: int) -> tuple[Id, ...]:
    """Leaders on the open interval just past x (x >= 0, so every weight there is > 0)."""
    live = [cand for cand, line in lines.items() if line.defined_for_positive_w]
    return tuple(
        cand
        for cand in live
        if all(
            _sign_just_past(_difference(lines[cand], lines[other]), x, direction) >= 0
            for other in live
            if other != cand
        )
    )


def _leaders_at(lines: Mapping[Id, _Line], w: Fraction) -> tuple[Id, ...]:
    return _leaders_of({cand: line.at(w) for cand, line in lines.items()})


def _breakpoints(lines: Mapping[Id, _Line], start: Fraction, end: Fraction) -> list[Surd]:
    """Crossing points strictly between start and end, ordered from start towards end."""
    low, high = min(start, end), max(start, end)
    found: list[Surd] = []
    for x, y in itertools.combinations(lines.values(), 2):
        for root in _roots(_difference(x, y)):
            if low < root < high and root not in found:
                found.append(root)
    return sorted(found, reverse=end < start)


@dataclass(frozen=True)
class WeightShift:
    """The first leader change when one weight moves in one direction.

    ``new_weight_exact`` is the exact crossing point (the totals tie there); the leader just
    past it is ``new_leaders`` (more than one id = a tie: candidates whose totals move
    together, or a tie exactly at the end of the range). ``delta`` = new weight - current
    weight (signed; 0 when a contested lead is broken by any move). All None / empty when
    nothing changes within the range.
    """

    direction: str
    changes: bool
    new_weight: float | None = None
    new_weight_exact: Surd | None = None
    delta: float | None = None
    new_leaders: tuple[Id, ...] = ()


@dataclass(frozen=True)
class CriterionSensitivity:
    """How far one criterion's weight must move to change the leader, each way."""

    criterion_id: Id
    weight: float
    up: WeightShift
    down: WeightShift
    summary: str

    @property
    def smallest(self) -> WeightShift | None:
        """The change needing the smaller move (up on equal moves), or None if neither."""
        shifts = [s for s in (self.up, self.down) if s.changes]
        return min(shifts, key=lambda s: abs(s.delta or 0.0), default=None)


@dataclass(frozen=True)
class SensitivityReport:
    """Sensitivity of the current leader to every criterion weight, in criterion order."""

    leaders: tuple[Id, ...]
    contested: bool
    weight_range: tuple[float, float]
    items: tuple[CriterionSensitivity, ...]

    @property
    def most_sensitive(self) -> CriterionSensitivity | None:
        """The criterion whose smallest change is smallest (first on ties), if any."""
        changing = [item for item in self.items if item.smallest is not None]
        return min(changing, key=lambda i: abs(i.smallest.delta or 0.0), default=None)


def sensitivity(
    criteria: Sequence[Criterion],
    candidates: Sequence[Candidate],
    scores: Iterable[Sequence[object]],
    weight_range: tuple[Number, Number] = WEIGHT_RANGE,
) -> SensitivityReport:
    """For each criterion, the smallest change of its weight that changes the leader.

    Each weight is moved alone, up to ``weight_range[1]`` and down to ``weight_range[0]``;
    a weight already outside the range can only move towards it. The leader is the set of
    rank-1 candidates (disqualified ones never lead); when it is contested already, the
    smallest change is 0 in every direction that breaks the tie, and the report says who
    that direction favours. Thresholds are exact (see module docstring).

    Raises:
        MatrixError: bad input (see :func:`_model`) or a range that is not 0 <= low <= high.
    """
    model = _model(criteria, candidates, scores)
    low, high = _range(weight_range)
    leaders = _leaders_of({c: _exact_total(model, model.weights, c) for c in model.eligible})
    items = tuple(_criterion_sensitivity(model, c, leaders, low, high) for c in model.criteria)
    return SensitivityReport(leaders, len(leaders) > 1, (float(low), float(high)), items)


def _range(weight_range: tuple[Number, Number]) -> tuple[Fraction, Fraction]:
    low, high = (_exact(v, "weight range") for v in weight_range)
    if not 0 <= low <= high:
        raise MatrixError("weight range must satisfy 0 <= low <= high")
    return low, high


def _criterion_sensitivity(
    model: _Model, criterion_id: Id, leaders: tuple[Id, ...], low: Fraction, high: Fraction
) -> CriterionSensitivity:
    lines = {cand: _line(model, criterion_id, cand) for cand in model.eligible}
    w0 = model.weights[criterion_id]
    up = _first_change(lines, leaders, w0, high, 1)
    down = _first_change(lines, leaders, w0, low, -1)
    summary = _summary(model, criterion_id, leaders, (low, high), (up, down))
    return CriterionSensitivity(criterion_id, float(w0), up, down, summary)


def _first_change(
    lines: Mapping[Id, _Line], leaders: tuple[Id, ...], w0: Fraction, end: Fraction, direction: int
) -> WeightShift:
    """Walk from w0 towards end; the first point just past which the leader set differs.

    Between two crossing points the order of the totals cannot change, so it is enough to
    look just past w0 and just past every crossing point, and at the end point itself.
    """
    name = "up" if direction > 0 else "down"
    if direction * (end - w0) <= 0:
        return WeightShift(name, False)
    for point in [Surd.of(w0), *_breakpoints(lines, w0, end)]:
        after = _leaders_just_past(lines, point, direction)
        if after != leaders:
            return _shift(name, w0, point, after)
    at_end = _leaders_at(lines, end)
    return _shift(name, w0, Surd.of(end), at_end) if at_end != leaders else WeightShift(name, False)


def _shift(name: str, w0: Fraction, point: Surd, leaders: tuple[Id, ...]) -> WeightShift:
    return WeightShift(name, True, float(point), point, float(point - w0), leaders)


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _names(model: _Model, ids: Iterable[Id]) -> str:
    labels = [model.label(i) for i in ids]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _summary(
    model: _Model,
    criterion_id: Id,
    leaders: tuple[Id, ...],
    bounds: tuple[Fraction, Fraction],
    shifts: tuple[WeightShift, WeightShift],
) -> str:
    """One sentence for the UI, e.g. 'Raising Performance from 3 to 4.2 makes Flask lead.'"""
    changes = [s for s in shifts if s.changes]
    prefix = f"Leader already contested ({_names(model, leaders)}); " if len(leaders) > 1 else ""
    if not changes:
        low, high = _fmt(float(bounds[0])), _fmt(float(bounds[1]))
        return prefix + f"No change within {low}\u2013{high}."
    best = min(changes, key=lambda s: abs(s.delta or 0.0))
    verb = "Raising" if best.direction == "up" else "Lowering"
    weight = float(model.weights[criterion_id])
    outcome = _outcome(model, best.new_leaders)
    target = "even slightly" if best.delta == 0 else f"to {_fmt(best.new_weight or 0.0)}"
    return prefix + f"{verb} {model.label(criterion_id)} from {_fmt(weight)} {target} {outcome}."


def _outcome(model: _Model, leaders: tuple[Id, ...]) -> str:
    if not leaders:
        return "leaves no candidate with a total"
    verb = "lead" if len(leaders) == 1 else "tie for the lead"
    return f"makes {_names(model, leaders)} {verb}"


# --------------------------------------------------------------------------- stability


@dataclass(frozen=True)
class StabilityResult:
    """Share of weight perturbations (each weight -1, 0 or +1, floored at 0) keeping the leader.

    ``stable`` of ``evaluated`` perturbations give exactly the current leader set (a
    contested lead counts as kept only if the same candidates still tie). ``method`` is
    "exact" (all 3**k combinations, ``seed`` None) or "sampled" (``evaluated`` random
    combinations from ``random.Random(seed)``). ``share`` is None without a current leader.
    """

    leaders: tuple[Id, ...]
    share: float | None
    stable: int
    evaluated: int
    method: str
    seed: int | None
    summary: str


@dataclass(frozen=True)
class _Scaled:
    """The matrix in integers (weights x Dw, means x Dm) for fast exact comparisons."""

    weights: tuple[int, ...]
    step: int
    rows: dict[Id, tuple[tuple[int, int], ...]]  # candidate -> ((criterion index, mean), ...)

    def leaders(self, deltas: Sequence[int]) -> tuple[Id, ...]:
        weights = [max(0, w + d * self.step) for w, d in zip(self.weights, deltas, strict=True)]
        sums = {cand: _weighted_sum(row, weights) for cand, row in self.rows.items()}
        live = {cand: (num, den) for cand, (num, den) in sums.items() if den > 0}
        if not live:
            return ()
        best_num, best_den = max(live.values(), key=functools.cmp_to_key(_cmp_ratio))
        return tuple(c for c, (num, den) in live.items() if num * best_den == best_num * den)


def _weighted_sum(row: Iterable[tuple[int, int]], weights: Sequence[int]) -> tuple[int, int]:
    num = den = 0
    for index, mean in row:
        num += weights[index] * mean
        den += weights[index]
    return num, den


def _cmp_ratio(x: tuple[int, int], y: tuple[int, int]) -> int:
    left, right = x[0] * y[1], y[0] * x[1]
    return (left > right) - (left < right)


def _scaled(model: _Model) -> _Scaled:
    means = model.means
    dw = math.lcm(1, *(w.denominator for w in model.weights.values()))
    dm = math.lcm(1, *(m.denominator for m in means.values()))
    weights = tuple(int(model.weights[c] * dw) for c in model.criteria)
    rows = {
        cand: tuple(
            (i, int(means[(crit, cand)] * dm))
            for i, crit in enumerate(model.criteria)
            if (crit, cand) in means
        )
        for cand in model.eligible
    }
    return _Scaled(weights, dw, rows)


def perturbation_stability(
    criteria: Sequence[Criterion],
    candidates: Sequence[Candidate],
    scores: Iterable[Sequence[object]],
    *,
    exact_limit: int = EXACT_LIMIT,
    samples: int = DEFAULT_SAMPLES,
    seed: int = DEFAULT_SEED,
) -> StabilityResult:
    """How often the leader survives small weight changes (robustness of the ranking).

    Every weight moves independently by -1, 0 or +1 (never below 0). All 3**k combinations
    are tried when 3**k <= ``exact_limit``; otherwise ``samples`` combinations are drawn
    from ``random.Random(seed)``, so the same input always gives the same share.

    Raises:
        MatrixError: bad input (see :func:`_model`) or ``samples`` < 1.
    """
    if samples < 1:
        raise MatrixError("samples must be at least 1")
    model = _model(criteria, candidates, scores)
    scaled = _scaled(model)
    leaders = scaled.leaders([0] * len(model.criteria))
    k = len(model.criteria)
    exact = 3**k <= exact_limit
    combos = _all_deltas(k) if exact else _sampled_deltas(k, samples, seed)
    evaluated, stable = _count_stable(scaled, leaders, combos)
    return _stability_result(model, leaders, stable, evaluated, None if exact else seed)


def _all_deltas(k: int) -> Iterator[tuple[int, ...]]:
    return itertools.product((-1, 0, 1), repeat=k)


def _sampled_deltas(k: int, samples: int, seed: int) -> Iterator[tuple[int, ...]]:
    rng = random.Random(seed)
    return (tuple(rng.randrange(3) - 1 for _ in range(k)) for _ in range(samples))


def _count_stable(
    scaled: _Scaled, leaders: tuple[Id, ...], combos: Iterable[Sequence[int]]
) -> tuple[int, int]:
    evaluated = stable = 0
    for deltas in combos:
        evaluated += 1
        stable += scaled.leaders(deltas) == leaders
    return evaluated, stable


def _stability_result(
    model: _Model, leaders: tuple[Id, ...], stable: int, evaluated: int, seed: int | None
) -> StabilityResult:
    method = "exact" if seed is None else "sampled"
    if not leaders:
        return StabilityResult((), None, 0, evaluated, method, seed, "No candidate leads yet.")
    share = stable / evaluated
    how = f"all {evaluated}" if seed is None else f"{evaluated} random (seed {seed})"
    summary = (
        f"{_names(model, leaders)} stays first under {share:.0%} of {how} weight "
        f"perturbations (each weight \u00b11)."
    )
    return StabilityResult(leaders, share, stable, evaluated, method, seed, summary)


__all__ = [
    "Candidate",
    "CandidateTotal",
    "CellStats",
    "Criterion",
    "CriterionSensitivity",
    "MatrixError",
    "MatrixResult",
    "ScoreEntry",
    "SensitivityReport",
    "StabilityResult",
    "Surd",
    "WeightShift",
    "compute_matrix",
    "perturbation_stability",
    "sensitivity",
]
