"""One masker for every configured secret, in every spelling it may take on its way out of the agent.

A secret leaks in forms other than its own: a cloud that echoes the request body back puts it in JSON escapes
(`pa"ss` as `pa\\"ss`), a URL puts it in percent escapes, a server may upper-case it, and an HTTP Basic header
carries `user:password` in base64. `SecretMasker` replaces each of these, matched without regard to case, by
`***`. The agent applies it to every log line (`energy_agent.cli.logs`), every MQTT payload it publishes
(`MqttBus`) and every answer of the health endpoint.

Short secrets: a secret of any length is masked, even one or two characters. The price is that such a secret
also masks the same letters wherever they occur in a message (a password `ab` turns `about` into `***out`):
a garbled log line is the lesser harm, and a password that short is better changed. Only the message and the
exception text of a log record are masked, never the time stamp and level in front of them.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

from pydantic import BaseModel, SecretStr

from energy_agent.config import is_secret_key

MASK = "***"
_USER_KEYS = ("username", "user", "email", "login", "id", "charge_point_id")
"""Keys next to a secret that may name its user in an HTTP Basic header (`user:secret` in base64)."""


def spellings(secret: str) -> set[str]:
    """The forms `secret` may take in text the agent writes (case variants are matched, not listed)."""
    forms = {secret}
    for ascii_only in (True, False):
        once = json.dumps(secret, ensure_ascii=ascii_only)[1:-1]
        forms.add(once)
        forms.add(json.dumps(once, ensure_ascii=ascii_only)[1:-1])  # a JSON string inside a JSON document
    forms.update({quote(secret), quote(secret, safe=""), quote_plus(secret)})
    return {form for form in forms if form}


def basic_credentials(user: str, secret: str) -> str:
    """The base64 of `user:secret`, as an HTTP Basic `Authorization` header carries it."""
    return base64.b64encode(f"{user}:{secret}".encode()).decode()


class SecretMasker:
    """Replaces every spelling of the secrets it was given by `***` (see the module docstring).

    Empty at first; `add` more at any time (the log formatter exists before the config is read).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._forms: set[str] = set()
        self._lowered: tuple[str, ...] = ()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str], *, exact: Iterable[str] = ()) -> None:
        """Mask `secrets` in all their spellings from now on, and `exact` strings (e.g. base64) as they are."""
        forms = set(self._forms)
        for secret in secrets:
            if secret:
                forms |= spellings(secret)
        forms |= {text for text in exact if text}
        if forms != self._forms:
            self._forms = forms
            self._lowered = tuple({form.lower() for form in forms})
            # longest first: a form that holds another one is replaced whole
            alternatives = sorted(forms, key=lambda form: (-len(form), form))
            self._pattern = re.compile("|".join(map(re.escape, alternatives)), re.IGNORECASE)

    def add_settings(self, settings: Any) -> None:
        """Mask every secret in `settings` (see `configured_secrets`), and its HTTP Basic credentials."""
        secrets, basic = configured_secrets(settings)
        self.add(secrets, exact=basic)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def found_in(self, text: str) -> bool:
        """Whether any spelling of a secret is in `text`.

        Substring tests on the lower-cased text: ten times quicker than the case-blind pattern, and most text
        (every status payload) holds no secret.
        """
        if not self._lowered:
            return False
        lowered = text.lower()
        return any(form in lowered for form in self._lowered)

    def mask(self, text: str) -> str:
        """`text` with every spelling of every secret replaced by `***`."""
        if self._pattern is None or not self.found_in(text):
            return text
        return self._pattern.sub(MASK, text)

    def mask_json(self, value: Any) -> Any:
        """A JSON-like value with its strings masked (keys and structure untouched, so it stays valid JSON)."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {key: self.mask_json(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask_json(item) for item in value]
        return value

    def mask_payload(self, payload: bytes | str) -> bytes | str:
        """An MQTT payload without secrets, returned unchanged (the same object) when it holds none.

        A JSON payload is decoded, masked string by string and encoded again, so that a secret made of JSON's
        own characters (`",`) cannot break the document; other text is masked as text.
        """
        if self._pattern is None:
            return payload
        text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else payload
        if not self.found_in(text):
            return payload
        try:
            document = json.loads(text)
        except ValueError:
            masked = self.mask(text)
        else:
            masked = json.dumps(self.mask_json(document), separators=(",", ":"), ensure_ascii=False)
            if self.found_in(masked):  # a secret spelled across JSON's own syntax: mask the text as well
                masked = self.mask(masked)
        return masked.encode() if isinstance(payload, bytes) else masked


def configured_secrets(settings: Any) -> tuple[list[str], list[str]]:
    """The secrets in the settings at any depth, and the HTTP Basic credentials they may travel in.

    A secret is a `SecretStr` field, or a text field whose key names a secret (`password`, `token`, …).
    """
    secrets: list[str] = []
    basic: list[str] = []
    for value, siblings in _walk(settings, None, {}):
        secrets.append(value)
        for key in _USER_KEYS:
            user = siblings.get(key)
            if isinstance(user, str) and user:
                basic.append(basic_credentials(user, value))
    return secrets, basic


def masker_for(settings: Any) -> SecretMasker:
    """A masker of every secret in `settings`."""
    masker = SecretMasker()
    masker.add_settings(settings)
    return masker


def _walk(value: Any, key: str | None, siblings: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each secret with the keys beside it, and the user keys of the sections around it (a nested `ocpp:
    {password}` whose charger's identity is its parent's `charge_point_id`)."""
    if isinstance(value, SecretStr):
        if secret := value.get_secret_value():
            yield secret, siblings
    elif isinstance(value, str):
        if key is not None and is_secret_key(key) and value:
            yield value, siblings
    elif isinstance(value, BaseModel):
        fields = {name: getattr(value, name) for name in type(value).model_fields}
        fields.update(value.model_extra or {})
        around = {**_users(siblings), **fields}
        for name, item in fields.items():
            yield from _walk(item, name, around)
    elif isinstance(value, dict):
        around = {**_users(siblings), **{str(name): item for name, item in value.items()}}
        for name, item in value.items():
            yield from _walk(item, str(name), around)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk(item, key, siblings)


def _users(siblings: dict[str, Any]) -> dict[str, Any]:
    return {key: siblings[key] for key in _USER_KEYS if key in siblings}
