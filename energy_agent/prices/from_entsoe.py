"""`prices.source: entsoe`: day-ahead prices from the ENTSO-E Transparency Platform (document A44).

The config, the area codes and the fetcher; `entsoe_document` reads what the RESTful API answers.

The security token travels in the query string only; no message or log line carries it.
"""

from __future__ import annotations

import difflib
import re
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

import aiohttp
from pydantic import ConfigDict, SecretStr, field_validator

from energy_agent.api.clock import Clock
from energy_agent.api.domain import PriceSlot
from energy_agent.prices.day_ahead import (
    DayAheadConfig,
    DayAheadPoller,
    HttpAnswer,
    MarketWindow,
    PriceFetchError,
    http_get,
    poll_settings,
    transient_status,
)
from energy_agent.prices.entsoe_document import parse_entsoe_document

ENTSOE_URL = "https://web-api.tp.entsoe.eu/api"
"""The Transparency Platform's RESTful API."""
EIC_PATTERN = re.compile(r"^[0-9]{2}[A-Z][A-Z0-9-]{13}$")

BIDDING_ZONES: dict[str, str] = {
    "AT": "10YAT-APG------L",
    "BE": "10YBE----------2",
    "BG": "10YCA-BULGARIA-R",
    "CH": "10YCH-SWISSGRIDZ",
    "CZ": "10YCZ-CEPS-----N",
    "DE_LU": "10Y1001A1001A82H",
    "DK1": "10YDK-1--------W",
    "DK2": "10YDK-2--------M",
    "EE": "10Y1001A1001A39I",
    "ES": "10YES-REE------0",
    "FI": "10YFI-1--------U",
    "FR": "10YFR-RTE------C",
    "GR": "10YGR-HTSO-----Y",
    "HR": "10YHR-HEP------M",
    "HU": "10YHU-MAVIR----U",
    "IT_CALA": "10Y1001C--00096J",
    "IT_CNOR": "10Y1001A1001A70O",
    "IT_CSUD": "10Y1001A1001A71M",
    "IT_NORD": "10Y1001A1001A73I",
    "IT_SARD": "10Y1001A1001A74G",
    "IT_SICI": "10Y1001A1001A75E",
    "IT_SUD": "10Y1001A1001A788",
    "LT": "10YLT-1001A0008Q",
    "LV": "10YLV-1001A00074",
    "NL": "10YNL----------L",
    "NO1": "10YNO-1--------2",
    "NO2": "10YNO-2--------T",
    "NO3": "10YNO-3--------J",
    "NO4": "10YNO-4--------9",
    "NO5": "10Y1001A1001A48H",
    "PL": "10YPL-AREA-----S",
    "PT": "10YPT-REN------W",
    "RO": "10YRO-TEL------P",
    "RS": "10YCS-SERBIATSOV",
    "SE1": "10Y1001A1001A44P",
    "SE2": "10Y1001A1001A45N",
    "SE3": "10Y1001A1001A46L",
    "SE4": "10Y1001A1001A47J",
    "SI": "10YSI-ELES-----O",
    "SK": "10YSK-SEPS-----K",
}
"""Bidding zones with day-ahead prices on the platform: short name → EIC code (`area` accepts either)."""


class EntsoePricesConfig(DayAheadConfig):
    """`prices:` for `source: entsoe`: day-ahead prices of one bidding zone from the ENTSO-E Transparency Platform."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["entsoe"]
    token: SecretStr
    """Security token of your Transparency Platform account (see docs/prices.md); sent to `base_url` only."""
    area: str
    """Bidding zone: its EIC code (`10YNL----------L`) or short name (`NL`, `DE_LU`, `SE3`; docs/prices.md)."""
    base_url: str = ENTSOE_URL
    """The RESTful API's URL."""

    @field_validator("token")
    @classmethod
    def _token_given(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if not secret.strip() or any(ch.isspace() for ch in secret):
            raise ValueError("must be the security token of your Transparency Platform account, without spaces")
        return value

    @field_validator("area")
    @classmethod
    def _area_code(cls, value: str) -> str:
        return area_code(value)


def area_code(value: str) -> str:
    """The EIC code of a bidding zone given by code or short name; ValueError naming the choices."""
    text = value.strip().upper()
    if EIC_PATTERN.match(text):
        return text
    name = text.replace("-", "_")
    if name in BIDDING_ZONES:
        return BIDDING_ZONES[name]
    close = difflib.get_close_matches(name, list(BIDDING_ZONES), n=1)
    hint = f"; did you mean {close[0]!r} ({BIDDING_ZONES[close[0]]})?" if close else ""
    raise ValueError(
        f"{value!r} is neither an EIC code (16 characters, e.g. 10YNL----------L) "
        f"nor a known bidding zone ({', '.join(BIDDING_ZONES)}){hint}"
    )


# -- the document --------------------------------------------------------------------------------------


def entsoe_time(moment: datetime) -> str:
    """`yyyyMMddHHmm` in UTC, as periodStart and periodEnd want it."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M")


class EntsoeFetcher:
    """Asks the RESTful API for the A44 document of one window."""

    source = "entsoe"

    def __init__(self, config: EntsoePricesConfig) -> None:
        self._config = config

    @property
    def label(self) -> str:
        """`ENTSO-E <area>`."""
        return f"ENTSO-E {self._config.area}"

    async def fetch(self, session: aiohttp.ClientSession, window: MarketWindow) -> list[PriceSlot]:
        """The window's spot slots; PriceFetchError (NoPricesYet for "no data") otherwise."""
        config = self._config
        token = config.token.get_secret_value()
        params = {
            "securityToken": token,
            "documentType": "A44",
            "in_Domain": config.area,
            "out_Domain": config.area,
            "periodStart": entsoe_time(window.start),
            "periodEnd": entsoe_time(window.end),
            "contract_MarketAgreement.type": "A01",
        }
        url = config.base_url
        answer = await http_get(session, url, params, label=self.label, timeout_s=config.timeout_s, secret=token)
        self._check_status(answer, url, token)
        try:
            return parse_entsoe_document(answer.body, area=config.area)
        except PriceFetchError as exc:
            raise type(exc)(f"{self.label}: {exc}") from None

    def _check_status(self, answer: HttpAnswer, url: str, token: str) -> None:
        if answer.status in (401, 403):
            raise PriceFetchError(
                f"{self.label}: the security token was refused (HTTP {answer.status} at {url}); check prices.token"
            )
        transient = transient_status(answer, self.label, url)
        if transient is not None:
            raise transient
        # 200 and 400 both may carry an Acknowledgement (400: a parameter the platform does not accept)
        if answer.status not in (200, 400):
            raise PriceFetchError(f"{self.label}: HTTP {answer.status} at {url}: {answer.snippet(token)}")
        if answer.status == 400 and b"Acknowledgement_MarketDocument" not in answer.body:
            raise PriceFetchError(f"{self.label}: HTTP 400 at {url}: {answer.snippet(token)}")


def entsoe_source(config: EntsoePricesConfig, clock: Clock, zone: ZoneInfo) -> DayAheadPoller:
    """The polling source for `config`."""
    return DayAheadPoller(EntsoeFetcher(config), clock, zone, **poll_settings(config))
