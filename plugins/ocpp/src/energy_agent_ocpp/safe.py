"""Text that came from a charger or a stranger, made safe for a log line: printable, short, quoted."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._:@/+=-]")
MAX_SHOWN = 48


def shown(raw: object, limit: int = MAX_SHOWN) -> str:
    """`raw` as a quoted word for a log line: characters outside a small safe set become `?`, long text is cut."""
    text = str(raw)
    cut = len(text) > limit
    cleaned = _UNSAFE.sub("?", text[:limit])
    return f"'{cleaned}{'…' if cut else ''}'"


def shown_text(raw: object, limit: int = 120) -> str:
    """Free text from a charger (an error description, a firmware name): printable ASCII only, cut at `limit`."""
    text = "".join(c if " " <= c <= "~" else "?" for c in str(raw))
    return text[:limit] + ("…" if len(text) > limit else "")
