"""The report: one self-contained HTML file showing the whole loop as the sandbox holds it.

    from distillery.report import build_report
    result = build_report(platform)                 # {sandbox}/reports/report.html
    result.path, [s.status for s in result.sections]

Sections follow the workflow (data, EDA, training sets and leakage, the champion model,
scores, reach, audiences, activation); each says plainly when its step has not run yet.
This room is the last one downstream: it reads every other step and nothing imports it.
"""

from __future__ import annotations

from distillery.report.build import ReportResult, build_report, default_path
from distillery.report.parts import ERROR, MISSING, OK, Figure, Section, Table

__all__ = ["ERROR", "MISSING", "OK", "Figure", "ReportResult", "Section", "Table",
           "build_report", "default_path"]
