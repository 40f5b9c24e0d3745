"""`build_report`: every section collected from the sandbox, rendered, written atomically."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distillery.report import render
from distillery.report.context import ReportContext
from distillery.report.parts import ERROR, MISSING, OK, NotYetRun, Section
from distillery.report.sections import SECTIONS

if TYPE_CHECKING:
    from distillery.platform import Platform

REPORT_FILE = "report.html"
TITLE = "Distillery: AI/ML data pipeline enrichment report"
_log = logging.getLogger(__name__)


@dataclass
class ReportResult:
    """What `build_report` wrote.

    Attributes:
        path: The HTML file.
        sections: Every section, with its status and content.
        seconds: Time taken.
    """

    path: Path
    sections: list[Section] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (what `distillery report --json` prints)."""
        return {"path": str(self.path), "seconds": round(self.seconds, 3),
                "sections": [s.to_dict() for s in self.sections]}


def default_path(platform: Platform) -> Path:
    """Where a report goes unless told: `{sandbox}/reports/report.html`."""
    return platform.root / "reports" / REPORT_FILE


def build_report(platform: Platform, output: str | Path | None = None, *,
                 events: str | None = None, model: str | None = None) -> ReportResult:
    """Write one self-contained HTML report of what the sandbox holds.

    Each section shows one step of the workflow; a step that has not run yet gives a section
    that says so and what to run, and a section that fails to collect shows its error, so
    the rest of the report is still written.

    Args:
        platform: The sandbox to describe.
        output: The HTML file (default: `{sandbox}/reports/report.html`).
        events: The events dataset (default: `experience_events`, else the first
            ExperienceEvent dataset).
        model: The registered model (default: `propensity`, else the first one).

    Returns:
        The file written and its sections.
    """
    started = time.perf_counter()
    ctx = ReportContext(platform, events_name=events, model_name=model)
    sections = []
    with platform.console.task("Writing the report", total=len(SECTIONS)) as task:
        for entry in SECTIONS:
            sections.append(_collect(ctx, *entry))
            task.advance()
    path = Path(output) if output is not None else default_path(platform)
    result = ReportResult(path.absolute(), sections)
    result.seconds = time.perf_counter() - started
    _write(result.path, render.page(sections, _meta(platform, sections, result.seconds)))
    return result


def _collect(ctx: ReportContext, section_id: str, title: str, step: str,
             collector: Any) -> Section:
    section = Section(section_id, title, step)
    try:
        collector(ctx, section)
    except NotYetRun as missing:
        section.status = MISSING
        section.notes.insert(0, str(missing))
    except Exception as exc:
        # One broken section must not cost the reader the others: the error is shown in
        # its place (and logged with the traceback for whoever runs the command).
        _log.exception("report section %s failed", section_id)
        section.status = ERROR
        section.notes.insert(0, f"This section could not be built: {type(exc).__name__}: "
                                f"{exc}")
    return section


def _meta(platform: Platform, sections: list[Section], seconds: float) -> dict[str, Any]:
    ready = sum(s.status == OK for s in sections)
    missing = [s.title for s in sections if s.status == MISSING]
    summary = f"{ready} of {len(sections)} sections ready."
    if missing:
        summary += " Not run yet: " + ", ".join(missing) + "."
    return {"title": TITLE, "home": platform.home, "sandbox": platform.sandbox,
            "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "summary": summary, "version": _version(), "seconds": seconds}


def _version() -> str:
    try:
        return metadata.version("distillery")
    except metadata.PackageNotFoundError:
        return "unknown"


def _write(path: Path, text: str) -> None:
    """Write the file whole: a reader never opens half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
