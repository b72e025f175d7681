"""`NoMqtt`: the `DeviceContext.mqtt` for a device test in which the device must not touch MQTT."""

from __future__ import annotations

from collections.abc import Awaitable, Callable


class NoMqtt:
    """An `api.MqttAccess` that fails the test on any publish or subscribe (and is always connected)."""

    async def publish(self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False) -> None:
        """Fail: the device under test must publish nothing."""
        raise AssertionError(f"unexpected MQTT publish to {topic}")

    def subscribe(self, topic_filter: str, handler: Callable[[str, bytes], Awaitable[None]]) -> None:
        """Fail: the device under test must subscribe to nothing."""
        raise AssertionError(f"unexpected MQTT subscribe to {topic_filter}")

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        """Nothing to wait for."""
