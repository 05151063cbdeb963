"""Step 2: the weighted criteria × candidates matrix, blind scoring in rounds, reveal,
sensitivity, and exports. Nothing here hands out another member's score before the round is
revealed: every read goes through :func:`matrix_view`, which is blind by construction."""

from __future__ import annotations

import csv
import functools
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import NamedTuple

from sqlalchemy.exc import IntegrityError

from app import realtime
from app.analysis import matrix as matrix_math
from app.extensions import db
from app.models import Criterion, Membership, Review, Role, Score, ScoringRound, User
from app.services import audit
from app.services.errors import Conflict, Invalid, NotFound
from app.services.markdown import md_plain
from app.services.reviews import ensure_editable

MAX_CRITERIA = 30
VOTING_ROLES = (Role.MEMBER.value, Role.FACILITATOR.value, Role.OWNER.value)


# --- criteria ---------------------------------------------------------------------------

def criteria_of(review: Review) -> list[Criterion]:
    return list(db.session.scalars(db.select(Criterion).where(Criterion.review_id == review.id)
                                   .order_by(Criterion.position, Criterion.id)))


def get_criterion(review: Review, criterion_id: int) -> Criterion:
    found = db.session.get(Criterion, criterion_id)
    if found is None or found.review_id != review.id:
        raise NotFound("That criterion is not part of this review.")
    return found


def _weight(value) -> float:
    try:
        weight = float(value)
    except (TypeError, ValueError):
        raise Invalid("A weight is a number from 0 to 5.", field="weight") from None
    if not math.isfinite(weight) or not 0 <= weight <= 5:
        raise Invalid("A weight is a number from 0 to 5.", field="weight")
    return weight


def _name(review: Review, name: str, exclude: int | None = None) -> str:
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise Invalid("Name the criterion (up to 80 characters).", field="name")
    taken = {c.name.lower() for c in criteria_of(review) if c.id != exclude}
    if name.lower() in taken:
        raise Invalid(f"“{name}” is already a criterion.", field="name")
    return name


def _changed(review: Review, actor: User, action: str, **detail) -> None:
    audit.record(action, actor=actor, team_id=review.team_id, review_id=review.id, **detail)
    db.session.commit()
    realtime.push_refresh(review.id, "mapping")


def add_criterion(actor: User, review: Review, name: str, weight) -> Criterion:
    ensure_editable(review)
    existing = criteria_of(review)
    if len(existing) >= MAX_CRITERIA:
        raise Invalid(f"A matrix holds at most {MAX_CRITERIA} criteria.", field="name")
    criterion = Criterion(review_id=review.id, name=_name(review, name), weight=_weight(weight),
                          position=max((c.position for c in existing), default=-1) + 1)
    db.session.add(criterion)
    db.session.flush()
    _changed(review, actor, "criterion.added", criterion=criterion.name, weight=criterion.weight)
    return criterion


def update_criterion(actor: User, review: Review, criterion_id: int, name: str, weight) -> Criterion:
    """Rename and/or re-weight. Raises Invalid for a bad weight or a duplicate name."""
    ensure_editable(review)
    criterion = get_criterion(review, criterion_id)
    new_name, new_weight = _name(review, name, exclude=criterion.id), _weight(weight)
    before = {"name": criterion.name, "weight": criterion.weight}
    criterion.name, criterion.weight = new_name, new_weight
    _changed(review, actor, "criterion.updated", criterion_id=criterion.id, before=before,
             after={"name": new_name, "weight": new_weight})
    return criterion


def move_criterion(actor: User, review: Review, criterion_id: int, direction: str) -> None:
    ensure_editable(review)
    ordered = criteria_of(review)
    index = next((i for i, c in enumerate(ordered) if c.id == criterion_id), None)
    if index is None:
        raise NotFound("That criterion is not part of this review.")
    other = index - 1 if direction == "up" else index + 1
    if direction not in ("up", "down") or not 0 <= other < len(ordered):
        raise Invalid("It cannot move further that way.", field="direction")
    ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, criterion in enumerate(ordered):
        criterion.position = position
    _changed(review, actor, "criterion.moved", criterion_id=criterion_id, direction=direction)


def remove_criterion(actor: User, review: Review, criterion_id: int) -> None:
    ensure_editable(review)
    criterion = get_criterion(review, criterion_id)
    db.session.delete(criterion)
    _changed(review, actor, "criterion.removed", criterion=criterion.name)


