"""Errors of audiences: definitions, rules, evaluation."""

from __future__ import annotations

from distillery.errors import DistilleryError, NotFoundError


class AudienceError(DistilleryError, ValueError):
    """An audience definition or request is invalid; nothing was changed."""


class RuleError(AudienceError):
    """A PQL rule cannot be parsed or does not fit the tables it reads.

    Attributes:
        position: 0-based character offset in the rule text where the problem is, if known.
    """

    def __init__(self, message: str, *, rule: str = "", position: int | None = None) -> None:
        where = ""
        if position is not None and rule:
            where = f" at column {position + 1}: {_pointer(rule, position)}"
        super().__init__(message + where)
        self.position = position


class AudienceNotFoundError(NotFoundError):
    """No audience has that name or id."""


class AudienceExpiredError(AudienceError):
    """The audience's membership is older than its explicit TTL; evaluate it again."""


class EvaluationError(DistilleryError, RuntimeError):
    """An evaluation job failed; the previous membership is unchanged."""


def _pointer(text: str, position: int) -> str:
    start = max(0, position - 20)
    snippet = text[start:position + 20]
    return ("..." if start else "") + snippet + ("..." if position + 20 < len(text) else "")
