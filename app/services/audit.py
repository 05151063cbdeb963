"""The audit log: who did what, when. Callers add events inside their own transaction."""

from app.extensions import db
from app.models import AuditEvent


def record(action: str, *, actor=None, team_id=None, review_id=None, ip=None, **detail) -> None:
    """Add an audit event to the current session; the calling service commits it."""
    db.session.add(
        AuditEvent(
            action=action,
            actor_id=getattr(actor, "id", None),
            team_id=team_id,
            review_id=review_id,
            ip=ip,
            detail=detail,
        )
    )


def events_for_team(team_id: int, limit: int = 50) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            db.select(AuditEvent)
            .where(AuditEvent.team_id == team_id)
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
    )