# --- rounds and scores --------------------------------------------------------------------

def rounds_of(review: Review) -> list[ScoringRound]:
    return list(db.session.scalars(db.select(ScoringRound).where(ScoringRound.review_id == review.id)
                                   .order_by(ScoringRound.number)))


def current_round(review: Review) -> ScoringRound:
    """The latest round; round 1 is created the first time anyone needs it."""
    rounds = rounds_of(review)
    if rounds:
        return rounds[-1]
    first = ScoringRound(review_id=review.id, number=1)
    db.session.add(first)
    try:
        db.session.commit()
    except IntegrityError:  # created at the same moment by another request
        db.session.rollback()
        return rounds_of(review)[-1]
    return first


def voters(review: Review) -> list[User]:
    return list(db.session.scalars(
        db.select(User).join(Membership).where(Membership.team_id == review.team_id,
                                               Membership.role.in_(VOTING_ROLES))
        .order_by(User.name)))


def _scorable(review: Review) -> list:
    return [c for c in review.candidates if not c.disqualified]


def _scores(round_: ScoringRound, user_id: int | None = None) -> list[Score]:
    query = db.select(Score).where(Score.round_id == round_.id)
    if user_id is not None:
        query = query.where(Score.user_id == user_id)
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class EvidenceSource:
    """Something a score can cite: prototype notes (step 3), benchmark runs (step 4)."""

    label: str
    resolve: Callable  # (review, id) -> object or None
    options: Callable  # (review) -> [(id, label)]
    url: Callable  # (review, id) -> str


# kind ("note", "run") -> source. The owning step registers its source at import.
EVIDENCE_SOURCES: dict[str, EvidenceSource] = {}


def register_evidence(kind: str, source: EvidenceSource) -> None:
    EVIDENCE_SOURCES[kind] = source


def _evidence(review: Review, evidence: str | None) -> str | None:
    """Evidence is a reference ``note:<id>`` (or ``run:<id>``) that must belong to the review."""
    if not evidence:
        return None
    kind, _, raw = evidence.partition(":")
    source = EVIDENCE_SOURCES.get(kind)
    if source is None or not raw.isdigit() or source.resolve(review, int(raw)) is None:
        raise Invalid("Cite a prototype note or benchmark run of this review.", field="evidence")
    return f"{kind}:{int(raw)}"


def evidence_options(review: Review) -> list[tuple[str, str]]:
    return [(f"{kind}:{id_}", f"{source.label}: {label}")
            for kind, source in EVIDENCE_SOURCES.items() for id_, label in source.options(review)]


def evidence_url(review: Review, ref: str | None) -> str | None:
    kind, _, raw = (ref or "").partition(":")
    source = EVIDENCE_SOURCES.get(kind)
    return source.url(review, int(raw)) if source and raw.isdigit() else None


def score_cell(actor: User, review: Review, criterion_id: int, candidate_id: int, value,
               rationale: str = "", evidence: str | None = None) -> Score:
    """Save the actor's score for one cell of the open round (insert or update).

    Raises Conflict when the round is revealed, Invalid for a value outside 1–5, a
    disqualified candidate, a long rationale or foreign evidence, NotFound for ids of
    another review."""
    ensure_editable(review)
    criterion = get_criterion(review, criterion_id)
    candidate = next((c for c in review.candidates if c.id == candidate_id), None)
    if candidate is None:
        raise NotFound("That candidate is not part of this review.")
    if candidate.disqualified:
        raise Invalid(f"{candidate.name} is disqualified and is not scored.", field="value")
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise Invalid("A score is a whole number from 1 to 5.", field="value") from None
    if not 1 <= value <= 5:
        raise Invalid("A score is a whole number from 1 to 5.", field="value")
    rationale = (rationale or "").strip()
    if len(rationale) > 200:
        raise Invalid("Keep the rationale to one line (200 characters).", field="rationale")
    evidence = _evidence(review, evidence)
    round_ = current_round(review)
    if round_.revealed:
        raise Conflict("This round is revealed. The facilitator can start a new round to re-score.")
    score = db.session.scalar(db.select(Score).where(
        Score.round_id == round_.id, Score.user_id == actor.id, Score.criterion_id == criterion.id,
        Score.candidate_id == candidate.id)) or Score(round_id=round_.id, user_id=actor.id,
                                                      criterion_id=criterion.id, candidate_id=candidate.id)
    score.value, score.rationale, score.evidence = value, rationale, evidence
    db.session.add(score)
    try:
        db.session.commit()
    except IntegrityError:  # the same cell saved twice at once: the other write won
        db.session.rollback()
        raise Conflict("That cell was just saved from another tab; reload to see it.") from None
    realtime.push_refresh(review.id, "mapping-progress")
    return score


