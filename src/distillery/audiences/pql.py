"""A parser for the subset of PQL (Profile Query Language) that audiences use.

Text -> tokens -> a small AST; `compile.py` turns the AST into a SQLGlot tree. Supported:

    _{tenant}.propensity >= 0.2 and _{tenant}.propensity <= 0.93      comparisons, and/or/not
    homeAddress.country in ["FR", "DE"]      (also `not in`, `notIn`)
    person.name.lastName.startsWith("Mc")    contains, endsWith, matches (regex), like, equals;
                                             a second argument `false` ignores case
    loyalty.tier.isNotNull()                 isNull, isNotNull (exists() is isNotNull)
    person.birthDate occurs > 18 years before now          relative time (also `after`, `on`,
                                                           `between A and B`, today, ...)
    exists E from xEvent where E.eventType = "commerce.purchases"
                           and E.timestamp occurs <= 30 days before now
    xEvent[eventType = "web.webpagedetails.pageViews"].count() >= 3

`{tenant}` in a rule is replaced by the sandbox's tenant id before parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from distillery.audiences.errors import RuleError

EVENTS = "xevent"
COMPARISONS = ("=", "==", "!=", "<>", "<", "<=", ">", ">=")
STRING_FUNCTIONS = ("contains", "startswith", "endswith", "matches", "like", "equals")
NULL_FUNCTIONS = {"isnull": True, "isnotnull": False, "exists": False}
ANCHORS = ("now", "today", "yesterday", "tomorrow")
UNITS = {"second": "SECOND", "minute": "MINUTE", "hour": "HOUR", "day": "DAY", "week": "WEEK",
         "month": "MONTH", "year": "YEAR"}
_RESERVED = {"and", "or", "not", "in", "notin", "exists", "occurs", "true", "false", "null"}
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>==|!=|<>|<=|>=|[=<>()\[\],.:-])
""", re.VERBOSE)


# The AST ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Path:
    """A field path; `parts[0]` may be a variable bound by `exists X from xEvent`."""

    parts: tuple[str, ...]
    pos: int


@dataclass(frozen=True)
class Literal:
    """A string, number, boolean or null."""

    value: Any
    pos: int


@dataclass(frozen=True)
class Anchor:
    """A moment relative to the evaluation time: now, today, yesterday, tomorrow."""

    name: str
    pos: int


@dataclass(frozen=True)
class Compare:
    op: str
    left: Any
    right: Any
    pos: int


@dataclass(frozen=True)
class InList:
    operand: Path
    values: tuple[Literal, ...]
    negated: bool
    pos: int


@dataclass(frozen=True)
class StringMatch:
    function: str
    operand: Path
    argument: Literal
    case_sensitive: bool
    pos: int


@dataclass(frozen=True)
class NullCheck:
    operand: Path
    is_null: bool
    pos: int


@dataclass(frozen=True)
class Occurs:
    """`operand occurs [op amount unit] direction anchor` or `between anchor and end`."""

    operand: Path
    direction: str  # before, after, on, between
    anchor: Anchor | Literal
    op: str | None = None
    amount: int | None = None
    unit: str | None = None
    end: Anchor | Literal | None = None
    pos: int = 0


@dataclass(frozen=True)
class BoolPath:
    """A bare boolean field used as a condition."""

    path: Path


@dataclass(frozen=True)
class And:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    item: Any


@dataclass(frozen=True)
class EventExists:
    """`exists VAR from xEvent where COND` (COND may also use profile fields)."""

    var: str
    condition: Any
    pos: int


@dataclass(frozen=True)
class EventCount:
    """`xEvent[COND].count()`: bare paths in COND are event fields."""

    condition: Any | None
    pos: int


# Tokens ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    kind: str  # string, number, ident, op, end
    text: str
    pos: int

    @property
    def word(self) -> str:
        return self.text.lower() if self.kind == "ident" else ""


