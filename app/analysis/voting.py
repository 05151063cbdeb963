"""Vote counting: ballot validation, four counting methods, a Condorcet check and quorum.

Ballot payloads (``validate_ballot`` returns them normalized):

* ``single``   -- one candidate id. Plurality: most votes wins.
* ``approval`` -- a list/tuple/set of candidate ids (any number, also none). Most approvals wins.
* ``score``    -- a mapping {candidate id: whole number 0-5}; candidates left out (or None) are
  unscored and do not enter that candidate's mean. Ranking: total points, then mean.
* ``ranked``   -- a preference order: a list of ids (most preferred first; trailing None
  entries are ignored) or a mapping {candidate id: rank 1..k}. It must rank at least one
  candidate, each at most once, without gaps ("a permutation of a prefix").

Ranked ballots are counted by instant-runoff (IRV) with every round recorded. A candidate
wins with more than half of the continuing (non-exhausted) ballots. Each round eliminates one
candidate with the fewest votes. Ties for elimination are broken, in this order, by:

1. **previous rounds** (backwards): fewest votes in the latest earlier round that separates
   the tied candidates. Round 1 counts are the first preferences, so "fewer first preferences"
   is the last step of this rule;
2. **Borda score** over the full ballots (a rank-p of n candidates earns n - p points): lowest
   is eliminated;
3. **candidate order**: the candidate listed last is eliminated. This is arbitrary, and the
   round's note says so.

No tie-break ever picks the winner: when all remaining candidates have the same number of
votes the count stops and reports a tie (several winners).

Winners are always a tuple (ties are possible; empty when nothing was counted).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple, TypeAlias

Id: TypeAlias = Hashable

METHODS = ("single", "approval", "score", "ranked")
SCORE_MIN = 0
SCORE_MAX = 5
VOTING_ROLES = ("owner", "facilitator", "member")
ROLES = (*VOTING_ROLES, "observer")


class BallotError(ValueError):
    """A ballot does not fit its method or the candidates (the message says why)."""


class QuorumError(ValueError):
    """A quorum rule or role count is malformed."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class TallyRow:
    """One candidate's line in a result.

    ``votes`` is what the method counts: votes (single), approvals (approval), total points
    (score) or first preferences (ranked). ``share`` = votes / ballots counted (None for
    score or without ballots). ``mean`` is the mean score over the ballots that scored the
    candidate (score only). ``mentions`` = ballots that name the candidate at all.
    ``rank`` is a competition rank (ties share it); for ranked ballots it is the IRV
    finishing order. ``eliminated_in`` is the IRV round that eliminated the candidate.
    """

    candidate_id: Id
    votes: int
    share: float | None
    mean: float | None
    mentions: int
    rank: int
    eliminated_in: int | None = None


@dataclass(frozen=True)
class IrvRound:
    """One instant-runoff round.

    ``counts`` holds the remaining candidates (candidate order); ``continuing`` ballots count
    for one of them, ``exhausted`` ones rank none of them. ``majority`` is the number of
    votes that wins (more than half of ``continuing``). ``tie_break`` names the rule that
    chose ``eliminated`` when several candidates tied for fewest votes, else None.
    """

    number: int
    counts: dict[Id, int]
    continuing: int
    exhausted: int
    majority: int
    elected: tuple[Id, ...]
    eliminated: Id | None
    tie_break: str | None
    note: str


@dataclass(frozen=True)
class CondorcetResult:
    """Head-to-head comparison from the ranked ballots.

    ``pairwise[a][b]`` = ballots ranking a above b (a ranked candidate beats an unranked
    one). ``status`` is "winner", "tie" (no strict winner, but some candidate loses to
    nobody), "cycle" (every candidate loses to someone; ``cycle`` lists one, read
    a > b > ... > a) or "no ballots". ``agrees_with_irv`` is None without a Condorcet winner.
    """

    pairwise: dict[Id, dict[Id, int]]
    winner: Id | None
    status: str
    cycle: tuple[Id, ...]
    agrees_with_irv: bool | None
    message: str


