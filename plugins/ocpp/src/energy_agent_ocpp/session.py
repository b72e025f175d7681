"""One websocket connection of a charge point: the OCPP 1.6 handlers, the set-up after connecting, and calls to it.

The handlers answer what the charger reports (boot, heartbeat, status, meter values, transactions) and write
it into the charge point's `ChargePointLink`. After connecting, the session reads the charger's smart-charging
limits (GetConfiguration), sets the meter value interval, and then tells the connector devices it is ready.
`request` is the one place where a call to the charger fails: it raises the agent's DeviceError hierarchy.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import datetime
from typing import Any

from ocpp.exceptions import OCPPError, UnknownCallErrorCodeError, ValidationError
from ocpp.v16 import ChargePoint, call, call_result, datatypes, enums
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from energy_agent.api import Clock, DeviceError, DeviceRejectedError, DeviceUnavailableError, Metrics
from energy_agent_ocpp.config import DEVICE_TYPE
from energy_agent_ocpp.link import ChargePointLink, ConnectorReadings
from energy_agent_ocpp.meter import read_meter_values
from energy_agent_ocpp.profiles import ChargerLimits, ocpp_time
from energy_agent_ocpp.routing import after, frame_log, on
from energy_agent_ocpp.safe import shown_text

log = logging.getLogger(__name__)

FIRST_MESSAGE_WAIT_S = 5.0
"""After connecting, wait this long for the charger's first message (a BootNotification) before setting it up.

