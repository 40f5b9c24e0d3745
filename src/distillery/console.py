"""Progress reporting: the library reports through a Console; it never prints.

The CLI passes a Rich console (progress bars on a terminal) or a silent one (`--json`);
library callers get the silent one unless they pass their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class Task(Protocol):
    """A unit of progress: call `advance` as work is done."""

    def advance(self, amount: float = 1) -> None:
        """Record `amount` more units done."""


class Console(Protocol):
    """Where long operations report progress and notes."""

    def task(self, description: str, total: float | None = None) -> Any:
        """A context manager yielding a Task for one long step."""

    def note(self, message: str) -> None:
        """A line of information for a person watching."""


class _NoTask:
    def advance(self, amount: float = 1) -> None:
        pass


class SilentConsole:
    """Reports nothing: the default in the library."""

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[Task]:
        yield _NoTask()

    def note(self, message: str) -> None:
        pass
