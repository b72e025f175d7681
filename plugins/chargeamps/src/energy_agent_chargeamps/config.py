"""The `chargeamps:` config section, owned and validated by this plugin."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from energy_agent_chargeamps.client import OFFICIAL_BASE_URL, USERAPP_BASE_URL

CONTROL_FOR_API = {"userapp": "schedule", "official": "direct"}


class ChargeAmpsConfig(BaseModel):
    """Charge Amps chargers reached through the Charge Amps cloud."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api: Literal["userapp", "official"] = Field(
        "userapp",
        description="userapp: the web app's API, writes weekly schedules the charger follows on its own; "
        "official: the documented API v5 (needs an API key), the agent switches the connector at period boundaries.",
    )
    base_url: str | None = Field(
        None, description=f"API root; default {USERAPP_BASE_URL} (userapp) or {OFFICIAL_BASE_URL} (official)."
    )
    email: str = Field(..., min_length=3, description="Charge Amps account e-mail.")
    password: SecretStr = Field(..., description="Charge Amps account password; never logged.")
    api_key: SecretStr | None = Field(None, description="API key of the official API (required with api: official).")
    charge_point_id: str | None = Field(
        None, description="Charge point to control; default: every one the account owns."
    )
    connector_ids: list[int] = Field([1], min_length=1, description="Connectors to control on each charge point.")
    topic_ids: dict[str, str] = Field(
        default_factory=dict,
        description="HEMS topic id per connector, keyed `CHARGE_POINT_ID/CONNECTOR_ID`; default: the connector id. "
        "Needed when several charge points would share a connector id.",
    )
    max_current_a: float = Field(16, ge=6, le=32, description="Highest current per phase the agent ever asks for.")
    poll_interval_s: float = Field(60, ge=5, le=3600, description="How often status is read from the cloud.")
    control: Literal["schedule", "direct"] | None = Field(
        None, description="schedule (userapp) or direct (official); default follows `api`."
    )
    timeout_s: float = Field(10, gt=0, le=120, description="Timeout of one HTTP call to the cloud.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.api == "official" and self.api_key is None:
            raise ValueError("api_key is required with api: official")
        if self.control is not None and self.control != CONTROL_FOR_API[self.api]:
            raise ValueError(
                f"control: {self.control} needs api: "
                f"{'userapp' if self.control == 'schedule' else 'official'} "
                "(only the user-app API writes schedules; only the official API switches connectors)"
            )
        return self

    @property
    def control_strategy(self) -> str:
        """The control strategy in force."""
        return self.control or CONTROL_FOR_API[self.api]

    @property
    def url(self) -> str:
        """The API root to use."""
        return self.base_url or (USERAPP_BASE_URL if self.api == "userapp" else OFFICIAL_BASE_URL)

    def topic_id(self, charge_point_id: str, connector_id: int) -> str:
        """The HEMS topic id of one connector."""
        return self.topic_ids.get(f"{charge_point_id}/{connector_id}", str(connector_id))
