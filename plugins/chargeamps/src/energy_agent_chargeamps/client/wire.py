"""Pydantic models of the Charge Amps cloud's JSON, with the vendor's camelCase names as aliases.

The models are tolerant on purpose: unknown fields are ignored, most fields may be null or missing, and
enum-like fields (statuses, modes, phases) keep whatever raw value the cloud sends, a name or a number,
so a firmware or API change does not stop the agent from reading the rest.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

RawEnum = str | int
"""An enum-like value as the cloud sent it: normally a name such as `Online`, sometimes a numeric code."""


def _none_to_empty(value: Any) -> Any:
    """A null list reads as an empty one."""
    return [] if value is None else value


class WireModel(BaseModel):
    """Base of the wire models: aliases for the vendor's names, field names accepted too, extra fields ignored."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    def to_wire(self) -> dict[str, Any]:
        """The JSON body the cloud expects: vendor names, datetimes as ISO 8601 strings."""
        return self.model_dump(mode="json", by_alias=True)


def _aware_utc(value: datetime | None) -> datetime | None:
    """The cloud writes UTC; a timestamp without offset is read as UTC rather than left naive."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        return value.replace(tzinfo=UTC)
    return value


# --- user-app API (my.charge.space) -------------------------------------------------------------------------


class UserAppUser(WireModel):
    """The user block of a user-app login reply."""

    id: str | int | None = None
    email: str | None = None


class UserAppLoginResponse(WireModel):
    """Reply to `POST /api/auth/login`: a JWT and the user; there is no refresh token."""

    token: str
    user: UserAppUser | None = None


class UserAppConnector(WireModel):
    """A connector as the user-app lists it under its charge point."""

    connector_id: int = Field(alias="connectorId")
    name: str | None = None
    mode: RawEnum | None = None
    is_charging: bool | None = Field(default=None, alias="isCharging")
    total_consumption_kwh: float | None = Field(default=None, alias="totalConsumptionKwh")
    current1_a: float | None = Field(default=None, alias="current1")
    current2_a: float | None = Field(default=None, alias="current2")
    current3_a: float | None = Field(default=None, alias="current3")
    voltage1_v: float | None = Field(default=None, alias="voltage1")
    voltage2_v: float | None = Field(default=None, alias="voltage2")
    voltage3_v: float | None = Field(default=None, alias="voltage3")
    ocpp_status: RawEnum | None = Field(default=None, alias="ocppStatus")
    error_code: RawEnum | None = Field(default=None, alias="errorCode")
    enabled: bool | None = None

    @property
    def power_kw(self) -> float | None:
        """Σ voltageN·currentN in kW over the phases that report both; None when none does."""
        pairs = [
            (v, i)
            for v, i in (
                (self.voltage1_v, self.current1_a),
                (self.voltage2_v, self.current2_a),
                (self.voltage3_v, self.current3_a),
            )
            if v is not None and i is not None
        ]
        if not pairs:
            return None
        return sum(v * i for v, i in pairs) / 1000.0


class UserAppChargePoint(WireModel):
    """A charge point from `POST /api/users/chargepoints/owned`."""

    id: str
    name: str | None = None
    serial_number: str | None = Field(default=None, alias="serialNumber")
    product_name: str | None = Field(default=None, alias="productName")
    product_type: RawEnum | None = Field(default=None, alias="productType")
    charge_point_status: RawEnum | None = Field(default=None, alias="chargePointStatus")
    is_charging: bool | None = Field(default=None, alias="isCharging")
    connectors: Annotated[list[UserAppConnector], BeforeValidator(_none_to_empty)] = Field(default_factory=list)


class SchedulePeriod(WireModel):
    """One period of a weekly schedule: seconds from `startOfSchedule`, and the current allowed in it."""

    from_s: int = Field(alias="from")
    to_s: int = Field(alias="to")
    max_current_a: float = Field(alias="maxCurrent")


class SmartChargingSchedule(WireModel):
    """A connector's weekly smart-charging schedule, as `GET`/`PUT /api/smartChargingSchedules` carry it."""

    schedule_id: str | int | None = Field(default=None, alias="scheduleId")
    charge_point_id: str = Field(alias="chargePointId")
    connector_id: int = Field(alias="connectorId")
    valid_from: datetime | None = Field(default=None, alias="validFrom")
    valid_to: datetime | None = Field(default=None, alias="validTo")
    default_current_a: float | None = Field(default=None, alias="defaultCurrent")
    is_active: bool | None = Field(default=None, alias="isActive")
    is_synced: bool | None = Field(default=None, alias="isSynced")
    time_zone: str | None = Field(default=None, alias="timeZone")
    start_of_schedule: datetime | None = Field(default=None, alias="startOfSchedule")
    schedule_periods: Annotated[list[SchedulePeriod], BeforeValidator(_none_to_empty)] = Field(
        default_factory=list, alias="schedulePeriods"
    )

    @field_validator("valid_from", "valid_to", "start_of_schedule")
    @classmethod
    def _utc_when_naive(cls, value: datetime | None) -> datetime | None:
        return _aware_utc(value)


