"""Logging in with a password, with guessing throttled.

A guess is counted *before* its password is checked, under one lock: twenty-five guesses
sent at once are counted one after the other, and only the first ones within the limit
reach the (slow) Argon2 check; a right password takes its count back.

Guesses are counted per name (someone guessing one user's password from many
addresses) and per address (one address guessing many names), separately. Counting per
name alone would let anyone lock a user out, so an address that has logged in as a user
before ("known good" for that name) is not held back by guesses at the name made
elsewhere: there the guesses from that address itself count instead. Every address stays
bound by its own limit, so a known-good address is no way round the throttle either.

The counts live in the process (a restart forgets them); several web hosts each count
their own.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.application.accounts import Account, Accounts

#: addresses remembered as known good per name (the oldest is forgotten first)
KNOWN_ADDRESSES = 16


class LoginThrottled(MonitorError):
    """Too many failed logins for this name or from this address: wait, then try again."""


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """Failed logins allowed within ``window`` seconds, per name and per address."""

    per_name: int = 5
    per_address: int = 20
    window: float = 900.0


class LoginGuard:
    """Password logins, throttled; one per web application."""

    def __init__(
        self,
        limits: LoginLimits | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits or LoginLimits()
        self._monotonic = monotonic
        self._lock = threading.Lock()
        #: when each recent guess was counted, by ("name", n), ("address", a) or
        #: ("pair", a, n)
        self._guesses: dict[tuple[str, ...], list[float]] = {}
        self._pruned_at = 0  # how many keys there were after the last sweep
        self._known: dict[str, OrderedDict[str, None]] = {}

    def log_in(self, accounts: Accounts, name: str, password: str, address: str) -> Account | None:
        """The account if the password is right; None if not (the guess counts).

        Raises LoginThrottled, without checking the password, when this name or this
        address has used up its guesses.
        """
        keys, at = self._count(name, address)
        account = accounts.authenticate(name, password)
        if account is not None:
            self._take_back(keys, at)
            self._remember(name, address)
        return account

    def _count(self, name: str, address: str) -> tuple[list[tuple[str, ...]], float]:
        """Count one guess on every key that limits it, or refuse if one is used up."""
        limit = self.limits
        with self._lock:
            now = self._monotonic()
            by_name: tuple[str, ...] = (
                ("pair", address, name) if address in self._known.get(name, ()) else ("name", name)
            )
            keys: list[tuple[str, ...]] = [("address", address), by_name]
            limits = [limit.per_address, limit.per_name]
            if any(
                len(self._recent(key, now)) >= allowed
                for key, allowed in zip(keys, limits, strict=True)
            ):
                raise LoginThrottled("too many failed attempts: wait a few minutes")
            if by_name[0] == "pair":  # the name's own count goes on, for when it is not
                keys.append(("name", name))
            for key in keys:
                self._guesses.setdefault(key, []).append(now)
            self._sweep(now)
            return keys, now

    def _recent(self, key: tuple[str, ...], now: float) -> list[float]:
        kept = [t for t in self._guesses.get(key, ()) if now - t < self.limits.window]
        if kept:
            self._guesses[key] = kept
        else:
            self._guesses.pop(key, None)
        return kept

    def _sweep(self, now: float) -> None:
        # Names and addresses that stopped guessing leave; swept when the table has
        # doubled since the last sweep, so a flood of made-up names costs little.
        if len(self._guesses) > max(1024, 2 * self._pruned_at):
            for key in list(self._guesses):
                self._recent(key, now)
            self._pruned_at = len(self._guesses)

    def _take_back(self, keys: list[tuple[str, ...]], at: float) -> None:
        with self._lock:
            for key in keys:
                times = self._guesses.get(key, [])
                if at in times:
                    times.remove(at)

    def _remember(self, name: str, address: str) -> None:
        with self._lock:
            known = self._known.setdefault(name, OrderedDict())
            known[address] = None
            known.move_to_end(address)
            while len(known) > KNOWN_ADDRESSES:
                known.popitem(last=False)
