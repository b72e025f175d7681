"""What the ENTSO-E and Nord Pool sources share: the market day, the polling schedule, and careful HTTP.

The single day-ahead coupling (SDAC) auctions every European bidding zone for a delivery day in CET/CEST
(Europe/Brussels) and publishes the results at about 12:45 CE(S)T the day before. A source therefore
fetches the market's today and tomorrow (and the market's yesterday when the agent's own day starts
earlier, as in Finland or the Baltics: a local day is planned whole). Tomorrow is expected from 13:00;
until it arrives the source retries with a backoff, and otherwise it re-fetches every `poll_interval_s`.

Every wait goes through the injected Clock. A failure is reported to the sink (the last good curve stays in
force) and retried after `retry_interval_s`, doubling up to `poll_interval_s`.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import aiohttp
from pydantic import ConfigDict, Field, field_validator

from energy_agent.api.backoff import Backoff
from energy_agent.api.clock import Clock
from energy_agent.api.domain import PriceCurve, PriceSlot, isoformat
from energy_agent.api.errors import PriceDataError
from energy_agent.api.prices import MAX_REPORTED_PROBLEMS, PriceSink
from energy_agent.prices.all_in import AllInPriceConfig

log = logging.getLogger(__name__)

MARKET_ZONE = ZoneInfo("Europe/Brussels")
"""The zone of the day-ahead market's delivery days (CET/CEST) for every SDAC bidding zone."""
TOMORROW_EXPECTED_AT = time(13, 0)
"""Market time from which tomorrow's prices are expected (SDAC publishes at about 12:45)."""
MAX_BODY_BYTES = 5_000_000
"""An answer larger than this is refused (two days of quarter hours are some 60 kB of XML)."""
KWH_PER_MWH = 1000.0


class DayAheadConfig(AllInPriceConfig):
    """The `prices:` keys every day-ahead market source has; each source adds its own and `base_url`'s default."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
    """The API's URL."""
    poll_interval_s: float = Field(default=3600.0, gt=0)
    """Longest wait between fetches; tomorrow's prices are looked for from 13:00 CE(S)T, retrying sooner."""
    retry_interval_s: float = Field(default=60.0, gt=0)
    """First wait after a failure or while tomorrow is late; doubles each time, up to `poll_interval_s`."""
    timeout_s: float = Field(default=30.0, gt=0)
    """Longest wait for one answer."""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class PriceFetchError(PriceDataError):
    """A fetch failed: unreachable, refused, or an answer that is not what was asked for."""


class NoPricesYet(PriceFetchError):
    """The market has not published the prices asked for (yet)."""


@dataclass(frozen=True)
class MarketWindow:
    """What one poll asks for: `[start, end)` in UTC, over the market days `days`."""

    start: datetime
    end: datetime
    today: date
    """The market's (CET) date at the time of the poll."""
    days: tuple[date, ...]
    """Market days overlapping the window, in order; the last one is tomorrow."""

    def curve_of(self, slots: list[PriceSlot], now: datetime, label: str) -> PriceCurve:
        """The slots inside the window as a curve; NoPricesYet when none of them covers `now`."""
        inside = sorted((s for s in slots if s.start >= self.start and s.end <= self.end), key=lambda s: s.start)
        curve = PriceCurve(tuple(inside))
        if curve.covering(now) is None:
            raise NoPricesYet(
                f"{label}: no day-ahead price covers {isoformat(now)} "
                f"(asked for {isoformat(self.start)} to {isoformat(self.end)}, got {len(inside)} slots)"
            )
        return curve


def market_midnight(day: date, zone: ZoneInfo = MARKET_ZONE) -> datetime:
    """The start of `day` in `zone`, in UTC."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def market_window(now: datetime, zone: ZoneInfo) -> MarketWindow:
    """The window a poll at `now` asks for, for an agent whose days are in `zone`.

    From the earlier of the market's and the agent's midnight today, to the end of the market's tomorrow.
    """
    today = now.astimezone(MARKET_ZONE).date()
    start = min(market_midnight(today), market_midnight(now.astimezone(zone).date(), zone))
    end = market_midnight(today + timedelta(days=2))
    first = start.astimezone(MARKET_ZONE).date()
    days = tuple(first + timedelta(days=n) for n in range((today - first).days + 2))
    return MarketWindow(start=start, end=end, today=today, days=days)


def tomorrow_expected_at(today: date) -> datetime:
    """When the market's tomorrow is expected to be published (UTC)."""
    return datetime.combine(today, TOMORROW_EXPECTED_AT, tzinfo=MARKET_ZONE).astimezone(UTC)


