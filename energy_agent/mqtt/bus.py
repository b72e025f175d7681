"""The agent's one MQTT connection: a reconnect loop with capped, jittered backoff, resubscription,
an availability topic (retained `online`, last will `offline`) and dispatch of messages to handlers. Every
payload published is passed through the agent's `SecretMasker` first, whoever publishes it (core or plugin).

aiomqtt's client is reusable but not reentrant, so this module owns the reconnect loop (as aiomqtt's
docs advise). Backoff sleeps are real network waits and use asyncio directly, not the injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiomqtt
from paho.mqtt.client import MQTT_ERR_SUCCESS, error_string
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from energy_agent.api.backoff import Backoff
from energy_agent.config import MqttSettings
from energy_agent.secrets import SecretMasker, masker_for

log = logging.getLogger(__name__)

PENDING_PUBLISH_WARNING = 1000
ONLINE = "online"
OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A received message with the MQTT 5 request/response properties the contract uses."""

    topic: str
    payload: bytes
    retain: bool = False
    response_topic: str | None = None
    correlation_data: bytes | None = None


MessageHandler = Callable[[InboundMessage], Awaitable[None] | None]
"""Called with each message; an `async def` handler runs as a task of its own, a plain one at once (it must be
quick: the HEMS commands' handlers only queue a job)."""
ConnectListener = Callable[[], Awaitable[None]]


class NotConnectedError(ConnectionError):
    """Publishing was attempted while the broker connection is down."""


