"""The ocpp library's handler decorators with a type, so that handlers stay type-checked (the library has none)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from ocpp import routing

Handler = TypeVar("Handler", bound=Callable[..., Any])


def on(action: str) -> Callable[[Handler], Handler]:
    """Mark a method as the handler of the OCPP `action` (it returns the answer)."""
    return cast(Callable[[Handler], Handler], routing.on(action))


def after(action: str) -> Callable[[Handler], Handler]:
    """Mark a method to run after the answer to `action` has been sent."""
    return cast(Callable[[Handler], Handler], routing.after(action))