@dataclass
class Progress:
    finished: int
    total: int
    finished_ids: set[int] = field(default_factory=set)

    @property
    def text(self) -> str:
        return f"{self.finished} of {self.total} have scored"


def _scored_cells(round_: ScoringRound) -> list:
    """(user_id, criterion_id, candidate_id) of every score of the round: who scored what,
    never the values (one statement, no ORM objects)."""
    return list(db.session.execute(db.select(Score.user_id, Score.criterion_id, Score.candidate_id)
                                   .where(Score.round_id == round_.id)))


def progress(review: Review, round_: ScoringRound | None = None, *, criteria: list | None = None,
             people: list | None = None, scored: list | None = None) -> Progress:
    """Who has scored every cell of the round: a count only, never the scores. ``criteria``,
    ``people`` (the voters) and ``scored`` ((user, criterion, candidate) rows of the round) are
    read here unless the caller has them already."""
    round_ = round_ or current_round(review)
    criteria = criteria_of(review) if criteria is None else criteria
    cells = {(c.id, k.id) for c in criteria for k in _scorable(review)}
    people = voters(review) if people is None else people
    done: dict[int, set] = {}
    for user_id, criterion_id, candidate_id in (_scored_cells(round_) if scored is None else scored):
        done.setdefault(user_id, set()).add((criterion_id, candidate_id))
    finished = {u.id for u in people if cells and cells <= done.get(u.id, set())}
    return Progress(len(finished), len(people), finished)


def reveal(actor: User, review: Review) -> ScoringRound:
    """Reveal the current round to everyone (and freeze its weights for the history)."""
    ensure_editable(review)
    round_ = current_round(review)
    if round_.revealed:
        raise Conflict("This round is already revealed.")
    if not _scores(round_):
        raise Conflict("Nobody has scored yet; there is nothing to reveal.")
    round_.revealed_at = datetime.now(UTC)
    round_.revealed_weights = {str(c.id): c.weight for c in criteria_of(review)}
    _changed(review, actor, "mapping.revealed", round=round_.number)
    return round_


def start_new_round(actor: User, review: Review) -> ScoringRound:
    """After discussion: a fresh blind round; the revealed ones stay as history."""
    ensure_editable(review)
    round_ = current_round(review)
    if not round_.revealed:
        raise Conflict("Reveal the current round before starting a new one.")
    new = ScoringRound(review_id=review.id, number=round_.number + 1)
    db.session.add(new)
    _changed(review, actor, "mapping.round_started", round=new.number)
    return new


# --- reading the matrix (blind by construction) ------------------------------------------

@dataclass
class MatrixView:
    """Everything the mapping step shows one viewer. ``result`` and the rest of the team's
    scores are present only for a revealed round."""

    round: ScoringRound
    criteria: list
    candidates: list
    own: dict  # (criterion_id, candidate_id) -> Score of the viewer
    progress: Progress
    result: matrix_math.MatrixResult | None = None
    sensitivity: matrix_math.SensitivityReport | None = None
    stability: matrix_math.StabilityResult | None = None
    team_scores: dict = field(default_factory=dict)  # (crit, cand) -> [TeamScore]
    history: list = field(default_factory=list)  # [(round, MatrixResult)]
    people: list = field(default_factory=list)  # the voters (score authors resolve to them)

    def cell(self, criterion_id, candidate_id):
        if not self.result:
            return None
        found = self._cells.get((criterion_id, candidate_id))
        return found if found is not None else self.result.cell(criterion_id, candidate_id)

    def total(self, candidate_id):
        if not self.result:
            return None
        found = self._totals.get(candidate_id)
        return found if found is not None else self.result.total_for(candidate_id)

    @functools.cached_property
    def _cells(self) -> dict:  # the page looks up every cell: by key, not by scanning
        return {(c.criterion_id, c.candidate_id): c for c in self.result.cells}

    @functools.cached_property
    def _totals(self) -> dict:
        return {t.candidate_id: t for t in self.result.totals}