class MqttBus:
    """One broker connection shared by the core and plugins; see the module docstring."""

    def __init__(self, settings: MqttSettings, *, availability_topic: str, masker: SecretMasker | None = None) -> None:
        """`masker` masks secrets in every payload published (by default the broker password's)."""
        self.settings = settings
        self._masker = masker if masker is not None else masker_for(settings)
        self.availability_topic = availability_topic
        self._handlers: list[tuple[str, MessageHandler]] = []
        self._exact: dict[str, list[MessageHandler]] = {}
        self._wildcards: list[tuple[str, MessageHandler]] = []
        self._connect_listeners: list[ConnectListener] = []
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.reconnects = 0
        self.last_error: str | None = None

    @property
    def connected(self) -> bool:
        """True while the broker connection is up."""
        return self._connected.is_set()

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        """Wait until the connection is up."""
        async with asyncio.timeout(timeout_s):
            await self._connected.wait()

    def on_connect(self, listener: ConnectListener) -> None:
        """Run `listener` after every (re)connect, once subscriptions are in place."""
        self._connect_listeners.append(listener)

    def subscribe_messages(self, topic_filter: str, handler: MessageHandler) -> None:
        """Deliver every message matching `topic_filter` to `handler`; kept across reconnects."""
        self._handlers.append((topic_filter, handler))
        if "+" in topic_filter or "#" in topic_filter:
            self._wildcards.append((topic_filter, handler))
        else:
            self._exact.setdefault(topic_filter, []).append(handler)
        if self._client is not None and self.connected:
            self._spawn(self._subscribe_one(self._client, topic_filter))

    def subscribe(self, topic_filter: str, handler: Callable[[str, bytes], Awaitable[None]]) -> None:
        """The plugin-facing form of `subscribe_messages` (see `MqttAccess`)."""

        async def adapt(message: InboundMessage) -> None:
            await handler(message.topic, message.payload)

        self.subscribe_messages(topic_filter, adapt)

    async def publish(
        self,
        topic: str,
        payload: bytes | str,
        *,
        qos: int = 1,
        retain: bool = False,
        correlation_data: bytes | None = None,
    ) -> None:
        """Publish and wait for the broker's acknowledgement; NotConnectedError while disconnected."""
        client = self._connected_client(topic)
        payload = self._masker.mask_payload(payload)
        try:
            await client.publish(
                topic, payload, qos=qos, retain=retain, properties=self._properties(correlation_data), timeout=10
            )
        except aiomqtt.MqttError as exc:
            raise NotConnectedError(f"publish to {topic} failed: {exc}") from exc

    def send(
        self,
        topic: str,
        payload: bytes | str,
        *,
        qos: int = 1,
        retain: bool = False,
        correlation_data: bytes | None = None,
    ) -> None:
        """Queue a message for the broker without waiting for its acknowledgement; NotConnectedError while down.

        Messages sent this way leave in the order they were sent, and QoS 1 still has the broker acknowledge
        them; only nobody waits for it. Answers and statuses go this way: waiting for each acknowledgement put a
        broker round trip (and, with Nagle's algorithm on the broker's socket, often 40 ms) between two commands.
        """
        client = self._connected_client(topic)
        payload = self._masker.mask_payload(payload)
        # aiomqtt's publish() always awaits the acknowledgement; its paho client queues without waiting, and
        # aiomqtt ignores acknowledgements nobody waits for.
        info = client._client.publish(topic, payload, qos, retain, self._properties(correlation_data))
        if info.rc != MQTT_ERR_SUCCESS:
            raise NotConnectedError(f"publish to {topic} failed: {error_string(info.rc)}")

    def reply(self, topic: str, request: InboundMessage, body: bytes) -> None:
        """Send an answer to `topic`, and to the request's MQTT 5 response topic when it named one (with its
        correlation data); dropped quietly while disconnected (the answer has no one to reach)."""
        with contextlib.suppress(NotConnectedError):
            self.send(topic, body)
            if request.response_topic:
                self.send(request.response_topic, body, correlation_data=request.correlation_data)

    def _connected_client(self, topic: str) -> aiomqtt.Client:
        client = self._client
        if client is None or not self.connected:
            raise NotConnectedError(f"not connected to the broker; {topic} not published")
        return client

    def _properties(self, correlation_data: bytes | None) -> Properties | None:
        if correlation_data is None or self.settings.protocol != "5":
            return None
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.CorrelationData = correlation_data
        return properties

    def _make_client(self) -> aiomqtt.Client:
        settings = self.settings
        tls_context = None
        if settings.tls:
            tls_context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
        client = aiomqtt.Client(
            settings.host,
            settings.port,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            identifier=settings.client_id,
            protocol=aiomqtt.ProtocolVersion.V5 if settings.protocol == "5" else aiomqtt.ProtocolVersion.V311,
            will=aiomqtt.Will(self.availability_topic, OFFLINE, qos=1, retain=True),
            keepalive=settings.keepalive_s,
            tls_context=tls_context,
            timeout=10,
            # Without TCP_NODELAY, Nagle's algorithm holds each small answer back ~40 ms (measured in bench/).
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        )
        # aiomqtt warns on every publish while more than this many are in flight: normal in a burst.
        client.pending_calls_threshold = PENDING_PUBLISH_WARNING
        return client

    async def _subscribe(self, client: aiomqtt.Client, topic_filter: str) -> None:
        """Subscribe at QoS 1; with MQTT 5, retain-as-published, so that a handler sees the retain flag of a
        message published while it listens too (the HEMS commands refuse retained commands)."""
        if self.settings.protocol == "5":
            options = SubscribeOptions(qos=1, retainAsPublished=True)
            await client.subscribe(topic_filter, options=options, timeout=10)
        else:
            await client.subscribe(topic_filter, qos=1, timeout=10)

    async def _subscribe_one(self, client: aiomqtt.Client, topic_filter: str) -> None:
        try:
            await self._subscribe(client, topic_filter)
        except aiomqtt.MqttError as exc:
            log.warning("subscribing to %s failed: %s", topic_filter, exc)

    async def _subscribe_missing(self, client: aiomqtt.Client, subscribed: set[str]) -> None:
        while missing := [f for f in dict.fromkeys(f for f, _ in self._handlers) if f not in subscribed]:
            for topic_filter in missing:
                await self._subscribe(client, topic_filter)
                subscribed.add(topic_filter)

    async def run(self) -> None:
        """Connect, serve, and reconnect until `stop` is called."""
        backoff = Backoff(self.settings.reconnect_min_s, self.settings.reconnect_max_s, jitter=0.5)
        delays = backoff.delays()
        where = f"{self.settings.host}:{self.settings.port}"
        while not self._stopping:
            try:
                async with self._make_client() as client:
                    self._client = client
                    # Subscribe before announcing `online`, so a HEMS that reacts to it is heard. Handlers may
                    # be added meanwhile (devices come up concurrently): no await separates the last check
                    # from `connected`, after which `subscribe_messages` subscribes new filters itself.
                    subscribed: set[str] = set()
                    await self._subscribe_missing(client, subscribed)
                    await client.publish(self.availability_topic, ONLINE, qos=1, retain=True, timeout=10)
                    await self._subscribe_missing(client, subscribed)
                    self._connected.set()
                    self.last_error = None
                    delays = backoff.delays()
                    log.info("connected to MQTT broker %s as %s", where, self.settings.client_id)
                    for listener in self._connect_listeners:
                        self._spawn(listener())
                    async for message in client.messages:
                        self._dispatch(message)
            except aiomqtt.MqttError as exc:
                self.last_error = _describe(exc)
                if self.connected:
                    log.warning("lost the MQTT broker %s: %s", where, self.last_error)
                else:
                    log.warning("cannot connect to MQTT broker %s: %s", where, self.last_error)
            finally:
                was_connected = self.connected
                self._client = None
                self._connected.clear()
                if was_connected:
                    self.reconnects += 1
            if self._stopping:
                break
            wait_s = next(delays)
            log.info("reconnecting to %s in %.1f s", where, wait_s)
            await asyncio.sleep(wait_s)

    async def announce_offline(self, timeout_s: float = 2.0) -> None:
        """Stop reconnecting and publish `offline` while the connection is still up (graceful shutdown)."""
        self._stopping = True
        # `_client` is set once the session is open: also during start-up, before `connected`, when `online` may
        # already be out; a clean disconnect sends no last will, so `offline` must be published here.
        if self._client is not None:
            try:
                async with asyncio.timeout(timeout_s):
                    await self._client.publish(self.availability_topic, OFFLINE, qos=1, retain=True)
            except (aiomqtt.MqttError, TimeoutError) as exc:
                log.warning("could not publish offline before shutdown: %s", exc)

    def _dispatch(self, message: aiomqtt.Message) -> None:
        payload = message.payload if isinstance(message.payload, bytes) else str(message.payload or "").encode()
        props = message.properties
        response_topic = getattr(props, "ResponseTopic", None) if props else None
        correlation = getattr(props, "CorrelationData", None) if props else None
        inbound = InboundMessage(
            topic=message.topic.value,
            payload=payload,
            retain=message.retain,
            response_topic=response_topic,
            correlation_data=correlation,
        )
        # Exact topics through a dict: one agent holds thousands of filters, most of them without wildcards.
        for handler in self._exact.get(inbound.topic, ()):
            self._deliver(handler, inbound)
        for topic_filter, handler in self._wildcards:
            if message.topic.matches(topic_filter):
                self._deliver(handler, inbound)

    def _deliver(self, handler: MessageHandler, message: InboundMessage) -> None:
        try:
            outcome = handler(message)
        except Exception:
            log.exception("MQTT handler failed on %s", message.topic)
            return
        if outcome is not None:
            self._spawn(outcome)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("MQTT handler failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for the handlers that are running (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _describe(exc: aiomqtt.MqttError) -> str:
    text = str(exc)
    if "authoriz" in text.lower() or "bad user name or password" in text.lower():
        return f"the broker refused the credentials ({text})"
    return text
