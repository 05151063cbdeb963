"""Review templates: what a new review starts with."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReviewTemplate:
    key: str
    label: str
    description: str
    default_question: str
    candidates: tuple[tuple[str, str], ...] = ()
    optional_candidates: tuple[tuple[str, str], ...] = ()
    tags: tuple[str, ...] = field(default=())


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
)

BLANK = ReviewTemplate(
    key="blank",
    label="Blank",
    description="Any technology decision: you name the candidates.",
    default_question="",
)

TEMPLATES: dict[str, ReviewTemplate] = {t.key: t for t in (PYTHON_WEB_FRAMEWORK, BLANK)}
