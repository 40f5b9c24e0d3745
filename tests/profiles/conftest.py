"""Profile fixtures: record datasets with several identity namespaces, and rows for them."""

from __future__ import annotations

from typing import Any

import pytest

from distillery import Platform
from distillery.lake import xdm
from distillery.lake.schema import Field, FieldGroup, IdentityDescriptor, Schema

ECID_C = "55555555555555555555555555555555555555"


def ident(ns: str, value: str, primary: bool = False) -> dict[str, Any]:
    return {"id": value, "authenticatedState": "authenticated", "primary": primary}


def profile_row(ecid: str | None, *, emails: tuple[str, ...] = (), **attrs: Any
                ) -> dict[str, Any]:
    """A row of the Individual Profile dataset (xdm.profile_schema)."""
    imap: dict[str, list[dict[str, Any]]] = {}
    if ecid:
        imap["ECID"] = [ident("ECID", ecid, True)]
    if emails:
        imap["Email"] = [ident("Email", e) for e in emails]
    return {"identityMap": imap, "_tenant": {"userid": ecid}, **attrs}


def crm_schema() -> Schema:
    """A CRM record dataset: `crm.crmId` (namespace CRMID, primary), tier, email, points."""
    return Schema(
        title="CRM", cls="profile",
        field_groups=(xdm.PROFILE_CLASS, FieldGroup("crm", (Field("crm", "struct", fields=(
            Field("crmId", "string"), Field("email", "string"),
            Field("points", "double"))),)),
            FieldGroup("loyalty-copy", xdm.LOYALTY.fields)),
        identities=(IdentityDescriptor("crm.crmId", "CRMID", primary=True),))


def crm_row(crm_id: str, *, email: str | None = None, ecid: str | None = None,
            tier: str | None = None, points: float | None = None) -> dict[str, Any]:
    imap: dict[str, list[dict[str, Any]]] = {}
    if email:
        imap["Email"] = [ident("Email", email)]
    if ecid:
        imap["ECID"] = [ident("ECID", ecid)]
    return {"identityMap": imap, "crm": {"crmId": crm_id, "email": email, "points": points},
            "loyalty": {"tier": tier} if tier else None}


@pytest.fixture
def profiles_ds(platform: Platform):
    """An empty profile-enabled Individual Profile dataset named `profiles`."""
    return platform.create_dataset("profiles", xdm.profile_schema(), profile_enabled=True)


@pytest.fixture
def crm_ds(platform: Platform):
    """An empty profile-enabled CRM dataset named `crm`."""
    return platform.create_dataset("crm", crm_schema(), profile_enabled=True)
