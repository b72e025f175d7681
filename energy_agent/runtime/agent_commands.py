"""Agent-wide commands: the operation mode (MQTT, Home Assistant's select, the web page) and the standalone settings
(Home Assistant's controls, the web page), taking effect one at a time in arrival order.

A mode switch clears every device's schedule and starts the new mode fresh. Its device clears are queued on
each device the moment the command arrives, so a HEMS command that arrives after it is applied after it; the
answer goes out once the switch is complete and says the mode that then holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from energy_agent.api.domain import OperationMode
from energy_agent.api.errors import DeviceError
from energy_agent.config import StandaloneSettings
from energy_agent.hems.commands import Issue, parse_operation_mode_set
from energy_agent.hems.payloads import dumps, mode_result_payload
from energy_agent.hems.reasons import RETAINED, Reason
from energy_agent.hems.topics import Topics
from energy_agent.mqtt.bus import InboundMessage, MqttBus
from energy_agent.runtime.devices import DeviceRuntime, PlanInfo
from energy_agent.runtime.events import CommandAnswered, Events
from energy_agent.runtime.hems_commands import HemsCommands
from energy_agent.runtime.modes import ModeControl
from energy_agent.runtime.planner import StandalonePlanner
from energy_agent.runtime.serial import SerialQueue

log = logging.getLogger(__name__)


class AgentCommands:
    """See the module docstring. `start()` subscribes to the mode command topic."""

    def __init__(
        self,
        *,
        bus: MqttBus,
        topics: Topics,
        modes: ModeControl,
        planner: StandalonePlanner,
        hems: HemsCommands,
        runtimes: Callable[[], Iterable[DeviceRuntime]],
        events: Events,
    ) -> None:
        self._bus = bus
        self._topics = topics
        self._modes = modes
        self._planner = planner
        self._hems = hems
        self._runtimes = runtimes
        self._events = events
        self.queue = SerialQueue()

    def start(self) -> None:
        """Take mode commands from the HEMS contract's topic."""
        self._bus.subscribe_messages(self._topics.mode_set, self._on_mode_set)

    def switch(self, mode: OperationMode, reason: str) -> asyncio.Future[OperationMode]:
        """Switch to `mode` after the commands before it; the future gives the mode then in force."""
        self._modes.command(mode)
        clears = [runtime.submit(lambda r=runtime: self._clear(r)) for runtime in self._runtimes()]  # type: ignore[misc]

        async def finish() -> OperationMode:
            await asyncio.gather(*clears)
            if self._modes.mode is not mode:
                log.info("operation mode switched to %s (%s); every device's schedule cleared", mode.value, reason)
            self._modes.enter(mode)
            self._hems.forget()
            await self._planner.replan("mode switch")
            return self._modes.mode

        return self.queue.submit(finish)

    def command_mode(self, mode: OperationMode, reason: str) -> asyncio.Future[OperationMode]:
        """A mode command: a switch when it differs from the mode commanded so far, else only its place in line
        (answered after the commands before it); the future gives the mode in force once it has taken effect."""
        if mode is self._modes.target:
            return self.queue.submit(self._current)
        return self.switch(mode, reason)

    async def change_standalone(self, **changes: Any) -> StandaloneSettings:
        """Change standalone settings at run time (after earlier commands), re-plan at once; ValueError if invalid."""

        async def job() -> StandaloneSettings:
            settings = self._modes.change_standalone(changes)
            await self._planner.replan("settings changed")
            return settings

        return await self.queue.submit(job)

    async def charge_now(self, key: str, on: bool | None = None) -> bool:
        """Start, end (`on`) or toggle (`None`) "charge now" on device `key` after earlier commands, and re-plan;
        the state then in force. ValueError when the device is unknown or it cannot start."""

        async def job() -> bool:
            runtime = next((r for r in self._runtimes() if r.key == key), None)
            if runtime is None:
                raise ValueError(f"no device {key!r}")
            wanted = runtime.record.charge_now_since is None if on is None else on
            self._planner.set_charge_now(runtime, wanted)
            await self._planner.replan("charge now" if wanted else "charge now ended")
            runtime.changed()
            return runtime.record.charge_now_since is not None

        return await self.queue.submit(job)

    async def _clear(self, runtime: DeviceRuntime) -> None:
        try:
            await runtime.put_schedule(None)
        except DeviceError as exc:
            log.error("%s: could not clear the schedule on the mode switch: %s", runtime.key, exc)
            runtime.record.schedule = None
        runtime.plan = PlanInfo()
        runtime.record.last_command_digest = None

    def _on_mode_set(self, message: InboundMessage) -> None:
        """Plain (not async): a refusal is answered at once, a valid command takes its place in the queue now."""
        parsed = parse_operation_mode_set(message.payload)
        if message.retain:
            self._reply(message, parsed.command_id, self._modes.mode, [RETAINED], Reason.RETAINED)
        elif parsed.operation_mode is None:
            log.warning("operation mode command refused: %s", "; ".join(e.message for e in parsed.errors))
            self._reply(message, parsed.command_id, self._modes.mode, parsed.errors, Reason.INVALID)
        else:
            future = self.command_mode(parsed.operation_mode, "MQTT command")

            def answer(done: asyncio.Future[OperationMode]) -> None:
                if done.cancelled() or done.exception() is not None:
                    log.error("operation mode command failed", exc_info=None if done.cancelled() else done.exception())
                else:
                    self._reply(message, parsed.command_id, done.result(), (), None)

            future.add_done_callback(answer)

    def _reply(
        self,
        message: InboundMessage,
        command_id: str | None,
        mode: OperationMode,
        errors: Iterable[Issue],
        reason: Reason | None,
    ) -> None:
        payload = mode_result_payload(command_id=command_id, operation_mode=mode, errors=errors, reason=reason)
        self._bus.reply(self._topics.mode_result, message, dumps(payload))
        self._events.emit(CommandAnswered(None, payload))

    async def _current(self) -> OperationMode:
        return self._modes.mode
