"""`/api/events`: the page's live feed, as server-sent events.

On connecting, a client gets a `status` and a `plan` event (the `/api/status` and `/api/plan` documents), except
one it names as already held (`?status=ETAG&plan=ETAG`, the ETags of its own `/api/status` and `/api/plan` answers,
as the page does); after that, each of the two again whenever the agent's change notices (`runtime.events`) say
something may have changed and the document did turn out different. Notices that come in a burst (a poll of every
device, a re-plan) are taken together: a feed waits `PACE_S` after the first before it builds the documents. A
comment line goes out every `KEEPALIVE_S`, so that proxies keep an idle feed open.

The pace and the keep-alive run on real time on purpose, as the MQTT reconnect does: they pace bytes on a socket
and say nothing about the agent's own time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from energy_agent.runtime.events import AgentChanged, CommandAnswered, DeviceAdded, DeviceChanged, Events
from energy_agent.secrets import SecretMasker

PACE_S = 0.2
KEEPALIVE_S = 20.0
Document = Callable[[], dict[str, Any]]


def encode(document: dict[str, Any], masker: SecretMasker) -> str:
    """A document as the JSON text it is sent as, secrets masked (the API's answers and the feed's events alike)."""
    return json.dumps(masker.mask_json(document), separators=(",", ":"))


def etag(text: str) -> str:
    """The ETag of a document's text."""
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'


class LiveFeed:
    """Wakes every open feed on each change notice; `close` ends them all (the server is stopping)."""

    def __init__(self, events: Events, documents: dict[str, Document], masker: SecretMasker) -> None:
        self._documents = documents
        self._masker = masker
        self._wakers: set[asyncio.Event] = set()
        self._closing = False
        for kind in (DeviceChanged, DeviceAdded, AgentChanged, CommandAnswered):
            events.subscribe(kind, self._changed)

    @property
    def open_feeds(self) -> int:
        """Clients connected now."""
        return len(self._wakers)

    def _changed(self, event: object) -> None:
        for waker in self._wakers:
            waker.set()

    def close(self) -> None:
        """End every open feed."""
        self._closing = True
        self._changed(None)

    def encoded(self, name: str) -> str:
        """One document as the JSON text it is sent as (secrets masked)."""
        return encode(self._documents[name](), self._masker)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """Stream events to one client until it goes away or the server stops."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        waker = asyncio.Event()
        self._wakers.add(waker)
        sent = {name: request.query[name] for name in self._documents if name in request.query}  # ETags
        first = True
        try:
            waker.set()  # the first round sends every document the client does not hold
            while not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waker.wait(), KEEPALIVE_S)
                if self._closing:
                    break
                if not waker.is_set():
                    await response.write(b": keep-alive\n\n")
                    continue
                if not first:
                    await asyncio.sleep(PACE_S)
                first = False
                waker.clear()
                for name in self._documents:
                    text = self.encoded(name)
                    if sent.get(name) != (tag := etag(text)):
                        sent[name] = tag
                        await response.write(f"event: {name}\ndata: {text}\n\n".encode())
        except ConnectionResetError:  # the client went away
            pass
        finally:
            self._wakers.discard(waker)
        return response
