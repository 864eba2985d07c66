"""Failed console logins, slowed down progressively, in Redis.

The key schema (prefix `streamsvc:staff-login:`; `acct` is the SHA-256 of the
lower-cased e-mail, so no address is kept in Redis and unknown accounts count the same):

    fail:pair:{acct}:{address}   failures of this account from this address   (1 h)
    wait:pair:{acct}:{address}   until when this pair must wait (unix time)
    fail:addr:{address}          failures from this address, any account       (1 h)
    wait:addr:{address}          until when this address must wait
    fail:acct:{acct}             failures of this account from every address   (1 h)
    pending:{sha256(token)}      a login between its password and its code step (5 min)

An account and an address get `free` failures, then wait 1 s, 2 s, 4 s ... (at most
15 min) before each further try: 429 with Retry-After. An address gets a larger
allowance across accounts. Neither lets an attacker lock the real admin out: the
waits are per address, and the admin comes from another one. Across all addresses an
account is only "under attack" past a much larger count; then the login always asks
for the one-time code, and tells whether the password was right only together with
it, so guessing from many addresses learns nothing without the second factor, while
the admin with password and code still gets in (service: streamsvc/staff/login.py).

Waits are compared with the injected clock (the value holds the moment); the keys'
Redis TTLs only clean up. When Redis is down nothing is slowed (logged once a call):
the Argon2 hash still makes each guess expensive.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import asdict, dataclass

from redis.exceptions import RedisError

from config.settings import Settings
from streamsvc.errors import RateLimited
from streamsvc.kit.redis_clients import AsyncRedis

log = logging.getLogger(__name__)
PREFIX = "streamsvc:staff-login:"
WINDOW_SECONDS = 3600
MAX_WAIT_SECONDS = 900
PENDING_SECONDS = 300
_MAX_ADDRESS_CHARS = 64


def account_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def _address(address: str) -> str:
    return address[:_MAX_ADDRESS_CHARS]


def wait_seconds(failures: int, free: int) -> int:
    """0 for the first `free` failures, then 1, 2, 4 ... seconds, at most 15 minutes."""
    if failures <= free:
        return 0
    wait: int = 2 ** min(failures - free - 1, 20)
    return min(MAX_WAIT_SECONDS, wait)


class LoginThrottle:
    def __init__(self, redis: AsyncRedis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings

    def _keys(self, email: str, address: str) -> tuple[str, str, str]:
        acct, addr = account_key(email), _address(address)
        return f"{acct}:{addr}", addr, acct

    async def check(self, email: str, address: str, now: float) -> None:
        """429 with Retry-After while this account-and-address or this address waits."""
        pair, addr, _ = self._keys(email, address)
        try:
            # Two GETs, not an MGET: the keys' slots differ (a cluster refuses a
            # cross-slot MGET); pipelined, still one round trip on one server.
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.get(f"{PREFIX}wait:pair:{pair}")
                pipe.get(f"{PREFIX}wait:addr:{addr}")
                values = await pipe.execute()
        except RedisError:
            log.warning("staff login throttle not checked: Redis unavailable")
            return
        until = max((float(value) for value in values if value is not None), default=0.0)
        if until > now:
            raise RateLimited(
                "Too many failed logins; wait before trying again.",
                retry_after=max(1, math.ceil(until - now)),
            )

    async def under_attack(self, email: str) -> bool:
        """Whether the account failed more often than the global allowance this hour."""
        try:
            count = await self.redis.get(f"{PREFIX}fail:acct:{account_key(email)}")
        except RedisError:
            return False
        return count is not None and int(count) >= self.settings.staff_login_account_failures

    async def failed(self, email: str, address: str, now: float) -> None:
        """Count a failure everywhere and set the waits it earns."""
        pair, addr, acct = self._keys(email, address)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in (f"fail:pair:{pair}", f"fail:addr:{addr}", f"fail:acct:{acct}"):
                    pipe.incr(PREFIX + key)
                    pipe.expire(PREFIX + key, WINDOW_SECONDS)
                results = await pipe.execute()
            pair_count, addr_count = int(results[0]), int(results[2])
            waits = (
                (
                    f"wait:pair:{pair}",
                    wait_seconds(pair_count, self.settings.staff_login_free_failures),
                ),
                (
                    f"wait:addr:{addr}",
                    wait_seconds(addr_count, self.settings.staff_login_address_failures),
                ),
            )
            for key, seconds in waits:
                if seconds:
                    await self.redis.set(PREFIX + key, str(now + seconds), ex=seconds + 60)
        except RedisError:
            log.warning("staff login failure not counted: Redis unavailable")

    async def succeeded(self, email: str, address: str) -> None:
        """A correct login from this address forgets its failures for this account."""
        pair, _, _ = self._keys(email, address)
        try:
            # On a cluster the client sends one DEL per slot; the two need not go together.
            await self.redis.delete(f"{PREFIX}fail:pair:{pair}", f"{PREFIX}wait:pair:{pair}")
        except RedisError:
            log.warning("staff login failures not cleared: Redis unavailable")


@dataclass
class PendingLogin:
    """A login past its first step: the code step finishes it. `password_ok` is never
    told to the browser; for an unknown account `person_id` is empty."""

    email: str
    person_id: str
    password_ok: bool
    attempts: int = 0


class PendingLogins:
    def __init__(self, redis: AsyncRedis) -> None:
        self.redis = redis

    @staticmethod
    def _key(token: str) -> str:
        return f"{PREFIX}pending:{hashlib.sha256(token.encode()).hexdigest()}"

    async def put(self, token: str, pending: PendingLogin) -> None:
        await self.redis.set(self._key(token), json.dumps(asdict(pending)), ex=PENDING_SECONDS)

    async def get(self, token: str | None) -> PendingLogin | None:
        if not token or len(token) > 100:
            return None
        raw = await self.redis.get(self._key(token))
        return PendingLogin(**json.loads(raw)) if raw else None

    async def drop(self, token: str) -> None:
        await self.redis.delete(self._key(token))
