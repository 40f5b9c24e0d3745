"""Governance before anything leaves: marketing consent and data-usage labels.

Consent: a person whose `consents.marketing.any.val` (and, for a channel destination,
`consents.marketing.<channel>.val`) is 'n' or 'dn' is never activated. The consent field is
read from the audience's table when it has one, else from the profile table. Without any
consent field an activation is refused: it could not keep opted-out people out.

Labels: every field an activation sends (identities, attributes) and every field the audience
was defined from (rule fields, or the labels a SQL audience's dataset carries) is checked
against the destination's purposes (`lake.labels.purposes_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlglot import exp

from distillery.audiences.definitions import DEFAULT_PROFILE_TABLES, identity_of
from distillery.audiences.errors import AudienceError
from distillery.audiences.fields import TableFields, path_expr, table_fields
from distillery.audiences.store import AudienceRecord
from distillery.errors import NotFoundError
from distillery.lake import labels
from distillery.lake.labels import GovernanceError, Violation

if TYPE_CHECKING:
    from distillery.platform import Platform

CONSENT = "consents.marketing.{channel}.val"
OPTED_OUT = ("n", "dn")


@dataclass(frozen=True)
class ConsentSource:
    """The table consent is read from, and the field there that holds the person's identity."""

    fields: TableFields
    identity: str


def consent_source(platform: Platform, audience: AudienceRecord, channel: str,
                   attribute_table: TableFields) -> ConsentSource:
    """Where to read an audience's marketing consent.

    Raises:
        GovernanceError: no candidate table has the consent field.
    """
    needed = [CONSENT.format(channel="any")]
    if channel != "any":
        needed.append(CONSENT.format(channel=channel))
    candidates: list[tuple[TableFields, str]] = [(attribute_table, audience.identity)]
    explicit = audience.options.get("consent_table")
    names = [explicit] if explicit else [t for t in DEFAULT_PROFILE_TABLES
                                         if platform.catalog.find_dataset(t) is not None]
    for name in names:
        fields = table_fields(platform, name)
        try:
            identity, _ = identity_of(fields, None, "any", platform.tenant)
        except AudienceError:
            continue  # no identity to join on: not a consent source
        candidates.append((fields, identity))
    for fields, identity in candidates:
        if all(fields.has(f) for f in needed):
            return ConsentSource(fields, fields.resolve(identity))
    looked = sorted({f.table for f, _ in candidates})
    raise GovernanceError(
        f"cannot check marketing consent for audience {audience.name!r}: none of the tables "
        f"{looked} has field(s) {needed}; opted-out people could be activated, so nothing "
        "is sent", label="consent", field=needed[-1])


def opted_out(alias: str, channel: str) -> exp.Expr:
    """TRUE for a person who refused marketing (overall, or on the destination's channel)."""
    tests = []
    for ch in ("any", channel) if channel != "any" else ("any",):
        column = path_expr(alias, CONSENT.format(channel=ch))
        refused = exp.In(this=column, expressions=[exp.Literal.string(v) for v in OPTED_OUT])
        tests.append(exp.Coalesce(this=refused, expressions=[exp.false()]))
    return exp.or_(*tests) if len(tests) > 1 else tests[0]


@dataclass(frozen=True)
class FieldUse:
    """A field an activation depends on: sent as a column, or read by the definition."""

    table: str
    path: str
    role: str  # "sent as COLUMN" or "in the audience definition"


def label_violations(platform: Platform, audience: AudienceRecord, purposes: list[str],
                     uses: list[FieldUse]) -> list[Violation]:
    """Every label that forbids one of the purposes on a field used.

    Raises:
        GovernanceError: a table used is not a dataset, so its labels cannot be checked.
    """
    by_table: dict[str, list[FieldUse]] = {}
    for use in uses:
        by_table.setdefault(use.table, []).append(use)
    found: list[Violation] = []
    for table, table_uses in sorted(by_table.items()):
        try:
            ds = platform.dataset(table)
        except NotFoundError:
            raise GovernanceError(f"cannot check data-usage labels of table {table!r} used by "
                                  f"audience {audience.name!r}: it is not a dataset",
                                  dataset=table) from None
        paths = sorted({u.path for u in table_uses})
        # Dataset-level labels (for a SQL audience, those its query's filters passed on)
        # are part of every field's labels here.
        found_labels = labels.labels_for(platform, ds, paths)
        for use in table_uses:
            marks = {use.path: found_labels[use.path]}
            for v in labels.violations(purposes, marks, dataset=ds.name):
                found.append(Violation(v.label, v.field, v.purpose, v.dataset, use.role))
    return _unique(found)


def refuse(violations: list[Violation], destination: str) -> None:
    """Raise a GovernanceError naming the first violation (and how many more there are)."""
    if not violations:
        return
    first = violations[0]
    more = f"; {len(violations) - 1} more violation(s) in the run record" \
        if len(violations) > 1 else ""
    raise GovernanceError(f"activation to {destination!r} refused: {first.message()}{more}",
                          label=first.label, field=first.field, dataset=first.dataset,
                          purpose=first.purpose)


def _unique(items: list[Violation]) -> list[Violation]:
    seen, out = set(), []
    for v in items:
        key = (v.label, v.field, v.dataset, v.note)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out
