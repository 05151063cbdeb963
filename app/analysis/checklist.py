"""Decision checklist: yes/no questions whose answers suggest candidates.

The questions are data, not code: a review stores its own list (the framework checklist below
for the "Python web framework" template, an editable and possibly empty list for a "Blank"
review) and :func:`suggest` works on whatever list it is given. Candidate names in rules are
matched against the review's candidates case-insensitively, so a rule naming "FastAPI" supports
a candidate called "fastapi" and is silently ignored when the review has no such candidate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class ChecklistError(ValueError):
    """A checklist or an answer set is malformed (duplicate key, bad answer value, ...)."""


@dataclass(frozen=True)
class Rule:
    """What one answer to a question suggests: the candidates it supports and why."""

    answer: bool
    candidates: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Question:
    """One checklist question; ``rules`` hold at most one rule per answer (True / False)."""

    key: str
    text: str
    rules: tuple[Rule, ...] = ()

    def rule_for(self, answer: bool) -> Rule | None:
        """The rule that fires for ``answer``, or None when that answer suggests nothing."""
        return next((rule for rule in self.rules if rule.answer is answer), None)


@dataclass(frozen=True)
class Suggestion:
    """One suggested candidate: how many answers support it and the reasons, in question order."""

    candidate: str
    support: int
    reasons: tuple[str, ...]
    question_keys: tuple[str, ...]


def _q(key: str, text: str, *rules: tuple[bool, tuple[str, ...], str]) -> Question:
    """Shorthand used to spell out :data:`FRAMEWORK_CHECKLIST` readably."""
    return Question(key, text, tuple(Rule(a, names, reason) for a, names, reason in rules))


FRAMEWORK_CHECKLIST: tuple[Question, ...] = (
    _q(
        "api_first",
        "Is it primarily an API?",
        (
            True,
            ("FastAPI", "Flask"),
            "An API-first service fits a lean framework such as FastAPI or Flask.",
        ),
    ),
    _q(
        "admin_panel",
        "Do you need a built-in admin panel?",
        (True, ("Django",), "Django ships a ready-made admin panel."),
    ),
    _q(
        "realtime",
        "Are real-time features / WebSockets critical?",
        (True, ("FastAPI",), "FastAPI supports WebSockets natively on an async core."),
    ),
    _q(
        "async_team",
        "Is the team experienced with async Python?",
        (True, ("FastAPI",), "An async-experienced team gets the most out of FastAPI."),
        (
            False,
            ("Django", "Flask"),
            "A team new to async is productive sooner with synchronous Django or Flask.",
        ),
    ),
    _q(
        "integrations",
        "Do you need a wide range of third-party integrations?",
        (True, ("Django",), "Django has the largest ecosystem of ready-made integrations."),
    ),
    _q(
        "rapid_prototyping",
        "Is rapid prototyping the top priority?",
        (True, ("Flask", "Django"), "Flask and Django get a first prototype running fastest."),
    ),
    _q(
        "high_traffic",
        "High traffic from the start?",
        (True, ("FastAPI",), "FastAPI's async request handling suits high traffic from day one."),
    ),
    _q(
        "serverless",
        "Serverless deployment?",
        (
            True,
            ("Flask", "FastAPI"),
            "Flask and FastAPI are light enough for serverless cold starts.",
        ),
    ),
)
"""The framework checklist from the evaluation guide (stable keys; see module docstring)."""


def suggest(
    questions: Sequence[Question],
    answers: Mapping[str, bool | None],
    candidate_names: Sequence[str],
) -> list[Suggestion]:
    """Suggest candidates of the review from the checklist answers, best supported first.

    Unanswered questions (missing key or None) suggest nothing, and so does an empty
    checklist. Only candidates present in ``candidate_names`` (case-insensitive, surrounding
    whitespace ignored) are returned, spelled as the review spells them; candidates without any
    supporting answer are left out. Ties in support keep the order of ``candidate_names``.

    Raises:
        ChecklistError: duplicate question keys, or an answer that is neither bool nor None.
    """
    validate_checklist(questions)
    by_name = _index_names(candidate_names)
    support: dict[str, list[tuple[str, str]]] = {name: [] for name in candidate_names}
    for question, rule in _fired_rules(questions, answers):
        for name in _matching(rule.candidates, by_name):
            support[name].append((question.key, rule.reason))
    return _ranked(candidate_names, support)


def _index_names(candidate_names: Sequence[str]) -> dict[str, str]:
    """Map the normalized name to the review's spelling (first spelling wins on duplicates)."""
    index: dict[str, str] = {}
    for name in candidate_names:
        index.setdefault(_norm(name), name)
    return index


