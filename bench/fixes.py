"""Sketches of fixes proposed in docs/benchmarks.md, applied by monkeypatching so that their effect can be measured
without touching the core. Each mirrors the core code it replaces at the time of writing; they are measuring aids,
not the fixes themselves.

* `nodelay`: set TCP_NODELAY on the agent's MQTT socket (energy_agent/mqtt.py, MqttBus._make_client).
* `dispatch`: match an inbound message against the subscription filters through an index: exact topics in a dict,
  only wildcard filters scanned (energy_agent/mqtt.py, MqttBus._dispatch).
* `state`: coalesce state writes: persist() marks the state dirty and one write follows within STATE_DELAY_S,
  whatever the number of persist() calls meanwhile (energy_agent/agent.py, Agent.persist).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiomqtt

from energy_agent.mqtt.bus import InboundMessage, MessageHandler, MqttBus
from energy_agent.runtime.agent import Agent

KNOWN = ("nodelay", "dispatch", "state")
STATE_DELAY_S = 0.05


def apply(names: list[str]) -> None:
    """Apply the named fixes (see KNOWN)."""
    for name in names:
        if name not in KNOWN:
            raise ValueError(f"unknown fix {name!r}; known: {', '.join(KNOWN)}")
        {"nodelay": _nodelay, "dispatch": _dispatch, "state": _state}[name]()


def _nodelay() -> None:
    from bench._common import enable_nodelay

    make_client = MqttBus._make_client

    def patched(self: MqttBus) -> aiomqtt.Client:
        client = make_client(self)
        enable_nodelay(client)
        return client

    MqttBus._make_client = patched  # type: ignore[method-assign]


def _dispatch() -> None:
    def index(self: Any) -> tuple[int, dict[str, list[tuple[int, MessageHandler]]], list[Any]]:
        cached = getattr(self, "_bench_index", None)
        if cached is not None and cached[0] == len(self._handlers):
            return cached  # type: ignore[no-any-return]
        exact: dict[str, list[tuple[int, MessageHandler]]] = {}
        wildcard: list[tuple[int, str, MessageHandler]] = []
        for position, (topic_filter, handler) in enumerate(self._handlers):
            if "+" in topic_filter or "#" in topic_filter:
                wildcard.append((position, topic_filter, handler))
            else:
                exact.setdefault(topic_filter, []).append((position, handler))
        self._bench_index = (len(self._handlers), exact, wildcard)
        return self._bench_index  # type: ignore[no-any-return]

    def dispatch(self: MqttBus, message: aiomqtt.Message) -> None:
        payload = message.payload if isinstance(message.payload, bytes) else str(message.payload or "").encode()
        props = message.properties
        inbound = InboundMessage(
            topic=message.topic.value,
            payload=payload,
            retain=message.retain,
            response_topic=getattr(props, "ResponseTopic", None) if props else None,
            correlation_data=getattr(props, "CorrelationData", None) if props else None,
        )
        _, exact, wildcard = index(self)
        matched = list(exact.get(inbound.topic, ()))
        matched += [(position, handler) for position, f, handler in wildcard if message.topic.matches(f)]
        for _, handler in sorted(matched, key=lambda item: item[0]):  # registration order, as before
            self._spawn(handler(inbound))

    MqttBus._dispatch = dispatch  # type: ignore[method-assign]


def _state() -> None:
    persist = Agent.persist

    def coalesced(self: Agent) -> None:
        if getattr(self, "_bench_flush_pending", False):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            persist(self)
            return
        self._bench_flush_pending = True  # type: ignore[attr-defined]

        def flush() -> None:
            self._bench_flush_pending = False  # type: ignore[attr-defined]
            persist(self)

        loop.call_later(STATE_DELAY_S, flush)

    Agent.persist = coalesced  # type: ignore[method-assign]
