"""Configuration: a YAML file, overridden by `ENERGY_AGENT_…` environment variables (`__` nests).

The settings class is built at run time so that plugin sections (`chargeamps:`, …) and the chosen price
source are validated by the plugins' own models, with the same per-key error lines as the core's keys.
"""

from __future__ import annotations

import difflib
import functools
import operator
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from energy_agent.api.domain import OperationMode
from energy_agent.api.errors import ConfigError
from energy_agent.api.prices import PriceSourceType
from energy_agent.machine import is_loopback, machine_timezone
from energy_agent.standalone.departure import WEEKDAYS, DepartureSchedule
from energy_agent.standalone.ready_by import POLICY_NAME as READY_BY_POLICY

CONFIG_ENV = "ENERGY_AGENT_CONFIG"
ENV_PREFIX = "ENERGY_AGENT_"
TOPIC_SEGMENT = r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$"
SECRET_KEY_PARTS = ("password", "token", "api_key", "secret")


class Section(BaseModel):
    """Base of every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttSettings(Section):
    """The broker connection."""

    host: str = Field("127.0.0.1", description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port (8883 is usual with TLS).")
    username: str | None = Field(None, description="User name, if the broker asks for one.")
    password: SecretStr | None = Field(None, description="Password; never logged or printed.")
    tls: bool = Field(False, description="Connect with TLS.")
    ca_file: Path | None = Field(None, description="CA bundle that signs the broker's certificate (TLS).")
    client_id: str = Field("energy-agent", min_length=1, max_length=64, description="MQTT client id.")
    hems_prefix: str = Field("hems", pattern=TOPIC_SEGMENT, description="First topic level(s) of the HEMS contract.")
    discovery_prefix: str = Field(
        "homeassistant", pattern=TOPIC_SEGMENT, description="Home Assistant MQTT discovery prefix."
    )
    protocol: Literal["5", "3.1.1"] = Field(
        "5", description="MQTT version; 3.1.1 for brokers without MQTT 5 (no response topics then)."
    )

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_as_text(cls, value: object) -> object:
        # YAML reads `protocol: 5` as a number; the version is a name.
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive interval.")
    reconnect_min_s: float = Field(1.0, gt=0, le=60, description="First reconnect delay; doubles up to the max.")
    reconnect_max_s: float = Field(60.0, gt=0, le=3600, description="Longest delay between reconnect attempts.")


SOC_ENTITY = r"^[a-z0-9_]+\.[a-z0-9_]+$"
SOC_TOPIC = r"^[^#+]+$"


class StandaloneSettings(Section):
    """Standalone planning: charge at the cheapest price levels, never above the cap."""

    policy: Literal["unique-price-levels", "ready-by"] = Field(
        "unique-price-levels",
        description="unique-price-levels: the X lowest unique price levels under the cap (the proposal's rule); "
        "ready-by: enough energy by the departure at the least cost under the cap (docs/ready-by.md).",
    )

    price_threshold: float | None = Field(
        0.25, ge=-10, le=10, description="Cap in EUR/kWh: never charge in a slot priced above it; null = no cap."
    )
    top_x_charge_count: int = Field(
        16, ge=1, le=1000, description="How many of the lowest unique price levels to charge at."
    )
    paused: bool = Field(
        False, description="Start with standalone scheduling paused (nothing charges); switchable at run time."
    )
    ready_by: str | dict[str, str] | None = Field(
        None,
        description="ready-by: the departure in the agent's zone, 'HH:MM' every day or a map weekday (mon..sun) "
        "to 'HH:MM' (days left out have none); quote times in YAML. The next one ahead of now is used.",
    )
    departure_once: AwareDatetime | None = Field(
        None,
        description="ready-by: a one-off departure (ISO 8601 with offset), usually set at run time; it replaces the "
        "daily ready_by until it has passed.",
    )
    energy_kwh: float | None = Field(
        None, gt=0, le=1000, description="ready-by: energy to add per session (kWh, at the charger); or target_soc."
    )
    charge_power_kw: float | None = Field(
        None, gt=0, le=1000, description="ready-by: charging power; null = max current × phases × voltage_v."
    )
    voltage_v: float = Field(230, ge=100, le=480, description="ready-by: phase voltage for the derived power.")
    phases: int | None = Field(
        None, ge=1, le=3, description="ready-by: phases for the derived power; null = the device's."
    )
    target_soc: float | None = Field(
        None, gt=0, le=100, description="ready-by: state of charge (%) to reach; needs battery_kwh and a SoC source."
    )
    battery_kwh: float | None = Field(None, gt=0, le=1000, description="ready-by: the battery's usable capacity.")
    soc_entity: str | None = Field(
        None, pattern=SOC_ENTITY, description="ready-by: Home Assistant entity that holds the car's SoC (%)."
    )
    soc_topic: str | None = Field(
        None, pattern=SOC_TOPIC, description="ready-by: MQTT topic that carries the car's SoC (%), no wildcards."
    )
    charge_efficiency: float = Field(
        0.9, gt=0, le=1, description="ready-by: battery energy / charger energy, for the energy from a SoC."
    )

    @field_validator("ready_by", mode="before")
    @classmethod
    def _departure(cls, value: object) -> object:
        """Check the departure and write it canonically: 'HH:MM', or a map mon..sun → 'HH:MM'."""
        if value is None:
            return None
        schedule = DepartureSchedule.parse(value)
        if not isinstance(value, Mapping):
            return next(at for at in schedule.times if at is not None).strftime("%H:%M")
        return {day: at.strftime("%H:%M") for day, at in zip(WEEKDAYS, schedule.times, strict=True) if at}

    @model_validator(mode="after")
    def _ready_by_inputs(self) -> StandaloneSettings:
        """Inputs that only make sense together, and what the ready-by policy cannot do without."""
        if self.energy_kwh is not None and self.target_soc is not None:
            raise ValueError("set energy_kwh or target_soc, not both")
        if self.soc_entity is not None and self.soc_topic is not None:
            raise ValueError("set soc_entity or soc_topic, not both")
        if self.target_soc is not None and self.battery_kwh is None:
            raise ValueError("target_soc needs battery_kwh (the battery's usable capacity in kWh)")
        if self.target_soc is not None and self.soc_entity is None and self.soc_topic is None:
            raise ValueError("target_soc needs soc_entity or soc_topic (where the car's state of charge is read)")
        if self.policy == READY_BY_POLICY and self.ready_by is None:
            raise ValueError("policy ready-by needs ready_by (the departure time, e.g. '07:00')")
        if self.policy == READY_BY_POLICY and self.energy_kwh is None and self.target_soc is None:
            raise ValueError("policy ready-by needs energy_kwh or target_soc (how much to charge)")
        return self

    @property
    def departure_schedule(self) -> DepartureSchedule | None:
        """`ready_by` parsed; None when no departure is configured."""
        return None if self.ready_by is None else DepartureSchedule.parse(self.ready_by)


class HemsSettings(Section):
    """HEMS mode: liveness of the HEMS and what happens when it goes silent."""

    timeout_s: float = Field(
        900, gt=0, le=7 * 86400, description="The HEMS counts as connected this long after it was last heard."
    )
    fallback: Literal["none", "standalone"] = Field(
        "none", description="After the timeout: keep the HEMS schedule (none) or plan standalone until it returns."
    )


class ReadBackSettings(Section):
    """Read-back: comparing what each device holds with what the agent wants it to hold (docs/read-back.md)."""

    interval_s: float = Field(
        900, ge=10, le=3600, description="How often each device that can be read back is read (at most an hour)."
    )
    on_drift: Literal["repair", "report"] = Field(
        "repair",
        description="When a device holds something else (e.g. edited in the vendor's app): rewrite what the agent "
        "wants (repair) or only report it (report).",
    )


class HealthSettings(Section):
    """The HTTP endpoint for health checks and metrics."""

    enabled: bool = Field(True, description="Serve /healthz, /status and /metrics.")
    host: str = Field("127.0.0.1", description="Address to bind; 0.0.0.0 exposes it to the network.")
    port: int = Field(9713, ge=0, le=65535, description="TCP port (0: any free port).")


class WebSettings(Section):
    """The owner's web page: the plan, the devices, the HEMS commands and a few controls (docs/web.md)."""

    enabled: bool = Field(True, description="Serve the web page and its JSON API.")
    host: str = Field("127.0.0.1", description="Address to bind; other than loopback it needs a password (or ingress).")
    port: int = Field(9714, ge=0, le=65535, description="TCP port (0: any free port).")
    password: SecretStr | None = Field(None, description="Asked by the browser (HTTP Basic, any user name).")
    ingress: bool = Field(False, description="Behind Home Assistant ingress: only its proxy may connect (the app).")

    @model_validator(mode="after")
    def _guarded(self) -> WebSettings:
        """A page reachable from the network must ask for a password (ingress has Home Assistant ask)."""
        if self.enabled and not self.ingress and self.password is None and not is_loopback(self.host):
            raise ValueError(
                f"host {self.host} is reachable from other machines: set web.password, or bind 127.0.0.1 (the default)"
            )
        return self


