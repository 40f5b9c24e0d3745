"""The score dataset: the reference's score schema plus what scores need to be used.

The reference ingests `_{tenant}.userid` (ECID, the primary identity) and
`_{tenant}.propensity`. Distillery keeps the field but takes its namespace from the feature
definition the model was trained on: a model trained on events keyed by Email scores Email
identities, so the profile merge finds the people the features came from. The rows also
carry the decile and percentile over the whole scored population, the model name and version,
and when they were scored (the record's timestamp, so the timestampOrdered merge makes the
latest score win).

Deciles and percentiles rank upwards: decile 10 and percentile 100 hold the highest
propensities. A person's percentile is ceil(100 * cume_dist): the share of people scored at or
below their propensity; people with the same propensity share a rank.
"""

from __future__ import annotations

from distillery.lake import xdm
from distillery.lake.schema import Field, IdentityDescriptor, Schema

SCORES_DATASET = "propensity_scores"
DEFAULT_NAMESPACE = "ECID"
SCORES_TAG = "scores"
FIELDS = (
    Field("propensity", "double", description="Calibrated probability of converting."),
    Field("decile", "int", description="1 (lowest tenth) to 10 (highest tenth)."),
    Field("percentile", "int", description="1 (lowest) to 100 (highest)."),
    Field("modelName", "string"),
    Field("modelVersion", "string"),
    Field("scoredAt", "timestamp"),
)
# CSV column -> score field: the reference's two columns, then Distillery's extras.
REFERENCE_COLUMNS = {"userId": "userid", "prediction": "propensity"}
EXTRA_COLUMNS = {"decile": "decile", "percentile": "percentile", "model_name": "modelName",
                 "model_version": "modelVersion", "scored_at": "scoredAt"}


def score_schema(tenant: str = "tenant", namespace: str = DEFAULT_NAMESPACE) -> Schema:
    """The score dataset's schema: Individual Profile class, `_{tenant}.userid` the primary
    identity in `namespace` (the reference's ECID by default)."""
    identity = xdm.userid_identity(tenant)
    if namespace != identity.namespace:
        identity = IdentityDescriptor(identity.path, namespace, primary=True)
    return Schema(
        title="Propensity Scores", cls="profile", tenant=tenant,
        field_groups=(xdm.PROFILE_CLASS, xdm.tenant_group(tenant, *FIELDS, name="propensity")),
        identities=(identity,),
        description="Propensity scores with decile, percentile, model and time.")


def csv_mapping(tenant: str, columns: list[str] | None = None) -> dict[str, str]:
    """Source column -> field path for a score CSV: the reference's mapping
    (userId -> _{tenant}.userid, prediction -> _{tenant}.propensity) plus the extra columns
    the file has."""
    wanted = dict(REFERENCE_COLUMNS)
    wanted.update({c: f for c, f in EXTRA_COLUMNS.items() if columns is None or c in columns})
    return {column: f"_{tenant}.{name}" for column, name in wanted.items()}