def _norm(name: str) -> str:
    return name.strip().casefold()


def _fired_rules(
    questions: Sequence[Question], answers: Mapping[str, bool | None]
) -> Iterable[tuple[Question, Rule]]:
    """Yield (question, rule) for every answered question whose answer has a rule."""
    for question in questions:
        answer = _answer(answers, question.key)
        rule = None if answer is None else question.rule_for(answer)
        if rule is not None:
            yield question, rule


def _answer(answers: Mapping[str, bool | None], key: str) -> bool | None:
    value = answers.get(key)
    if value is not None and not isinstance(value, bool):
        raise ChecklistError(f"answer to {key!r} must be yes, no or unanswered, not {value!r}")
    return value


def _matching(rule_names: Iterable[str], by_name: Mapping[str, str]) -> list[str]:
    """The review's candidates named by a rule, each once."""
    found = (by_name.get(_norm(name)) for name in rule_names)
    return list(dict.fromkeys(name for name in found if name is not None))


def _ranked(
    candidate_names: Sequence[str], support: Mapping[str, list[tuple[str, str]]]
) -> list[Suggestion]:
    rows = [
        Suggestion(name, len(items), tuple(r for _, r in items), tuple(k for k, _ in items))
        for name, items in support.items()
        if items
    ]
    order = {name: i for i, name in enumerate(candidate_names)}
    return sorted(rows, key=lambda row: (-row.support, order[row.candidate]))


def validate_checklist(questions: Sequence[Question]) -> None:
    """Check that a (possibly user-edited) checklist is usable.

    Raises:
        ChecklistError: an empty key or text, a duplicate key, or two rules for one answer.
    """
    seen: set[str] = set()
    for question in questions:
        if not question.key.strip() or not question.text.strip():
            raise ChecklistError("every question needs a key and a text")
        if question.key in seen:
            raise ChecklistError(f"duplicate question key {question.key!r}")
        seen.add(question.key)
        _check_rules(question)


def _check_rules(question: Question) -> None:
    answers = [rule.answer for rule in question.rules]
    if len(answers) != len(set(answers)):
        raise ChecklistError(f"question {question.key!r} has two rules for the same answer")


def question_to_data(question: Question) -> dict[str, Any]:
    """A JSON-ready dict for storing a question with a review."""
    rules = [
        {"answer": r.answer, "candidates": list(r.candidates), "reason": r.reason}
        for r in question.rules
    ]
    return {"key": question.key, "text": question.text, "rules": rules}


def questions_from_data(items: Iterable[Mapping[str, Any]]) -> list[Question]:
    """Rebuild (and validate) a checklist stored with :func:`question_to_data`.

    Raises:
        ChecklistError: a missing or mistyped field, or anything :func:`validate_checklist`
            rejects.
    """
    try:
        questions = [_question_from_data(item) for item in items]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ChecklistError(f"malformed checklist question: {exc}") from exc
    validate_checklist(questions)
    return questions


def _question_from_data(item: Mapping[str, Any]) -> Question:
    rules = tuple(_rule_from_data(rule) for rule in item.get("rules", ()))
    return Question(str(item["key"]), str(item["text"]), rules)


def _rule_from_data(item: Mapping[str, Any]) -> Rule:
    answer = item["answer"]
    if not isinstance(answer, bool):
        raise ChecklistError(f"rule answer must be true or false, not {answer!r}")
    names = item.get("candidates", ())
    if isinstance(names, str):
        raise ChecklistError("rule candidates must be a list of names")
    return Rule(answer, tuple(str(n) for n in names), str(item.get("reason", "")))
