"""What each step's section needs to render, supplied by the blueprint that owns the step.

The workspace renders ``templates/reviews/steps/<step>.html`` inside its ``step_section`` block;
the step's blueprint registers a context provider here (``@provides(Step.MAPPING)``), so the
workspace route stays the one place that renders the page, the htmx partial and the refresh.
"""

from __future__ import annotations

from collections.abc import Callable

from app.models import Review, Step

Provider = Callable[[Review, object], dict]
_PROVIDERS: dict[Step, Provider] = {}


def provides(step: Step):
    """Register the context provider of a step: ``fn(review, viewer) -> dict``."""

    def decorate(fn: Provider) -> Provider:
        _PROVIDERS[step] = fn
        return fn

    return decorate


def context_for(review: Review, step: Step, viewer) -> dict:
    provider = _PROVIDERS.get(step)
    return provider(review, viewer) if provider else {}


# Live regions: name -> (step, block of templates/reviews/steps/<step>.html), or (None, block of
# templates/reviews/workspace.html) for a part of the workspace shown on every step.
_REGIONS: dict[str, tuple[Step | None, str]] = {}


def region(name: str, step: Step | None, block: str) -> None:
    """Declare a live region that ``GET /reviews/<id>/regions/<name>`` renders for its viewer."""
    _REGIONS[name] = (step, block)


def find_region(name: str) -> tuple[Step | None, str] | None:
    return _REGIONS.get(name)


def live_regions() -> dict[str, tuple[Step | None, str]]:
    """Every declared live region: name -> (step, block)."""
    return dict(_REGIONS)


class Lazy:
    """A list read on first use, at most once: for context a block may not render (the
    evidence options of the scoring form are not needed once the round is revealed)."""

    def __init__(self, load: Callable[[], object]) -> None:
        self._load, self._items = load, None

    @property
    def items(self) -> list:
        if self._items is None:
            self._items = list(self._load())
        return self._items

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]

    def __bool__(self) -> bool:
        return bool(self.items)


def is_volatile(context: dict) -> bool:
    """Whether HTML rendered from this step context depends on the clock as well as on the data,
    so that it must not be kept by the page cache (app/rendering.py): a vote's running countdown
    or its time to the deadline, and an upload being parsed (it shows as interrupted once it
    makes no progress for a while)."""
    board = context.get("board")
    if board is not None and (getattr(board, "timer_seconds", None) is not None
                              or getattr(board, "closes_in", None)):
        return True
    vote = context.get("vote")
    session = getattr(vote, "session", None)
    if session is not None and session.status == "open" and (
            session.closes_at is not None or session.timer_ends_at is not None):
        return True
    bench = context.get("bench")
    if bench is not None:
        uploads = vars(bench).get("uploads")  # only if a block read them
        if uploads and any(u.status == "parsing" for u in uploads):
            return True
    return False
