"""The simulated charger's side of the OCPP 1.6 conversation: its answers to the central system's calls.

Every call is recorded (`ChargerSimulator.calls`) before it is answered, so a test can count what was sent.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ocpp.v16 import ChargePoint, call_result, enums
from websockets.asyncio.client import ClientConnection

from energy_agent_ocpp.profiles import ocpp_time, whole_second
from energy_agent_ocpp.routing import after, frame_log, on
from energy_agent_ocpp.simulator.profiles import CP_MAX, TX_DEFAULT, TX_PROFILE, InstalledProfile

if TYPE_CHECKING:
    from energy_agent_ocpp.simulator.charger import ChargerSimulator

log = logging.getLogger("energy_agent_ocpp.simulator")


WIRE_LOG = frame_log("energy_agent_ocpp.simulator.wire")


class ChargerWire(ChargePoint):
    """One connection of the simulated charger (the ocpp library's client side)."""

    def __init__(self, simulator: ChargerSimulator, connection: ClientConnection) -> None:
        super().__init__(simulator.charge_point_id, connection, response_timeout=30, logger=WIRE_LOG)
        self.sim = simulator
        self.connection = connection

    async def _answering(self, action: str, payload: dict[str, Any]) -> None:
        self.sim.calls.append((action, payload))
        delay_s = self.sim.quirks.answer_delay_s
        if delay_s > 0:
            await asyncio.sleep(delay_s)

    @on(enums.Action.set_charging_profile)
    async def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> Any:
        """Store the profile when this charger can hold it; answer Accepted, Rejected or NotSupported."""
        await self._answering("SetChargingProfile", {"connector_id": connector_id, **cs_charging_profiles})
        quirks = self.sim.quirks
        if quirks.drops_connection_on_profile:
            log.info("%s: dropping the connection instead of answering SetChargingProfile", self.sim.charge_point_id)
            self.connection.transport.abort()
            raise ConnectionAbortedError("dropped on purpose")
        status = self._judge(connector_id, cs_charging_profiles)
        if status == "Accepted":
            profile = InstalledProfile.parse(connector_id, cs_charging_profiles, self.sim.clock.now())
            self.sim.profiles.install(profile)
            log.info(
                "%s: holds %s %d (stack %d) on connector %d",
                self.sim.charge_point_id,
                profile.purpose,
                profile.profile_id,
                profile.stack_level,
                connector_id,
            )
            self.sim.wake()
        else:
            log.info("%s: SetChargingProfile on connector %d: %s", self.sim.charge_point_id, connector_id, status)
        return call_result.SetChargingProfile(status=enums.ChargingProfileStatus(status))

    def _judge(self, connector_id: int, profile: dict[str, Any]) -> str:
        quirks = self.sim.quirks
        purpose = profile.get("charging_profile_purpose")
        schedule = profile.get("charging_schedule") or {}
        if connector_id != 0 and connector_id not in self.sim.connectors:
            return "Rejected"
        if purpose == TX_DEFAULT and quirks.rejects_tx_default is not None:
            return quirks.rejects_tx_default
        if purpose == TX_DEFAULT and quirks.tx_default_only_on_connector_0 and connector_id != 0:
            return "Rejected"
        if purpose == CP_MAX and connector_id != 0:
            return "Rejected"
        if purpose == TX_PROFILE:
            running = self.sim.connectors.get(connector_id)
            wanted = profile.get("transaction_id")
            if running is None or running.transaction_id is None or wanted not in (None, running.transaction_id):
                return "Rejected"
        if int(profile.get("stack_level", 0)) > quirks.max_stack_level:
            return "Rejected"
        if len(schedule.get("charging_schedule_period") or []) > quirks.max_periods:
            return "Rejected"
        if schedule.get("charging_rate_unit") not in ("A", "W"):
            return "Rejected"
        return "Accepted"

    @on(enums.Action.clear_charging_profile)
    async def on_clear_charging_profile(self, **kwargs: Any) -> Any:
        """Remove profiles by id or by connector, purpose and stack level."""
        await self._answering("ClearChargingProfile", kwargs)
        removed = self.sim.profiles.clear(
            profile_id=kwargs.get("id"),
            connector_id=kwargs.get("connector_id"),
            purpose=kwargs.get("charging_profile_purpose"),
            stack_level=kwargs.get("stack_level"),
        )
        self.sim.wake()
        return call_result.ClearChargingProfile(
            status=enums.ClearChargingProfileStatus.accepted if removed else enums.ClearChargingProfileStatus.unknown
        )

    @on(enums.Action.get_composite_schedule)
    async def on_get_composite_schedule(self, connector_id: int, duration: int, **kwargs: Any) -> Any:
        """What the connector will be limited to over the next `duration` seconds (in A)."""
        await self._answering("GetCompositeSchedule", {"connector_id": connector_id, "duration": duration, **kwargs})
        unit = kwargs.get("charging_rate_unit") or "A"
        if not self.sim.quirks.supports_composite_schedule or unit != "A" or connector_id not in self.sim.connectors:
            return call_result.GetCompositeSchedule(status=enums.GetCompositeScheduleStatus.rejected)
        start = whole_second(self.sim.clock.now())
        periods = self.sim.composite(connector_id, start, duration)
        return call_result.GetCompositeSchedule(
            status=enums.GetCompositeScheduleStatus.accepted,
            connector_id=connector_id,
            schedule_start=ocpp_time(start),
            charging_schedule={
                "duration": duration,
                "start_schedule": ocpp_time(start),
                "charging_rate_unit": "A",
                "charging_schedule_period": [{"start_period": o, "limit": limit} for o, limit in periods],
            },
        )

    @on(enums.Action.get_configuration)
    async def on_get_configuration(self, **kwargs: Any) -> Any:
        """The asked keys (or all) that this charger knows; the others as unknown."""
        await self._answering("GetConfiguration", kwargs)
        table = self.sim.configuration()
        wanted = kwargs.get("key") or list(table)
        known = [{"key": k, "readonly": table[k][1], "value": table[k][0]} for k in wanted if k in table]
        unknown = [k for k in wanted if k not in table]
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on(enums.Action.change_configuration)
    async def on_change_configuration(self, key: str, value: str) -> Any:
        """Only MeterValueSampleInterval can be changed."""
        await self._answering("ChangeConfiguration", {"key": key, "value": value})
        if key not in self.sim.configuration():
            return call_result.ChangeConfiguration(status=enums.ConfigurationStatus.not_supported)
        if key != "MeterValueSampleInterval" or not value.isdigit():
            return call_result.ChangeConfiguration(status=enums.ConfigurationStatus.rejected)
        self.sim.meter_interval_s = max(1, int(value))
        self.sim.wake()
        return call_result.ChangeConfiguration(status=enums.ConfigurationStatus.accepted)

    @on(enums.Action.trigger_message)
    async def on_trigger_message(self, requested_message: str, **kwargs: Any) -> Any:
        """StatusNotification and MeterValues can be triggered."""
        await self._answering("TriggerMessage", {"requested_message": requested_message, **kwargs})
        ok = requested_message in (enums.MessageTrigger.status_notification, enums.MessageTrigger.meter_values)
        return call_result.TriggerMessage(
            status=enums.TriggerMessageStatus.accepted if ok else enums.TriggerMessageStatus.rejected
        )

    @after(enums.Action.trigger_message)
    def after_trigger_message(self, requested_message: str, **kwargs: Any) -> None:
        """Send what was asked for, once the answer is out."""
        connector_id = kwargs.get("connector_id")
        if requested_message == enums.MessageTrigger.status_notification:
            self.sim.spawn(self.sim.send_status(self, connector_id, force=True))
        elif requested_message == enums.MessageTrigger.meter_values:
            self.sim.spawn(self.sim.send_meter_values(self, connector_id))

    async def send(self, payload: Any) -> Any:
        """A call from the charger to the central system."""
        return await self.call(payload, suppress=False)
