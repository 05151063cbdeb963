"""Shared column helpers."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Timezone-aware now; used as a callable default, never evaluated at import time."""
    return datetime.now(UTC)


def one_of(values) -> str:
    """The SQL list of an enum's values, for CHECK (column IN (...)) constraints."""
    return ", ".join(f"'{v.value}'" for v in values)


# Every table's id is an INTEGER: 32 bits signed on PostgreSQL, which refuses a larger number
# with an error. A larger id in a URL or a payload names no row (404), checked before any query.
MAX_ID = 2**31 - 1
