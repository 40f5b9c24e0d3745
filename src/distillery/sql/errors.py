"""Query Service errors: each a QueryError with the PostgreSQL SQLSTATE a client expects."""

from __future__ import annotations

from distillery.errors import AlreadyExistsError, QueryError


class DuplicateTableError(QueryError, AlreadyExistsError):
    """CREATE names a table or view that exists already."""

    def __init__(self, message: str) -> None:
        super().__init__(message, sqlstate="42P07")


class WrongObjectTypeError(QueryError):
    """The statement needs a table but got a view (or the other way round)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, sqlstate="42809")


class ParameterError(QueryError):
    """A `$name`, `:name` or `@variable` has no value, or a value no one asked for."""

    def __init__(self, message: str) -> None:
        super().__init__(message, sqlstate="42P02")


class SnapshotError(QueryError):
    """A SNAPSHOT clause names a snapshot the dataset does not have."""

    def __init__(self, message: str) -> None:
        super().__init__(message, sqlstate="22023")


class ColumnMismatchError(QueryError):
    """INSERT gives a different number of columns than the target takes."""

    def __init__(self, message: str) -> None:
        super().__init__(message, sqlstate="21S01")


class WriteFailedError(QueryError):
    """The rows of CREATE TABLE AS / INSERT did not fit the dataset; nothing was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message, sqlstate="22000")


class ForbiddenError(QueryError):
    """The statement tries to reach outside the sandbox's datasets (files, settings)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, sqlstate="42501")