class TeamScore(NamedTuple):
    """One member's score of a revealed round, as the matrix lists it under a cell."""

    user: User
    criterion_id: int
    candidate_id: int
    value: int
    rationale: str
    evidence: str | None

    @property
    def user_id(self) -> int:
        return self.user.id


def _inputs(criteria, candidates, scores, weights=None):
    """Analysis input from score rows (anything with user_id, criterion_id, candidate_id, value)."""
    crit = [matrix_math.Criterion(c.id, (weights or {}).get(str(c.id), c.weight), c.name) for c in criteria]
    cand = [matrix_math.Candidate(c.id, c.disqualified, c.name) for c in candidates]
    crit_ids, cand_ids = {c.id for c in criteria}, {c.id for c in candidates}
    entries = [matrix_math.ScoreEntry(s.user_id, s.criterion_id, s.candidate_id, s.value)
               for s in scores if s.criterion_id in crit_ids and s.candidate_id in cand_ids]
    return crit, cand, entries


@functools.lru_cache(maxsize=128)
def _analysis(crit: tuple, cand: tuple, entries: tuple):
    """Totals, sensitivity and stability of one revealed matrix. Pure and keyed by the whole
    input, so every viewer's refresh after a reveal reuses one computation (the stability
    share alone samples 10 000 weight perturbations) and a changed weight is a new key."""
    return (matrix_math.compute_matrix(crit, cand, entries),
            matrix_math.sensitivity(crit, cand, entries),
            matrix_math.perturbation_stability(crit, cand, entries))


def analyse(crit, cand, entries) -> tuple:
    """(MatrixResult, SensitivityReport, StabilityResult) of a revealed matrix, computed once
    per distinct input (the decision draft and the record read the same cache). The analysis
    is exact (fractions), so the order of ``entries`` does not matter; they are sorted only to
    make one cache key per matrix."""
    return _analysis(tuple(crit), tuple(cand), tuple(sorted(entries)))


def analyse_scores(criteria, candidates, rows) -> tuple:
    """:func:`analyse` of score rows ``(user_id, criterion_id, candidate_id, value)`` in a
    fixed order (by score id) on these criteria (current weights) and candidates. Keyed by
    the rows themselves, so a page that shows an analysed matrix again builds no entries."""
    crit = tuple(matrix_math.Criterion(c.id, c.weight, c.name) for c in criteria)
    cand = tuple(matrix_math.Candidate(c.id, c.disqualified, c.name) for c in candidates)
    return _analysis_of_rows(crit, cand, tuple(map(tuple, rows)))


@functools.lru_cache(maxsize=128)
def _analysis_of_rows(crit: tuple, cand: tuple, rows: tuple) -> tuple:
    crit_ids, cand_ids = {c.id for c in crit}, {c.id for c in cand}
    entries = [matrix_math.ScoreEntry(*row) for row in rows if row[1] in crit_ids and row[2] in cand_ids]
    return analyse(crit, cand, entries)


@functools.lru_cache(maxsize=256)
def _round_result(crit: tuple, cand: tuple, entries: tuple) -> matrix_math.MatrixResult:
    return matrix_math.compute_matrix(crit, cand, entries)


# What the matrix reads of each score: enough for the analysis and the revealed cell lists.
_SCORE_COLUMNS = (Score.round_id, Score.user_id, Score.criterion_id, Score.candidate_id,
                  Score.value, Score.rationale, Score.evidence)
_ANALYSED_COLUMNS = itemgetter(1, 2, 3, 4)  # (user_id, criterion_id, candidate_id, value)


def _round_rows(round_ids: list[int]) -> list:
    if not round_ids:
        return []
    return list(db.session.execute(db.select(*_SCORE_COLUMNS).where(Score.round_id.in_(round_ids))
                                   .order_by(Score.id)))


def _people_by_id(people: list[User], rows) -> dict[int, User]:
    """Voters by id, plus anyone else who scored (e.g. since moved to observer): one query."""
    found = {u.id: u for u in people}
    missing = {r.user_id for r in rows} - set(found)
    if missing:
        found.update((u.id, u) for u in db.session.scalars(db.select(User).where(User.id.in_(missing))))
    return found


