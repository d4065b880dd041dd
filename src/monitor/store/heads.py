"""The journal's head, published so that a journal cut short or rewritten can be proved so.

The hash chain shows only that a journal agrees with itself: whoever can write the database
can drop the newest events, or change one and hash every later event again, and the chain
still checks. A head kept somewhere else (in a digest in each recipient's mailbox, beside an
export, in a note) is a witness: every hash covers every event before it, so a journal that
still holds hash H at position P still holds every event up to P unchanged
(``monitor verify --head P:H``).

A head may be signed with an Ed25519 key (``MONITOR_HEAD_SIGNING_KEY``); the signature is
over the statement ``monitor-head:P:H``, so a witness can tell a head this monitor published
from one somebody typed. ``cryptography`` is imported only when a key is used.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.errors import CommandRejected, ConfigError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

SIGNING_KEY_ENV = "MONITOR_HEAD_SIGNING_KEY"
_HEAD = re.compile(r"^(\d{1,18}):([0-9a-fA-F]{64})$")
_KEY_HELP = (
    "give the base64 of a raw 32-byte Ed25519 private key, or a PEM "
    "(openssl genpkey -algorithm ed25519)"
)


@dataclass(frozen=True, slots=True)
class Head:
    """The position and chain hash of one event, as published; with its signature when the
    publisher signs heads."""

    position: int
    hash: str
    signature: str | None = None

    def __str__(self) -> str:
        """``POSITION:HASH``, the form ``--head`` takes."""
        return f"{self.position}:{self.hash}"

    @property
    def statement(self) -> bytes:
        """What a signature is over: a fixed prefix, so it cannot stand for anything else."""
        return f"monitor-head:{self.position}:{self.hash}".encode("ascii")


def parse_head(text: str) -> Head:
    """``POSITION:HASH`` (as a digest, an export or `monitor verify` prints it)."""
    found = _HEAD.match(text.strip())
    if found is None:
        raise CommandRejected(
            f"--head {text!r}: expected POSITION:HASH, the position and the 64 hex digits of "
            "the sha256 that a digest's footer or `monitor verify` shows"
        )
    return Head(int(found.group(1)), found.group(2).lower())


def published(head: Head, private_key: str) -> Head:
    """``head`` as monitor publishes it: signed when a signing key is set (non-empty)."""
    return sign(head, private_key) if private_key else head


def sign(head: Head, private_key: str) -> Head:
    """``head`` with an Ed25519 signature (base64) over its statement."""
    key = _private_key(private_key)
    signature = base64.b64encode(key.sign(head.statement)).decode("ascii")
    return Head(head.position, head.hash, signature)


def public_key_of(private_key: str) -> str:
    """The base64 of the raw public key that checks what ``private_key`` signs: the one to
    publish for `monitor verify --public-key`."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = _private_key(private_key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def signature_holds(head: Head, public_key: str) -> bool:
    """Whether ``head.signature`` is the owner of ``public_key``'s signature over ``head``.

    A key or signature that is not even well formed is the user's mistake (CommandRejected);
    a well-formed signature that does not verify is False.
    """
    from cryptography.exceptions import InvalidSignature

    if head.signature is None:
        raise CommandRejected("--signature is missing: give the head's signature to check it")
    try:
        raw = base64.b64decode(head.signature, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CommandRejected(f"--signature {head.signature!r} is not base64") from exc
    if len(raw) != 64:
        raise CommandRejected(
            f"--signature is {len(raw)} bytes, not the 64 of an Ed25519 signature"
        )
    try:
        _public_key(public_key).verify(raw, head.statement)
    except InvalidSignature:
        return False
    return True


def _private_key(text: str) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = load_pem_private_key(text.encode("ascii"), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(_raw(text, 32))
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise ConfigError(f"{SIGNING_KEY_ENV}: not an Ed25519 private key: {_KEY_HELP}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{SIGNING_KEY_ENV}: the PEM holds another kind of key: {_KEY_HELP}")
    return key


def _public_key(text: str) -> Ed25519PublicKey:
    """A public key given as base64 of its 32 raw bytes, or a PEM file's path."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    wrong = CommandRejected(
        f"--public-key {text!r}: give the base64 of a raw 32-byte Ed25519 public key, or the "
        "path of a PEM file (openssl pkey -in KEY.pem -pubout)"
    )
    try:
        raw = _raw(text.strip(), 32)
    except ValueError:
        try:
            key = load_pem_public_key(Path(text).expanduser().read_bytes())
        except (ValueError, TypeError, OSError) as exc:
            raise wrong from exc
        if not isinstance(key, Ed25519PublicKey):
            raise wrong from None
        return key
    return Ed25519PublicKey.from_public_bytes(raw)


def _raw(text: str, size: int) -> bytes:
    """``size`` bytes from base64 text, or ValueError."""
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from exc
    if len(raw) != size:
        raise ValueError(f"{len(raw)} bytes, not {size}")
    return raw
