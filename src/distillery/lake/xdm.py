"""The standard XDM classes and field groups the reference workflow uses.

Names follow Adobe's XDM so a user of the reference recognises every path:
`directMarketing.opens.value`, `web.webPageDetails.pageViews.value`, `_{tenant}.userid`.
"""

from __future__ import annotations

from distillery.lake.schema import Field, FieldGroup, IdentityDescriptor, Schema

IDENTITY_MAP = Field(
    "identityMap", "map",
    values=Field("identities", "array", items=Field("identity", "struct", fields=(
        Field("id", "string"),
        Field("authenticatedState", "string",
              enum=("ambiguous", "authenticated", "loggedOut")),
        Field("primary", "boolean"),
    ))),
    description="Identity namespace -> identities seen in this record.",
)


def _measure(name: str) -> Field:
    return Field(name, "struct", fields=(Field("value", "double"),))


def _val(name: str) -> Field:
    return Field(name, "struct", fields=(Field("val", "string", enum=("y", "n", "p", "u", "dy",
                                                                       "dn", "LI", "CT", "CP")),))


EXPERIENCE_EVENT_CLASS = FieldGroup("ExperienceEvent", (
    Field("_id", "string", required=True),
    Field("timestamp", "timestamp", required=True),
    Field("eventType", "string"),
    Field("producedBy", "string"),
    IDENTITY_MAP,
))

PROFILE_CLASS = FieldGroup("IndividualProfile", (IDENTITY_MAP,))

DIRECT_MARKETING = FieldGroup("directMarketing", (Field("directMarketing", "struct", fields=(
    _measure("sends"), _measure("emailDelivered"), _measure("opens"), _measure("offerOpens"),
    _measure("clicks"),
    Field("emailVisitorID", "string"), Field("hashedEmail", "string"),
    Field("messageID", "string"),
)),))

WEB = FieldGroup("web", (Field("web", "struct", fields=(
    Field("webPageDetails", "struct", fields=(
        _measure("pageViews"), Field("URL", "string"), Field("name", "string"),
        Field("server", "string"), Field("siteSection", "string"), Field("viewName", "string"),
        Field("isErrorPage", "boolean"),
    )),
    Field("webInteraction", "struct", fields=(
        _measure("linkClicks"), Field("URL", "string"), Field("name", "string"),
        Field("region", "string"),
        Field("type", "string", enum=("download", "exit", "other")),
    )),
    Field("webReferrer", "struct", fields=(
        Field("URL", "string"), Field("type", "string"),
    )),
)),))

COMMERCE = FieldGroup("commerce", (Field("commerce", "struct", fields=(
    _measure("purchases"), _measure("productViews"), _measure("checkouts"),
    Field("order", "struct", fields=(
        Field("purchaseID", "string"), Field("priceTotal", "double"),
        Field("currencyCode", "string"),
    )),
)),))

PERSONAL_DETAILS = FieldGroup("personalDetails", (
    Field("person", "struct", fields=(
        Field("name", "struct", fields=(Field("firstName", "string"),
                                        Field("lastName", "string"))),
        Field("gender", "string", enum=("male", "female", "not_specified", "non_specific")),
        Field("birthDate", "date"),
    )),
    Field("personalEmail", "struct", fields=(Field("address", "string"),)),
    Field("mobilePhone", "struct", fields=(Field("number", "string"),)),
    Field("homeAddress", "struct", fields=(
        Field("street1", "string"), Field("city", "string"), Field("stateProvince", "string"),
        Field("postalCode", "string"), Field("country", "string"),
    )),
))

LOYALTY = FieldGroup("loyalty", (Field("loyalty", "struct", fields=(
    Field("loyaltyID", "string"),
    Field("tier", "string", enum=("diamond", "platinum", "gold", "silver", "member")),
    Field("points", "double"),
    Field("joinDate", "date"),
)),))

CONSENTS = FieldGroup("consents", (Field("consents", "struct", fields=(
    Field("marketing", "struct", fields=(
        Field("preferred", "string", enum=("email", "push", "inApp", "sms", "phone",
                                           "phyMail", "inVehicle", "inHome", "IoT", "social",
                                           "other", "none", "unknown")),
        _val("any"), _val("email"), _val("sms"),
    )),
    _val("collect"), _val("share"),
)),))


def tenant_group(tenant: str, *extra: Field, name: str = "tenant") -> FieldGroup:
    """The tenant field group `_{tenant}` with `userid` and any extra fields."""
    return FieldGroup(name, (Field(f"_{tenant}", "struct",
                                   fields=(Field("userid", "string"), *extra)),))


def userid_identity(tenant: str) -> IdentityDescriptor:
    """The reference's primary identity: `_{tenant}.userid` in namespace ECID."""
    return IdentityDescriptor(f"_{tenant}.userid", "ECID", primary=True)


def experience_event_schema(tenant: str = "tenant",
                            title: str = "Experience Events") -> Schema:
    """The reference's ExperienceEvent schema: directMarketing, web, commerce and tenant ids."""
    return Schema(
        title=title, cls="event", tenant=tenant,
        field_groups=(EXPERIENCE_EVENT_CLASS, DIRECT_MARKETING, WEB, COMMERCE,
                      tenant_group(tenant)),
        identities=(userid_identity(tenant),),
    )


def profile_schema(tenant: str = "tenant", title: str = "Individual Profiles") -> Schema:
    """The reference's Individual Profile schema with personal details, loyalty and consents."""
    return Schema(
        title=title, cls="profile", tenant=tenant,
        field_groups=(PROFILE_CLASS, tenant_group(tenant), PERSONAL_DETAILS, LOYALTY, CONSENTS),
        identities=(userid_identity(tenant),),
    )


def propensity_schema(tenant: str = "tenant", title: str = "Propensity Scores") -> Schema:
    """The reference's score schema: `_{tenant}.userid` (ECID) and `_{tenant}.propensity`."""
    return Schema(
        title=title, cls="profile", tenant=tenant,
        field_groups=(PROFILE_CLASS, tenant_group(tenant, Field("propensity", "double"),
                                                  name="propensity")),
        identities=(userid_identity(tenant),),
    )
