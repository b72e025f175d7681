"""HEMS mode at run time: schedule commands in, one result per command out, HEMS liveness and fallback.

Every command is answered on `{p}/{type}/{id}/schedule/result` (and on the MQTT 5 response topic when the
command names one, with its correlation data). A refused command changes nothing. A repeated command (same
id and payload), or the same schedule again, makes no second device write and gets the same answer; a command
id reused with a different payload is a new command.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from energy_agent.api.clock import Clock
from energy_agent.api.domain import OperationMode, isoformat
from energy_agent.api.errors import DeviceError
from energy_agent.config import HemsSettings
from energy_agent.hems.commands import CommandLimits, Issue, parse_clear, parse_schedule_set
from energy_agent.hems.contracts import CONTRACT_VERSION
from energy_agent.hems.topics import Topics
from energy_agent.mqtt.bus import InboundMessage, MqttBus, NotConnectedError
from energy_agent.runtime.device import DeviceRuntime, dumps

log = logging.getLogger(__name__)

REMEMBERED_RESULTS = 32


def _dedup_key(command_id: str, payload: bytes) -> str:
    return f"{command_id}:{hashlib.sha256(payload).hexdigest()}"


def result_payload(
    *,
    command: str,
    command_id: str | None,
    accepted: bool,
    errors: Iterable[Issue] = (),
    warnings: Iterable[Issue] = (),
    applied_at: datetime | None = None,
) -> dict[str, Any]:
    """The contract's result payload."""
    return {
        "command_id": command_id,
        "command": command,
        "accepted": accepted,
        "errors": [e.to_json() for e in errors],
        "warnings": [w.to_json() for w in warnings],
        "applied_at": isoformat(applied_at) if accepted else None,
        "contract_version": CONTRACT_VERSION,
    }


