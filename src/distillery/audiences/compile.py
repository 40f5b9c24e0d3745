"""PQL AST -> SQLGlot tree. Values become literals in the tree (quoted by SQLGlot), the
evaluation time is the bound parameter `now`; nothing from the rule text is pasted into SQL.

Profile fields are read through the alias `p`. An event condition becomes a correlated
`EXISTS` (or `COUNT(*)`) over the events table, joined on the events' identity field:

    exists E from xEvent where E.eventType = "commerce.purchases"
      -> EXISTS (SELECT 1 FROM "events" AS "e1"
                 WHERE "e1"."_acme"."userid" = "p"."_acme"."userid"
                   AND "e1"."eventType" = 'commerce.purchases')
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow as pa
from sqlglot import exp

from distillery.audiences import pql
from distillery.audiences.errors import AudienceError, RuleError
from distillery.audiences.fields import TableFields, kind_of, path_expr

PROFILE_ALIAS = "p"
NOW = "now"
_OPS: dict[str, type[exp.Expr]] = {"=": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE,
                                         ">": exp.GT, ">=": exp.GTE}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}


@dataclass(frozen=True)
class EventsSource:
    """The events table a rule's `xEvent` reads, and its field that identifies the person."""

    fields: TableFields
    identity: str


@dataclass
class _Scope:
    bare: tuple[str, TableFields]                       # alias and fields of unqualified paths
    variables: dict[str, tuple[str, TableFields]] = field(default_factory=dict)