class CoreSettings(BaseSettings):
    """The core's keys. Plugin sections and `prices` are added by `settings_class`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True, validate_default=True
    )

    operation_mode: OperationMode = Field(OperationMode.STANDALONE, description="standalone | hems.")
    timezone: str = Field(default_factory=machine_timezone, description="IANA zone; default: the machine's.")
    state_dir: Path = Field(Path("./state"), description="Where the agent keeps its state file.")
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    standalone: StandaloneSettings = Field(default_factory=StandaloneSettings)
    hems: HemsSettings = Field(default_factory=HemsSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    read_back: ReadBackSettings = Field(default_factory=ReadBackSettings)
    web: WebSettings = Field(default_factory=WebSettings)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            close = difflib.get_close_matches(value, sorted(available_timezones()), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown IANA time zone {value!r}{hint}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The configured zone as a ZoneInfo."""
        return ZoneInfo(self.timezone)

    def section(self, name: str) -> Any:
        """A plugin's validated section, or None when the file has none."""
        return getattr(self, name, None)


class _FileSource(PydanticBaseSettingsSource):
    """Hands the parsed YAML document to pydantic-settings, below the environment in priority."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Registered(Protocol):
    """What the loaded plugins registered that the settings depend on (an `app.plugins.Registry`)."""

    @property
    def price_sources(self) -> Mapping[str, PriceSourceType]:
        """Price source kinds by `prices.source` name."""
        ...

    @property
    def all_sections(self) -> Mapping[str, type[BaseModel]]:
        """Every plugin's config section model, by section name."""
        ...


