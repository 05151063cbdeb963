"""Shared column helpers."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Timezone-aware now; used as a callable default, never evaluated at import time."""
    return datetime.now(UTC)


def one_of(values) -> str:
    """The SQL list of an enum's values, for CHECK (column IN (...)) constraints."""
    return ", ".join(f"'{v.value}'" for v in values)