class RuleCompiler:
    """Compiles one rule against a profile table (and optionally an events table).

    Attributes:
        used: (table, field path) of every field the rule reads, for governance.
    """

    def __init__(self, rule: str, profile: TableFields, identity: str,
                 events: EventsSource | None = None) -> None:
        self.rule = rule
        self.profile = profile
        self.identity = profile.resolve(identity, "identity field")
        self.events = events
        self.used: set[tuple[str, str]] = {(profile.table, self.identity)}
        self._aliases = 0

    # Entry points ---------------------------------------------------------------------------

    def condition(self, node: Any) -> exp.Expr:
        """The rule as a boolean expression over the profile alias `p`."""
        return self._bool(node, _Scope((PROFILE_ALIAS, self.profile)))

    def identity_expr(self) -> exp.Expr:
        """The person's identity as text."""
        return exp.cast(path_expr(PROFILE_ALIAS, self.identity), exp.DataType.build("varchar"))

    def members(self, node: Any) -> exp.Select:
        """SELECT DISTINCT person_id of every profile the rule qualifies."""
        ident = path_expr(PROFILE_ALIAS, self.identity)
        known = exp.Not(this=exp.Is(this=ident, expression=exp.Null()))
        where = exp.and_(self.condition(node), known)
        return (exp.select(exp.alias_(self.identity_expr(), "person_id"))
                .distinct().from_(_table(self.profile.table, PROFILE_ALIAS)).where(where))

    # Conditions -----------------------------------------------------------------------------

    def _bool(self, node: Any, scope: _Scope) -> exp.Expr:
        if isinstance(node, pql.And):
            return exp.and_(*(self._bool(i, scope) for i in node.items))
        if isinstance(node, pql.Or):
            return exp.or_(*(self._bool(i, scope) for i in node.items))
        if isinstance(node, pql.Not):
            return exp.Not(this=exp.Paren(this=self._bool(node.item, scope)))
        handlers: dict[type, Callable[[Any, _Scope], exp.Expr]] = {
            pql.Compare: self._compare, pql.InList: self._in, pql.StringMatch: self._string,
            pql.NullCheck: self._null, pql.Occurs: self._occurs, pql.EventExists: self._exists,
            pql.BoolPath: self._bool_path,
        }
        handler = handlers.get(type(node))
        if handler is None:
            raise RuleError(f"{type(node).__name__} is not a condition", rule=self.rule)
        return handler(node, scope)

    def _field(self, path: pql.Path, scope: _Scope) -> tuple[exp.Expr, pa.DataType]:
        parts = path.parts
        if len(parts) > 1 and parts[0] in scope.variables:
            (alias, fields), rest = scope.variables[parts[0]], parts[1:]
        else:
            (alias, fields), rest = scope.bare, parts
        dotted = ".".join(rest)
        self._check_no_map(fields, dotted, path)
        try:
            real = fields.resolve(dotted)
        except AudienceError as exc:
            raise RuleError(str(exc) + self._scope_hint(dotted, scope), rule=self.rule,
                            position=path.pos) from None
        self.used.add((fields.table, real))
        return path_expr(alias, real), fields.types[real]

    def _scope_hint(self, dotted: str, scope: _Scope) -> str:
        if scope.variables and scope.bare[1] is self.profile:
            names = [v for v, (_, f) in scope.variables.items() if f.has(dotted)]
            if names:
                return f" (an event field is written {names[0]}.{dotted})"
        return ""

    def _check_no_map(self, fields: TableFields, dotted: str, path: pql.Path) -> None:
        parts = dotted.split(".")
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            t = fields.types[fields.resolve(prefix)] if fields.has(prefix) else None
            if t is not None and (pa.types.is_map(t) or pa.types.is_list(t)):
                raise RuleError(f"field {'.'.join(parts[:i])!r} is a map or list; rules read "
                                "plain and struct fields", rule=self.rule, position=path.pos)

    def _compare(self, node: pql.Compare, scope: _Scope) -> exp.Expr:
        left, right, op = node.left, node.right, node.op
        if not isinstance(left, pql.Path | pql.EventCount) and isinstance(
                right, pql.Path | pql.EventCount):
            left, right, op = right, left, _FLIP[op]
        if isinstance(left, pql.EventCount):
            count = self._count(left, scope)
            if not isinstance(right, pql.Literal) or not _is_number(right.value):
                raise RuleError("xEvent[...].count() is compared with a number", rule=self.rule,
                                position=node.pos)
            return _OPS[op](this=count, expression=exp.Literal.number(right.value))
        if not isinstance(left, pql.Path):
            raise RuleError("a comparison needs a field on one side", rule=self.rule,
                            position=node.pos)
        column, ctype = self._field(left, scope)
        if isinstance(right, pql.Path):
            other, otype = self._field(right, scope)
            if _comparable(kind_of(ctype)) != _comparable(kind_of(otype)):
                raise RuleError(f"cannot compare field {'.'.join(left.parts)!r} ({ctype}) with "
                                f"field {'.'.join(right.parts)!r} ({otype})", rule=self.rule,
                                position=node.pos)
            return _OPS[op](this=column, expression=other)
        value = self._value(right, ctype, left, node.pos)
        return _OPS[op](this=column, expression=value)

    def _value(self, operand: Any, ctype: pa.DataType, path: pql.Path,
               pos: int) -> exp.Expr:
        """A literal or anchor as a value of the field's type; RuleError on a mismatch."""
        name = ".".join(path.parts)
        kind = kind_of(ctype)
        if isinstance(operand, pql.Anchor):
            if kind not in ("time", "date"):
                raise RuleError(f"field {name!r} is {ctype}, not a time; '{operand.name}' "
                                "compares with times", rule=self.rule, position=operand.pos)
            return self._anchor(operand)
        if isinstance(operand, pql.EventCount):
            raise RuleError("compare xEvent[...].count() with a number, not a field",
                            rule=self.rule, position=pos)
        value = operand.value
        if value is None:
            raise RuleError(f"use {name}.isNull() or .isNotNull() to test for a missing value",
                            rule=self.rule, position=operand.pos)
        return self._literal(value, kind, ctype, name, operand.pos)

    def _literal(self, value: Any, kind: str, ctype: pa.DataType, name: str,
                 pos: int) -> exp.Expr:
        if kind == "number" and _is_number(value):
            return exp.Literal.number(value)
        if kind == "string" and isinstance(value, str):
            return exp.Literal.string(value)
        if kind == "boolean" and isinstance(value, bool):
            return exp.Boolean(this=value)
        if kind in ("time", "date") and isinstance(value, str):
            return self._time_literal(value, kind, pos)
        if kind == "nested":
            raise RuleError(f"field {name!r} is a {ctype}; compare one of its fields",
                            rule=self.rule, position=pos)
        raise RuleError(f"field {name!r} is {ctype} and cannot be compared with {value!r}",
                        rule=self.rule, position=pos)

    def _time_literal(self, value: str, kind: str, pos: int) -> exp.Expr:
        try:
            (date.fromisoformat if kind == "date" else datetime.fromisoformat)(
                value.replace("Z", "+00:00"))
        except ValueError:
            raise RuleError(f"{value!r} is not an ISO {'date' if kind == 'date' else 'time'} "
                            "(e.g. 2024-03-01 or 2024-03-01T10:00:00Z)", rule=self.rule,
                            position=pos) from None
        return exp.cast(exp.Literal.string(value), "date" if kind == "date" else "timestamp")

    def _in(self, node: pql.InList, scope: _Scope) -> exp.Expr:
        column, ctype = self._field(node.operand, scope)
        values = [self._value(v, ctype, node.operand, node.pos) for v in node.values]
        test = exp.In(this=column, expressions=values)
        return exp.Not(this=exp.Paren(this=test)) if node.negated else test

    def _string(self, node: pql.StringMatch, scope: _Scope) -> exp.Expr:
        column, ctype = self._field(node.operand, scope)
        if kind_of(ctype) != "string":
            raise RuleError(f"{node.function}() needs a text field; "
                            f"{'.'.join(node.operand.parts)!r} is {ctype}", rule=self.rule,
                            position=node.pos)
        text = node.argument.value
        if node.function == "matches":
            try:
                re.compile(text)
            except re.error as exc:
                raise RuleError(f"matches(): {text!r} is not a valid regular expression "
                                f"({exc})", rule=self.rule, position=node.argument.pos) from None
            text = f"^(?:{text})$"
        pattern: exp.Expr = exp.Literal.string(text)
        if not node.case_sensitive:
            column, pattern = exp.Lower(this=column), exp.Lower(this=pattern)
        builder = {"contains": exp.Contains, "startswith": exp.StartsWith,
                   "endswith": exp.EndsWith, "matches": exp.RegexpLike, "like": exp.Like,
                   "equals": exp.EQ}[node.function]
        return builder(this=column, expression=pattern)

    def _null(self, node: pql.NullCheck, scope: _Scope) -> exp.Expr:
        column, _ = self._field(node.operand, scope)
        test = exp.Is(this=column, expression=exp.Null())
        return test if node.is_null else exp.Not(this=test)

    def _bool_path(self, node: pql.BoolPath, scope: _Scope) -> exp.Expr:
        column, ctype = self._field(node.path, scope)
        if kind_of(ctype) != "boolean":
            raise RuleError(f"field {'.'.join(node.path.parts)!r} is {ctype}; compare it "
                            "with a value (=, <, in, ...)", rule=self.rule,
                            position=node.path.pos)
        return exp.EQ(this=column, expression=exp.true())

    # Time -----------------------------------------------------------------------------------

    def _anchor(self, anchor: pql.Anchor | pql.Literal) -> exp.Expr:
        if isinstance(anchor, pql.Literal):
            return self._time_literal(anchor.value, "time", anchor.pos)
        now = exp.Placeholder(this=NOW)
        if anchor.name == "now":
            return now
        today = exp.TimestampTrunc(this=now, unit=exp.var("DAY"))
        shift = {"today": 0, "yesterday": -1, "tomorrow": 1}[anchor.name]
        return today if shift == 0 else _shift(today, shift, "DAY")

    def _occurs(self, node: pql.Occurs, scope: _Scope) -> exp.Expr:
        column, ctype = self._field(node.operand, scope)
        if kind_of(ctype) not in ("time", "date"):
            raise RuleError(f"'occurs' needs a time field; {'.'.join(node.operand.parts)!r} is "
                            f"{ctype}", rule=self.rule, position=node.pos)
        anchor = self._anchor(node.anchor)
        if node.direction == "between":
            assert node.end is not None
            return exp.Between(this=column, low=anchor, high=self._anchor(node.end))
        if node.amount is None:
            if node.direction == "on":
                return _same_day(column, anchor)
            return (exp.LT if node.direction == "before" else exp.GT)(this=column,
                                                                       expression=anchor)
        sign = -1 if node.direction == "before" else 1
        moment = _shift(anchor, sign * node.amount, node.unit or "DAY")
        return _relative(column, anchor, moment, node.op or "=", node.direction)

    # Events ---------------------------------------------------------------------------------

    def _events_subquery(self, node: Any, scope: _Scope) -> tuple[exp.Select, str]:
        if self.events is None:
            raise RuleError("the rule reads xEvent but the audience has no events table "
                            "(give one with events=...)", rule=self.rule, position=node.pos)
        self._aliases += 1
        alias = f"e{self._aliases}"
        fields = self.events.fields
        own = path_expr(alias, fields.resolve(self.events.identity, "events identity field"))
        person = path_expr(PROFILE_ALIAS, self.identity)
        if kind_of(fields.type_of(self.events.identity)) != kind_of(
                self.profile.type_of(self.identity)):
            own, person = (exp.cast(own, exp.DataType.build("varchar")),
                           exp.cast(person, exp.DataType.build("varchar")))
        self.used.add((fields.table, fields.resolve(self.events.identity)))
        query = exp.select(exp.Literal.number(1)).from_(_table(fields.table, alias))
        return query.where(exp.EQ(this=own, expression=person)), alias

    def _exists(self, node: pql.EventExists, scope: _Scope) -> exp.Expr:
        query, alias = self._events_subquery(node, scope)
        assert self.events is not None
        inner = _Scope(scope.bare, {**scope.variables, node.var: (alias, self.events.fields)})
        query = query.where(self._bool(node.condition, inner))
        return exp.Exists(this=query)

    def _count(self, node: pql.EventCount, scope: _Scope) -> exp.Expr:
        query, alias = self._events_subquery(node, scope)
        assert self.events is not None
        query = query.select(exp.Count(this=exp.Star()), append=False)
        if node.condition is not None:
            inner = _Scope((alias, self.events.fields), scope.variables)
            query = query.where(self._bool(node.condition, inner))
        return exp.Subquery(this=query)