def settings_class(registry: Registered) -> type[CoreSettings]:
    """The settings class for the loaded plugins: core keys, `prices` and every plugin section."""
    fields: dict[str, Any] = {}
    sources = [t.config_model for t in registry.price_sources.values()]
    if sources:
        union: Any = sources[0]
        if len(sources) > 1:
            union = Annotated[functools.reduce(operator.or_, sources), Field(discriminator="source")]
        fields["prices"] = (union | None, Field(None, description="Where standalone mode reads prices."))
    for name, model in registry.all_sections.items():
        if name in CoreSettings.model_fields:
            raise ConfigError([f"{name}: a plugin claims a section name the core uses"])
        fields[name] = (model | None, Field(None, description=model.__doc__ or name))
    return create_model("Settings", __base__=CoreSettings, **fields)


def is_secret_key(name: str) -> bool:
    """Whether a config key (or key path) of this name holds a secret."""
    return any(part in name.lower() for part in SECRET_KEY_PARTS)


def _format_error(error: Any, allowed: dict[str, list[str]]) -> str:
    loc = [str(part) for part in error["loc"] if not (isinstance(part, str) and part.endswith("]"))]
    # A discriminated union puts the tag in the location: `prices.file.path` → `prices.path`.
    if len(loc) > 1 and loc[0] == "prices":
        loc = [loc[0], *loc[2:]] if loc[1] in allowed.get("__price_sources__", []) else loc
    path = ".".join(loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        parent = ".".join(loc[:-1])
        close = difflib.get_close_matches(loc[-1], allowed.get(parent, []), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{path}: unknown key{hint}"
    message = error["msg"].removeprefix("Value error, ")
    if "input" in error and not is_secret_key(path) and error["type"] not in ("missing", "value_error"):
        shown = repr(error["input"])
        if len(shown) <= 60:
            message += f" (got {shown})"
    return f"{path}: {message}"


def _allowed_keys(
    model: type[BaseModel], prefix: str = "", out: dict[str, list[str]] | None = None
) -> dict[str, list[str]]:
    out = {} if out is None else out
    out[prefix] = list(model.model_fields)
    for name, info in model.model_fields.items():
        annotation = info.annotation
        for candidate in getattr(annotation, "__args__", (annotation,)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                _allowed_keys(candidate, f"{prefix}.{name}".lstrip("."), out)
    return out


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse the YAML config file; a missing file or a syntax error is a ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"config file {path}: not found"]) from None
    except OSError as exc:
        raise ConfigError([f"config file {path}: cannot be read ({exc.strerror})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([f"config file {path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"config file {path}: the top level must be a mapping of keys, got {type(data).__name__}"])
    return data


def load_settings(
    registry: Registered,
    path: Path | None = None,
    *,
    environ: bool = True,
    data: dict[str, Any] | None = None,
) -> CoreSettings:
    """Validate the config file (or `ENERGY_AGENT_CONFIG`, or a ready `data` document) plus the environment.

    ConfigError lists every fault, one line per key path.
    """
    if data is None:
        if path is None and os.environ.get(CONFIG_ENV):
            path = Path(os.environ[CONFIG_ENV])
        data = read_config_file(path) if path is not None else {}
    document = data
    cls = settings_class(registry)

    class _Loaded(cls):  # type: ignore[valid-type, misc]
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            env = (env_settings,) if environ else ()
            return (init_settings, *env, _FileSource(settings_cls, document))

    try:
        return _Loaded()
    except ValidationError as exc:
        allowed = _allowed_keys(cls)
        allowed["__price_sources__"] = list(registry.price_sources)
        raise ConfigError([_format_error(e, allowed) for e in exc.errors()]) from None
