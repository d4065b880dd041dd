"""The names of the journal's streams: one per commitment, source, item, account,
proposal and digest recipient. Stored names: they never change (kernel: standard library
only, so a command can name a stream without loading the event types)."""

from __future__ import annotations

from uuid import UUID


def commitment_stream(commitment_id: str) -> str:
    """The stream that holds one commitment's history."""
    return f"commitment-{commitment_id}"


def source_stream(name: str) -> str:
    """The stream of one source's settings and checks (its health)."""
    return f"source-{name}"


def item_stream(item_id: UUID) -> str:
    """The stream of one item: discovered, revised, seen elsewhere."""
    return f"item-{item_id}"


def user_stream(name: str) -> str:
    """The stream of one account's changes (audit only: secrets live elsewhere)."""
    return f"user-{name}"


def proposal_stream(proposal_id: UUID) -> str:
    """The stream of one (commitment, item) proposal and its review."""
    return f"proposal-{proposal_id}"


def digest_stream(address: str) -> str:
    """The stream of one recipient's digests: claims, sends, skips and failures."""
    return f"digest-{address.strip().lower()}"
