"""Reach before creating an audience: how many people a rule or a score threshold selects.

`reach` bins a score (a calibrated probability) into 20 bins over [0, 1] and gives, for each
bin, the people in it, above its lower edge and below its upper edge, each with the expected
conversions (the sum of the probabilities); `Reach.between(lo, hi)` and `Reach.surface()` give
the people between any two bin edges (the reference's propensity-reach surface). `rule_size` is
the exact size of a PQL rule on the current profiles.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from distillery.audiences import definitions, pql
from distillery.audiences.compile import (
    NOW,
    PROFILE_ALIAS,
    EventsSource,
    RuleCompiler,
    placeholders,
)
from distillery.audiences.errors import AudienceError
from distillery.audiences.fields import kind_of, path_expr, table_fields

if TYPE_CHECKING:
    from distillery.platform import Platform

DEFAULT_SCORE = "_{tenant}.propensity"


@dataclass(frozen=True)
class ReachBin:
    """One score bin [lower, upper) (the last bin includes its upper edge)."""

    index: int
    lower: float
    upper: float
    people: int
    expected: float
    above: int
    below: int
    expected_above: float
    expected_below: float


@dataclass
class Reach:
    """The reach table of one score over one profile table (optionally within a rule)."""

    source: str
    score: str
    rule: str | None
    low: float
    high: float
    total: int
    scored: int
    outside: int
    bins: list[ReachBin] = field(default_factory=list)

    @property
    def edges(self) -> list[float]:
        """The bin edges, from `low` to `high`."""
        return [b.lower for b in self.bins] + [self.high]

    def between(self, lo: float, hi: float) -> tuple[int, float]:
        """People and expected conversions with lo <= score < hi, for bin edges lo < hi.

        Raises:
            AudienceError: lo or hi is not a bin edge (use `reach_between` for any value).
        """
        i, j = self._edge(lo), self._edge(hi)
        if i >= j:
            raise AudienceError(f"the lower edge {lo} must be below the upper edge {hi}")
        chosen = self.bins[i:j]
        return sum(b.people for b in chosen), sum(b.expected for b in chosen)

    def _edge(self, value: float) -> int:
        for i, edge in enumerate(self.edges):
            if abs(edge - value) < 1e-9:
                return i
        raise AudienceError(f"{value} is not a bin edge; edges are "
                            f"{[round(e, 6) for e in self.edges]}")

    def surface(self) -> list[list[int]]:
        """people[i][j]: people with edge[i] <= score < edge[j] (0 where j <= i)."""
        n = len(self.edges)
        cumulative = [0]
        for b in self.bins:
            cumulative.append(cumulative[-1] + b.people)
        return [[cumulative[j] - cumulative[i] if j > i else 0 for j in range(n)]
                for i in range(n)]

    def table(self) -> pa.Table:
        """The bins as an Arrow table."""
        return pa.Table.from_pylist([asdict(b) for b in self.bins])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (bins and the surface)."""
        out = {k: v for k, v in asdict(self).items() if k != "bins"}
        out["bins"] = [asdict(b) for b in self.bins]
        out["expected_total"] = sum(b.expected for b in self.bins)
        return out


def reach(platform: Platform, *, source: str | None = None, score: str | None = None,
          rule: str | None = None, bins: int = 20, low: float = 0.0, high: float = 1.0,
          identity: str | None = None, events: str | None = None,
          events_identity: str | None = None, as_of: datetime | None = None) -> Reach:
    """Reach of a score over a profile table.

    Args:
        platform: The sandbox.
        source: Profile table (default: the unified profile table, else `profiles`).
        score: Score field (default `_{tenant}.propensity`), a calibrated probability.
        rule: Optional PQL rule restricting the people counted.
        bins: Number of bins (default 20).
        low: Lower end of the score range.
        high: Upper end; scores outside [low, high] are counted in `outside`.
        identity: The identity field (people without one are not counted).
        events: Events table for rules that read xEvent.
        events_identity: The events' identity field.
        as_of: The moment relative times in the rule are measured from.
    """
    if bins < 1 or bins > 1000:
        raise AudienceError(f"bins must be between 1 and 1000, got {bins}")
    if not high > low:
        raise AudienceError(f"the score range must have high > low, got [{low}, {high}]")
    where, fields, params = _scope(platform, source, rule, identity, events, events_identity,
                                   as_of)
    score_path = _score_path(platform, fields, score)
    column = path_expr(PROFILE_ALIAS, score_path)
    width = (high - low) / bins
    rows = _histogram(platform, fields.table, where, column, low, high, width, bins, params)
    totals = _totals(platform, fields.table, where, column, low, high, params)
    result = Reach(fields.table, score_path, rule, low, high, *totals)
    result.bins = _bins(rows, low, width, bins)
    return result


def _score_path(platform: Platform, fields: Any, score: str | None) -> str:
    path = fields.resolve((score or DEFAULT_SCORE).replace("{tenant}", platform.tenant),
                          "score field")
    if kind_of(fields.types[path]) != "number":
        raise AudienceError(f"score field {path!r} is {fields.types[path]}, not a number")
    return path


