"""Checklist suggestions: every rule of the guide, combinations, unanswered, custom lists."""

import pytest

from app.analysis.checklist import (
    FRAMEWORK_CHECKLIST,
    ChecklistError,
    Question,
    Rule,
    question_to_data,
    questions_from_data,
    suggest,
    validate_checklist,
)

ALL = ["Django", "Flask", "FastAPI"]


def support(answers, names=ALL, questions=FRAMEWORK_CHECKLIST):
    """{candidate: support} in the returned order (dicts keep order)."""
    return {s.candidate: s.support for s in suggest(questions, answers, names)}


def test_keys_are_stable_and_in_guide_order():
    assert [q.key for q in FRAMEWORK_CHECKLIST] == [
        "api_first",
        "admin_panel",
        "realtime",
        "async_team",
        "integrations",
        "rapid_prototyping",
        "high_traffic",
        "serverless",
    ]
    validate_checklist(FRAMEWORK_CHECKLIST)


@pytest.mark.parametrize(
    ("key", "answer", "expected"),
    [
        ("api_first", True, {"Flask": 1, "FastAPI": 1}),
        ("admin_panel", True, {"Django": 1}),
        ("realtime", True, {"FastAPI": 1}),
        ("async_team", True, {"FastAPI": 1}),
        ("async_team", False, {"Django": 1, "Flask": 1}),
        ("integrations", True, {"Django": 1}),
        ("rapid_prototyping", True, {"Django": 1, "Flask": 1}),
        ("high_traffic", True, {"FastAPI": 1}),
        ("serverless", True, {"Flask": 1, "FastAPI": 1}),
    ],
)
def test_each_rule_of_the_guide(key, answer, expected):
    assert support({key: answer}) == expected


@pytest.mark.parametrize(
    "key",
    [
        "api_first",
        "admin_panel",
        "realtime",
        "integrations",
        "rapid_prototyping",
        "high_traffic",
        "serverless",
    ],
)
def test_no_answer_suggests_nothing_where_the_guide_is_silent(key):
    assert suggest(FRAMEWORK_CHECKLIST, {key: False}, ALL) == []


def test_combination_counts_support_and_orders_best_first():
    answers = {
        "api_first": True,  # FastAPI, Flask
        "realtime": True,  # FastAPI
        "async_team": True,  # FastAPI
        "high_traffic": True,  # FastAPI
        "admin_panel": False,  # nothing
    }
    result = suggest(FRAMEWORK_CHECKLIST, answers, ALL)
    assert [(s.candidate, s.support) for s in result] == [("FastAPI", 4), ("Flask", 1)]
    assert result[0].question_keys == ("api_first", "realtime", "async_team", "high_traffic")
    assert len(result[0].reasons) == 4
    assert result[1].reasons == (FRAMEWORK_CHECKLIST[0].rules[0].reason,)


def test_django_leaning_answers():
    answers = {
        "admin_panel": True,
        "integrations": True,
        "async_team": False,
        "rapid_prototyping": True,
    }
    assert support(answers) == {"Django": 4, "Flask": 2}


def test_equal_support_keeps_the_review_candidate_order():
    answers = {"admin_panel": True, "realtime": True}  # Django 1, FastAPI 1
    assert list(support(answers, ["FastAPI", "Flask", "Django"])) == ["FastAPI", "Django"]
    assert list(support(answers, ["Django", "Flask", "FastAPI"])) == ["Django", "FastAPI"]


def test_unanswered_questions_suggest_nothing():
    assert suggest(FRAMEWORK_CHECKLIST, {}, ALL) == []
    assert suggest(FRAMEWORK_CHECKLIST, dict.fromkeys(ALL), ALL) == []
    all_none = {q.key: None for q in FRAMEWORK_CHECKLIST}
    assert suggest(FRAMEWORK_CHECKLIST, all_none, ALL) == []
    assert support({"realtime": None, "admin_panel": True}) == {"Django": 1}


def test_empty_checklist_gives_no_suggestions():
    assert suggest([], {"api_first": True}, ALL) == []


def test_only_candidates_in_the_review_and_case_insensitive():
    names = ["  flask", "Litestar", "DJANGO"]
    result = suggest(FRAMEWORK_CHECKLIST, {"api_first": True, "admin_panel": True}, names)
    assert [(s.candidate, s.support) for s in result] == [("  flask", 1), ("DJANGO", 1)]
    assert suggest(FRAMEWORK_CHECKLIST, {"realtime": True}, ["Flask", "Django"]) == []
    assert suggest(FRAMEWORK_CHECKLIST, {"api_first": True}, []) == []


def test_non_bool_answer_is_rejected():
    with pytest.raises(ChecklistError, match="api_first"):
        suggest(FRAMEWORK_CHECKLIST, {"api_first": "yes"}, ALL)


def test_custom_checklist_for_a_blank_review_round_trips_through_data():
    data = [
        {
            "key": "sql",
            "text": "Relational data?",
            "rules": [
                {"answer": True, "candidates": ["PostgreSQL"], "reason": "Joins."},
                {"answer": False, "candidates": ["MongoDB"], "reason": "Documents."},
            ],
        },
        {"key": "ops", "text": "No ops team?", "rules": []},
    ]
    questions = questions_from_data(data)
    assert [question_to_data(q) for q in questions] == data
    names = ["MongoDB", "PostgreSQL"]
    assert support({"sql": False, "ops": True}, names, questions) == {"MongoDB": 1}
    assert support({"sql": True}, names, questions) == {"PostgreSQL": 1}


def test_framework_checklist_survives_a_round_trip():
    data = [question_to_data(q) for q in FRAMEWORK_CHECKLIST]
    assert tuple(questions_from_data(data)) == FRAMEWORK_CHECKLIST


@pytest.mark.parametrize(
    ("questions", "message"),
    [
        ([Question("a", "A?"), Question("a", "Again?")], "duplicate"),
        ([Question("", "A?")], "key and a text"),
        ([Question("a", " ")], "key and a text"),
        ([Question("a", "A?", (Rule(True, ("X",), "x"), Rule(True, ("Y",), "y")))], "two rules"),
    ],
)
def test_invalid_checklists(questions, message):
    with pytest.raises(ChecklistError, match=message):
        validate_checklist(questions)
    with pytest.raises(ChecklistError, match=message):
        suggest(questions, {}, ALL)


@pytest.mark.parametrize(
    "data",
    [
        [{"text": "no key"}],
        [{"key": "a", "text": "A?", "rules": [{"answer": "yes", "candidates": []}]}],
        [{"key": "a", "text": "A?", "rules": [{"answer": True, "candidates": "Flask"}]}],
        [{"key": "a", "text": "A?", "rules": [{"candidates": ["Flask"]}]}],
        [{"key": "a", "text": "A?"}, {"key": "a", "text": "B?"}],
    ],
)
def test_malformed_stored_checklists(data):
    with pytest.raises(ChecklistError):
        questions_from_data(data)