A charger that reconnects after a network drop may send none: it is set up all the same."""
CONFIGURATION_KEYS = (
    "ChargeProfileMaxStackLevel",
    "ChargingScheduleMaxPeriods",
    "ChargingScheduleAllowedChargingRateUnit",
    "SupportedFeatureProfiles",
    "MeterValueSampleInterval",
)


WIRE_LOG = frame_log("energy_agent_ocpp.wire")
"""Every frame, at DEBUG (set energy_agent_ocpp.wire to DEBUG to see them)."""


def _int_or_none(raw: str | None) -> int | None:
    try:
        return None if raw is None else int(raw.strip())
    except ValueError:
        return None


def _words(raw: str | None) -> frozenset[str] | None:
    return None if raw is None else frozenset(w.strip() for w in raw.split(",") if w.strip())


class TransactionIds:
    """Transaction ids for the whole central system: counted up from the start time, so a restart does not repeat."""

    def __init__(self, now: datetime) -> None:
        self._next = itertools.count(int(now.timestamp()) % 2_000_000_000)

    def take(self) -> int:
        """A new transaction id."""
        return next(self._next)


class ChargePointSession(ChargePoint):
    """One connection of a configured charge point (see the module docstring)."""

    def __init__(
        self,
        link: ChargePointLink,
        connection: ServerConnection,
        *,
        clock: Clock,
        transaction_ids: TransactionIds,
        response_timeout_s: float,
        heartbeat_interval_s: int,
        meter_value_sample_interval_s: int | None,
        metrics: Metrics,
    ) -> None:
        super().__init__(link.charge_point_id, connection, response_timeout=response_timeout_s, logger=WIRE_LOG)
        self.link = link
        self.connection = connection
        self.clock = clock
        self.transaction_ids = transaction_ids
        self.response_timeout_s = response_timeout_s
        self.heartbeat_interval_s = heartbeat_interval_s
        self.meter_value_sample_interval_s = meter_value_sample_interval_s
        self.metrics = metrics
        self.limits = ChargerLimits()
        self.meter_interval_s: int | None = None
        """MeterValueSampleInterval as the charger reported it."""
        self.closed = asyncio.Event()
        self._heard = asyncio.Event()

    @property
    def name(self) -> str:
        """The charge point's identity (configured, so safe to log)."""
        return self.link.charge_point_id

    async def run(self) -> None:
        """Serve the connection until it closes: answer the charger, and set it up once it has spoken."""
        setup = asyncio.create_task(self._set_up(), name=f"set up {self.name}")
        try:
            await self.start()
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            setup.cancel()
            await asyncio.gather(setup, return_exceptions=True)

    async def route_message(self, raw_msg: str) -> None:
        """Handle one frame; the first one from the charger lets the set-up start."""
        await super().route_message(raw_msg)
        self._heard.set()

    # -- calls to the charger ----------------------------------------------------------------------
    async def request(self, payload: Any) -> Any:
        """Send a call and return the charger's answer; DeviceError (safe to show) when there is none."""
        action = type(payload).__name__
        if self.closed.is_set():
            raise DeviceUnavailableError(f"charge point {self.name} disconnected")
        with self.metrics.measure(DEVICE_TYPE, action):
            calling = asyncio.create_task(self.call(payload, suppress=False))
            closing = asyncio.create_task(self.closed.wait())
            try:
                await asyncio.wait({calling, closing}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                closing.cancel()
            if not calling.done():
                calling.cancel()
                await asyncio.gather(calling, return_exceptions=True)
                raise DeviceUnavailableError(f"charge point {self.name} disconnected during {action}")
            try:
                return calling.result()
            except TimeoutError:
                raise DeviceUnavailableError(
                    f"charge point {self.name} did not answer {action} within {self.response_timeout_s:g} s"
                ) from None
            except ConnectionClosed:
                raise DeviceUnavailableError(f"charge point {self.name} disconnected during {action}") from None
            except OCPPError as exc:
                code = getattr(exc, "code", type(exc).__name__)
                raise DeviceRejectedError(
                    f"charge point {self.name} answered {action} with error {code}: {shown_text(exc.description)}"
                ) from None
            except (ValidationError, UnknownCallErrorCodeError) as exc:
                raise DeviceRejectedError(
                    f"charge point {self.name} gave a malformed answer to {action}: {shown_text(exc)}"
                ) from None

    async def _set_up(self) -> None:
        try:
            async with asyncio.timeout(FIRST_MESSAGE_WAIT_S):
                await self._heard.wait()
        except TimeoutError:
            log.info("%s: sent nothing since connecting; setting it up all the same", self.name)
        try:
            await self._read_limits()
            await self._set_meter_interval()
        except DeviceError as exc:
            log.warning("%s: set-up incomplete (%s); writing what it should hold all the same", self.name, exc)
        await self.link.mark_ready(self)
        for connector_id in self.link.config.connectors:
            try:
                await self.request(
                    call.TriggerMessage(
                        requested_message=enums.MessageTrigger.status_notification, connector_id=connector_id
                    )
                )
            except DeviceError as exc:
                log.debug("%s: TriggerMessage StatusNotification: %s", self.name, exc)

    async def _read_limits(self) -> None:
        answer = await self.request(call.GetConfiguration(key=list(CONFIGURATION_KEYS)))
        values: dict[str, str | None] = {}
        for entry in answer.configuration_key or []:
            if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                value = entry.get("value")
                values[entry["key"]] = value if isinstance(value, str) else None
        self.limits = ChargerLimits(
            max_stack_level=_int_or_none(values.get("ChargeProfileMaxStackLevel")),
            max_periods=_int_or_none(values.get("ChargingScheduleMaxPeriods")),
            rate_units=_words(values.get("ChargingScheduleAllowedChargingRateUnit")),
            feature_profiles=_words(values.get("SupportedFeatureProfiles")),
        )
        self.meter_interval_s = _int_or_none(values.get("MeterValueSampleInterval"))
        log.info(
            "%s: max stack level %s, at most %s periods per profile, units %s, features %s",
            self.name,
            self.limits.max_stack_level,
            self.limits.max_periods,
            ",".join(sorted(self.limits.rate_units or ())) or "?",
            ",".join(sorted(self.limits.feature_profiles or ())) or "?",
        )

    async def _set_meter_interval(self) -> None:
        wanted = self.meter_value_sample_interval_s
        if wanted is None or wanted == self.meter_interval_s:
            return
        answer = await self.request(call.ChangeConfiguration(key="MeterValueSampleInterval", value=str(wanted)))
        if answer.status != enums.ConfigurationStatus.accepted:
            log.info("%s: MeterValueSampleInterval %d s not taken (%s)", self.name, wanted, answer.status)

    # -- what the charger reports --------------------------------------------------------------------
    def _connector(self, connector_id: int) -> ConnectorReadings | None:
        return self.link.readings.get(connector_id)

    @on(enums.Action.boot_notification)
    def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any) -> Any:
        """Accept the charger, give it the time and the heartbeat interval."""
        firmware = kwargs.get("firmware_version")
        booted = shown_text(f"{charge_point_vendor} {charge_point_model} firmware {firmware or '?'}")
        log.info("%s booted: %s", self.name, booted)
        return call_result.BootNotification(
            current_time=ocpp_time(self.clock.now()),
            interval=self.heartbeat_interval_s,
            status=enums.RegistrationStatus.accepted,
        )

    @on(enums.Action.heartbeat)
    def on_heartbeat(self, **kwargs: Any) -> Any:
        """Answer with the agent's time (chargers set their clock by it)."""
        return call_result.Heartbeat(current_time=ocpp_time(self.clock.now()))

    @on(enums.Action.status_notification)
    def on_status_notification(self, connector_id: int, error_code: str, status: str, **kwargs: Any) -> Any:
        """Record the connector's state (connector 0: the whole charge point)."""
        info = kwargs.get("info") or kwargs.get("vendor_error_code")
        if connector_id == 0:
            if status != self.link.charge_point_status:
                log.info("%s: charge point %s (%s)", self.name, status, error_code)
            self.link.charge_point_status = status
            return call_result.StatusNotification()
        readings = self._connector(connector_id)
        if readings is None:
            log.debug("%s: status of connector %d, which the agent does not control", self.name, connector_id)
            return call_result.StatusNotification()
        if status != readings.status or error_code != readings.error_code:
            log.info("%s connector %d: %s (%s)", self.name, connector_id, status, error_code)
        readings.status, readings.error_code = status, error_code
        readings.info = None if not info else shown_text(info, 60)
        if status != enums.ChargePointStatus.charging:
            readings.power_kw = 0.0  # only a charging connector delivers power; the next meter value says how much
        if status == enums.ChargePointStatus.available:
            readings.session_energy_kwh = None
        return call_result.StatusNotification()

    @on(enums.Action.meter_values)
    def on_meter_values(self, connector_id: int, meter_value: list[dict[str, Any]], **kwargs: Any) -> Any:
        """Take power and the energy register; learn a transaction id the agent did not start (after a restart)."""
        readings = self._connector(connector_id)
        if readings is None:
            return call_result.MeterValues()
        reading = read_meter_values(meter_value)
        if reading.skipped:
            log.debug("%s connector %d: %d sampled value(s) not read", self.name, connector_id, reading.skipped)
        if reading.power_kw is not None:
            readings.power_kw = max(0.0, reading.power_kw)
        if reading.energy_kwh is not None:
            readings.energy_register_kwh = reading.energy_kwh
            if readings.meter_start_kwh is not None:
                readings.session_energy_kwh = max(0.0, reading.energy_kwh - readings.meter_start_kwh)
        transaction_id = kwargs.get("transaction_id")
        if isinstance(transaction_id, int) and readings.transaction_id is None:
            readings.transaction_id = transaction_id
        return call_result.MeterValues()

    @on(enums.Action.start_transaction)
    def on_start_transaction(self, connector_id: int, id_tag: str, meter_start: int, **kwargs: Any) -> Any:
        """Accept every transaction (the agent is no authorisation server) and give it an id."""
        transaction_id = self.transaction_ids.take()
        readings = self._connector(connector_id)
        if readings is not None:
            readings.transaction_id = transaction_id
            readings.meter_start_kwh = meter_start / 1000
            readings.energy_register_kwh = meter_start / 1000
            readings.session_energy_kwh = 0.0
            log.info("%s connector %d: transaction %d started", self.name, connector_id, transaction_id)
        return call_result.StartTransaction(
            transaction_id=transaction_id,
            id_tag_info=datatypes.IdTagInfo(status=enums.AuthorizationStatus.accepted),
        )

    @after(enums.Action.start_transaction)
    def after_start_transaction(self, connector_id: int, **kwargs: Any) -> None:
        """Once the charger knows the transaction id, the connector's device may write a TxProfile for it."""
        readings = self._connector(connector_id)
        if readings is not None and readings.transaction_id is not None:
            self.link.transaction_started(connector_id, readings.transaction_id)

    @on(enums.Action.stop_transaction)
    def on_stop_transaction(self, meter_stop: int, transaction_id: int, **kwargs: Any) -> Any:
        """Close the transaction; its energy stays in the status until the connector is free."""
        for connector_id, readings in self.link.readings.items():
            if readings.transaction_id == transaction_id:
                if readings.meter_start_kwh is not None:
                    readings.session_energy_kwh = max(0.0, meter_stop / 1000 - readings.meter_start_kwh)
                readings.energy_register_kwh = meter_stop / 1000
                readings.transaction_id = None
                readings.meter_start_kwh = None
                readings.power_kw = 0.0
                log.info("%s connector %d: transaction %d stopped", self.name, connector_id, transaction_id)
        id_tag = kwargs.get("id_tag")
        info = datatypes.IdTagInfo(status=enums.AuthorizationStatus.accepted) if id_tag else None
        return call_result.StopTransaction(id_tag_info=info)

    @on(enums.Action.authorize)
    def on_authorize(self, id_tag: str, **kwargs: Any) -> Any:
        """Accept every id tag: who may charge is the charger's own business."""
        return call_result.Authorize(id_tag_info=datatypes.IdTagInfo(status=enums.AuthorizationStatus.accepted))

    @on(enums.Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **kwargs: Any) -> Any:
        """No vendor extensions are understood."""
        return call_result.DataTransfer(status=enums.DataTransferStatus.unknown_vendor_id)

    @on(enums.Action.firmware_status_notification)
    def on_firmware_status_notification(self, status: str, **kwargs: Any) -> Any:
        """Log firmware updates (a charger may reboot after one)."""
        log.info("%s: firmware %s", self.name, shown_text(status, 40))
        return call_result.FirmwareStatusNotification()

    @on(enums.Action.diagnostics_status_notification)
    def on_diagnostics_status_notification(self, status: str, **kwargs: Any) -> Any:
        """Acknowledge."""
        return call_result.DiagnosticsStatusNotification()
