"""The identity graph's rules: AEP's guardrails and the unique-namespace rule.

- Identities seen together in one record are linked.
- At most `max_per_record` identities of one record are used (20 in AEP); the rest are ignored.
- At most `max_per_graph` identities make one person (50 in AEP); when a graph grows past it,
  the identities seen least recently are dropped from it.
- Junk values ("null", "anonymous", "invalid", empty, ...) and values that do not fit their
  namespace (an ECID is 38 digits) are never identities.
- A unique namespace holds at most one identity per person (one CRM id, one ECID): a link that
  would give a person a second one is refused, the most recent links winning. This keeps a
  shared device or a shared e-mail address from collapsing two people into one.
"""

from __future__ import annotations

from dataclasses import dataclass

from distillery.lake.validate import JUNK_IDENTITIES

# The patterns the lake checks at ingestion; the graph applies them again so that data
# written before a rule existed (or by another tool) cannot slip in.
NAMESPACE_PATTERNS = {"ECID": r"^\d{38}$", "Email": r"^[^@\s]+@[^@\s]+$"}


@dataclass(frozen=True)
class GraphRules:
    """How identities are linked into people.

    Attributes:
        max_per_graph: Identities per person at most; the least recently seen are dropped.
        max_per_record: Identities used per record at most (primary identity first).
        unique_namespaces: Namespaces of which a person holds at most one identity.
        priority: Namespace order for naming a person and resolving a record to a person:
            a person's id is its identity in the first namespace of this list it has.
        junk: Values that are never identities (compared case-insensitively, trimmed).
    """

    max_per_graph: int = 50
    max_per_record: int = 20
    unique_namespaces: tuple[str, ...] = ("CRMID", "ECID")
    priority: tuple[str, ...] = ("CRMID", "ECID", "Email", "Phone")
    junk: tuple[str, ...] = JUNK_IDENTITIES

    def rank(self, namespace: str) -> int:
        """The position of a namespace in the priority order (unknown ones come last)."""
        return self.priority.index(namespace) if namespace in self.priority else \
            len(self.priority)


DEFAULT_RULES = GraphRules()
