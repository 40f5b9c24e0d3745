"""ExperienceEvent rows from a cohort: the XDM payloads the reference fills.

Email events (directMarketing.*) fill `directMarketing`; every other event fills `web`. Each
payload detail (page, link, region, referrer) is a pool entry chosen by bits of the event's
`pick`, so building a batch makes no random draws of its own. Only eventType carries signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa

from distillery.synth import pools, spec, text
from distillery.synth.cohort import Cohort
from distillery.synth.identity import identity_map
from distillery.synth.schemas import TIMESTAMP

_SENT = spec.CODE["directMarketing.emailSent"]
_OPENED = spec.CODE["directMarketing.emailOpened"]
_CLICKED = spec.CODE["directMarketing.emailClicked"]
_ERROR_PAGE_PER_MILLE = 5


@dataclass(frozen=True)
class UserIds:
    """Identities of a cohort's users, aligned with its users."""

    ecid: pa.StringArray
    email: pa.StringArray
    hashed: pa.StringArray


def event_columns(c: Cohort, ids: UserIds, window_start_us: int, tenant: str,
                  domain: str) -> dict[str, pa.Array]:
    """The ExperienceEvent columns of a cohort's events, by top-level field name."""
    email = spec.IS_EMAIL[c.code]
    return {
        "_id": event_ids(c),
        "timestamp": timestamps(c, window_start_us),
        "eventType": event_types(c),
        "producedBy": pa.repeat(pa.scalar("self"), c.events),
        "identityMap": identity_map(ids.ecid, ids.email, c.user),
        "directMarketing": _direct_marketing(c, ids, email),
        "web": _web(c, ~email, domain),
        f"_{tenant}": pa.StructArray.from_arrays([ids.ecid.take(pa.array(c.user))], ["userid"]),
    }


def event_ids(c: Cohort) -> pa.StringArray:
    """The `_id` (uuid4 text) of each event."""
    return text.from_matrix(text.uuid4_matrix(c.uuid))


def timestamps(c: Cohort, window_start_us: int) -> pa.TimestampArray:
    """The UTC timestamp of each event."""
    return pa.array(c.time + window_start_us, type=TIMESTAMP)


def event_types(c: Cohort) -> pa.StringArray:
    """The eventType of each event."""
    return pa.array(spec.NAMES).take(pa.array(c.code))


def _measure(values: np.ndarray, absent: np.ndarray) -> pa.StructArray:
    """A `{value: v}` measure, null where `absent` (its child too: some readers look at a
    child's validity alone)."""
    return pa.StructArray.from_arrays([pa.array(values, mask=absent)], ["value"],
                                      mask=pa.array(absent))


def _ones(valid: np.ndarray) -> pa.StructArray:
    """A `{value: 1.0}` measure where `valid`, null elsewhere."""
    return _measure(np.ones(len(valid)), ~valid)


def _index(index: np.ndarray, absent: np.ndarray) -> pa.Array:
    """An Arrow index array, null where `absent`, for taking from pools."""
    return pa.array(index, mask=absent)


def _direct_marketing(c: Cohort, ids: UserIds, email: np.ndarray) -> pa.StructArray:
    absent = ~email
    user = _index(c.user, absent)
    # Opens and clicks inherit the thread of the email they descend from, so one message id
    # ties a send to its opens and clicks, as a real campaign's events would.
    threads = text.from_matrix(text.hex64(c.thread))
    message_ids = threads.take(_index(np.arange(c.events), absent))
    sent, opened = _ones(c.code == _SENT), _ones(c.code == _OPENED)
    return pa.StructArray.from_arrays(
        [sent, sent, opened, opened, _ones(c.code == _CLICKED), ids.email.take(user),
         ids.hashed.take(user), message_ids],
        ["sends", "emailDelivered", "opens", "offerOpens", "clicks", "emailVisitorID",
         "hashedEmail", "messageID"],
        mask=pa.array(absent),
    )


@dataclass(frozen=True)
class _Site:
    """The pools as Arrow arrays for one domain."""

    server: pa.Array
    page_url: pa.Array
    page_name: pa.Array
    section: pa.Array
    view: pa.Array
    link_url: pa.Array
    link_name: pa.Array
    link_type: pa.Array
    region: pa.Array
    referrer_url: pa.Array
    referrer_type: pa.Array


@lru_cache(maxsize=8)
def _site(domain: str) -> _Site:
    site = f"https://www.{domain}"
    links = pools.LINKS
    return _Site(
        server=pa.array([f"www.{domain}"]),
        page_url=pa.array([site + path for path, _, _ in pools.PAGES]),
        page_name=pa.array([name for _, _, name in pools.PAGES]),
        section=pa.array([section for _, section, _ in pools.PAGES]),
        view=pa.array([f"{section}:{name.lower()}" for _, section, name in pools.PAGES]),
        link_url=pa.array([u if u.startswith("http") else site + u for _, u in links]),
        link_name=pa.array([name for name, _ in links]),
        link_type=pa.array([_link_type(u) for _, u in links]),
        region=pa.array(pools.REGIONS),
        referrer_url=pa.array([u.replace("{site}", site) or None for u, _ in pools.REFERRERS]),
        referrer_type=pa.array([t for _, t in pools.REFERRERS]),
    )


def _link_type(url: str) -> str:
    if url.endswith(".pdf"):
        return "download"
    return "exit" if url.startswith("http") else "other"


def _bits(pick: np.ndarray, shift: int, size: int) -> np.ndarray:
    """An index in [0, size) from the bits of `pick` above `shift`."""
    return ((pick >> np.uint64(shift)) % np.uint64(size)).astype(np.int64)


def _web(c: Cohort, web: np.ndarray, domain: str) -> pa.StructArray:
    site = _site(domain)
    absent = ~web
    page = _index(_bits(c.pick, 0, len(pools.PAGES)), absent)
    link = _index(_bits(c.pick, 8, len(pools.LINKS)), absent)
    region = _index(_bits(c.pick, 16, len(pools.REGIONS)), absent)
    referrer = _index(_bits(c.pick, 24, len(pools.REFERRERS)), absent)
    error = _bits(c.pick, 32, 1000) < _ERROR_PAGE_PER_MILLE
    details = pa.StructArray.from_arrays(
        [_measure(np.ones(c.events), absent), site.page_url.take(page),
         site.page_name.take(page), site.server.take(_index(np.zeros(c.events, np.int64), absent)),
         site.section.take(page), site.view.take(page), pa.array(error, mask=absent)],
        ["pageViews", "URL", "name", "server", "siteSection", "viewName", "isErrorPage"],
        mask=pa.array(absent),
    )
    interaction = pa.StructArray.from_arrays(
        [_measure(spec.LINK_CLICKS[c.code].astype(np.float64), absent), site.link_url.take(link),
         site.link_name.take(link), site.region.take(region), site.link_type.take(link)],
        ["linkClicks", "URL", "name", "region", "type"],
        mask=pa.array(absent),
    )
    referrer_struct = pa.StructArray.from_arrays(
        [site.referrer_url.take(referrer), site.referrer_type.take(referrer)], ["URL", "type"],
        mask=pa.array(absent),
    )
    return pa.StructArray.from_arrays([details, interaction, referrer_struct],
                                      ["webPageDetails", "webInteraction", "webReferrer"],
                                      mask=pa.array(absent))
