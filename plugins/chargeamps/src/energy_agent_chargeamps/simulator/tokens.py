"""Signed access tokens (HS256 JWTs) and refresh tokens, with the cloud's limit of 10 live tokens per account."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from energy_agent.api import Clock

MAX_LIVE_TOKENS = 10
"""How many tokens one account keeps; one more login evicts the oldest (that logs the owner's phone out)."""


class TokenError(Exception):
    """A token is malformed, badly signed, expired, evicted or unknown (the message names no token)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_jwt(claims: dict[str, Any], secret: bytes) -> str:
    """A compact HS256 JWT carrying `claims`."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode("ascii"), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def decode_jwt(token: str, secret: bytes) -> dict[str, Any]:
    """The claims of an HS256 JWT whose signature checks out; expiry is left to the caller."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("token is not a JWT")
    header, payload, signature = parts
    expected = hmac.new(secret, f"{header}.{payload}".encode("ascii"), hashlib.sha256).digest()
    try:
        given = _b64url_decode(signature)
        claims = json.loads(_b64url_decode(payload))
        alg = json.loads(_b64url_decode(header)).get("alg")
    except (ValueError, json.JSONDecodeError) as exc:
        raise TokenError("token is not valid base64url JSON") from exc
    if alg != "HS256" or not hmac.compare_digest(given, expected):
        raise TokenError("token signature does not match")
    if not isinstance(claims, dict):
        raise TokenError("token payload is not an object")
    return claims


@dataclass(slots=True)
class TokenSlot:
    """One of an account's live tokens: an access token and, on the official API, its refresh token."""

    jti: str
    email: str
    user_id: str
    audience: str
    issued_at: datetime
    expires_at: datetime
    refresh_token: str | None = None
    refresh_expires_at: datetime | None = None

    def live_until(self) -> datetime:
        """When this slot stops counting against the account's limit."""
        if self.refresh_expires_at is not None:
            return max(self.expires_at, self.refresh_expires_at)
        return self.expires_at


@dataclass(frozen=True, slots=True)
class TokenEviction:
    """A record of a token that an extra login pushed out."""

    email: str
    audience: str
    issued_at: datetime
    evicted_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    """What a login or a refresh hands back."""

    token: str
    expires_at: datetime
    refresh_token: str | None = None


@dataclass
class TokenStore:
    """Issues and checks tokens against an injected clock; keeps at most `max_live` per account."""

    clock: Clock
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    max_live: int = MAX_LIVE_TOKENS
    evictions: list[TokenEviction] = field(default_factory=list)
    _slots: dict[str, list[TokenSlot]] = field(default_factory=dict)

    def issue(
        self,
        *,
        email: str,
        user_id: str,
        audience: str,
        lifetime_s: float,
        refresh_lifetime_s: float | None = None,
    ) -> IssuedTokens:
        """A new token (and a refresh token when `refresh_lifetime_s` is given), evicting the oldest if full."""
        now = self.clock.now()
        slots = self._live_slots(email, now)
        while len(slots) >= self.max_live:
            oldest = slots.pop(0)
            self.evictions.append(TokenEviction(email, oldest.audience, oldest.issued_at, now))
        slot = TokenSlot(
            jti=secrets.token_hex(12),
            email=email,
            user_id=user_id,
            audience=audience,
            issued_at=now,
            expires_at=now + timedelta(seconds=lifetime_s),
        )
        if refresh_lifetime_s is not None:
            slot.refresh_token = _b64url(secrets.token_bytes(32))
            slot.refresh_expires_at = now + timedelta(seconds=refresh_lifetime_s)
        slots.append(slot)
        claims = {
            "sub": user_id,
            "email": email,
            "aud": audience,
            "jti": slot.jti,
            "iat": int(now.timestamp()),
            "exp": int(slot.expires_at.timestamp()),
        }
        return IssuedTokens(encode_jwt(claims, self.secret), slot.expires_at, slot.refresh_token)

    def verify(self, token: str, audience: str) -> str:
        """The email of the account a live, unexpired `token` for `audience` belongs to."""
        slot = self._slot_for(token, audience)
        if self.clock.now() >= slot.expires_at:
            raise TokenError("token has expired")
        return slot.email

    def refresh(self, token: str, refresh_token: str, *, audience: str, lifetime_s: float) -> IssuedTokens:
        """Trade a (possibly expired) token and its refresh token for a new pair in the same slot."""
        slot = self._slot_for(token, audience)
        now = self.clock.now()
        if slot.refresh_token is None or not hmac.compare_digest(slot.refresh_token, refresh_token):
            raise TokenError("refresh token does not belong to this token")
        if slot.refresh_expires_at is None or now >= slot.refresh_expires_at:
            raise TokenError("refresh token has expired")
        refresh_lifetime_s = (slot.refresh_expires_at - slot.issued_at).total_seconds()
        self._slots[slot.email].remove(slot)
        # The new pair takes the old one's place, so refreshing never evicts another session.
        return self.issue(
            email=slot.email,
            user_id=slot.user_id,
            audience=audience,
            lifetime_s=lifetime_s,
            refresh_lifetime_s=refresh_lifetime_s,
        )

    def live_count(self, email: str) -> int:
        """How many tokens of `email` still count against its limit."""
        return len(self._live_slots(email, self.clock.now()))

    def _live_slots(self, email: str, now: datetime) -> list[TokenSlot]:
        slots = [s for s in self._slots.get(email, []) if now < s.live_until()]
        self._slots[email] = slots
        return slots

    def _slot_for(self, token: str, audience: str) -> TokenSlot:
        claims = decode_jwt(token, self.secret)
        if claims.get("aud") != audience:
            raise TokenError("token was issued for another API")
        email, jti = claims.get("email"), claims.get("jti")
        for slot in self._live_slots(str(email), self.clock.now()):
            if slot.jti == jti:
                return slot
        raise TokenError("token is unknown or was evicted")
