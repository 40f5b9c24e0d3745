"""Audiences: definitions (PQL rules, SQL), evaluation jobs, membership history, reach.

    from distillery.audiences import Audiences
    audiences = Audiences(platform)
    audiences.create("likely", "_{tenant}.propensity >= 0.2", ttl_days=60)
    audiences.evaluate("likely")
"""

from distillery.audiences.errors import (
    AudienceError,
    AudienceExpiredError,
    AudienceNotFoundError,
    EvaluationError,
    RuleError,
)
from distillery.audiences.members import MEMBERSHIPS
from distillery.audiences.service import Audiences

__all__ = ["MEMBERSHIPS", "AudienceError", "AudienceExpiredError", "AudienceNotFoundError",
           "Audiences", "EvaluationError", "RuleError"]