@dataclass(frozen=True)
class Result:
    """The outcome of one vote, whatever the method."""

    method: str
    winners: tuple[Id, ...]
    tally: tuple[TallyRow, ...]
    ballots_counted: int
    summary: str
    rounds: tuple[IrvRound, ...] = ()
    condorcet: CondorcetResult | None = None


# --------------------------------------------------------------------------- validation


def validate_ballot(method: str, candidate_ids: Sequence[Id], payload: object) -> object:
    """Check one ballot and return it normalized (see the module docstring for shapes).

    Returns: single -> the id; approval -> tuple of ids in candidate order; score -> dict
    {id: int} in candidate order; ranked -> tuple of ids, most preferred first.

    Raises:
        BallotError: unknown method or candidate, empty single choice, a duplicate, a gap or
            shared rank in a ranking, an empty ranking or score sheet, a score that is not a
            whole number 0-5, or a payload of the wrong shape.
    """
    validators = {
        "single": _valid_single,
        "approval": _valid_approval,
        "score": _valid_score,
        "ranked": _valid_ranked,
    }
    if method not in validators:
        raise BallotError(f"unknown voting method {method!r}; use one of {', '.join(METHODS)}")
    return validators[method](tuple(candidate_ids), payload)


def _check_known(candidate_ids: Sequence[Id], candidate: object) -> None:
    unusable = isinstance(candidate, bool) or not isinstance(candidate, Hashable)
    if unusable or candidate not in candidate_ids:
        raise BallotError(f"unknown candidate {candidate!r}")


def _valid_single(candidate_ids: Sequence[Id], payload: object) -> Id:
    if payload is None or payload == "":
        raise BallotError("choose one candidate")
    if isinstance(payload, list | tuple | set | frozenset | dict):
        raise BallotError("a single-choice ballot names exactly one candidate")
    _check_known(candidate_ids, payload)
    return payload


def _valid_approval(candidate_ids: Sequence[Id], payload: object) -> tuple[Id, ...]:
    if isinstance(payload, str | bytes | Mapping) or not isinstance(payload, Iterable):
        raise BallotError("an approval ballot is a list of candidates")
    chosen = list(payload)
    for candidate in chosen:
        _check_known(candidate_ids, candidate)
    _check_no_duplicates(chosen, "approved")
    return tuple(c for c in candidate_ids if c in chosen)


def _check_no_duplicates(items: Sequence[Id], verb: str) -> None:
    seen: set[Id] = set()
    for item in items:
        if item in seen:
            raise BallotError(f"candidate {item!r} is {verb} twice")
        seen.add(item)


def _valid_score(candidate_ids: Sequence[Id], payload: object) -> dict[Id, int]:
    if not isinstance(payload, Mapping):
        raise BallotError("a score ballot maps candidates to scores 0-5")
    scores = {c: v for c, v in payload.items() if v is not None}
    for candidate, value in scores.items():
        _check_known(candidate_ids, candidate)
        _check_score(candidate, value)
    if not scores:
        raise BallotError("score at least one candidate")
    return {c: scores[c] for c in candidate_ids if c in scores}


