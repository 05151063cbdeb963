"""Review templates: what a new review starts with."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.analysis.checklist import FRAMEWORK_CHECKLIST, Question, question_to_data


@dataclass(frozen=True)
class ReviewTemplate:
    key: str
    label: str
    description: str
    default_question: str
    candidates: tuple[tuple[str, str], ...] = ()
    optional_candidates: tuple[tuple[str, str], ...] = ()
    tags: tuple[str, ...] = field(default=())
    # (name, default weight, reference scores by candidate name from the framework guide)
    criteria: tuple[tuple[str, float, dict], ...] = ()
    checklist: tuple[Question, ...] = ()

    def checklist_data(self) -> list[dict]:
        return [question_to_data(q) for q in self.checklist]


PYTHON_WEB_FRAMEWORK = ReviewTemplate(
    key="python-web-framework",
    label="Python web framework",
    description="Django, Flask and FastAPI preloaded, with criteria from the framework guide.",
    default_question="Which Python web framework should we build this service on?",
    candidates=(
        ("Django", "Batteries-included framework with ORM, admin and auth."),
        ("Flask", "Micro-framework: small core, choose your own extensions."),
        ("FastAPI", "Async, type-hinted API framework on Starlette and Pydantic."),
    ),
    optional_candidates=(
        ("Litestar", "Async API framework with DI, DTOs and OpenAPI."),
        ("Starlette", "Lightweight ASGI toolkit underneath FastAPI."),
        ("Quart", "Flask's API on asyncio."),
        ("Pyramid", "Flexible framework that scales from small to large apps."),
        ("Tornado", "Async networking library and web framework."),
    ),
    criteria=(
        ("Development speed", 3.0, {}),
        ("Performance", 3.0, {}),
        ("Ecosystem maturity", 3.0, {}),
        ("Community support", 3.0, {}),
        ("Built-in admin panel", 3.0, {"Django": 5, "Flask": 2, "FastAPI": 1}),
        ("Real-time / WebSocket support", 3.0, {"FastAPI": 5, "Django": 3, "Flask": 2}),
        ("Async support", 3.0, {}),
        ("Learning curve", 3.0, {}),
        ("Serverless cold start", 3.0, {}),
        ("Hiring pool", 3.0, {}),
        ("Upgrade path / LTS", 3.0, {}),
    ),
    checklist=FRAMEWORK_CHECKLIST,
)

BLANK = ReviewTemplate(
    key="blank",
    label="Blank",
    description="Any technology decision: you name the candidates.",
    default_question="",
)

TEMPLATES: dict[str, ReviewTemplate] = {t.key: t for t in (PYTHON_WEB_FRAMEWORK, BLANK)}
