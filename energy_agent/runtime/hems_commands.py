"""HEMS schedule commands at run time: judge at once, apply to the device in arrival order, answer every one.

Every command is answered on `{p}/{type}/{id}/schedule/result` (and on the MQTT 5 response topic when the
command names one, with its correlation data):

- at once, when it can be judged without the device: a payload that breaks the contract, a retained command
  (it would be replayed at every restart), standalone mode, or a device that is configured but not up yet
  (its cloud was down at start: `device_unavailable`, `retry: true`);
- otherwise once the device write is done, after every command to that device that arrived before it.

A refused command changes nothing. Only an *applied* command is remembered: the same command id with the same
payload again gets the same answer without a second device write (also after a restart). A command refused
because the device failed is not remembered, so the HEMS's resend is tried afresh.

Commands are taken from one wildcard subscription per device type (`{p}/{type}/+/schedule/set|clear`), so they
are heard from the first second, before the devices are built.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from energy_agent.api.clock import Clock
from energy_agent.api.errors import DeviceError
from energy_agent.hems.commands import (
    CommandLimits,
    Issue,
    ParsedCommand,
    command_id_of,
    parse_clear,
    parse_schedule_set,
)
from energy_agent.hems.payloads import dumps, result_payload
from energy_agent.hems.reasons import RETAINED, Reason, describe, reason_for
from energy_agent.hems.topics import TOPIC_ID_RE, Topics
from energy_agent.mqtt.bus import InboundMessage, MqttBus
from energy_agent.runtime.devices import DeviceRuntime
from energy_agent.runtime.events import CommandAnswered, Events
from energy_agent.runtime.hems_link import HemsLink
from energy_agent.runtime.modes import ModeControl
from energy_agent.runtime.state import StateSaver

log = logging.getLogger(__name__)

REMEMBERED_RESULTS = 32
"""Applied commands remembered per device for duplicate detection (the last one also across restarts)."""
SET = "set"
CLEAR = "clear"


def _dedup_key(command_id: str, payload: bytes) -> str:
    return f"{command_id}:{hashlib.sha256(payload).hexdigest()}"


class HemsCommands:
    """See the module docstring. `watch` each configured device type at start, `attach` each device once up."""

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
        self._runtimes: dict[str, DeviceRuntime] = {}
        self._watched: set[str] = set()
        self._up: set[str] = set()
        self._recent: dict[str, OrderedDict[str, dict[str, Any]]] = {}
        self.commands_accepted = 0
        self.commands_refused = 0

    def watch(self, device_type: str) -> None:
        """Answer every command to a device of this type from now on, before its devices are up too."""
        if device_type in self._watched:
            return
        self._watched.add(device_type)
        base = f"{self._topics.prefix}/{device_type}/+/schedule"
        # the bus runs the returned job as a task of its own and logs its failure (the answer is its only outcome)
        self._bus.subscribe_messages(f"{base}/{SET}", lambda m: self._arrived(device_type, SET, m))
        self._bus.subscribe_messages(f"{base}/{CLEAR}", lambda m: self._arrived(device_type, CLEAR, m))

    def attach(self, runtime: DeviceRuntime) -> None:
        """Take commands for one device from now on (its type is watched if it was not already)."""
        self._runtimes[runtime.key] = runtime
        self._recent[runtime.key] = OrderedDict()
        self._up.add(runtime.device.device_type)
        self.watch(runtime.device.device_type)

    def forget(self) -> None:
        """Forget remembered answers (a mode switch starts fresh)."""
        for recent in self._recent.values():
            recent.clear()

    # -- arrival: judged at once, queued only when the device must be written ----------------------
    async def handle(self, device_type: str, command: str, message: InboundMessage) -> None:
        """Take one command as if it had just arrived and wait until it is answered (tests and fuzzers; a failure
        of the job is raised here)."""
        job = self._arrived(device_type, command, message)
        if job is not None:
            await job

    def _arrived(self, device_type: str, command: str, message: InboundMessage) -> Awaitable[None] | None:
        """Plain (not async): a command's place in its device's queue is fixed the moment it arrives. Returns the
        queued job, or None when the command was answered at once."""
        self._link.heard()
        topic_id = message.topic.split("/")[-3]
        runtime = self._runtimes.get(f"{device_type}/{topic_id}")
        if runtime is None:
            self._answer_absent(device_type, topic_id, command, message)
            return None
        runtime.record.last_hems_command_at = self._clock.now()
        wanted = None
        if command == SET:
            limits = CommandLimits.from_capabilities(runtime.device.capabilities)
            wanted = parse_schedule_set(message.payload, now=self._clock.now(), tz=self._zone, limits=limits)
            command_id, errors, warnings = wanted.command_id, wanted.errors, wanted.warnings
        else:
            command_id, errors = parse_clear(message.payload)
            warnings = ()
        refusal = self._refusal_before_device(command, command_id, message)
        if refusal is None and errors:
            refusal = result_payload(
                command=command, command_id=command_id, accepted=False, errors=errors, warnings=warnings,
                reason=Reason.INVALID,
            )  # fmt: skip
            log.warning("%s: %s refused: %s", runtime.key, command, "; ".join(f"{e.path}: {e.message}" for e in errors))
        if refusal is not None:
            self._answer(runtime, message, refusal, command_id=command_id)
            return None
        return runtime.submit(lambda: self._apply(runtime, command, message, wanted, command_id))

    def _refusal_before_device(
        self, command: str, command_id: str | None, message: InboundMessage
    ) -> dict[str, Any] | None:
        if message.retain:
            return self._refusal(command, command_id, Reason.RETAINED, RETAINED)
        if not self._modes.takes_hems_commands:
            return self._refusal(
                command, command_id, Reason.WRONG_MODE,
                Issue("$", "the agent is in standalone mode and takes no HEMS commands; "
                      f"publish `hems` to {self._topics.mode_set}"),
            )  # fmt: skip
        return None

    def _answer_absent(self, device_type: str, topic_id: str, command: str, message: InboundMessage) -> None:
        """A command to a device that is not (yet) running here: answered at once, never applied."""
        if not TOPIC_ID_RE.fullmatch(topic_id):
            log.warning("%s command to an invalid topic id ignored: %r", device_type, topic_id[:80])
            return
        command_id = command_id_of(message.payload)
        if device_type in self._up:
            known = sorted(k.split("/", 1)[1] for k in self._runtimes if k.startswith(f"{device_type}/"))
            reason = Reason.INVALID
            issue = Issue("$", f"no {device_type} device {topic_id!r} here; known: {', '.join(known) or 'none'}")
        else:
            reason = Reason.DEVICE_UNAVAILABLE
            issue = Issue("$", f"the {device_type} devices are not available yet (the agent keeps trying); retry later")
        payload = self._refusal(command, command_id, reason, issue)
        self._bus.reply(self._topics.schedule_result(device_type, topic_id), message, dumps(payload))
        self.commands_refused += 1
        self._events.emit(CommandAnswered(f"{device_type}/{topic_id}", payload))

    # -- application: a job of the device's queue ----------------------------------------------------
    async def _apply(
        self,
        runtime: DeviceRuntime,
        command: str,
        message: InboundMessage,
        wanted: ParsedCommand | None,
        command_id: str | None,
    ) -> None:
        """Write the device (a clear when `wanted` is None) and answer with the outcome."""
        schedule = wanted.schedule if wanted is not None else None
        remembered = self._remembered(runtime, command_id, message.payload)
        if remembered is not None:
            self._answer(runtime, message, remembered, command_id=command_id, remember=False)
            return
        if not self._modes.takes_hems_commands:  # a mode switch arrived while this command waited its turn
            payload = self._refusal_before_device(command, command_id, message)
            assert payload is not None
            self._answer(runtime, message, payload, command_id=command_id)
            return
        self._link.take_back_control()
        previous = runtime.record.schedule
        try:
            wrote = await runtime.put_schedule(schedule, announce=False)
        except DeviceError as exc:
            payload = self._refusal(command, command_id, reason_for(exc), Issue("$", describe(exc)))
        else:
            now = self._clock.now()
            if command == CLEAR:
                applied_at = now
                log.info("%s: schedule cleared by the HEMS", runtime.key)
            else:
                assert schedule is not None
                applied_at = now if wrote or previous is None else self._applied_at(runtime, now)
                log.info(
                    "%s: HEMS schedule %s (%d period(s), %s, source_id %r)",
                    runtime.key,
                    "applied" if wrote else "already in force",
                    len(schedule.periods),
                    command_id or "no command id",
                    schedule.source_id,
                )
            warnings = wanted.warnings if wanted is not None else ()
            payload = result_payload(
                command=command, command_id=command_id, accepted=True, warnings=warnings, applied_at=applied_at
            )
        self._answer(runtime, message, payload, command_id=command_id)

    # -- helpers ----------------------------------------------------------------------------------
    @staticmethod
    def _refusal(command: str, command_id: str | None, reason: Reason, issue: Issue) -> dict[str, Any]:
        return result_payload(command=command, command_id=command_id, accepted=False, errors=[issue], reason=reason)

    @staticmethod
    def _applied_at(runtime: DeviceRuntime, now: datetime) -> datetime:
        last = runtime.record.last_result
        if last and last.get("accepted") and last.get("applied_at"):
            return datetime.fromisoformat(last["applied_at"])
        return now

    def _remembered(self, runtime: DeviceRuntime, command_id: str | None, payload: bytes) -> dict[str, Any] | None:
        """The answer given to this applied command id with this very payload (a reused id with new content is
        new; a refused command is never remembered)."""
        if command_id is None:
            return None
        key = _dedup_key(command_id, payload)
        recent: dict[str, dict[str, Any]] = self._recent.get(runtime.key, {})
        if key in recent:
            return recent[key]
        record = runtime.record
        if record.last_result is not None and record.last_command_digest == key and record.last_result["accepted"]:
            return record.last_result  # remembered across a restart
        return None

    def _answer(
        self,
        runtime: DeviceRuntime,
        message: InboundMessage,
        payload: dict[str, Any],
        *,
        command_id: str | None,
        remember: bool = True,
    ) -> None:
        if remember:
            self._record(runtime, message, payload, command_id)
        device = runtime.device
        self._bus.reply(self._topics.schedule_result(device.device_type, device.topic_id), message, dumps(payload))
        self._events.emit(CommandAnswered(runtime.key, payload))
        runtime.changed()

    def _record(
        self, runtime: DeviceRuntime, message: InboundMessage, payload: dict[str, Any], cid: str | None
    ) -> None:
        runtime.last_answer = payload
        runtime.record.last_command_id = cid
        if not payload["accepted"]:
            self.commands_refused += 1
            runtime.last_error = "; ".join(f"{e['path']}: {e['message']}" for e in payload["errors"])[:500]
            return  # a refusal changes nothing worth a disk write; a flood of junk must not become disk load
        self.commands_accepted += 1
        key = _dedup_key(cid, message.payload) if cid else None
        runtime.record.last_command_digest = key
        runtime.record.last_result = payload
        if key is not None:
            recent = self._recent.setdefault(runtime.key, OrderedDict())
            recent[key] = payload
            while len(recent) > REMEMBERED_RESULTS:
                recent.popitem(last=False)
        self._saver.changed()