def _scope(platform: Platform, source: str | None, rule: str | None, identity: str | None,
           events: str | None, events_identity: str | None,
           as_of: datetime | None) -> tuple[exp.Expr, Any, dict[str, Any]]:
    table = source or definitions.default_table(platform, definitions.DEFAULT_PROFILE_TABLES,
                                                "profile")
    fields = table_fields(platform, table)
    ident, _ = definitions.identity_of(fields, identity, "any", platform.tenant)
    where: exp.Expr = exp.Not(this=exp.Is(this=path_expr(PROFILE_ALIAS, ident),
                                                expression=exp.Null()))
    if rule:
        ast = pql.parse(rule, platform.tenant)
        ev = None
        if definitions.uses_events(ast):
            ev_table = events or definitions.default_table(
                platform, definitions.DEFAULT_EVENT_TABLES, "events")
            ev_fields = table_fields(platform, ev_table)
            ev_ident, _ = definitions.identity_of(ev_fields, events_identity, "any",
                                                  platform.tenant)
            ev = EventsSource(ev_fields, ev_ident)
        compiler = RuleCompiler(pql.expand(rule, platform.tenant), fields, ident, ev)
        where = exp.and_(compiler.condition(ast), where)
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    params = {NOW: moment} if NOW in placeholders(where) else {}
    return where, fields, params


def _histogram(platform: Platform, table: str, where: exp.Expr, column: exp.Expr,
               low: float, high: float, width: float, bins: int,
               params: dict[str, Any]) -> list[tuple[Any, ...]]:
    # The small nudge keeps a score on an edge (0.3 = 6 * 0.05) in the bin it starts, despite
    # binary floating point (0.3 / 0.05 = 5.999...).
    scaled = exp.Add(this=exp.Div(
        this=exp.Paren(this=exp.Sub(this=column, expression=exp.Literal.number(low))),
        expression=exp.Literal.number(width)), expression=exp.Literal.number(1e-9))
    index = exp.cast(exp.Least(this=exp.Floor(this=scaled),
                               expressions=[exp.Literal.number(bins - 1)]), "int")
    in_range = exp.Between(this=column, low=exp.Literal.number(low),
                           high=exp.Literal.number(high))
    tree = (exp.select(exp.alias_(index, "bin"), exp.alias_(exp.Count(this=exp.Star()), "n"),
                       exp.alias_(exp.Sum(this=column), "expected"))
            .from_(_table(table)).where(exp.and_(where, in_range)).group_by(exp.Literal.number(1)))
    return platform.sql.select(platform.sql.session(), tree, params or None).rows()


def _totals(platform: Platform, table: str, where: exp.Expr, column: exp.Expr,
            low: float, high: float, params: dict[str, Any]) -> tuple[int, int, int]:
    outside = exp.Sum(this=exp.Case().when(
        exp.or_(exp.LT(this=column, expression=exp.Literal.number(low)),
                exp.GT(this=column, expression=exp.Literal.number(high))),
        exp.Literal.number(1)).else_(exp.Literal.number(0)))
    tree = (exp.select(exp.Count(this=exp.Star()), exp.Count(this=column), outside)
            .from_(_table(table)).where(where))
    total, scored, out = platform.sql.select(platform.sql.session(), tree, params or None).rows()[0]
    return int(total), int(scored), int(out or 0)


def _bins(rows: list[tuple[Any, ...]], low: float, width: float, bins: int) -> list[ReachBin]:
    people = [0] * bins
    expected = [0.0] * bins
    for index, n, total in rows:
        people[int(index)] = int(n)
        expected[int(index)] = float(total or 0.0)
    out = []
    for i in range(bins):
        out.append(ReachBin(
            index=i, lower=round(low + i * width, 12), upper=round(low + (i + 1) * width, 12),
            people=people[i], expected=expected[i],
            above=sum(people[i:]), below=sum(people[:i + 1]),
            expected_above=sum(expected[i:]), expected_below=sum(expected[:i + 1])))
    return out


def reach_between(platform: Platform, lo: float, hi: float, **options: Any) -> tuple[int, float]:
    """Exact people and expected conversions with lo <= score <= hi (any two thresholds)."""
    where, fields, params = _scope(
        platform, options.get("source"), options.get("rule"), options.get("identity"),
        options.get("events"), options.get("events_identity"), options.get("as_of"))
    score_path = _score_path(platform, fields, options.get("score"))
    column = path_expr(PROFILE_ALIAS, score_path)
    cond = exp.and_(where, exp.Between(this=column, low=exp.Literal.number(lo),
                                       high=exp.Literal.number(hi)))
    tree = (exp.select(exp.Count(this=exp.Star()), exp.Sum(this=column))
            .from_(_table(fields.table)).where(cond))
    n, total = platform.sql.select(platform.sql.session(), tree, params or None).rows()[0]
    return int(n), float(total or 0.0)


def rule_size(platform: Platform, rule: str, *, source: str | None = None,
              identity: str | None = None, events: str | None = None,
              events_identity: str | None = None, as_of: datetime | None = None) -> int:
    """The number of distinct people a rule qualifies on the current profiles."""
    where, fields, params = _scope(platform, source, rule, identity, events, events_identity,
                                   as_of)
    ident, _ = definitions.identity_of(fields, identity, "any", platform.tenant)
    count = exp.Count(this=exp.Distinct(expressions=[path_expr(PROFILE_ALIAS, ident)]))
    tree = exp.select(count).from_(_table(fields.table)).where(where)
    return int(platform.sql.select(platform.sql.session(), tree, params or None).scalar() or 0)


def _table(name: str) -> exp.Expr:
    return exp.alias_(exp.Table(this=exp.to_identifier(name, quoted=True)), PROFILE_ALIAS,
                      table=True)
