"""The errors of identity resolution, merge policies and profile lookup."""

from __future__ import annotations

from distillery.errors import DistilleryError, NotFoundError


class ProfileError(DistilleryError, ValueError):
    """Profile fragments cannot be merged (conflicting field types, a bad source)."""


class MergePolicyError(ProfileError):
    """A merge policy is malformed, unknown, or names datasets that do not exist."""


class IdentityError(ProfileError):
    """An identity given by a person is malformed (it must be NAMESPACE:value)."""


class ProfileNotFoundError(NotFoundError):
    """No unified profile holds the identity asked for."""