def matrix_view(review: Review, viewer: User) -> MatrixView:
    """The matrix for one viewer, in a fixed number of statements whatever the size of the
    team or the matrix: rounds, criteria, voters, the viewer's own scores, and one read of
    the scores of the shown round (ids only while blind) and of every earlier round."""
    rounds = rounds_of(review)
    round_ = rounds[-1] if rounds else current_round(review)
    criteria, candidates = criteria_of(review), list(review.candidates)
    people = voters(review)
    own = {(s.criterion_id, s.candidate_id): s for s in _scores(round_, viewer.id)}
    earlier = rounds[:-1]
    if round_.revealed:
        rows = _round_rows([round_.id] + [r.id for r in earlier])
        shown = [r for r in rows if r.round_id == round_.id]
        scored = [(r.user_id, r.criterion_id, r.candidate_id) for r in shown]
    else:  # blind: who scored which cell, never another member's value
        rows = _round_rows([r.id for r in earlier])
        shown, scored = [], _scored_cells(round_)
    view = MatrixView(round_, criteria, candidates, own,
                      progress(review, round_, criteria=criteria, people=people, scored=scored),
                      people=people)
    if round_.revealed and criteria:
        view.result, view.sensitivity, view.stability = analyse_scores(
            criteria, candidates, map(_ANALYSED_COLUMNS, shown))
        by_id = _people_by_id(people, shown)
        for r in shown:
            view.team_scores.setdefault((r.criterion_id, r.candidate_id), []).append(
                TeamScore(by_id[r.user_id], r.criterion_id, r.candidate_id, r.value, r.rationale,
                          r.evidence))
    for past in earlier:
        crit, cand, entries = _inputs(criteria, candidates, [r for r in rows if r.round_id == past.id],
                                      past.revealed_weights)
        if crit:
            view.history.append((past, _round_result(tuple(crit), tuple(cand), tuple(sorted(entries)))))
    return view


# --- exports -------------------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> str:
    """Spreadsheets run cells that start with = + - @ tab or CR as formulas: prefix a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _fmt(x) -> str:
    return "" if x is None else f"{x:.2f}".rstrip("0").rstrip(".")


def export_rows(view: MatrixView) -> list[list[str]]:
    """The matrix as rows: team means once revealed, otherwise only the viewer's own scores."""
    names = [c.name for c in view.candidates]
    label = "team mean (spread)" if view.result else "your score (team scores hidden until reveal)"
    rows = [["Criterion", "Weight", *names], ["", "", *[label] * len(names)]]
    for crit in view.criteria:
        cells = []
        for cand in view.candidates:
            if view.result:
                stats = view.cell(crit.id, cand.id)
                cells.append(f"{_fmt(stats.mean)} ({_fmt(stats.spread)})" if stats and stats.n else "")
            else:
                own = view.own.get((crit.id, cand.id))
                cells.append(str(own.value) if own else "")
        rows.append([crit.name, _fmt(crit.weight), *cells])
    if view.result:
        rows.append(["Weighted total", "", *[_fmt(view.total(c.id).total) if view.total(c.id) else ""
                                              for c in view.candidates]])
        rows.append(["Rank", "", *[str(view.total(c.id).rank or "—") if view.total(c.id) else ""
                                   for c in view.candidates]])
    return rows


def export_csv(view: MatrixView) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in export_rows(view):
        writer.writerow([neutralise(v) for v in row])
    return out.getvalue()


def _md_cell(value: str) -> str:
    """A cell of the Markdown matrix: one line, shown literally (no HTML, links or pipes)."""
    return md_plain(value).replace("|", "\\|")


def export_markdown(review: Review, view: MatrixView) -> str:
    rows = export_rows(view)
    lines = [f"# {md_plain(review.title)} — criteria matrix (round {view.round.number})", ""]
    if not view.result:
        lines += ["_Scores are blind until the facilitator reveals this round; this export holds "
                  "only your own scores._", ""]
    lines.append("| " + " | ".join(_md_cell(v) for v in rows[0]) + " |")
    lines.append("|" + "---|" * len(rows[0]))
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in rows[1:]]
    if view.sensitivity:
        lines += ["", "## Sensitivity", ""]
        lines += [f"- {md_plain(item.summary)}" for item in view.sensitivity.items]
        lines += ["", f"Stability: {md_plain(view.stability.summary)}"]
    return "\n".join(lines) + "\n"