# -- validation helpers shared by the parsers --------------------------------------------------------


def fail(where: str, problems: list[str]) -> PriceFetchError:
    """One error naming up to MAX_REPORTED_PROBLEMS problems, each already prefixed with its path."""
    shown = problems[:MAX_REPORTED_PROBLEMS]
    if len(problems) > MAX_REPORTED_PROBLEMS:
        shown.append(f"... and {len(problems) - MAX_REPORTED_PROBLEMS} more problems")
    return PriceFetchError(f"{where}: " + "; ".join(shown))


def utc_time(raw: object, where: str, problems: list[str]) -> datetime | None:
    """An ISO 8601 time with a UTC offset (`2026-03-28T23:00Z`), or None after naming the problem."""
    if not isinstance(raw, str):
        problems.append(f"{where}: missing" if raw is None else f"{where}: not a time (got {type(raw).__name__})")
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        problems.append(f"{where}: not an ISO 8601 time ({raw[:40]!r})")
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        problems.append(f"{where}: no UTC offset ({raw[:40]!r})")
        return None
    return value.astimezone(UTC)


def price_per_kwh(raw: object, where: str, field: str, problems: list[str]) -> float | None:
    """A price per MWh (a number, or its text) as a finite price per kWh, or None after naming the problem
    as `where: field 'raw' is not a number`."""
    value: float | None = None
    if isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            value = None
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    if value is None or not math.isfinite(value):
        kind = "a number" if value is None else "a finite number"
        detail = "missing" if raw is None else f"{str(raw)[:40]!r} is not {kind}"
        problems.append(f"{where}: {field} {detail}")
        return None
    return value / KWH_PER_MWH


def check_overlaps(slots: list[tuple[str, PriceSlot]], problems: list[str]) -> None:
    """Name every slot that starts before an earlier one (by start) has ended."""
    ordered = sorted(slots, key=lambda pair: pair[1].start)
    for (before_where, before), (where, slot) in itertools.pairwise(ordered):
        if slot.start < before.end:
            kind = "duplicates" if (slot.start, slot.end) == (before.start, before.end) else "overlaps"
            problems.append(f"{where}: {kind} {before_where}")


# -- HTTP --------------------------------------------------------------------------------------------


def scrub(text: str, secret: str | None) -> str:
    """`text` without `secret` (an exception's text may quote the URL, query string and all)."""
    return text.replace(secret, "***") if secret else text


@dataclass(frozen=True)
class HttpAnswer:
    """A status and a body (bounded by MAX_BODY_BYTES)."""

    status: int
    body: bytes

    def snippet(self, secret: str | None = None, length: int = 200) -> str:
        """The start of the body as text, on one line, without the secret."""
        text = " ".join(self.body[: length * 2].decode("utf-8", "replace").split())
        return scrub(text, secret)[:length]


async def http_get(
    session: aiohttp.ClientSession,
    url: str,
    params: Mapping[str, str],
    *,
    label: str,
    timeout_s: float,
    secret: str | None = None,
) -> HttpAnswer:
    """GET `url` with `params`; PriceFetchError (naming `url` without its query) when it cannot be done."""
    try:
        async with session.get(url, params=params) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(65536):
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise PriceFetchError(f"{label}: the answer from {url} is larger than {MAX_BODY_BYTES} bytes")
                chunks.append(chunk)
            return HttpAnswer(response.status, b"".join(chunks))
    except TimeoutError as exc:
        raise PriceFetchError(f"{label}: no answer from {url} within {timeout_s:g} s") from exc
    except aiohttp.ClientError as exc:
        reason = scrub(str(exc) or type(exc).__name__, secret)
        raise PriceFetchError(f"{label}: cannot reach {url}: {reason}") from exc


