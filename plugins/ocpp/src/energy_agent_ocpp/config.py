"""The `ocpp:` config section: where the central system listens, and the charge points it accepts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

DEVICE_TYPE = "ocpp"
"""Topic segment of OCPP connectors: `hems/ocpp/{topic_id}/…`."""

CHARGE_POINT_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,48}$"
"""What a configured identity may hold: the last segment of the URL the charger connects to."""
TOPIC_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ListenConfig(BaseModel):
    """Where the central system listens for chargers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("0.0.0.0", min_length=1, description="Address to bind; 0.0.0.0 for every interface.")
    port: int = Field(9000, ge=0, le=65535, description="TCP port; chargers connect to ws://HOST:PORT/{id}.")


class TlsConfig(BaseModel):
    """Security profile 2: TLS (wss://) with HTTP Basic auth."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cert_file: Path = Field(..., description="PEM certificate chain the chargers see.")
    key_file: Path = Field(..., description="PEM private key of that certificate.")

    @field_validator("cert_file", "key_file")
    @classmethod
    def _readable(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"{value} is not a readable file")
        return value


class ChargePointConfig(BaseModel):
    """One charge point the central system accepts; each of its connectors becomes a device."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        ...,
        pattern=CHARGE_POINT_ID_PATTERN,
        description="The charge point's identity, the last segment of the URL it connects to (ws://HOST:PORT/{id}).",
    )
    password: SecretStr = Field(
        ..., min_length=1, description="HTTP Basic auth password (security profile 1 and 2); never logged."
    )
    connectors: list[int] = Field([1], min_length=1, description="Connector ids to control, each a device.")
    max_current_a: float = Field(16, ge=6, le=80, description="Highest current per phase the agent ever allows.")
    min_current_a: float = Field(6, ge=0, le=32, description="Lowest current per phase a schedule may ask for.")
    phases: int = Field(3, ge=1, le=3, description="Phases the charger is connected to (published in capabilities).")
    name: str | None = Field(None, description="Human-readable name; default: the id.")
    topic_ids: dict[int, str] = Field(
        default_factory=dict,
        description="HEMS topic id per connector id; default `{id}-{connector}` (hems/ocpp/HALO-123456-1/...).",
    )

    @field_validator("connectors")
    @classmethod
    def _connector_ids(cls, value: list[int]) -> list[int]:
        if any(c < 1 for c in value):
            raise ValueError("connector ids start at 1 (0 is the whole charge point)")
        if len(set(value)) != len(value):
            raise ValueError("each connector id may appear once")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.min_current_a > self.max_current_a:
            raise ValueError(f"min_current_a {self.min_current_a:g} is above max_current_a {self.max_current_a:g}")
        unknown = sorted(set(self.topic_ids) - set(self.connectors))
        if unknown:
            raise ValueError(f"topic_ids names connector(s) {unknown} that are not in connectors {self.connectors}")
        for connector in self.connectors:
            topic = self.topic_id(connector)
            if not TOPIC_ID_RE.match(topic):
                raise ValueError(
                    f"topic id {topic!r} of connector {connector} may hold only A-Z a-z 0-9 _ - (1 to 64); "
                    f"give one in topic_ids, e.g. topic_ids: {{{connector}: garage}}"
                )
        return self

    def topic_id(self, connector_id: int) -> str:
        """The HEMS topic id of one connector."""
        return self.topic_ids.get(connector_id, f"{self.id}-{connector_id}")

    @property
    def display_name(self) -> str:
        """The name, or the id when none is given."""
        return self.name or self.id


class CentralSystemConfig(BaseModel):
    """How the agent's OCPP 1.6J central system listens and treats its chargers, whichever charge points it accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: ListenConfig = Field(default_factory=ListenConfig, description="Where chargers connect.")
    tls: TlsConfig | None = Field(None, description="Certificate and key for wss:// (security profile 2); none: ws://.")
    limit_after_expiry_a: float | None = Field(
        0,
        ge=0,
        le=80,
        description="Limit a charger keeps after a schedule's expires_at while the agent is not there to tell it "
        "otherwise (a base profile below the plan, without end); null: no base profile, the charger's own default "
        "(often full power) applies.",
    )
    response_timeout_s: float = Field(10, gt=0, le=120, description="How long to wait for a charger's answer.")
    heartbeat_interval_s: int = Field(300, ge=10, le=86400, description="Heartbeat interval given at boot.")
    status_interval_s: float = Field(
        15, ge=1, le=3600, description="How often the device status (what the charger last reported) is published."
    )
    meter_value_sample_interval_s: int | None = Field(
        30,
        ge=0,
        le=3600,
        description="Written to each charger at connect (MeterValueSampleInterval) so that it reports power and "
        "energy; 0 turns sampled meter values off; null: leave the charger's own.",
    )


class OcppConfig(CentralSystemConfig):
    """The agent as an OCPP 1.6J central system: chargers connect to it and hold its plan as a charging profile."""

    charge_points: list[ChargePointConfig] = Field(
        ..., min_length=1, description="The only charge points accepted; each id must be unique."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ids = [cp.id for cp in self.charge_points]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"charge point ids must be unique; repeated: {', '.join(repeated)}")
        topics = [cp.topic_id(c) for cp in self.charge_points for c in cp.connectors]
        clashing = sorted({t for t in topics if topics.count(t) > 1})
        if clashing:
            raise ValueError(f"topic ids must be unique; repeated: {', '.join(clashing)} (see topic_ids)")
        if self.limit_after_expiry_a is not None:
            above = [cp.id for cp in self.charge_points if self.limit_after_expiry_a > cp.max_current_a]
            if above:
                raise ValueError(
                    f"limit_after_expiry_a {self.limit_after_expiry_a:g} A is above max_current_a of {', '.join(above)}"
                )
        return self

    def charge_point(self, charge_point_id: str) -> ChargePointConfig | None:
        """The configured charge point with this identity, if any."""
        return next((cp for cp in self.charge_points if cp.id == charge_point_id), None)
