"""Unified profiles: the identity graph, merge policies, and one row per person.

    from distillery import profiles

    profiles.refresh(platform)                          # incremental; full when it must be
    view = profiles.profile(platform, "ECID:0123...")   # attributes, identities, events, scores
    profiles.create_policy(platform, "crm-first", "dataSetPrecedence", ["crm", "profiles"])

The unified profiles are the dataset `unified_profiles` (one row per person), the graph is
`identity_graph` (one row per identity); both are served by the Query Service.
"""

from __future__ import annotations

from distillery.profiles.lookup import ProfileView, parse_identity, profile
from distillery.profiles.policies import (
    DATASET_PRECEDENCE,
    TIMESTAMP_ORDERED,
    MergePolicy,
    create_policy,
    delete_policy,
    get_policy,
    list_policies,
    set_default,
)
from distillery.profiles.refresh import RefreshResult, build_graph, refresh
from distillery.profiles.rules import DEFAULT_RULES, GraphRules
from distillery.profiles.service import attach, deferred
from distillery.profiles.store import GRAPH, UNIFIED

__all__ = [
    "DATASET_PRECEDENCE",
    "DEFAULT_RULES",
    "GRAPH",
    "TIMESTAMP_ORDERED",
    "UNIFIED",
    "GraphRules",
    "MergePolicy",
    "ProfileView",
    "RefreshResult",
    "attach",
    "build_graph",
    "create_policy",
    "deferred",
    "delete_policy",
    "get_policy",
    "list_policies",
    "parse_identity",
    "profile",
    "refresh",
    "set_default",
]
