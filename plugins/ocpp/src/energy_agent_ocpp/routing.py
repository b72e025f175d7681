"""What both ends of our OCPP links take from the ocpp library: its handler decorators with a type (the library
has none), so that handlers stay type-checked, and its frame log turned down to DEBUG."""

from __future__ import annotations

import logging
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


class _FrameLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The library logs every frame at INFO; here that is DEBUG."""

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.debug(msg, *args, **kwargs)


def frame_log(name: str) -> logging.LoggerAdapter:  # type: ignore[type-arg]
    """The `logger=` to give a ChargePoint: its frames at DEBUG on the logger `name`."""
    return _FrameLog(logging.getLogger(name), {})
