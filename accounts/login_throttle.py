"""Failed log-ins counted per username and address, and per address alone."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


class LoginThrottle:
    """Failed password checks, counted per username and address, and per address alone.

    Every way to check a password uses it (the log-in form, the admin's, POST /api/auth/token):
    each check costs a password hash, so an open one is a way to exhaust the CPU. Counted in
    the cache (Redis when configured, so all web processes share the counts). The address is
    the real client's (originating_address), never a trusted proxy's, so one client cannot
    lock everyone behind nginx out. Per username and address: an attacker cannot lock a real
    user out from elsewhere, and one address cannot try many passwords for one account. Per
    address alone, with a higher limit: one address cannot spray many usernames.
    """

    def __init__(self, username: str, address: str) -> None:
        pair = hashlib.sha256(f"{username.strip().lower()}\0{address}".encode()).hexdigest()
        alone = hashlib.sha256(address.encode()).hexdigest()
        self.key = f"login-failures:{pair}"
        self.limits = {
            self.key: settings.LOGIN_MAX_FAILURES,
            f"login-failures-address:{alone}": settings.LOGIN_MAX_FAILURES_PER_ADDRESS,
        }

    def is_locked(self) -> bool:
        counts = cache.get_many(list(self.limits))
        return any(counts.get(key, 0) >= limit for key, limit in self.limits.items())

    def record_failure(self) -> None:
        for key in self.limits:
            # add() starts the window only at the first failure; incr() keeps its expiry,
            # so the lockout ends LOGIN_LOCKOUT_SECONDS after the first failed attempt.
            if not cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS):
                try:
                    cache.incr(key)
                except ValueError:  # expired between add() and incr()
                    cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)

    def clear(self) -> None:
        """A success forgives this username's failures from this address (not the address's total)."""
        cache.delete(self.key)