def _check_score(candidate: Id, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BallotError(f"score for {candidate!r} must be a whole number 0-5, not {value!r}")
    if not SCORE_MIN <= value <= SCORE_MAX:
        raise BallotError(f"score for {candidate!r} is {value}; scores go from 0 to 5")


def _valid_ranked(candidate_ids: Sequence[Id], payload: object) -> tuple[Id, ...]:
    if isinstance(payload, Mapping):
        ranking = _ranking_from_positions(payload)
    elif isinstance(payload, list | tuple):
        ranking = _ranking_from_list(payload)
    else:
        raise BallotError("a ranked ballot is a list of candidates, most preferred first")
    if not ranking:
        raise BallotError("rank at least one candidate")
    for candidate in ranking:
        _check_known(candidate_ids, candidate)
    _check_no_duplicates(ranking, "ranked")
    return tuple(ranking)


def _ranking_from_list(payload: Sequence[object]) -> list[Id]:
    """Drop trailing blanks; a blank followed by a candidate is a gap."""
    items = list(payload)
    while items and items[-1] in (None, ""):
        items.pop()
    for position, item in enumerate(items, start=1):
        if item in (None, ""):
            raise BallotError(f"gap in the ranking: nothing at position {position}")
    return items


def _ranking_from_positions(payload: Mapping[object, object]) -> list[Id]:
    """{candidate: rank} with ranks exactly 1..k (blank ranks ignored)."""
    given = {c: r for c, r in payload.items() if r not in (None, "")}
    for candidate, rank in given.items():
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise BallotError(f"rank of {candidate!r} must be a whole number from 1, not {rank!r}")
    by_rank: dict[int, Id] = {}
    for candidate, rank in given.items():
        if rank in by_rank:
            raise BallotError(f"{by_rank[rank]!r} and {candidate!r} share rank {rank}")
        by_rank[rank] = candidate
    missing = next((r for r in range(1, len(by_rank) + 1) if r not in by_rank), None)
    if missing is not None:
        raise BallotError(f"gap in the ranking: nothing at rank {missing}")
    return [by_rank[r] for r in sorted(by_rank)]


def _validate_all(method: str, candidate_ids: Sequence[Id], ballots: Iterable[object]) -> list:
    """Validate every ballot, naming the failing one (1-based) in the message."""
    valid = []
    for number, ballot in enumerate(ballots, start=1):
        try:
            valid.append(validate_ballot(method, candidate_ids, ballot))
        except BallotError as exc:
            raise BallotError(f"ballot {number}: {exc}") from exc
    return valid


# --------------------------------------------------------------------------- helpers


def _label(names: Mapping[Id, str] | None, candidate: Id) -> str:
    return (names or {}).get(candidate) or str(candidate)


def _join(names: Mapping[Id, str] | None, candidates: Sequence[Id]) -> str:
    labels = [_label(names, c) for c in candidates]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _competition_ranks(keys: Mapping[Id, tuple]) -> dict[Id, int]:
    """Rank 1 = smallest key; equal keys share a rank (1, 1, 3)."""
    values = list(keys.values())
    return {c: 1 + sum(other < key for other in values) for c, key in keys.items()}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _share(votes: int, ballots: int) -> float | None:
    return votes / ballots if ballots else None


# --------------------------------------------------------------------------- counting


def count_votes(
    method: str,
    candidate_ids: Sequence[Id],
    ballots: Iterable[object],
    names: Mapping[Id, str] | None = None,
) -> Result:
    """Validate and count the ballots of one vote with the given method.

    ``names`` (id -> display name) is used only for the summary sentence and notes.

    Raises:
        BallotError: an unknown method, duplicate candidate ids, or an invalid ballot
            (the message starts with "ballot N:").
    """
    counters = {
        "single": count_single,
        "approval": count_approval,
        "score": count_score,
        "ranked": count_ranked,
    }
    if method not in counters:
        raise BallotError(f"unknown voting method {method!r}; use one of {', '.join(METHODS)}")
    return counters[method](candidate_ids, ballots, names)


def _check_candidates(candidate_ids: Sequence[Id]) -> tuple[Id, ...]:
    ids = tuple(candidate_ids)
    if len(set(ids)) != len(ids):
        raise BallotError("duplicate candidate ids")
    return ids


def count_single(
    candidate_ids: Sequence[Id], ballots: Iterable[object], names: Mapping[Id, str] | None = None
) -> Result:
    """Plurality: each ballot is one vote for one candidate. Raises BallotError."""
    ids = _check_candidates(candidate_ids)
    valid = _validate_all("single", ids, ballots)
    votes = {c: sum(1 for b in valid if b == c) for c in ids}
    return _plurality_result("single", ids, votes, len(valid), names, "vote")


def count_approval(
    candidate_ids: Sequence[Id], ballots: Iterable[object], names: Mapping[Id, str] | None = None
) -> Result:
    """Approval: each ballot approves any number of candidates. Raises BallotError."""
    ids = _check_candidates(candidate_ids)
    valid = _validate_all("approval", ids, ballots)
    votes = {c: sum(1 for b in valid if c in b) for c in ids}
    return _plurality_result("approval", ids, votes, len(valid), names, "approval")


def _plurality_result(
    method: str,
    ids: Sequence[Id],
    votes: Mapping[Id, int],
    counted: int,
    names: Mapping[Id, str] | None,
    unit: str,
) -> Result:
    ranks = _competition_ranks({c: (-votes[c],) for c in ids})
    rows = tuple(
        TallyRow(c, votes[c], _share(votes[c], counted), None, votes[c], ranks[c])
        for c in _by_rank(ids, ranks)
    )
    top = max(votes.values(), default=0)
    winners = tuple(c for c in ids if top > 0 and votes[c] == top)
    return Result(
        method, winners, rows, counted, _plurality_summary(winners, top, counted, names, unit)
    )


def _by_rank(ids: Sequence[Id], ranks: Mapping[Id, int]) -> list[Id]:
    return sorted(ids, key=lambda c: (ranks[c], ids.index(c)))


def _plurality_summary(
    winners: Sequence[Id], top: int, counted: int, names: Mapping[Id, str] | None, unit: str
) -> str:
    if not counted:
        return "No ballots were counted."
    if not winners:
        return f"No candidate received any {unit} on {_plural(counted, 'ballot')}."
    if len(winners) > 1:
        each = _plural(top, unit)
        return f"{_join(names, winners)} tie with {each} each ({_plural(counted, 'ballot')})."
    share = f"{top / counted:.0%}"
    return f"{_label(names, winners[0])} wins with {_plural(top, unit)} of {counted} ({share})."


def count_score(
    candidate_ids: Sequence[Id], ballots: Iterable[object], names: Mapping[Id, str] | None = None
) -> Result:
    """Score voting: highest total wins, mean (over ballots that scored it) breaks ties.

    Unscored candidates rank below any scored one with the same total. Raises BallotError.
    """
    ids = _check_candidates(candidate_ids)
    valid = _validate_all("score", ids, ballots)
    given = {c: [b[c] for b in valid if c in b] for c in ids}
    means = {c: Fraction(sum(v), len(v)) if v else None for c, v in given.items()}
    keys = {c: (-sum(given[c]), -(means[c] if means[c] is not None else Fraction(-1))) for c in ids}
    ranks = _competition_ranks(keys)
    rows = tuple(_score_row(c, given[c], means[c], ranks[c]) for c in _by_rank(ids, ranks))
    winners = tuple(c for c in ids if ranks[c] == 1) if valid else ()
    return Result(
        "score", winners, rows, len(valid), _score_summary(winners, rows, len(valid), names)
    )


def _score_row(candidate: Id, values: list[int], mean: Fraction | None, rank: int) -> TallyRow:
    return TallyRow(
        candidate, sum(values), None, None if mean is None else float(mean), len(values), rank
    )


def _score_summary(
    winners: Sequence[Id], rows: Sequence[TallyRow], counted: int, names: Mapping[Id, str] | None
) -> str:
    if not counted:
        return "No ballots were counted."
    best = rows[0]
    mean = f"mean {best.mean:.2f}" if best.mean is not None else "unscored"
    if len(winners) > 1:
        return f"{_join(names, winners)} tie with {_plural(best.votes, 'point')} each ({mean})."
    return (
        f"{_label(names, winners[0])} wins with {_plural(best.votes, 'point')} "
        f"({mean} from {best.mentions} of {counted} ballots)."
    )


# --------------------------------------------------------------------------- instant runoff


def count_ranked(
    candidate_ids: Sequence[Id], ballots: Iterable[object], names: Mapping[Id, str] | None = None
) -> Result:
    """Instant-runoff with every round recorded, plus a Condorcet check.

    See the module docstring for the majority and tie-break rules. Raises BallotError.
    """
    ids = _check_candidates(candidate_ids)
    valid: list[tuple[Id, ...]] = _validate_all("ranked", ids, ballots)
    rounds = _instant_runoff(ids, valid, names)
    winners = rounds[-1].elected if rounds else ()
    condorcet = condorcet_check(ids, valid, winners, names)
    rows = _ranked_rows(ids, valid, rounds)
    summary = _ranked_summary(winners, rounds, len(valid), names, condorcet)
    return Result("ranked", winners, rows, len(valid), summary, tuple(rounds), condorcet)


def _instant_runoff(
    ids: Sequence[Id], ballots: Sequence[tuple[Id, ...]], names: Mapping[Id, str] | None
) -> list[IrvRound]:
    rounds: list[IrvRound] = []
    remaining = list(ids)
    while ballots and remaining:
        current = _irv_round(len(rounds) + 1, ids, remaining, ballots, rounds, names)
        rounds.append(current)
        if current.elected:
            break
        remaining.remove(current.eliminated)
    return rounds


def _first_choices(remaining: Sequence[Id], ballots: Sequence[tuple[Id, ...]]) -> dict[Id, int]:
    counts = dict.fromkeys(remaining, 0)
    for ballot in ballots:
        choice = next((c for c in ballot if c in counts), None)
        if choice is not None:
            counts[choice] += 1
    return counts


def _irv_round(
    number: int,
    ids: Sequence[Id],
    remaining: Sequence[Id],
    ballots: Sequence[tuple[Id, ...]],
    history: Sequence[IrvRound],
    names: Mapping[Id, str] | None,
) -> IrvRound:
    counts = _first_choices(remaining, ballots)
    continuing = sum(counts.values())
    base = (number, counts, continuing, len(ballots) - continuing, continuing // 2 + 1)
    winner = next((c for c, v in counts.items() if 2 * v > continuing), None)
    if winner is not None:
        note = f"{_label(names, winner)} has a majority ({counts[winner]} of {continuing})."
        return IrvRound(*base, (winner,), None, None, note)
    if len(set(counts.values())) == 1:
        each = _plural(continuing // len(counts), "vote")
        note = f"All remaining candidates tie with {each} each; no tie-break picks a winner."
        return IrvRound(*base, tuple(remaining), None, None, note)
    loser, rule, note = _choose_elimination(ids, counts, ballots, history, names)
    return IrvRound(*base, (), loser, rule, note)


def _choose_elimination(
    ids: Sequence[Id],
    counts: Mapping[Id, int],
    ballots: Sequence[tuple[Id, ...]],
    history: Sequence[IrvRound],
    names: Mapping[Id, str] | None,
) -> tuple[Id, str | None, str]:
    """The candidate to eliminate, the tie-break rule used (or None) and the round's note."""
    fewest = min(counts.values())
    tied = [c for c, v in counts.items() if v == fewest]
    if len(tied) == 1:
        return (
            tied[0],
            None,
            f"{_label(names, tied[0])} has the fewest votes ({fewest}) and is eliminated.",
        )
    intro = f"{_join(names, tied)} tie for the fewest votes ({fewest}); "
    loser, rule, reason = _break_tie(ids, tied, ballots, history, names)
    harmless = (
        " With no votes to transfer, the order cannot change the outcome." if not fewest else ""
    )
    return loser, rule, intro + reason + harmless


def _break_tie(
    ids: Sequence[Id],
    tied: Sequence[Id],
    ballots: Sequence[tuple[Id, ...]],
    history: Sequence[IrvRound],
    names: Mapping[Id, str] | None,
) -> tuple[Id, str, str]:
    """Narrow the tied pool stage by stage; the first stage leaving one candidate decides."""
    pool = list(tied)
    for rule, values, phrase in _tie_break_stages(ids, ballots, history):
        fewest = _fewest(pool, values)
        if len(fewest) == 1:
            detail = _detail(names, pool, values)
            loser = _label(names, fewest[0])
            return fewest[0], rule, f"{loser} {phrase} ({detail}) and is eliminated."
        pool = fewest
    return pool[-1], "candidate order", _arbitrary_note(pool, names)


def _tie_break_stages(
    ids: Sequence[Id], ballots: Sequence[tuple[Id, ...]], history: Sequence[IrvRound]
) -> Iterator[tuple[str, Mapping[Id, int], str]]:
    """(rule, values, phrase): earlier rounds latest first, then Borda (computed lazily)."""
    for past in reversed(history):
        yield "previous rounds", past.counts, f"had fewer votes in round {past.number}"
    yield "borda", _borda(ids, ballots), "has the lowest Borda score"


def _arbitrary_note(pool: Sequence[Id], names: Mapping[Id, str] | None) -> str:
    return (
        f"earlier rounds and Borda scores do not separate {_join(names, pool)}, so "
        f"{_label(names, pool[-1])} is eliminated by the fixed candidate order (listed last): "
        "an arbitrary tie-break."
    )


def _fewest(pool: Sequence[Id], values: Mapping[Id, int]) -> list[Id]:
    """Members of ``pool`` with the fewest ``values``."""
    low = min(values[c] for c in pool)
    return [c for c in pool if values[c] == low]


def _detail(names: Mapping[Id, str] | None, pool: Sequence[Id], values: Mapping[Id, int]) -> str:
    return ", ".join(f"{_label(names, c)} {values[c]}" for c in pool)


def _borda(ids: Sequence[Id], ballots: Sequence[tuple[Id, ...]]) -> dict[Id, int]:
    """Borda points: rank p (1-based) of n candidates earns n - p; unranked earns 0."""
    points = dict.fromkeys(ids, 0)
    for ballot in ballots:
        for position, candidate in enumerate(ballot, start=1):
            points[candidate] += len(ids) - position
    return points


def _ranked_rows(
    ids: Sequence[Id], ballots: Sequence[tuple[Id, ...]], rounds: Sequence[IrvRound]
) -> tuple[TallyRow, ...]:
    first = _first_choices(ids, ballots)
    mentions = {c: sum(1 for b in ballots if c in b) for c in ids}
    eliminated = {r.eliminated: r.number for r in rounds if r.eliminated is not None}
    ranks = _competition_ranks({c: _finish_key(c, rounds, eliminated) for c in ids})
    return tuple(
        TallyRow(
            c,
            first[c],
            _share(first[c], len(ballots)),
            None,
            mentions[c],
            ranks[c],
            eliminated.get(c),
        )
        for c in _by_rank(ids, ranks)
    )


def _finish_key(candidate: Id, rounds: Sequence[IrvRound], eliminated: Mapping[Id, int]) -> tuple:
    """Winners first, then survivors by final votes, then later eliminations first."""
    if not rounds:
        return (0, 0)
    if candidate in rounds[-1].elected:
        return (0, 0)
    if candidate in eliminated:
        return (2, -eliminated[candidate])
    return (1, -rounds[-1].counts[candidate])


def _ranked_summary(
    winners: Sequence[Id],
    rounds: Sequence[IrvRound],
    counted: int,
    names: Mapping[Id, str] | None,
    condorcet: CondorcetResult,
) -> str:
    if not counted:
        return "No ballots were counted."
    last = rounds[-1]
    votes = last.counts[winners[0]]
    if len(winners) > 1:
        each = _plural(votes, "vote")
        text = f"{_join(names, winners)} tie in round {last.number} with {each} each."
    else:
        text = (
            f"{_label(names, winners[0])} wins in round {last.number} with {votes} of "
            f"{last.continuing} continuing ballots ({votes / last.continuing:.0%})."
        )
    return text if condorcet.agrees_with_irv is not False else f"{text} {condorcet.message}"


# --------------------------------------------------------------------------- Condorcet


def pairwise_matrix(
    ids: Sequence[Id], ballots: Sequence[tuple[Id, ...]]
) -> dict[Id, dict[Id, int]]:
    """pairwise[a][b] = ballots ranking a above b (ranked beats unranked; both unranked: none)."""
    matrix = {a: dict.fromkeys((b for b in ids if b != a), 0) for a in ids}
    for ballot in ballots:
        position = {c: i for i, c in enumerate(ballot)}
        for a in ballot:
            for b in matrix[a]:
                if position.get(b, len(ids)) > position[a]:
                    matrix[a][b] += 1
    return matrix


def condorcet_check(
    ids: Sequence[Id],
    ballots: Sequence[tuple[Id, ...]],
    irv_winners: Sequence[Id] = (),
    names: Mapping[Id, str] | None = None,
) -> CondorcetResult:
    """Condorcet winner (beats every other candidate head-to-head) or why there is none,
    and whether it agrees with the IRV winner(s). Expects validated ranked ballots."""
    matrix = pairwise_matrix(ids, ballots)
    if not ballots:
        return CondorcetResult(matrix, None, "no ballots", (), None, "No ballots were counted.")
    winner = next((a for a in ids if all(matrix[a][b] > matrix[b][a] for b in matrix[a])), None)
    if winner is not None:
        return _condorcet_winner(matrix, winner, tuple(irv_winners), names)
    return _no_condorcet_winner(ids, matrix, names)


def _no_condorcet_winner(
    ids: Sequence[Id], matrix: Mapping[Id, Mapping[Id, int]], names: Mapping[Id, str] | None
) -> CondorcetResult:
    """Without a strict winner: pairwise ties if someone is unbeaten, else a cycle exists."""
    unbeaten = [a for a in ids if all(matrix[a][b] >= matrix[b][a] for b in matrix[a])]
    if unbeaten:
        who = _join(names, unbeaten)
        message = f"No Condorcet winner: {who} lose to nobody but tie head-to-head."
        return CondorcetResult(dict(matrix), None, "tie", (), None, message)
    cycle = _find_cycle(ids, matrix)
    loop = " > ".join(_label(names, c) for c in (*cycle, cycle[0]))
    message = f"No Condorcet winner (cycle: {loop})."
    return CondorcetResult(dict(matrix), None, "cycle", cycle, None, message)


def _condorcet_winner(
    matrix: Mapping[Id, Mapping[Id, int]],
    winner: Id,
    irv_winners: tuple[Id, ...],
    names: Mapping[Id, str] | None,
) -> CondorcetResult:
    label = _label(names, winner)
    if irv_winners == (winner,):
        message = (
            f"{label} is also the Condorcet winner (beats every other candidate head-to-head)."
        )
        return CondorcetResult(dict(matrix), winner, "winner", (), True, message)
    irv = _join(names, irv_winners) if irv_winners else "nobody"
    message = (
        f"Instant-runoff elects {irv}, but {label} beats every other candidate head-to-head "
        "(Condorcet winner): the methods disagree."
    )
    return CondorcetResult(dict(matrix), winner, "winner", (), False, message)


def _find_cycle(ids: Sequence[Id], matrix: Mapping[Id, Mapping[Id, int]]) -> tuple[Id, ...]:
    """A cycle in the 'beats' relation, found depth-first in candidate order."""

    def beats(a: Id) -> list[Id]:
        return [b for b in ids if b != a and matrix[a][b] > matrix[b][a]]

    def visit(path: list[Id]) -> tuple[Id, ...] | None:
        for nxt in beats(path[-1]):
            if nxt in path:
                return tuple(path[path.index(nxt) :])
            found = visit([*path, nxt])
            if found:
                return found
        return None

    for start in ids:
        found = visit([start])
        if found:
            return found
    return ()


# --------------------------------------------------------------------------- quorum


class QuorumRule(NamedTuple):
    """``kind`` "count" (at least ``value`` ballots) or "share" (at least ``value`` of the
    eligible voters, 0-1); with ``each_role`` the rule applies to every voting role that has
    eligible members, separately."""

    kind: str
    value: float
    each_role: bool = False


@dataclass(frozen=True)
class RoleTally:
    """Ballots and eligible voters of one voting role; ``required`` only with each_role."""

    role: str
    ballots: int
    eligible: int
    required: int | None


@dataclass(frozen=True)
class QuorumStatus:
    """Whether the quorum is met, with the numbers behind it and a sentence for the UI."""

    met: bool
    ballots: int
    eligible: int
    required: int
    roles: tuple[RoleTally, ...]
    message: str


def quorum_met(
    ballots_by_role: Mapping[str, int],
    eligible_by_role: Mapping[str, int],
    rule: QuorumRule | tuple,
) -> bool:
    """True when the ballots cast meet the quorum rule. See :func:`check_quorum`."""
    return check_quorum(ballots_by_role, eligible_by_role, rule).met


def check_quorum(
    ballots_by_role: Mapping[str, int],
    eligible_by_role: Mapping[str, int],
    rule: QuorumRule | tuple,
) -> QuorumStatus:
    """Check a quorum rule; only voting roles (owner, facilitator, member) count.

    A count rule asks for at least ``value`` ballots, capped at the number of eligible
    voters (so a small team can still reach it); a share rule asks for at least
    ceil(``value`` x eligible). With no eligible voter the quorum is never met.

    Raises:
        QuorumError: unknown kind or role, a negative count, a share outside 0-1.
    """
    kind, value, each_role = _check_rule(_as_rule(rule))
    ballots, eligible = _role_counts(ballots_by_role), _role_counts(eligible_by_role)
    total_ballots, total_eligible = sum(ballots.values()), sum(eligible.values())
    if total_eligible == 0:
        return QuorumStatus(False, total_ballots, 0, 0, (), "No eligible voters.")
    if each_role:
        return _per_role_status(kind, value, ballots, eligible)
    return _total_status(kind, value, ballots, eligible)


def _total_status(
    kind: str, value: Fraction, ballots: Mapping[str, int], eligible: Mapping[str, int]
) -> QuorumStatus:
    total, voters = sum(ballots.values()), sum(eligible.values())
    required = _required(kind, value, voters)
    roles = tuple(RoleTally(r, ballots[r], eligible[r], None) for r in VOTING_ROLES)
    met = total >= required
    state = "met" if met else "not met"
    message = f"Quorum {state}: {total} of {required} required ballots."
    return QuorumStatus(met, total, voters, required, roles, message)


def _as_rule(rule: QuorumRule | tuple) -> QuorumRule:
    try:
        return QuorumRule(*rule)
    except TypeError as exc:
        raise QuorumError("a quorum rule is (kind, value, each_role)") from exc


def _check_rule(rule: QuorumRule) -> tuple[str, Fraction, bool]:
    if rule.kind not in ("count", "share"):
        raise QuorumError(f"unknown quorum kind {rule.kind!r}; use 'count' or 'share'")
    if isinstance(rule.value, bool) or not isinstance(rule.value, int | float | Fraction | Decimal):
        raise QuorumError(f"quorum value must be a number, not {rule.value!r}")
    if not math.isfinite(rule.value):
        raise QuorumError("quorum value must be finite")
    value = Fraction(repr(rule.value)) if isinstance(rule.value, float) else Fraction(rule.value)
    if value < 0 or (rule.kind == "share" and value > 1):
        raise QuorumError("a quorum count must be >= 0 and a share between 0 and 1")
    return rule.kind, value, bool(rule.each_role)


def _role_counts(by_role: Mapping[str, int]) -> dict[str, int]:
    """Counts of the voting roles (observers dropped); unknown roles are an error."""
    for role, count in by_role.items():
        if role not in ROLES:
            raise QuorumError(f"unknown role {role!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise QuorumError(f"count for role {role!r} must be a whole number >= 0")
    return {role: by_role.get(role, 0) for role in VOTING_ROLES}


def _required(kind: str, value: Fraction, eligible: int) -> int:
    if kind == "count":
        return min(math.ceil(value), eligible)
    return math.ceil(value * eligible)


def _per_role_status(
    kind: str, value: Fraction, ballots: Mapping[str, int], eligible: Mapping[str, int]
) -> QuorumStatus:
    roles = tuple(_role_tally(r, kind, value, ballots[r], eligible[r]) for r in VOTING_ROLES)
    short = [t for t in roles if t.required is not None and t.ballots < t.required]
    required = sum(t.required or 0 for t in roles)
    missing = ", ".join(f"{t.role} {t.ballots}/{t.required}" for t in short)
    message = f"Quorum not met ({missing})." if short else "Quorum met in every role."
    total, voters = sum(ballots.values()), sum(eligible.values())
    return QuorumStatus(not short, total, voters, required, roles, message)


def _role_tally(role: str, kind: str, value: Fraction, ballots: int, eligible: int) -> RoleTally:
    """A role without eligible members is not required to vote."""
    return RoleTally(
        role, ballots, eligible, _required(kind, value, eligible) if eligible else None
    )
