"""Shared column helpers."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Timezone-aware now; used as a callable default, never evaluated at import time."""
    return datetime.now(UTC)