def tokenize(text: str) -> list[Token]:
    """The tokens of a rule; RuleError at the first character that starts none."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise RuleError(f"unexpected character {text[pos]!r}", rule=text, position=pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


# The parser ------------------------------------------------------------------------------------

def expand(text: str, tenant: str | None) -> str:
    """The rule with `{tenant}` replaced by the tenant id (when one is given)."""
    return text if tenant is None else text.replace("{tenant}", tenant)


def parse(text: str, tenant: str | None = None) -> Any:
    """Parse a rule into its AST.

    Args:
        text: The PQL rule.
        tenant: Replaces `{tenant}` in the text (so `_{tenant}.propensity` works as written).

    Raises:
        RuleError: naming what is wrong and where.
    """
    text = expand(text, tenant)
    if not text.strip():
        raise RuleError("the rule is empty")
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # Helpers --------------------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        tok = self.tok
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def error(self, message: str, tok: Token | None = None) -> RuleError:
        tok = tok or self.tok
        found = "the end of the rule" if tok.kind == "end" else repr(tok.text)
        return RuleError(f"{message}, found {found}", rule=self.text, position=tok.pos)

    def accept_word(self, *words: str) -> Token | None:
        if self.tok.word in words:
            return self.next()
        return None

    def expect_word(self, word: str) -> Token:
        tok = self.accept_word(word)
        if tok is None:
            raise self.error(f"expected {word!r}")
        return tok

    def accept_op(self, *ops: str) -> Token | None:
        if self.tok.kind == "op" and self.tok.text in ops:
            return self.next()
        return None

    def expect_op(self, op: str) -> Token:
        tok = self.accept_op(op)
        if tok is None:
            raise self.error(f"expected {op!r}")
        return tok

    # Grammar --------------------------------------------------------------------------------

    def parse(self) -> Any:
        node = self.or_expr()
        if self.tok.kind != "end":
            raise self.error("expected 'and', 'or' or the end of the rule")
        return node

    def or_expr(self) -> Any:
        items = [self.and_expr()]
        while self.accept_word("or"):
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Any:
        items = [self.not_expr()]
        while self.accept_word("and"):
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self) -> Any:
        if self.accept_word("not"):
            return Not(self.not_expr())
        if self.tok.word == "exists":
            return self.exists()
        return self.predicate()

    def exists(self) -> EventExists:
        start = self.next()
        var = self.next()
        if var.kind != "ident" or var.word in _RESERVED:
            raise self.error("expected a variable name after 'exists'", var)
        self.expect_word("from")
        source = self.next()
        if source.word != EVENTS:
            raise self.error("expected 'xEvent' (only events can be quantified)", source)
        if not (self.accept_word("where") or self.accept_op(":")):
            raise self.error("expected 'where' or ':'")
        return EventExists(var.text, self.not_expr_chain(), start.pos)

    def not_expr_chain(self) -> Any:
        # The condition of `exists` runs to the end of its and-chain, as in PQL.
        items = [self.not_expr()]
        while self.accept_word("and"):
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def predicate(self) -> Any:
        if self.accept_op("("):
            node = self.or_expr()
            self.expect_op(")")
            return node
        left = self.operand()
        if isinstance(left, NullCheck | StringMatch):
            return left
        tok = self.tok
        if tok.kind == "op" and tok.text in COMPARISONS:
            self.next()
            op = {"==": "=", "<>": "!="}.get(tok.text, tok.text)
            return Compare(op, left, self.operand(), tok.pos)
        if tok.word in ("in", "notin") or (tok.word == "not" and self.peek().word == "in"):
            return self.in_list(left)
        if tok.word == "occurs":
            return self.occurs(left)
        if isinstance(left, Path):
            return BoolPath(left)
        raise self.error("expected a comparison (=, !=, <, <=, >, >=), 'in' or 'occurs'")

    def operand(self) -> Any:
        tok = self.tok
        if tok.kind == "string":
            self.next()
            return Literal(_unquote(tok.text), tok.pos)
        if tok.kind == "number" or (tok.kind == "op" and tok.text == "-"
                                    and self.peek().kind == "number"):
            return self.number()
        if tok.word in ("true", "false"):
            self.next()
            return Literal(tok.word == "true", tok.pos)
        if tok.word == "null":
            self.next()
            return Literal(None, tok.pos)
        if tok.word in ANCHORS and self.peek().text != ".":
            self.next()
            return Anchor(tok.word, tok.pos)
        if tok.word == EVENTS:
            return self.event_count()
        if tok.kind == "ident" and tok.word not in _RESERVED:
            return self.path_or_call()
        raise self.error("expected a field, a value or '('")

    def number(self) -> Literal:
        sign = -1 if self.accept_op("-") else 1
        tok = self.next()
        value: int | float = float(tok.text) if any(c in tok.text for c in ".eE") \
            else int(tok.text)
        return Literal(sign * value, tok.pos)

    def path_or_call(self) -> Any:
        first = self.next()
        parts = [first.text]
        while self.tok.text == "." and self.peek().kind == "ident":
            if self.peek(2).text == "(":
                self.next()
                return self.call(Path(tuple(parts), first.pos))
            self.next()
            parts.append(self.next().text)
        return Path(tuple(parts), first.pos)

    def call(self, path: Path) -> Any:
        name_tok = self.next()
        name = name_tok.word
        self.expect_op("(")
        args = []
        while self.tok.text != ")":
            args.append(self.operand())
            if not self.accept_op(","):
                break
        self.expect_op(")")
        if name in NULL_FUNCTIONS:
            if args:
                raise self.error(f"{name_tok.text}() takes no arguments", name_tok)
            return NullCheck(path, NULL_FUNCTIONS[name], name_tok.pos)
        if name in STRING_FUNCTIONS:
            return self.string_match(path, name, name_tok, args)
        raise RuleError(f"unknown function {name_tok.text!r}; use one of contains, startsWith, "
                        "endsWith, matches, like, equals, isNull, isNotNull",
                        rule=self.text, position=name_tok.pos)

    def string_match(self, path: Path, name: str, tok: Token, args: list[Any]) -> StringMatch:
        if not args or not isinstance(args[0], Literal) or not isinstance(args[0].value, str):
            raise RuleError(f"{tok.text}() needs a string argument", rule=self.text,
                            position=tok.pos)
        case = True
        if len(args) == 2:
            if not isinstance(args[1], Literal) or not isinstance(args[1].value, bool):
                raise RuleError(f"the second argument of {tok.text}() is true or false "
                                "(case sensitive)", rule=self.text, position=tok.pos)
            case = args[1].value
        elif len(args) > 2:
            raise RuleError(f"{tok.text}() takes one or two arguments", rule=self.text,
                            position=tok.pos)
        return StringMatch(name, path, args[0], case, tok.pos)

    def in_list(self, left: Any) -> InList:
        tok = self.next()
        negated = tok.word == "notin"
        if tok.word == "not":
            self.next()
            negated = True
        if not isinstance(left, Path):
            raise self.error("'in' needs a field on its left", tok)
        self.expect_op("[")
        values = []
        while self.tok.text != "]":
            value = self.operand()
            if not isinstance(value, Literal):
                raise self.error("a list holds values (strings, numbers, booleans)")
            values.append(value)
            if not self.accept_op(","):
                break
        self.expect_op("]")
        if not values:
            raise self.error("an 'in' list needs at least one value", tok)
        return InList(left, tuple(values), negated, tok.pos)

    def occurs(self, left: Any) -> Occurs:
        tok = self.next()
        if not isinstance(left, Path):
            raise self.error("'occurs' needs a timestamp field on its left", tok)
        if self.tok.kind == "op" and self.tok.text in COMPARISONS:
            op_tok = self.next()
            op = {"==": "=", "<>": "!="}.get(op_tok.text, op_tok.text)
            amount_tok = self.next()
            if amount_tok.kind != "number" or not amount_tok.text.isdigit():
                raise self.error("expected a whole number of time units", amount_tok)
            unit = self.unit()
            direction = self.accept_word("before", "after", "from")
            if direction is None:
                raise self.error("expected 'before' or 'after'")
            return Occurs(left, "before" if direction.word == "before" else "after",
                          self.anchor(), op, int(amount_tok.text), unit, pos=tok.pos)
        if self.accept_word("between"):
            start = self.anchor()
            self.expect_word("and")
            return Occurs(left, "between", start, end=self.anchor(), pos=tok.pos)
        word = self.accept_word("before", "after", "on")
        return Occurs(left, word.word if word else "on", self.anchor(), pos=tok.pos)

    def unit(self) -> str:
        tok = self.next()
        word = tok.word[:-1] if tok.word.endswith("s") else tok.word
        if word not in UNITS:
            raise self.error(f"expected a time unit ({', '.join(u + 's' for u in UNITS)})", tok)
        return UNITS[word]

    def anchor(self) -> Anchor | Literal:
        tok = self.next()
        if tok.word in ANCHORS:
            return Anchor(tok.word, tok.pos)
        if tok.kind == "string":
            return Literal(_unquote(tok.text), tok.pos)
        raise self.error("expected now, today, yesterday, tomorrow or a quoted timestamp", tok)

    def event_count(self) -> EventCount:
        start = self.next()
        condition = None
        if self.accept_op("["):
            condition = self.or_expr()
            self.expect_op("]")
        self.expect_op(".")
        name = self.next()
        if name.word != "count":
            raise self.error("expected count() after xEvent[...]", name)
        self.expect_op("(")
        self.expect_op(")")
        return EventCount(condition, start.pos)


def walk(node: Any) -> list[Any]:
    """Every node of an AST, depth first."""
    out = [node]
    for child in _children(node):
        out += walk(child)
    return out


def _children(node: Any) -> list[Any]:
    if isinstance(node, And | Or):
        return list(node.items)
    if isinstance(node, Not):
        return [node.item]
    if isinstance(node, Compare):
        return [node.left, node.right]
    if isinstance(node, EventExists | EventCount):
        return [node.condition] if node.condition is not None else []
    if isinstance(node, InList | StringMatch | NullCheck | Occurs):
        return [node.operand]
    if isinstance(node, BoolPath):
        return [node.path]
    return []
