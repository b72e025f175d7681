"""The `switched_load:` config section: a list of on/off loads, each driven through Home Assistant or MQTT."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from energy_agent.api import HomeAssistantConnection, entity_id
from energy_agent_switched_load.policy import DEFAULT_HOURS_PER_DAY

TOPIC_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
CLOCK_PATTERN = r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$"


class LoadConfig(BaseModel):
    """What every load has, whatever drives it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(..., pattern=TOPIC_ID_PATTERN, description="Topic id of the load in the HEMS contract.")
    name: str | None = Field(None, description="Human-readable name; default: the id.")
    power_kw: float = Field(..., gt=0, le=100, description="Power the load draws while on, kW (its rating).")
    phases: int = Field(1, ge=1, le=3, description="Phases the load is connected to (published in capabilities).")
    hours_per_day: int = Field(
        DEFAULT_HOURS_PER_DAY, ge=1, le=24, description="Standalone: run in this many cheapest hours per local day."
    )
    price_cap_eur_kwh: float | None = Field(
        None,
        ge=-10,
        le=10,
        description="Standalone cap, EUR/kWh: never run in an hour with a slot above it; default: the core's.",
    )
    poll_interval_s: float = Field(60, ge=1, le=3600, description="How often the switch's state is read.")
    policy: Literal["cheapest-hours", "ready-by"] = Field(
        "cheapest-hours",
        description="Standalone: run in the cheapest hours of each day, or (ready-by) for energy_kwh by ready_by.",
    )
    ready_by: str | None = Field(
        None, pattern=CLOCK_PATTERN, description="ready-by: the daily time the energy must be in, 'HH:MM' (quoted)."
    )
    energy_kwh: float | None = Field(
        None, gt=0, le=1000, description="ready-by: the energy to deliver by ready_by each day, kWh (at power_kw)."
    )

    @model_validator(mode="after")
    def _ready_by(self) -> Self:
        if self.policy == "ready-by" and (self.ready_by is None or self.energy_kwh is None):
            raise ValueError("policy ready-by needs ready_by ('HH:MM') and energy_kwh")
        return self

    @property
    def display_name(self) -> str:
        """The name, or the id when none is given."""
        return self.name or self.id


class HomeAssistantLoadConfig(HomeAssistantConnection, LoadConfig):
    """A load behind a Home Assistant switch entity, switched through the REST API."""

    driver: Literal["home_assistant"]
    entity_id: str = Field(..., description="The switch entity, e.g. switch.water_heater.")

    @field_validator("entity_id")
    @classmethod
    def _entity_id(cls, value: str) -> str:
        return entity_id(value)


class MqttLoadConfig(LoadConfig):
    """A load switched by publishing to a command topic on the agent's broker (Tasmota, Shelly, zigbee2mqtt…)."""

    driver: Literal["mqtt"]
    command_topic: str = Field(..., min_length=1, description="Where ON/OFF is published.")
    state_topic: str | None = Field(None, min_length=1, description="Where the switch reports its state, if anywhere.")
    payload_on: str = Field("ON", min_length=1, description="Payload that switches the load on.")
    payload_off: str = Field("OFF", min_length=1, description="Payload that switches the load off.")
    state_on: str | None = Field(None, description="State payload meaning on; default: payload_on.")
    state_off: str | None = Field(None, description="State payload meaning off; default: payload_off.")
    retain: bool = Field(False, description="Publish commands retained.")

    @field_validator("command_topic", "state_topic")
    @classmethod
    def _no_wildcards(cls, value: str | None) -> str | None:
        if value is not None and ("+" in value or "#" in value):
            raise ValueError("must be a single topic, without + or # wildcards")
        return value

    @model_validator(mode="after")
    def _distinct_payloads(self) -> Self:
        if self.payload_on == self.payload_off:
            raise ValueError("payload_on and payload_off must differ")
        if (self.state_on or self.payload_on) == (self.state_off or self.payload_off):
            raise ValueError("state_on and state_off must differ")
        return self


AnyLoadConfig = Annotated[HomeAssistantLoadConfig | MqttLoadConfig, Field(discriminator="driver")]


class SwitchedLoadConfig(BaseModel):
    """On/off loads (water heaters, pumps…) the agent runs in the cheapest hours or as a HEMS commands."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    loads: list[AnyLoadConfig] = Field(..., min_length=1, description="The loads; each id must be unique.")

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        ids = [load.id for load in self.loads]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"load ids must be unique; repeated: {', '.join(repeated)}")
        return self
