"""Step 7: the audiences, their current sizes and how membership changed from one evaluation
to the next (people who entered, stayed and exited)."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from distillery.report import charts
from distillery.report.context import ReportContext
from distillery.report.parts import Figure, NotYetRun, Section, Table, number

if TYPE_CHECKING:
    from distillery.audiences.store import AudienceRecord, JobRecord

_SUCCEEDED = "SUCCEEDED"
_RULE_CHARS = 140


def collect(ctx: ReportContext, section: Section) -> None:
    """Definitions and sizes, and entered/existing/exited per evaluation."""
    from distillery.audiences import Audiences

    service = Audiences(ctx.platform)
    audiences = service.list()
    if not audiences:
        raise NotYetRun("No audience yet: define one with `distillery audience create` and "
                        "evaluate it (notebook 07).")
    jobs: dict[str, list[JobRecord]] = defaultdict(list)
    for job in sorted(service.jobs(), key=lambda j: j.number):
        jobs[job.audience_id].append(job)
    section.tables.append(_definitions(audiences, jobs))
    section.figures.append(_sizes(audiences, jobs))
    section.figures.append(_changes(audiences, jobs))
    failed = [j for js in jobs.values() for j in js if j.state == "FAILED"]
    section.metrics += [("audiences", number(len(audiences))),
                        ("evaluations", number(sum(len(js) for js in jobs.values()))),
                        ("failed evaluations", number(len(failed)))]
    section.notes += [f"Evaluation {j.number} of {j.audience} failed: {j.error}"
                      for j in failed[-3:]]


def _current(jobs: list[JobRecord]) -> JobRecord | None:
    done = [j for j in jobs if j.state == _SUCCEEDED]
    return done[-1] if done else None


def _definitions(audiences: list[AudienceRecord], jobs: dict[str, list[JobRecord]]) -> Table:
    from distillery.audiences.service import expires_at

    rows = []
    for a in audiences:
        job = _current(jobs[a.id])
        expires = expires_at(a, job)
        rule = a.expression if len(a.expression) <= _RULE_CHARS else \
            a.expression[:_RULE_CHARS] + "..."
        rows.append([a.name, a.kind, rule, f"{a.ttl_days} days" if a.ttl_days else "none",
                     len(jobs[a.id]), number(job.qualified) if job else "not evaluated",
                     job.finished_at if job else "-",
                     expires.isoformat() if expires else "never"])
    return Table("Audiences", ["audience", "kind", "definition", "TTL", "evaluations",
                               "current size", "evaluated at", "membership expires"], rows)


def _sizes(audiences: list[AudienceRecord], jobs: dict[str, list[JobRecord]]) -> Figure:
    go = charts.go()
    shown = [(a.name, _current(jobs[a.id])) for a in audiences]
    fig = charts.figure(go.Bar(x=[n for n, _ in shown],
                               y=[j.qualified if j else 0 for _, j in shown],
                               text=[f"{j.qualified:,}" if j else "not evaluated"
                                     for _, j in shown], textposition="auto"),
                        title="Audience sizes (current evaluation)", x="audience", y="people")
    return Figure("audience_sizes", "People qualified by each audience's current evaluation",
                  plotly=fig)


def _changes(audiences: list[AudienceRecord], jobs: dict[str, list[JobRecord]]) -> Figure:
    go = charts.go()
    labels: list[str] = []
    counts: dict[str, list[int]] = {"entered": [], "stayed": [], "exited": []}
    for a in audiences:
        for k, job in enumerate(j for j in jobs[a.id] if j.state == _SUCCEEDED):
            labels.append(f"{a.name} #{k + 1}")
            counts["entered"].append(job.realized)
            counts["stayed"].append(job.existing)
            # Drawn below the axis, so what left reads apart from what is in.
            counts["exited"].append(-job.exited)
    colors = {"entered": "seagreen", "stayed": "steelblue", "exited": "firebrick"}
    traces: list[Any] = [go.Bar(x=labels, y=v, name=k, marker_color=colors[k])
                         for k, v in counts.items()]
    fig = charts.figure(*traces, title="Membership changes over evaluations",
                        x="audience and evaluation", y="people (exited below zero)",
                        barmode="relative", xaxis={"tickangle": -20, "automargin": True})
    return Figure("membership_changes", "At each evaluation: people who entered, stayed, and "
                                        "exited (realized, existing, exited)", plotly=fig)
