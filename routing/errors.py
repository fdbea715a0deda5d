"""Errors raised by the routing package."""

from __future__ import annotations


class RoutingError(Exception):
    """Base class of every error raised by :mod:`routing`."""


class ProblemError(RoutingError, ValueError):
    """An inconsistent problem: the message names the field and what is wrong."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class InstanceFormatError(RoutingError, ValueError):
    """A literature instance file that cannot be read."""


class SolverError(RoutingError, RuntimeError):
    """A solver engine failed in a way that is not a property of the problem."""
