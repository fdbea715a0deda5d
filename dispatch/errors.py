"""Errors raised by the dispatch package."""

from __future__ import annotations


class DispatchError(Exception):
    """Base class of every error raised by :mod:`dispatch`."""


class UnknownRequestError(DispatchError, KeyError):
    """A request id the engine has never seen."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown request"


class DuplicateRequestError(DispatchError, ValueError):
    """A request id that is already booked."""


class UnknownVehicleError(DispatchError, KeyError):
    """A vehicle index outside the fleet."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown vehicle"


class InvalidTransitionError(DispatchError, ValueError):
    """A status change the request lifecycle does not allow (e.g. cancel after pickup)."""


class OfferExpiredError(DispatchError, ValueError):
    """An offer that can no longer be confirmed: expired or no longer fits the plans."""


class InvalidRequestError(DispatchError, ValueError):
    """A booking whose fields are inconsistent (no stop option, bad index, ...)."""


class PlanRejectedError(DispatchError, ValueError):
    """Plans that may not be adopted: a promise broken, a stop dropped or moved.

    ``problems`` lists every reason, each naming the request (or vehicle) and the
    limit; the message gives the first.
    """

    def __init__(self, msg: str, problems: list[str] | None = None) -> None:
        super().__init__(msg)
        self.problems = list(problems or [msg])


class ProfileError(DispatchError, ValueError):
    """A service profile that cannot be used: the message names the file, table and key."""
