"""The exceptions Distillery raises.

Every error derives from `DistilleryError`; concrete errors also derive from the builtin they
resemble, so `except ValueError` still works for callers who do not know Distillery. `retryable`
says whether trying the same call again can help (a lost connection can; a bad schema cannot).
"""

from __future__ import annotations


class DistilleryError(Exception):
    """Root of every error Distillery raises on purpose."""

    retryable: bool = False


class ConfigError(DistilleryError, ValueError):
    """A configuration file, environment variable or option is wrong."""


class NotFoundError(DistilleryError, LookupError):
    """A dataset, batch, schema, sandbox or other named object does not exist."""


class AlreadyExistsError(DistilleryError, ValueError):
    """An object with that name or id exists already."""


class SchemaError(DistilleryError, ValueError):
    """A schema definition is invalid, or data does not fit a schema."""


class IngestionError(DistilleryError, ValueError):
    """A batch could not be ingested; nothing was written to the dataset."""

    def __init__(self, message: str, *, batch_id: str | None = None) -> None:
        super().__init__(message)
        self.batch_id = batch_id


class BatchFailedError(IngestionError):
    """A batch failed validation above the error threshold; nothing was written."""


class QueryError(DistilleryError, ValueError):
    """A query is malformed, names an unknown object or failed in the engine."""

    def __init__(self, message: str, *, sqlstate: str = "42000") -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class UnknownTableError(QueryError, NotFoundError):
    """A query names a table that is not a dataset, view or sample."""

    def __init__(self, message: str) -> None:
        super().__init__(message, sqlstate="42P01")