def compile_rule(rule: str, profile: TableFields, identity: str,
                 events: EventsSource | None = None, *, tenant: str | None = None
                 ) -> tuple[exp.Expr, RuleCompiler]:
    """Parse and compile a rule; return the condition and the compiler (for `used` fields)."""
    compiler = RuleCompiler(pql.expand(rule, tenant), profile, identity, events)
    return compiler.condition(pql.parse(rule, tenant)), compiler


def placeholders(tree: exp.Expr) -> set[str]:
    """Names of the bound parameters a tree uses."""
    return {p.name for p in tree.find_all(exp.Placeholder)}


def _table(name: str, alias: str) -> exp.Expr:
    return exp.alias_(exp.Table(this=exp.to_identifier(name, quoted=True)), alias, table=True)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _comparable(kind: str) -> str:
    return "time" if kind == "date" else kind


def _shift(moment: exp.Expr, amount: int, unit: str) -> exp.Expr:
    interval = exp.Interval(this=exp.Literal.string(str(abs(amount))), unit=exp.var(unit))
    return (exp.Add if amount >= 0 else exp.Sub)(this=moment, expression=interval)


def _same_day(column: exp.Expr, moment: exp.Expr) -> exp.Expr:
    return exp.EQ(this=exp.cast(column, "date"), expression=exp.cast(moment, "date"))


def _relative(column: exp.Expr, anchor: exp.Expr, moment: exp.Expr,
              op: str, direction: str) -> exp.Expr:
    """`column occurs OP N units before|after anchor`, where `moment` is anchor -/+ N units."""
    if op == "=":
        return _same_day(column, moment)
    if op == "!=":
        return exp.Not(this=exp.Paren(this=_same_day(column, moment)))
    within = op in ("<", "<=")  # at most N units away from the anchor
    strict = op in ("<", ">")
    if direction == "before":
        if within:
            low = (exp.GT if strict else exp.GTE)(this=column, expression=moment)
            return exp.and_(low, exp.LTE(this=column, expression=anchor))
        return (exp.LT if strict else exp.LTE)(this=column, expression=moment)
    if within:
        high = (exp.LT if strict else exp.LTE)(this=column, expression=moment)
        return exp.and_(exp.GTE(this=column, expression=anchor), high)
    return (exp.GT if strict else exp.GTE)(this=column, expression=moment)