# --- official API v5 (eapi.charge.space) -------------------------------------------------------------------


class OfficialUser(WireModel):
    """The user block of an official login reply."""

    id: str | None = None
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    email: str | None = None


class OfficialLoginResponse(WireModel):
    """Reply to `POST /api/v5/auth/login`: access token (JWT) and refresh token."""

    message: str | None = None
    token: str
    refresh_token: str | None = Field(default=None, alias="refreshToken")
    user: OfficialUser | None = None


class TokenRefreshResponse(WireModel):
    """Reply to `POST /api/v5/auth/refreshtoken`: a new access token and a new refresh token."""

    token: str
    refresh_token: str | None = Field(default=None, alias="refreshToken")


class ChargePointSettings(WireModel):
    """Charge-point-wide settings; a LUNA answers `downLight: null`."""

    id: str | None = None
    dimmer: RawEnum | None = None
    down_light: bool | None = Field(default=None, alias="downLight")
    max_current_a: float | None = Field(default=None, alias="maxCurrent")


class ConnectorSettings(WireModel):
    """A connector's settings, the body of `PUT …/connectors/{c}/settings`."""

    charge_point_id: str | None = Field(default=None, alias="chargePointId")
    connector_id: int | None = Field(default=None, alias="connectorId")
    max_current_a: float | None = Field(default=None, alias="maxCurrent")
    rfid_lock: bool | None = Field(default=None, alias="rfidLock")
    mode: RawEnum | None = None
    cable_lock: bool | None = Field(default=None, alias="cableLock")


class ViewConnectorSettings(ConnectorSettings):
    """A connector's settings as `GET …/connectors/{c}/settings` returns them, with the installation's limit."""

    installation_current_a: float | None = Field(default=None, alias="installationCurrent")


class OfficialConnector(WireModel):
    """A connector of an owned charge point (official API)."""

    charge_point_id: str | None = Field(default=None, alias="chargePointId")
    connector_id: int = Field(alias="connectorId")
    type: RawEnum | None = None
    settings: ConnectorSettings | None = None


class OfficialChargePoint(WireModel):
    """A charge point from `GET /api/v5/chargepoints/owned`; `ocpp_version` None means the CAPI protocol."""

    id: str
    name: str | None = None
    type: str | None = None
    is_loadbalanced: bool | None = Field(default=None, alias="isLoadbalanced")
    firmware_version: str | None = Field(default=None, alias="firmwareVersion")
    hardware_version: str | None = Field(default=None, alias="hardwareVersion")
    owner_read_only: bool | None = Field(default=None, alias="ownerReadOnly")
    ocpp_version: str | None = Field(default=None, alias="ocppVersion")
    settings: ChargePointSettings | None = None
    connectors: Annotated[list[OfficialConnector], BeforeValidator(_none_to_empty)] = Field(default_factory=list)


class Measurement(WireModel):
    """One phase's live current and voltage."""

    phase: RawEnum | None = None
    current_a: float | None = Field(default=None, alias="current")
    voltage_v: float | None = Field(default=None, alias="voltage")


class ConnectorStatus(WireModel):
    """A connector's live status (official API)."""

    charge_point_id: str | None = Field(default=None, alias="chargePointId")
    connector_id: int = Field(alias="connectorId")
    total_consumption_kwh: float | None = Field(default=None, alias="totalConsumptionKwh")
    charging_power_kw: float | None = Field(default=None, alias="chargingPowerKw")
    session_type: RawEnum | None = Field(default=None, alias="sessionType")
    status: RawEnum | None = None
    measurements: Annotated[list[Measurement], BeforeValidator(_none_to_empty)] = Field(default_factory=list)
    start_time: datetime | None = Field(default=None, alias="startTime")
    end_time: datetime | None = Field(default=None, alias="endTime")
    session_id: int | None = Field(default=None, alias="sessionId")

    @field_validator("start_time", "end_time")
    @classmethod
    def _utc_when_naive(cls, value: datetime | None) -> datetime | None:
        return _aware_utc(value)


class ChargePointStatus(WireModel):
    """Reply to `GET /api/v5/chargepoints/{id}/status`."""

    id: str | None = None
    status: RawEnum | None = None
    connector_statuses: Annotated[list[ConnectorStatus], BeforeValidator(_none_to_empty)] = Field(
        default_factory=list, alias="connectorStatuses"
    )


class StartAuth(WireModel):
    """Body of a remote start: an RFID tag to start with, needed only when the connector has an RFID lock."""

    rfid_length: int | None = Field(default=None, alias="rfidLength")
    rfid_format: str | None = Field(default=None, alias="rfidFormat")
    rfid: str | None = None
    external_transaction_id: str | None = Field(default=None, alias="externalTransactionId")
