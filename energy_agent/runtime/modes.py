"""Who decides, and with which standalone settings: the operation mode, the HEMS fallback, run-time overrides.

Two modes are tracked. `mode` is the one in force: what the status reports. `target` is where the agent is
going once the mode commands already received have taken effect, in arrival order: a HEMS command that
arrives after a `hems` command is judged against `target`, so it is not refused while the switch is still
clearing the devices, and the standalone planner stops writing as soon as a switch away from it arrives.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from energy_agent.api.domain import OperationMode
from energy_agent.config import CoreSettings, StandaloneSettings
from energy_agent.runtime.events import AgentChanged, Events
from energy_agent.runtime.state import AgentState, StateSaver

log = logging.getLogger(__name__)

OVERRIDABLE = frozenset(
    {
        "price_threshold",
        "top_x_charge_count",
        "paused",
        "policy",
        "ready_by",
        "departure_once",
        "energy_kwh",
        "target_soc",
    }
)
"""Standalone settings that may be changed at run time (Home Assistant, the web page)."""
EXCLUSIVE = {"energy_kwh": "target_soc", "target_soc": "energy_kwh"}
"""Setting one of these at run time unsets the other: the owner says how much to charge in one way at a time."""


class ModeControl:
    """The mode in force and the one commanded, the HEMS fallback, and the standalone settings in force."""

    def __init__(self, settings: CoreSettings, state: AgentState, saver: StateSaver, events: Events) -> None:
        self._settings = settings
        self._state = state
        self._saver = saver
        self._events = events
        self.target: OperationMode = self.mode
        """The mode once every mode command received so far has taken effect."""
        self.fallback_active = False
        """In hems mode: the HEMS went silent and standalone planning stands in (`hems.fallback: standalone`)."""
        self._standalone = self._effective(state.overrides)

    @property
    def mode(self) -> OperationMode:
        """The operation mode in force."""
        return self._state.operation_mode or self._settings.operation_mode

    @property
    def takes_hems_commands(self) -> bool:
        """HEMS schedule commands are applied (judged by the commanded mode, see the module docstring)."""
        return self.target is OperationMode.HEMS

    @property
    def standalone_in_force(self) -> bool:
        """Standalone planning decides: standalone is commanded, or the HEMS fallback is active."""
        return self.target is OperationMode.STANDALONE or (self.target is OperationMode.HEMS and self.fallback_active)

    @property
    def standalone(self) -> StandaloneSettings:
        """The standalone settings in force: the config file's, with the run-time changes applied."""
        return self._standalone

    def command(self, mode: OperationMode) -> None:
        """A mode command arrived (it takes effect through `enter` once earlier ones have)."""
        self.target = mode

    def enter(self, mode: OperationMode) -> None:
        """The switch to `mode` is complete: it is in force and persisted; the fallback ends."""
        self._state.operation_mode = mode
        self.fallback_active = False
        self._saver.changed()
        self._events.emit(AgentChanged("mode"))

    def set_fallback(self, active: bool) -> None:
        """Start or end the HEMS fallback."""
        if active != self.fallback_active:
            self.fallback_active = active
            self._events.emit(AgentChanged("fallback"))

    def change_standalone(self, changes: dict[str, Any]) -> StandaloneSettings:
        """Apply run-time changes, checked by the config model itself; ValueError says what is wrong."""
        unknown = sorted(set(changes) - OVERRIDABLE)
        if unknown:
            raise ValueError(f"not changeable at run time: {', '.join(unknown)}")
        merged = {**self._state.overrides, **changes}
        for key, other in EXCLUSIVE.items():
            if changes.get(key) is not None and other not in changes:
                merged[other] = None
        self._standalone = self._effective(merged, strict=True)
        # only what was changed at run time: a later edit of the config file's other keys still takes effect
        dumped = self._standalone.model_dump(mode="json")
        self._state.overrides = {key: dumped[key] for key in sorted(merged)}
        self._saver.changed()
        log.info("standalone settings changed: %s", changes)
        self._events.emit(AgentChanged("standalone settings"))
        return self._standalone

    def _effective(self, overrides: dict[str, Any], *, strict: bool = False) -> StandaloneSettings:
        base = self._settings.standalone
        known = {key: value for key, value in overrides.items() if key in OVERRIDABLE}
        try:
            return StandaloneSettings(**{**base.model_dump(), **known})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'standalone'}: {e['msg']}" for e in exc.errors())
            if strict:
                raise ValueError(problems) from None
            log.warning("run-time standalone settings ignored (%s); using the config file's", problems)
            return base

    def reconcile_at_start(self) -> bool:
        """Take up the mode where it was; a changed config file wins. True when the mode must be switched: then
        `config_taken_up` once it is, so that a crash during the switch has the next start switch again."""
        configured = self._settings.operation_mode
        state = self._state
        if state.operation_mode is None:
            state.operation_mode = configured
        elif state.configured_mode != configured and state.operation_mode is not configured:
            self.target = configured
            return True
        self.config_taken_up()
        self.target = self.mode
        return False

    def config_taken_up(self) -> None:
        """Remember the config file's mode as taken up (saved with the next state write)."""
        self._state.configured_mode = self._settings.operation_mode
