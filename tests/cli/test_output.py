"""What the CLI prints: plain text where values may hold square brackets, and no progress bars
where nobody watches (a log file or a pipe)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from distillery.cli.context import RichConsole, table
from distillery.cli.pipeline import _shown


def terminal(is_terminal: bool) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=is_terminal, width=120), buffer


def test_notes_print_square_brackets_as_written() -> None:
    console, buffer = terminal(False)
    RichConsole(console).note("no SHAP summary: pip install 'distillery[shap]' (or shap)")
    assert buffer.getvalue() == "no SHAP summary: pip install 'distillery[shap]' (or shap)\n"


def test_table_cells_are_text_not_markup() -> None:
    console, buffer = terminal(False)
    console.print(table("t", ["sql"], [["SELECT a[0] FROM [bold]x[/bold]"]]))
    assert "SELECT a[0] FROM [bold]x[/bold]" in buffer.getvalue()


@pytest.mark.parametrize("is_terminal", [False, True])
def test_progress_bars_only_on_a_terminal(is_terminal: bool) -> None:
    console, buffer = terminal(is_terminal)
    with RichConsole(console).task("Scoring", total=10) as task:
        task.advance(10)
    # On a terminal the bar is drawn (and then cleared); off one, nothing at all is written.
    if is_terminal:
        assert "\x1b" in buffer.getvalue()
    else:
        assert buffer.getvalue() == ""


def test_files_written_show_relative_to_the_working_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _shown(str(tmp_path / ".distillery" / "a.csv")) == ".distillery/a.csv"
    assert _shown("/elsewhere/b.csv") == "/elsewhere/b.csv"
