"""Destinations and activation: audiences sent to files in storage or over HTTP, governed.

    from distillery.destinations import Destinations, activate, destination
    Destinations(platform).create("crm-drop", "files", url="/data/out", format="csv")
    run = activate(platform, "likely", to="crm-drop", dry_run=True)
"""

from distillery.destinations.activation import activate
from distillery.destinations.base import (
    ActivationContext,
    Capabilities,
    Destination,
    DestinationClient,
    DestinationError,
    DestinationSpec,
    SendOutcome,
)
from distillery.destinations.function import destination
from distillery.destinations.registry import Destinations, destination_type
from distillery.destinations.runs import ActivationRun, RunStore

__all__ = ["ActivationContext", "ActivationRun", "Capabilities", "Destination",
           "DestinationClient", "DestinationError", "DestinationSpec", "Destinations",
           "RunStore", "SendOutcome", "activate", "destination", "destination_type"]
