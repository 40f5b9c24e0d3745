"""Adobe's time-between window functions, rewritten once as SQLGlot trees for every engine.

    TIME_BETWEEN_PREVIOUS_MATCH(ts, condition[, unit]) OVER (PARTITION BY ... ORDER BY ts ...)
    TIME_BETWEEN_NEXT_MATCH(ts, condition[, unit]) OVER (...)

Semantics (AEP's, from its documentation and the reference's published outputs):

- PREVIOUS_MATCH is 0 on a row where `condition` holds; otherwise the time elapsed since the
  latest earlier row of the window where it held; NULL when there is none.
- NEXT_MATCH is 0 on a matching row; otherwise the time until the next matching row as a
  negative number (AEP returns "a negative number representing the unit of time behind the
  next matching event"); NULL when there is none.
- Times are whole units (elapsed time truncated), returned as DOUBLE: AEP's outputs are whole
  numbers (540.0, 1921.0). Units: seconds (the default), minutes, hours, days (singular, plural
  and short forms accepted), and milliseconds.
- The window's PARTITION BY and ORDER BY are the caller's. Without a frame, PREVIOUS_MATCH looks
  at ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW and NEXT_MATCH at ROWS BETWEEN CURRENT ROW
  AND UNBOUNDED FOLLOWING; a frame the caller gives is kept (the match is looked for in it).

Each call becomes standard window SQL: `last_value(CASE WHEN cond THEN ts END) IGNORE NULLS`
(or `first_value` for the next match) over the window, and the difference of the timestamps
in microseconds (`unix_micros`), divided by the unit and floored.
"""

from __future__ import annotations

from sqlglot import exp

from distillery.errors import QueryError

_MICROS = {"millisecond": 1_000, "second": 1_000_000, "minute": 60_000_000,
           "hour": 3_600_000_000, "day": 86_400_000_000}
_ALIASES = {"ms": "millisecond", "milliseconds": "millisecond", "s": "second", "sec": "second",
            "secs": "second", "seconds": "second", "m": "minute", "min": "minute",
            "mins": "minute", "minutes": "minute", "h": "hour", "hours": "hour",
            "d": "day", "days": "day"}
PREVIOUS = "time_between_previous_match"
NEXT = "time_between_next_match"


def unit_micros(unit: str) -> int:
    """Microseconds in one `unit` ('minutes', 'hour', 's', ...)."""
    key = unit.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _MICROS:
        raise QueryError(f"time unit {unit!r} is not one of seconds, minutes, hours, days, "
                         "milliseconds", sqlstate="22023")
    return _MICROS[key]


def rewrite_time_between(tree: exp.Expression) -> exp.Expression:
    """Replace every TIME_BETWEEN_*_MATCH window call in `tree` (in place; returns the tree)."""
    for window in list(tree.find_all(exp.Window)):
        call = window.this
        name = call.name.lower() if isinstance(call, exp.Anonymous) else ""
        if name in (PREVIOUS, NEXT):
            replacement = _time_between(window, call, forward=name == NEXT)
            if window is tree:
                return replacement
            window.replace(replacement)
    for call in tree.find_all(exp.Anonymous):
        if call.name.lower() in (PREVIOUS, NEXT):
            raise QueryError(f"{call.name} is a window function: add OVER (PARTITION BY ... "
                             "ORDER BY ...)", sqlstate="42P20")
    return tree


def _time_between(window: exp.Window, call: exp.Anonymous, *, forward: bool) -> exp.Expression:
    args = call.expressions
    if len(args) not in (2, 3):
        raise QueryError(f"{call.name} takes (timestamp, condition[, unit]), got {len(args)} "
                         "argument(s)", sqlstate="42883")
    ts, condition = args[0], args[1]
    unit = args[2] if len(args) == 3 else exp.Literal.string("seconds")
    if not (isinstance(unit, exp.Literal) and unit.is_string):
        raise QueryError(f"{call.name}: the unit must be a quoted word such as 'minutes'",
                         sqlstate="22023")
    micros = unit_micros(unit.name)
    matched_at = exp.Case(ifs=[exp.If(this=condition.copy(), true=ts.copy())])
    pick = exp.FirstValue(this=matched_at) if forward else exp.LastValue(this=matched_at)
    spec = window.args.get("spec") or _default_frame(forward)
    match_ts = exp.Window(this=exp.IgnoreNulls(this=pick),
                          partition_by=[p.copy() for p in window.args.get("partition_by") or []],
                          order=window.args["order"].copy() if window.args.get("order") else None,
                          spec=spec.copy(), over="OVER")
    start, end = (ts.copy(), match_ts) if forward else (match_ts, ts.copy())
    elapsed = exp.Sub(this=exp.UnixMicros(this=end), expression=exp.UnixMicros(this=start))
    units = exp.Floor(this=exp.Div(this=exp.Paren(this=elapsed),
                                   expression=exp.Literal.number(f"{micros}.0")))
    value = exp.Sub(this=exp.Literal.number("0.0"), expression=units) if forward else units
    return exp.Case(ifs=[exp.If(this=exp.Paren(this=condition.copy()),
                                true=exp.Literal.number("0.0"))],
                    default=exp.Cast(this=value, to=exp.DataType.build("DOUBLE")))


def _default_frame(forward: bool) -> exp.WindowSpec:
    if forward:
        return exp.WindowSpec(kind="ROWS", start="CURRENT ROW", end="UNBOUNDED",
                              end_side="FOLLOWING")
    return exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING",
                          end="CURRENT ROW")
