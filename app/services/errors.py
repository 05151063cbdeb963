"""Domain errors. One error handler (app/errors) turns each into its HTTP status."""


class DomainError(Exception):
    """Base class: ``message`` is written for the person who caused it."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(DomainError):
    status = 400
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class AuthenticationFailed(DomainError):
    status = 401
    code = "authentication_failed"
