"""Referee clients and trainer adapters. Installs without the server: `pip install referee`."""

from clients.client import AsyncRefereeClient, ItemResult, RefereeClient, RefereeError, RewardResponse

__all__ = ["AsyncRefereeClient", "ItemResult", "RefereeClient", "RefereeError", "RewardResponse"]
