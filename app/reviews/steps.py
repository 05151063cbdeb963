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


# Live regions: name -> (step, block of templates/reviews/steps/<step>.html).
_REGIONS: dict[str, tuple[Step, str]] = {}


def region(name: str, step: Step, block: str) -> None:
    """Declare a live region that ``GET /reviews/<id>/regions/<name>`` renders for its viewer."""
    _REGIONS[name] = (step, block)


def find_region(name: str) -> tuple[Step, str] | None:
    return _REGIONS.get(name)


def live_regions() -> dict[str, tuple[Step, str]]:
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