def transient_status(answer: HttpAnswer, label: str, url: str) -> PriceFetchError | None:
    """The error for a status worth retrying soon (429, 5xx), else None."""
    if answer.status == 429:
        return PriceFetchError(f"{label}: too many requests (HTTP 429 at {url}); retrying later")
    if answer.status >= 500:
        return PriceFetchError(f"{label}: the service answered HTTP {answer.status} at {url}; retrying later")
    return None


# -- polling -----------------------------------------------------------------------------------------


class DayAheadFetcher(Protocol):
    """One market's API: the spot prices of a window, in EUR/kWh (or the configured currency per kWh)."""

    @property
    def source(self) -> str:
        """The `prices.source` name, e.g. `entsoe`."""
        ...

    @property
    def label(self) -> str:
        """How messages name the market and area, e.g. `ENTSO-E 10YNL----------L`."""
        ...

    async def fetch(self, session: aiohttp.ClientSession, window: MarketWindow) -> list[PriceSlot]:
        """The slots the market has published in `window` (tomorrow may be missing); PriceDataError if none."""
        ...


class DayAheadPoller:
    """A PriceSource polling a DayAheadFetcher on the schedule the module docstring describes."""

    def __init__(
        self,
        fetcher: DayAheadFetcher,
        clock: Clock,
        zone: ZoneInfo,
        *,
        poll_interval_s: float,
        retry_interval_s: float,
        timeout_s: float,
    ) -> None:
        self.fetcher = fetcher
        self._clock = clock
        self._zone = zone
        self.poll_interval_s = poll_interval_s
        self.retry_interval_s = retry_interval_s
        self.timeout_s = timeout_s

    async def run(self, sink: PriceSink) -> None:
        """Poll until cancelled."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as session:
            streak = 0
            while True:
                now = self._clock.now()
                complete: bool | None
                try:
                    complete = await self.poll_once(session, sink, now)
                except Exception as exc:  # a bug or a surprise must not end polling for good
                    log.exception("%s price source failed", self.fetcher.source)
                    sink.error(f"unexpected {type(exc).__name__}: {exc}")
                    complete = None
                wait_s, streak = self.next_wait(now, complete, streak)
                log.debug("%s: next poll in %.0f s", self.fetcher.label, wait_s)
                await self._clock.sleep(wait_s)

    async def poll_once(self, session: aiohttp.ClientSession, sink: PriceSink, now: datetime) -> bool | None:
        """Fetch and deliver once: True when the curve reaches the end of tomorrow, False when it does not,
        None when the poll failed (reported to the sink)."""
        window = market_window(now, self._zone)
        try:
            slots = await self.fetcher.fetch(session, window)
            curve = window.curve_of(slots, now, self.fetcher.label)
        except PriceDataError as exc:
            log.error("%s price source: %s", self.fetcher.source, exc)
            sink.error(str(exc))
            return None
        await sink.update(curve)
        complete = curve.end is not None and curve.end >= window.end
        if not complete:
            log.debug("%s: prices until %s; tomorrow's not published yet", self.fetcher.label, isoformat(curve.end))
        return complete

    def next_wait(self, now: datetime, complete: bool | None, streak: int) -> tuple[float, int]:
        """Seconds until the next poll, and the new count of polls that came back short.

        Complete: `poll_interval_s`. Tomorrow missing before it is expected: wait for that moment (at most
        `poll_interval_s`). Tomorrow missing after that, or a failure: `retry_interval_s`, doubling with each
        such poll in a row, at most `poll_interval_s`.
        """
        poll = self.poll_interval_s
        if complete:
            return poll, 0
        if complete is False:
            expected = tomorrow_expected_at(now.astimezone(MARKET_ZONE).date())
            if now < expected:
                return min(poll, (expected - now).total_seconds()), 0
        return Backoff(first_s=self.retry_interval_s, max_s=poll).after(streak + 1), streak + 1


def poll_settings(config: DayAheadConfig) -> dict[str, float]:
    """The poller's keyword arguments from a source's config."""
    return {
        "poll_interval_s": config.poll_interval_s,
        "retry_interval_s": config.retry_interval_s,
        "timeout_s": config.timeout_s,
    }
