"""HEMS schedule commands at run time: validate, apply to the device in arrival order, answer every one.

Every command is answered on `{p}/{type}/{id}/schedule/result` (and on the MQTT 5 response topic when the
command names one, with its correlation data). A refused command changes nothing. A repeated command (same
id and payload), or the same schedule again, makes no second device write and gets the same answer; a command
id reused with a different payload is a new command.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from energy_agent.api.clock import Clock
from energy_agent.api.errors import DeviceError
from energy_agent.hems.commands import CommandLimits, Issue, parse_clear, parse_schedule_set
from energy_agent.hems.payloads import dumps, result_payload
from energy_agent.hems.topics import Topics
from energy_agent.mqtt.bus import InboundMessage, MqttBus
from energy_agent.runtime.devices import DeviceRuntime
from energy_agent.runtime.events import CommandAnswered, Events
from energy_agent.runtime.hems_link import HemsLink
from energy_agent.runtime.modes import ModeControl
from energy_agent.runtime.state import StateSaver

log = logging.getLogger(__name__)

REMEMBERED_RESULTS = 32


def _logged(job: Awaitable[None]) -> None:
    """Log the failure of a queued command, which nobody awaits (its answer is its only outcome)."""

    def report(done: asyncio.Future[None]) -> None:
        if not done.cancelled() and done.exception() is not None:
            log.error("HEMS command failed", exc_info=done.exception())

    asyncio.ensure_future(job).add_done_callback(report)


def _dedup_key(command_id: str, payload: bytes) -> str:
    return f"{command_id}:{hashlib.sha256(payload).hexdigest()}"


class HemsCommands:
    """See the module docstring; `attach` each device as it comes up."""

    def __init__(
        self,
        *,
        bus: MqttBus,
        topics: Topics,
        clock: Clock,
        zone: ZoneInfo,
        modes: ModeControl,
        link: HemsLink,
        saver: StateSaver,
        events: Events,
    ) -> None:
        self._bus = bus
        self._topics = topics
        self._clock = clock
        self._zone = zone
        self._modes = modes
        self._link = link
        self._saver = saver
        self._events = events
        self._recent: dict[str, OrderedDict[str, dict[str, Any]]] = {}
        self.commands_accepted = 0
        self.commands_refused = 0

    def attach(self, runtime: DeviceRuntime) -> None:
        """Listen for commands to one device; each is answered after the commands that came before it."""
        device = runtime.device
        self._recent[runtime.key] = OrderedDict()

        # Plain (not async) handlers: they only queue the command, in the order the messages arrive.
        def on_set(message: InboundMessage) -> None:
            _logged(runtime.submit(lambda: self.handle_set(runtime, message)))

        def on_clear(message: InboundMessage) -> None:
            _logged(runtime.submit(lambda: self.handle_clear(runtime, message)))

        self._bus.subscribe_messages(self._topics.schedule_set(device.device_type, device.topic_id), on_set)
        self._bus.subscribe_messages(self._topics.schedule_clear(device.device_type, device.topic_id), on_clear)

    def forget(self) -> None:
        """Forget remembered answers (a mode switch starts fresh)."""
        for recent in self._recent.values():
            recent.clear()

    # -- commands (each runs as a job of the device's queue) --------------------------------------
    async def handle_set(self, runtime: DeviceRuntime, message: InboundMessage) -> None:
        """Validate, apply and answer one schedule-set command."""
        self._link.heard()
        now = self._clock.now()
        limits = CommandLimits.from_capabilities(runtime.device.capabilities)
        parsed = parse_schedule_set(message.payload, now=now, tz=self._zone, limits=limits)
        remembered = self._remembered(runtime, parsed.command_id, message.payload)
        if remembered is not None:
            await self._answer(runtime, message, remembered, record=False)
            return
        runtime.record.last_hems_command_at = now
        if not self._modes.takes_hems_commands:
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
            self._link.take_back_control()
            previous = runtime.record.schedule
            try:
                wrote = await runtime.put_schedule(parsed.schedule, announce=False)
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
        self._link.heard()
        now = self._clock.now()
        command_id, errors = parse_clear(message.payload)
        remembered = self._remembered(runtime, command_id, message.payload)
        if remembered is not None:
            await self._answer(runtime, message, remembered, record=False)
            return
        runtime.record.last_hems_command_at = now
        if not self._modes.takes_hems_commands:
            payload = self._refusal("clear", command_id, self._standalone_issue())
        elif errors:
            payload = result_payload(command="clear", command_id=command_id, accepted=False, errors=errors)
        else:
            self._link.take_back_control()
            try:
                await runtime.put_schedule(None, announce=False)
            except DeviceError as exc:
                payload = self._refusal("clear", command_id, Issue("$", f"the device refused it: {exc}"))
            else:
                payload = result_payload(command="clear", command_id=command_id, accepted=True, applied_at=now)
                log.info("%s: schedule cleared by the HEMS", runtime.key)
        await self._answer(runtime, message, payload, record=True, command_id=command_id)

    # -- helpers ----------------------------------------------------------------------------------
    def _standalone_issue(self) -> Issue:
        return Issue(
            "$",
            f"the agent is in standalone mode and takes no HEMS commands; publish `hems` to {self._topics.mode_set}",
        )

    @staticmethod
    def _refusal(command: str, command_id: str | None, issue: Issue) -> dict[str, Any]:
        return result_payload(command=command, command_id=command_id, accepted=False, errors=[issue])

    @staticmethod
    def _applied_at(runtime: DeviceRuntime, now: datetime) -> datetime:
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
            self._record(runtime, message, payload, command_id)
        device = runtime.device
        self._bus.reply(self._topics.schedule_result(device.device_type, device.topic_id), message, dumps(payload))
        self._events.emit(CommandAnswered(runtime.key, payload))
        if record:
            runtime.changed()

    def _record(
        self, runtime: DeviceRuntime, message: InboundMessage, payload: dict[str, Any], cid: str | None
    ) -> None:
        if payload["accepted"]:
            self.commands_accepted += 1
        else:
            self.commands_refused += 1
            runtime.last_error = "; ".join(f"{e['path']}: {e['message']}" for e in payload["errors"])[:500]
        key = _dedup_key(cid, message.payload) if cid else None
        runtime.record.last_command_id = cid
        runtime.record.last_command_digest = key
        runtime.record.last_result = payload
        if key is not None:
            recent = self._recent.setdefault(runtime.key, OrderedDict())
            recent[key] = payload
            while len(recent) > REMEMBERED_RESULTS:
                recent.popitem(last=False)
        if payload["accepted"]:
            # A refusal changes nothing worth a disk write; a flood of junk must not become disk load.
            self._saver.changed()
