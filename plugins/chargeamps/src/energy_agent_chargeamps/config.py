"""The `chargeamps:` config section, owned and validated by this plugin."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from energy_agent_chargeamps.client import OFFICIAL_BASE_URL, USERAPP_BASE_URL
from energy_agent_ocpp.config import CentralSystemConfig, ChargePointConfig, OcppConfig

CONTROL_FOR_API = {"userapp": "schedule", "official": "direct", "ocpp": "schedule"}
CLOUD_KEYS = ("email", "password", "api_key", "base_url", "poll_interval_s", "timeout_s")
"""Keys of the Charge Amps cloud, which `api: ocpp` does not use."""
MIN_CURRENT_A = 6.0
OCPP_KEY_NAMES = {"id": "charge_point_id", "connectors": "connector_ids", "topic_ids": "topic_ids"}
"""This section's name of a charge point key of the `ocpp:` section, for error messages."""


class ChargeAmpsOcppConfig(CentralSystemConfig):
    """The agent's OCPP central system, which the Charge Amps charger connects to (`api: ocpp`): the keys of the
    `ocpp:` section except `charge_points` (the charger is `charge_point_id`, its connectors `connector_ids`)."""

    password: SecretStr = Field(
        ...,
        min_length=1,
        description="The password the charger sends (HTTP Basic auth, user = charge_point_id); never logged.",
    )


class ChargeAmpsConfig(BaseModel):
    """Charge Amps chargers, reached through the Charge Amps cloud or, with `api: ocpp`, connected to the agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api: Literal["userapp", "official", "ocpp"] = Field(
        "userapp",
        description="userapp: the web app's API, writes weekly schedules the charger follows on its own; "
        "official: the documented API v5 (needs an API key), the agent switches the connector at period boundaries; "
        "ocpp: no cloud, the charger connects to the agent's OCPP central system and holds the plan as a charging "
        "profile (see `ocpp`).",
    )
    base_url: str | None = Field(
        None, description=f"API root; default {USERAPP_BASE_URL} (userapp) or {OFFICIAL_BASE_URL} (official)."
    )
    email: str | None = Field(None, min_length=3, description="Charge Amps account e-mail (required unless api: ocpp).")
    password: SecretStr | None = Field(
        None, description="Charge Amps account password (required unless api: ocpp); never logged."
    )
    api_key: SecretStr | None = Field(None, description="API key of the official API (required with api: official).")
    charge_point_id: str | None = Field(
        None,
        description="Charge point to control; default: every one the account owns. With api: ocpp (required): the "
        "identity the charger connects with, the last segment of ws://HOST:PORT/{charge_point_id}.",
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
    ocpp: ChargeAmpsOcppConfig | None = Field(
        None, description="With api: ocpp (required): the central system the charger connects to, and its password."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.api == "ocpp":
            self.central_system()  # raises ValueError when the charger's settings cannot work
        else:
            missing = [key for key in ("email", "password") if getattr(self, key) is None]
            if missing:
                raise ValueError(f"{' and '.join(missing)} required with api: {self.api} (the Charge Amps account)")
            if self.ocpp is not None:
                raise ValueError("ocpp is only for api: ocpp")
        if self.api == "official" and self.api_key is None:
            raise ValueError("api_key is required with api: official")
        if self.control is not None and self.control != CONTROL_FOR_API[self.api]:
            raise ValueError(
                f"control: {self.control} needs api: "
                f"{'official' if self.control == 'direct' else 'userapp or ocpp'} "
                "(the user-app API and OCPP hold schedules on the charger; only the official API switches connectors)"
            )
        return self

    def central_system(self) -> OcppConfig:
        """The `ocpp:` section that serves this charger (api: ocpp); ValueError naming what cannot work."""
        fields = type(self).model_fields
        cloud = [key for key in CLOUD_KEYS if getattr(self, key) != fields[key].default]
        if cloud:
            raise ValueError(
                f"{', '.join(cloud)}: not used with api: ocpp (the Charge Amps cloud's keys; the charger's OCPP "
                "password is ocpp.password)"
            )
        if self.charge_point_id is None or self.ocpp is None:
            raise ValueError(
                "charge_point_id and ocpp are required with api: ocpp, e.g. charge_point_id: HALO-123456, "
                "ocpp: {listen: {port: 9000}, password: ...}"
            )
        settings = {name: getattr(self.ocpp, name) for name in CentralSystemConfig.model_fields}
        try:
            point = ChargePointConfig(
                id=self.charge_point_id,
                password=self.ocpp.password,
                connectors=self.connector_ids,
                max_current_a=self.max_current_a,
                min_current_a=MIN_CURRENT_A,
                topic_ids={c: self.topic_id(self.charge_point_id, c) for c in self.connector_ids},
            )
            return OcppConfig(**settings, charge_points=[point])
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                message = str(error["msg"]).removeprefix("Value error, ")
                key = OCPP_KEY_NAMES.get(str(error["loc"][0])) if error["loc"] else None
                problems.append(f"{key}: {message}" if key else message)
            raise ValueError("; ".join(problems)) from None

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