class HemsController:
    """See the module docstring."""

    def __init__(
        self,
        *,
        bus: MqttBus,
        topics: Topics,
        clock: Clock,
        zone: ZoneInfo,
        settings: HemsSettings,
        mode: Callable[[], OperationMode],
        persist: Callable[[], None],
        on_fallback_change: Callable[[bool], Awaitable[None]],
    ) -> None:
        self.bus = bus
        self.topics = topics
        self.clock = clock
        self.zone = zone
        self.settings = settings
        self._mode = mode
        self._persist = persist
        self._on_fallback_change = on_fallback_change
        self.last_heard_at: datetime | None = None
        self.started_at: datetime | None = None
        self._command_locks: dict[str, asyncio.Lock] = {}
        self.controller_online: bool | None = None
        self.fallback_active = False
        self._recent: dict[str, OrderedDict[str, dict[str, Any]]] = {}
        self.commands_accepted = 0
        self.commands_refused = 0

    # -- wiring ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Listen to the HEMS's own availability topic; the silence before a first word counts from now."""
        self.started_at = self.clock.now()
        self.bus.subscribe_messages(self.topics.controller_availability, self._on_availability)

    def attach(self, runtime: DeviceRuntime) -> None:
        """Listen for commands to one device."""
        device = runtime.device
        self._recent[runtime.key] = OrderedDict()
        # One command at a time per device, in arrival order (asyncio locks are FIFO), so results come in order.
        lock = self._command_locks.setdefault(runtime.key, asyncio.Lock())

        async def on_set(message: InboundMessage) -> None:
            async with lock:
                await self.handle_set(runtime, message)

        async def on_clear(message: InboundMessage) -> None:
            async with lock:
                await self.handle_clear(runtime, message)

        self.bus.subscribe_messages(self.topics.schedule_set(device.device_type, device.topic_id), on_set)
        self.bus.subscribe_messages(self.topics.schedule_clear(device.device_type, device.topic_id), on_clear)

    def reset(self) -> None:
        """Forget remembered answers and end the fallback (a mode switch starts fresh)."""
        for recent in self._recent.values():
            recent.clear()
        self.fallback_active = False

    # -- liveness ----------------------------------------------------------------------------------
    @property
    def hems_connected(self) -> bool:
        """The broker is up and the HEMS was heard within `hems.timeout_s` (and did not say `offline`)."""
        if not self.bus.connected or self.controller_online is False or self.last_heard_at is None:
            return False
        return (self.clock.now() - self.last_heard_at).total_seconds() < self.settings.timeout_s

    def _heard(self) -> None:
        self.last_heard_at = self.clock.now()

    async def _on_availability(self, message: InboundMessage) -> None:
        word = message.payload.strip().decode("utf-8", "replace").lower()
        if word == "online":
            self.controller_online = True
            self._heard()
        elif word == "offline":
            self.controller_online = False
            log.warning("the HEMS announced it is offline")
        else:
            log.warning("ignored HEMS availability payload %r (expected online or offline)", word[:40])
            return
        await self.check_liveness()

    async def check_liveness(self) -> None:
        """Start the fallback when the HEMS went silent (if configured); called on a timer and on events."""
        silent = self._mode() is OperationMode.HEMS and not self.hems_connected and self._silent_long_enough()
        if silent and self.settings.fallback == "standalone" and not self.fallback_active:
            log.warning(
                "the HEMS was not heard for %.0f s: standalone planning takes over until its next command",
                self.settings.timeout_s,
            )
            self.fallback_active = True
            await self._on_fallback_change(True)

    def _silent_long_enough(self) -> bool:
        """The HEMS said `offline`, or was not heard for `timeout_s` (since its last word, or since start)."""
        if self.controller_online is False:
            return True
        since = self.last_heard_at or self.started_at
        return since is None or (self.clock.now() - since).total_seconds() >= self.settings.timeout_s

    async def liveness_loop(self, on_change: Callable[[], Awaitable[None]]) -> None:
        """Check liveness every few seconds; `on_change` runs whenever `hems_connected` flips."""
        was = self.hems_connected
        while True:
            await self.clock.sleep(min(5.0, self.settings.timeout_s / 4))
            now = self.hems_connected
            await self.check_liveness()
            if now != was:
                was = now
                await on_change()

    async def take_back_control(self) -> None:
        """A HEMS command ends the fallback."""
        if self.fallback_active:
            log.info("the HEMS is back: its commands are in force again")
            self.fallback_active = False
            await self._on_fallback_change(False)

    # -- commands ----------------------------------------------------------------------------------
    async def handle_set(self, runtime: DeviceRuntime, message: InboundMessage) -> None:
        """Validate, apply and answer one schedule-set command."""
        self._heard()
        now = self.clock.now()
        limits = CommandLimits.from_capabilities(runtime.device.capabilities)
        parsed = parse_schedule_set(message.payload, now=now, tz=self.zone, limits=limits)
        remembered = self._remembered(runtime, parsed.command_id, message.payload)
        if remembered is not None:
            await self._answer(runtime, message, remembered, record=False)
            return
        runtime.record.last_hems_command_at = now
        if self._mode() is not OperationMode.HEMS:
            payload = self._refusal("set", parsed.command_id, self._standalone_issue())
        elif parsed.schedule is None:
            payload = result_payload(
                command="set", command_id=parsed.command_id, accepted=False, errors=parsed.errors,
                warnings=parsed.warnings,
            )  # fmt: skip
            log.warning(
                "%s: schedule refused: %s", runtime.key, "; ".join(f"{e.path}: {e.message}" for e in parsed.errors)
            )
        else:
            await self.take_back_control()
            async with runtime.lock:
                previous = runtime.record.schedule
                try:
                    wrote = await runtime.put_schedule(parsed.schedule, publish=False)
                except DeviceError as exc:
                    payload = self._refusal("set", parsed.command_id, Issue("$", f"the device refused it: {exc}"))
                else:
                    applied_at = now if wrote or previous is None else self._applied_at(runtime, now)
                    payload = result_payload(
                        command="set", command_id=parsed.command_id, accepted=True, warnings=parsed.warnings,
                        applied_at=applied_at,
                    )  # fmt: skip
                    log.info(
                        "%s: HEMS schedule %s (%d period(s), %s)",
                        runtime.key,
                        "applied" if wrote else "already in force",
                        len(parsed.schedule.periods),
                        parsed.command_id or "no command id",
                    )
        await self._answer(runtime, message, payload, record=True, command_id=parsed.command_id)

    async def handle_clear(self, runtime: DeviceRuntime, message: InboundMessage) -> None:
        """Clear the schedule and answer."""
        self._heard()
        now = self.clock.now()
        command_id, errors = parse_clear(message.payload)
        remembered = self._remembered(runtime, command_id, message.payload)
        if remembered is not None:
            await self._answer(runtime, message, remembered, record=False)
            return
        runtime.record.last_hems_command_at = now
        if self._mode() is not OperationMode.HEMS:
            payload = self._refusal("clear", command_id, self._standalone_issue())
        elif errors:
            payload = result_payload(command="clear", command_id=command_id, accepted=False, errors=errors)
        else:
            await self.take_back_control()
            async with runtime.lock:
                try:
                    await runtime.put_schedule(None, publish=False)
                except DeviceError as exc:
                    payload = self._refusal("clear", command_id, Issue("$", f"the device refused it: {exc}"))
                else:
                    payload = result_payload(command="clear", command_id=command_id, accepted=True, applied_at=now)
                    log.info("%s: schedule cleared by the HEMS", runtime.key)
        await self._answer(runtime, message, payload, record=True, command_id=command_id)

    def _standalone_issue(self) -> Issue:
        return Issue(
            "$",
            f"the agent is in standalone mode and takes no HEMS commands; publish `hems` to {self.topics.mode_set}",
        )

    def _refusal(self, command: str, command_id: str | None, issue: Issue) -> dict[str, Any]:
        return result_payload(command=command, command_id=command_id, accepted=False, errors=[issue])

    def _applied_at(self, runtime: DeviceRuntime, now: datetime) -> datetime:
        last = runtime.record.last_result
        if last and last.get("accepted") and last.get("applied_at"):
            return datetime.fromisoformat(last["applied_at"])
        return now

    def _remembered(self, runtime: DeviceRuntime, command_id: str | None, payload: bytes) -> dict[str, Any] | None:
        """The answer given to this command id with this very payload (a reused id with new content is new)."""
        if command_id is None:
            return None
        key = _dedup_key(command_id, payload)
        recent: dict[str, dict[str, Any]] = self._recent.get(runtime.key, {})
        if key in recent:
            return recent[key]
        record = runtime.record
        if record.last_result is not None and record.last_command_digest == key:
            return record.last_result  # remembered across a restart
        return None

    async def _answer(
        self,
        runtime: DeviceRuntime,
        message: InboundMessage,
        payload: dict[str, Any],
        *,
        record: bool,
        command_id: str | None = None,
    ) -> None:
        if record:
            if payload["accepted"]:
                self.commands_accepted += 1
            else:
                self.commands_refused += 1
            runtime.record.last_command_id = command_id
            runtime.record.last_command_digest = _dedup_key(command_id, message.payload) if command_id else None
            runtime.record.last_result = payload
            if not payload["accepted"]:
                runtime.last_error = "; ".join(f"{e['path']}: {e['message']}" for e in payload["errors"])[:500]
            if command_id is not None:
                recent = self._recent.setdefault(runtime.key, OrderedDict())
                recent[_dedup_key(command_id, message.payload)] = payload
                while len(recent) > REMEMBERED_RESULTS:
                    recent.popitem(last=False)
            if payload["accepted"]:
                # A refusal changes nothing worth a disk write; a flood of junk must not become disk load.
                self._persist()
        body = dumps(payload)
        device = runtime.device
        with contextlib.suppress(NotConnectedError):
            await self.bus.publish(self.topics.schedule_result(device.device_type, device.topic_id), body)
            if message.response_topic:
                await self.bus.publish(message.response_topic, body, correlation_data=message.correlation_data)
        if record:
            await runtime.publish_status(runtime)
