"""The errors of model training, evaluation and the registry.

Each names what is wrong (dataset, column, option, model) so a person can fix it; each also
derives from the builtin it resembles, so callers who do not know Distillery can still catch it.
"""

from __future__ import annotations

from distillery.errors import DistilleryError, NotFoundError


class TrainingError(DistilleryError, ValueError):
    """A training set or training option cannot be used; nothing was registered."""


class LabelError(TrainingError):
    """The label column is missing, or does not hold two classes."""


class LeakageError(TrainingError):
    """A feature carries the label itself (the same expression or a one-to-one recoding)."""


class ModelNotFoundError(NotFoundError):
    """A registered model, version or alias does not exist."""


class ModelOptionError(TrainingError):
    """A model type or option (CLI, Python or SQL OPTIONS) is unknown or out of range."""


class MissingExtraError(DistilleryError, ImportError):
    """An optional library is not installed; the message names the pip extra to install."""

    def __init__(self, what: str, package: str, extra: str) -> None:
        super().__init__(f"{what} needs the optional package {package!r}: "
                         f"pip install 'distillery[{extra}]' (or pip install {package})")
        self.package = package
        self.extra = extra
