"""Pure decision analysis: checklist suggestions, the weighted matrix and vote counting.

Nothing in this package imports Flask or SQLAlchemy. Every function takes plain data
(dataclasses, tuples, dicts of ids) and returns frozen dataclasses, so the service layer can
call it inside a request and the tests can check it against hand-computed examples.

Modules:
    checklist  -- decision checklist questions and candidate suggestions
    matrix     -- criteria x candidates matrix, weighted totals, sensitivity, stability
    voting     -- ballot validation, single/approval/score/ranked counting, quorum
"""
