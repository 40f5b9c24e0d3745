"""Steps 2 and 3: the training sets (point-in-time and reference-compatible), their leakage
check, and the exports that carried them to storage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlglot import exp

from distillery.report import charts
from distillery.report.context import TRAINING_TAG, ReportContext
from distillery.report.parts import Figure, NotYetRun, Section, Table, number, percent

if TYPE_CHECKING:
    from distillery.features import FeatureDefinition, LeakageReport
    from distillery.lake.catalog import DatasetRecord

TOP_FEATURES = 12


def collect(ctx: ReportContext, section: Section) -> None:
    """One row per training set, its leakage verdict and findings, and the exports."""
    from distillery.features import FeatureDefinition, check_leakage

    sets = [d for d in ctx.datasets.values() if TRAINING_TAG in d.tags and d.version >= 0]
    if not sets:
        raise NotYetRun("No training set yet: build one with `distillery features build` "
                        "(notebook 02).")
    summary, findings, checks = [], [], []
    for record in sets:
        definition = FeatureDefinition.from_tags(record.tags, record.name)
        check = check_leakage(ctx.platform, record.name)
        checks.append(check)
        summary.append(_summary_row(ctx, record, definition, check))
        findings += [[record.name, f.check, f.column, f.severity, f.message]
                     for f in check.findings]
        section.notes += [f"{record.name}: {n}" for n in check.notes]
    section.tables.append(Table("Training sets", [
        "training set", "kind", "rows", "positives", "positive rate", "features", "cutoffs",
        "horizon", "snapshot", "leakage check"], summary))
    section.tables.append(Table("Leakage findings", ["training set", "check", "column",
                                                     "severity", "finding"], findings[:60]))
    if len(findings) > 60:
        section.notes.append(f"{len(findings) - 60} more findings are not listed; run "
                             "`distillery features check DATASET` for all of them.")
    section.figures.append(_auc_figure(checks))
    section.tables.append(_exports(ctx, {d.id: d.name for d in sets}))
    section.notes.append("A point-in-time set computes features from events strictly before "
                         "each cutoff and labels what happens after it; the reference's set "
                         "takes a converter's row at the conversion itself, so its recency "
                         "features say \"just now\" and the check flags them.")


def _summary_row(ctx: ReportContext, record: DatasetRecord, d: FeatureDefinition,
                 check: LeakageReport) -> list[Any]:
    label = exp.column(check.label, quoted=True)
    positive = exp.If(this=exp.GT(this=label, expression=exp.Literal.number(0)),
                      true=exp.Literal.number(1), false=exp.Literal.number(0))
    tree = exp.select(exp.Count(this=exp.Star()).as_("n"), exp.Sum(this=positive).as_("pos")
                      ).from_(exp.to_table(record.table_name))
    row = ctx.query(tree).to_pylist()[0]
    rows, positives = int(row["n"]), int(row["pos"] or 0)
    horizon = f"{d.horizon_seconds / 86400:g} days" if d.horizon_seconds else "-"
    verdict = "passed" if check.passed else f"flagged ({len(check.leaks)} findings)"
    return [record.name, d.kind.replace("_", "-"), number(rows), number(positives),
            percent(positives / rows if rows else None), len(check.columns),
            ", ".join(c.date().isoformat() for c in d.cutoffs) or "per row", horizon,
            record.version, verdict]


def _auc_figure(checks: list[LeakageReport]) -> Figure:
    go = charts.go()
    traces, count = [], 0
    for check in checks:
        strength = {c: max(a, 1 - a) for c, a in check.aucs.items() if a is not None}
        top = sorted(strength.items(), key=lambda kv: kv[1])[-TOP_FEATURES:]
        count += len(top)
        traces.append(go.Bar(y=[f"{check.dataset}: {c}" for c, _ in top],
                             x=[v for _, v in top], orientation="h", name=check.dataset))
    fig = charts.figure(*traces, title="Strongest single features (AUC, either direction)",
                        x="AUC of the feature alone", height=charts.bar_height(count, per=20),
                        margin={"l": 330, "r": 30, "t": 60, "b": 50})
    fig.add_vline(x=0.95, line_dash="dash", line_color="firebrick",
                  annotation_text="leak threshold 0.95")
    fig.update_xaxes(range=[0.5, 1.0])
    return Figure("leakage_auc", "Single-feature AUC of each training set's strongest "
                                 "features; a feature at or past the line gives the label away",
                  plotly=fig)


def _exports(ctx: ReportContext, names: dict[str, str]) -> Table:
    from distillery.flows.dataflows import Dataflows

    rows = []
    for run in Dataflows(ctx.platform).runs(limit=None):
        if run.kind != "export":
            continue
        d = run.details
        rows.append([names.get(d.get("dataset_id", ""), d.get("dataset_id", "")), run.state,
                     number(run.rows), run.files, number(run.bytes), d.get("snapshot"),
                     d.get("folder") or "-", number(run.duration_s, 2), run.started_at])
    return Table("Exports (dataset export runs, newest first)", [
        "dataset", "state", "rows", "files", "bytes", "snapshot", "folder", "seconds",
        "started"], rows)
