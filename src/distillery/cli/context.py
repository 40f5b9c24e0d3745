"""What every command shares: global options, the platform, output and error handling."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NoReturn

import typer
from rich.console import Console as RichTerminal
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from distillery.errors import DistilleryError
from distillery.platform import Platform

GLOBAL_FLAGS = {"--json": 0, "--debug": 0, "--home": 1, "--sandbox": 1, "--engine": 1}

out = RichTerminal(soft_wrap=True)
err = RichTerminal(stderr=True, soft_wrap=True)


class RichConsole:
    """Progress bars on stderr for a person at a terminal."""

    def __init__(self, terminal: RichTerminal) -> None:
        self.terminal = terminal

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[Any]:
        if not self.terminal.is_terminal:
            # A log file or a pipe: a bar would leave only blank lines behind.
            yield _NoBar()
            return
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.completed:,.0f}/{task.total:,.0f}" if total is not None
                                 else "{task.completed:,.0f}"),
                      TimeElapsedColumn(), console=self.terminal, transient=True) as progress:
            task_id = progress.add_task(description, total=total)

            class _Task:
                def advance(self, amount: float = 1) -> None:
                    progress.advance(task_id, amount)

            yield _Task()

    def note(self, message: str) -> None:
        # Plain text: a note such as "pip install 'distillery[shap]'" is not Rich markup.
        self.terminal.print(message, markup=False, highlight=False)


class _NoBar:
    def advance(self, amount: float = 1) -> None:
        pass


@dataclass
class State:
    """Global options and the platform they open."""

    home: str | None = None
    sandbox: str | None = None
    json: bool = False
    debug: bool = False
    engine: str | None = None
    _platform: Platform | None = field(default=None, repr=False)

    def platform(self, create: bool = True) -> Platform:
        """The platform for --home/--sandbox, opened once."""
        if self._platform is None:
            console = None if self.json else RichConsole(err)
            self._platform = Platform.open(self.home, self.sandbox, create=create,
                                           console=console, engine=self.engine)
        return self._platform

    def emit(self, data: Any, render: Callable[[], None] | None = None) -> None:
        """Print `data` as JSON with --json, else call `render` (or print it plainly)."""
        if self.json:
            sys.stdout.write(json.dumps(data, default=_jsonable, indent=2) + "\n")
        elif render is not None:
            render()
        else:
            out.print(data)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "as_py"):
        return value.as_py()
    return str(value)


def state(ctx: typer.Context) -> State:
    """The State of the running command."""
    return ctx.ensure_object(State)


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> Table:
    """A Rich table with the given columns."""
    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        # Text, not markup: values such as paths or SQL may hold square brackets.
        t.add_row(*(Text("" if v is None else str(v)) for v in r))
    return t


def parse_as_of(text: str | None, option: str = "--as-of") -> datetime | None:
    """A date or ISO time given on the command line (None when not given)."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} must be a date or ISO time, got {text!r}")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error and exit."""
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def hoist_globals(argv: list[str]) -> list[str]:
    """Move global options to the front, so they work after the command name too."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name = arg.split("=", 1)[0]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if name in GLOBAL_FLAGS:
            width = GLOBAL_FLAGS[name] if "=" not in arg else 0
            front.extend(argv[i:i + 1 + width])
            i += 1 + width
            continue
        rest.append(arg)
        i += 1
    return front + rest


def run_guarded(app: typer.Typer, argv: list[str]) -> None:
    """Run the app; a DistilleryError becomes one line on stderr and exit code 1."""
    argv = hoist_globals(argv)
    debug = "--debug" in argv
    try:
        code = app(args=argv, prog_name="distillery", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(1)
    except DistilleryError as exc:
        if debug:
            raise
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(1)
    except Exception as exc:  # click usage errors and the unexpected
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if debug:
            raise
        err.print(f"[red]error:[/red] {type(exc).__name__}: {exc} (run with --debug for the "
                  "traceback)", highlight=False)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
