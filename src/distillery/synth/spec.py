"""The reference's behavioural model: event types, their rates, deltas, delays and dependencies.

Every number here comes from WORKFLOW.md section 1 (the reference's Week 1 notebook). Event types
are referred to by a small integer code (their position in `EVENT_TYPES`) inside the generator, so
the simulation works on NumPy arrays and turns codes into strings only when it builds Arrow tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np


@dataclass(frozen=True)
class EventType:
    """One event type of the reference.

    Attributes:
        name: The XDM `eventType` value.
        weekly: Average occurrences per week (base events) or per parent occurrence per week.
        delta: Change of the latent subscription propensity when the event happens.
        delay_hours: Mean of the exponential delay after its parent event.
    """

    name: str
    weekly: float
    delta: float
    delay_hours: float

    @property
    def is_email(self) -> bool:
        """Whether the event carries the `directMarketing` payload (and never converts)."""
        return self.name.startswith("directMarketing.")

    @property
    def qualifies(self) -> bool:
        """Whether a conversion draw happens at this event (neither email nor advertising)."""
        return not (self.is_email or self.name.startswith("advertising.")
                    or self.name == FORM_FILLED_OUT)


FORM_FILLED_OUT = "web.formFilledOut"

EVENT_TYPES: tuple[EventType, ...] = (
    EventType("advertising.clicks", 0.01, 0.002, 0.5),
    EventType("advertising.impressions", 0.1, 0.001, 0.0),
    EventType("web.webpagedetails.pageViews", 0.1, 0.005, 0.1),
    EventType("web.webinteraction.linkClicks", 0.05, 0.005, 0.1),
    EventType("commerce.productViews", 0.05, 0.005, 0.2),
    EventType("commerce.purchases", 0.01, 0.1, 1.0),
    EventType("decisioning.propositionDisplay", 0.05, 0.005, 0.1),
    EventType("decisioning.propositionInteract", 0.01, 0.1, 0.05),
    EventType("decisioning.propositionDismiss", 0.01, -0.2, 0.05),
    EventType("directMarketing.emailOpened", 0.2, 0.02, 24.0),
    EventType("directMarketing.emailClicked", 0.05, 0.1, 0.5),
    EventType("directMarketing.emailSent", 0.5, 0.005, 0.0),
    EventType(FORM_FILLED_OUT, 0.0, 0.0, 0.0),
)

NAMES: tuple[str, ...] = tuple(t.name for t in EVENT_TYPES)
CODE: dict[str, int] = {name: i for i, name in enumerate(NAMES)}
FORM_CODE = CODE[FORM_FILLED_OUT]

# The reference draws base events first, then walks this mapping in insertion order; the order
# matters because emailClicked -> pageViews rewrites the list that pageViews -> ... then reads.
BASE_TYPES: tuple[str, ...] = (
    "advertising.impressions",
    "web.webpagedetails.pageViews",
    "directMarketing.emailSent",
)
DEPENDENCIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("advertising.impressions", ("advertising.clicks",)),
    ("directMarketing.emailSent", ("directMarketing.emailOpened",)),
    ("directMarketing.emailOpened", ("directMarketing.emailClicked",)),
    ("directMarketing.emailClicked", ("web.webpagedetails.pageViews",)),
    ("web.webpagedetails.pageViews", ("web.webinteraction.linkClicks", "commerce.productViews",
                                      "decisioning.propositionDisplay")),
    ("commerce.productViews", ("commerce.purchases",)),
    ("decisioning.propositionDisplay", ("decisioning.propositionInteract",
                                        "decisioning.propositionDismiss")),
)

WEEKS = 10
WINDOW = timedelta(weeks=WEEKS)
# The window ends this long before as-of, as in the reference (`now - 14 days`).
WINDOW_LAG = timedelta(days=14)
INITIAL_PROPENSITY = 0.001
CONVERSION_LAG = timedelta(seconds=60)

SCENARIOS: tuple[str, ...] = ("reference", "independent")

# Per-code lookup tables used by the vectorised walk.
DELTAS = np.array([t.delta for t in EVENT_TYPES], dtype=np.float64)
QUALIFIES = np.array([t.qualifies for t in EVENT_TYPES], dtype=bool)
IS_EMAIL = np.array([t.is_email for t in EVENT_TYPES], dtype=bool)
# webInteraction.linkClicks.value is 1.0 for these types in the reference's web payload.
LINK_CLICK_TYPES = frozenset({
    "advertising.clicks", "commerce.purchases", "web.webinteraction.linkClicks",
    FORM_FILLED_OUT, "decisioning.propositionInteract", "decisioning.propositionDismiss",
})
LINK_CLICKS = np.array([n in LINK_CLICK_TYPES for n in NAMES], dtype=bool)


def mean(name: str) -> float:
    """Poisson mean of a type's count over the window (per user or per parent occurrence)."""
    return EVENT_TYPES[CODE[name]].weekly * WEEKS


def check_scenario(scenario: str) -> str:
    """Return `scenario` if it is known, else raise ValueError naming the choices."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; use one of {', '.join(SCENARIOS)}")
    return scenario
