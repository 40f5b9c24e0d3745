"""The PQL parser: the reference's rule, the supported subset, and errors that say where."""

from __future__ import annotations

import pytest

from distillery.audiences import pql
from distillery.audiences.errors import RuleError


def test_the_reference_rule_with_the_tenant_placeholder() -> None:
    text = "_{tenant}.propensity >= 0.2 and _{tenant}.propensity <= 0.93"
    ast = pql.parse(text, "acme")
    # Positions are those of the expanded rule, which is what error messages quote.
    assert pql.expand(text, "acme") == "_acme.propensity >= 0.2 and _acme.propensity <= 0.93"
    assert ast == pql.And((
        pql.Compare(">=", pql.Path(("_acme", "propensity"), 0), pql.Literal(0.2, 20), 17),
        pql.Compare("<=", pql.Path(("_acme", "propensity"), 28), pql.Literal(0.93, 48), 45)))


def test_precedence_not_binds_tighter_than_and_than_or() -> None:
    ast = pql.parse("a = 1 or not b = 2 and c = 3")
    assert isinstance(ast, pql.Or)
    assert isinstance(ast.items[1], pql.And) and isinstance(ast.items[1].items[0], pql.Not)


def test_lists_functions_nulls_and_time() -> None:
    ast = pql.parse('x in ["a", "b"] and y notIn [1, 2] and z not in [true] '
                    'and n.startsWith("Mc", false) and t.isNotNull() '
                    'and d occurs > 18 years before today')
    kinds = [type(i).__name__ for i in ast.items]
    assert kinds == ["InList", "InList", "InList", "StringMatch", "NullCheck", "Occurs"]
    assert [i.negated for i in ast.items[:3]] == [False, True, True]
    assert ast.items[3].case_sensitive is False
    occurs = ast.items[5]
    assert (occurs.op, occurs.amount, occurs.unit, occurs.direction, occurs.anchor.name) == (
        ">", 18, "YEAR", "before", "today")


def test_events_exists_and_count() -> None:
    ast = pql.parse('exists E from xEvent where E.eventType = "commerce.purchases" and '
                    'E.timestamp occurs <= 30 days before now')
    assert isinstance(ast, pql.EventExists) and ast.var == "E"
    assert isinstance(ast.condition, pql.And) and len(ast.condition.items) == 2
    count = pql.parse('xEvent[eventType = "web.webpagedetails.pageViews"].count() >= 3')
    assert isinstance(count.left, pql.EventCount) and count.right.value == 3


def test_strings_escape_and_quote_either_way() -> None:
    ast = pql.parse("""a = "say \\"hi\\"" or b = 'it\\'s'""")
    assert [i.right.value for i in ast.items] == ['say "hi"', "it's"]


@pytest.mark.parametrize(("rule", "message"), [
    ("", "the rule is empty"),
    ("a >= ", "expected a field, a value or '\\(', found the end of the rule at column 6"),
    ("a >> 3", "found '>' at column 4"),
    ("a = 1 b = 2", "expected 'and', 'or' or the end of the rule, found 'b' at column 7"),
    ("a.shout()", "unknown function 'shout'"),
    ("a in []", "an 'in' list needs at least one value"),
    ('a = "open', "unexpected character '\"' at column 5"),
    ("exists E from events where E.x = 1", "expected 'xEvent'"),
    ("t occurs <= 3 fortnights before now", "expected a time unit"),
    ("t occurs <= 3 days since now", "expected 'before' or 'after'"),
    ('n.contains(3)', "contains\\(\\) needs a string argument"),
    ("xEvent[a = 1].sum()", "expected count\\(\\)"),
    ("(a = 1", "expected '\\)'"),
])
def test_syntax_errors_say_what_and_where(rule: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        pql.parse(rule)
