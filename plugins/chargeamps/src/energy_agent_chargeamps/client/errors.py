"""The Charge Amps client's exceptions, and the one place that turns them into the agent's `DeviceError`s.

Every message is built by the client from the method, the path, the status and a short reason (the cloud's
error code, when it sent one that looks like a code): never from the body of an answer, which some clouds use
to echo the request, credentials included. The cloud's own error text is kept apart in
`ChargeAmpsRequestError.vendor_message`, scrubbed of the account's secrets in every form they may take there
(raw, JSON-escaped, URL-encoded) and cut short.
"""

from __future__ import annotations

from energy_agent.api import (
    DeviceAuthError,
    DeviceError,
    DeviceRejectedError,
    DeviceTimeoutError,
    DeviceUnavailableError,
)


class ChargeAmpsError(Exception):
    """Base of every error the Charge Amps client raises; the message never holds a password, token or api key."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        """HTTP status of the reply, when there was one."""


class ChargeAmpsConnectionError(ChargeAmpsError):
    """The cloud could not be reached or dropped the connection."""


class ChargeAmpsTimeoutError(ChargeAmpsConnectionError):
    """The cloud did not answer within the client's `timeout_s`."""


class ChargeAmpsAuthError(ChargeAmpsError):
    """The credentials or the token were refused (401, 403), or a fresh token was refused again."""

    login_refused: bool = False
    """True when the login itself was refused: the credentials are wrong (or the account is locked)."""


class ChargeAmpsRateLimitError(ChargeAmpsError):
    """The cloud answered 429; `retry_after_s` is its Retry-After hint, if it gave one."""

    def __init__(self, message: str, *, status: int | None = 429, retry_after_s: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after_s = retry_after_s


class ChargeAmpsServerError(ChargeAmpsError):
    """The cloud answered with a 5xx status."""


class ChargeAmpsResponseError(ChargeAmpsError):
    """A successful reply whose body is malformed or not the expected shape."""


class ChargeAmpsRequestError(ChargeAmpsError):
    """The cloud refused the request with a 4xx other than 401/403/429; carries its error code and message."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        vendor_code: str | None = None,
        vendor_message: str | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.vendor_code = vendor_code
        """The cloud's error code, e.g. `SCHEDULE_INVALID_DATA`."""
        self.vendor_message = vendor_message
        """The cloud's human-readable reason, scrubbed of secrets and cut short; not part of the message."""


def to_device_error(exc: ChargeAmpsError) -> DeviceError:
    """Translate a client error into the agent's hierarchy; the caller raises it `from exc`."""
    message = f"Charge Amps: {exc.message}"
    if isinstance(exc, ChargeAmpsTimeoutError):
        return DeviceTimeoutError(message)  # the cloud may still have taken the write: the core reads it back
    if isinstance(exc, ChargeAmpsConnectionError | ChargeAmpsRateLimitError | ChargeAmpsServerError):
        return DeviceUnavailableError(message)
    if isinstance(exc, ChargeAmpsAuthError):
        return DeviceAuthError(message)
    if isinstance(exc, ChargeAmpsRequestError):
        return DeviceRejectedError(message)
    return DeviceError(message)
