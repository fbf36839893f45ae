"""The one error hierarchy of engage: stable codes safe to show clients, and whether to retry."""

from __future__ import annotations


class EngageError(Exception):
    """Base of every domain error; ``code`` is stable and safe to send to a client."""

    code = "internal"
    http_status = 500
    retriable = False

    def __init__(self, message: str | None = None, **details: object) -> None:
        super().__init__(message or self.default_message())
        self.message = message or self.default_message()
        self.details = details

    @classmethod
    def default_message(cls) -> str:
        return (cls.__doc__ or cls.code).strip().splitlines()[0]

    def to_ack(self) -> dict[str, object]:
        body: dict[str, object] = {"ok": False, "code": self.code, "message": self.message}
        if self.details:
            body.update(self.details)
        return body


class InvalidPayload(EngageError):
    """The payload does not match the event's schema."""

    code = "invalid_payload"
    http_status = 400


class PayloadTooLarge(EngageError):
    """The payload is larger than this event allows."""

    code = "too_large"
    http_status = 413


class UnknownEvent(EngageError):
    """No such event in this namespace."""

    code = "unknown_event"
    http_status = 404


class ReservedEvent(EngageError):
    """This event name is reserved and cannot be sent by a client."""

    code = "reserved_event"
    http_status = 400


class NotAuthenticated(EngageError):
    """Sign in first."""

    code = "unauthenticated"
    http_status = 401


class Forbidden(EngageError):
    """Your role does not allow this."""

    code = "forbidden"
    http_status = 403


class RateLimited(EngageError):
    """Too many requests; slow down."""

    code = "rate_limited"
    http_status = 429
    retriable = True


class TooManySockets(EngageError):
    """This visitor has too many connections open; close a tab and try again."""

    code = "too_many_sockets"
    http_status = 429
    retriable = True


class InteractionOpen(EngageError):
    """You already have a conversation in progress."""

    code = "interaction_open"
    http_status = 409


class QueueNotOffered(EngageError):
    """This site does not offer that queue."""

    code = "queue_not_offered"
    http_status = 403


class LoginThrottled(EngageError):
    """Too many failed sign-ins; try again later."""

    code = "login_throttled"
    http_status = 429
    retriable = True


class BadCredentials(EngageError):
    """Wrong username or password."""

    code = "bad_credentials"
    http_status = 401


class OriginNotAllowed(EngageError):
    """This origin is not on the site's allow-list."""

    code = "origin_not_allowed"
    http_status = 403


class NotFound(EngageError):
    """No such object."""

    code = "not_found"
    http_status = 404


class UnsupportedType(EngageError):
    """This kind of file is not accepted."""

    code = "unsupported_type"
    http_status = 415


class Conflict(EngageError):
    """The object changed or already exists."""

    code = "conflict"
    http_status = 409
