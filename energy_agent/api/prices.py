"""Price sources: what a source delivers to, and how a plugin registers one."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Protocol

from pydantic import BaseModel

from energy_agent.api.devices import DeviceContext
from energy_agent.api.domain import PriceCurve, PriceSlot
from energy_agent.api.errors import PriceDataError


class PriceSink(Protocol):
    """Where a price source delivers curves and problems."""

    async def update(self, curve: PriceCurve) -> None:
        """A new valid curve."""
        ...

    def error(self, message: str) -> None:
        """Fetching or parsing failed; the last good curve stays in use."""
        ...


class PriceSource(Protocol):
    """A running source of price curves."""

    async def run(self, sink: PriceSink) -> None:
        """Deliver curves to `sink` until cancelled."""
        ...


@dataclass(frozen=True)
class PriceSourceType:
    """A kind of price source, selected by `prices.source` in the config."""

    name: str
    config_model: type[BaseModel]
    """Validates the `prices:` section; must have a `source: Literal[name]` field."""
    create: Callable[[Any, DeviceContext], PriceSource]


MAX_PRICE_SLOTS = 100_000
"""More slots than this is not a price curve (a year of quarter hours is 35,040)."""
MAX_REPORTED_PROBLEMS = 10
"""An error message lists at most this many problems, then says how many more there were."""
CURVE_KEY = "price_curve"


def _parse_time(item: Mapping[str, Any], field: str, where: str, problems: list[str]) -> datetime | None:
    if field not in item:
        problems.append(f"{where}.{field}: missing")
        return None
    raw = item[field]
    if not isinstance(raw, str):
        problems.append(f"{where}.{field}: not an ISO 8601 time (got {type(raw).__name__})")
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        problems.append(f"{where}.{field}: not an ISO 8601 time ({raw[:40]!r})")
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        problems.append(f"{where}.{field}: no UTC offset ({raw[:40]!r})")
        return None
    return value


def _parse_price(item: Mapping[str, Any], where: str, problems: list[str], field: str = "price") -> float | None:
    if field not in item:
        problems.append(f"{where}.{field}: missing")
        return None
    raw = item[field]
    # bool is an int subclass; `true` is never a price
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        problems.append(f"{where}.{field}: not a number (got {type(raw).__name__})")
        return None
    value = float(raw)
    if not math.isfinite(value):
        problems.append(f"{where}.{field}: not a finite number ({raw!r})")
        return None
    return value


def _fail(problems: list[str]) -> PriceDataError:
    shown = problems[:MAX_REPORTED_PROBLEMS]
    if len(problems) > MAX_REPORTED_PROBLEMS:
        shown.append(f"... and {len(problems) - MAX_REPORTED_PROBLEMS} more problems")
    return PriceDataError("invalid price data: " + "; ".join(shown))


def price_curve_json(curve: PriceCurve, tz: tzinfo) -> list[dict[str, Any]]:
    """`[{"start", "end", "price"}]`, the form `parse_price_curve` reads (price files, Home Assistant's
    `price_curve` attribute): times to the second with their offset in `tz`, prices in EUR/kWh; and
    `spot_price` where a slot carries one (its price is all-in: an all-in formula made it from that spot)."""
    return [_slot_json(slot, tz) for slot in curve.slots]


def _slot_json(slot: PriceSlot, tz: tzinfo) -> dict[str, Any]:
    item: dict[str, Any] = {
        "start": slot.start.astimezone(tz).isoformat(timespec="seconds"),
        "end": slot.end.astimezone(tz).isoformat(timespec="seconds"),
        "price": slot.price_eur_kwh,
    }
    if slot.spot_eur_kwh is not None:
        item["spot_price"] = slot.spot_eur_kwh
    return item


def parse_price_curve(data: object, *, where: str = CURVE_KEY) -> PriceCurve:
    """Validate a `{start, end, price}` list (or an object holding it under `price_curve`) into a curve.

    Times must be ISO 8601 with a UTC offset, prices finite numbers in EUR/kWh. An optional `spot_price` is the
    spot price an all-in `price` was made from (what `price_curve_json` writes): an all-in formula then starts from
    it again rather than adding itself twice. Slots are sorted; duplicates and overlaps are errors. Raises
    PriceDataError naming each fault as `where[i].field: problem`.
    """
    if isinstance(data, Mapping):
        if CURVE_KEY not in data:
            raise PriceDataError(f"invalid price data: {where}: an object without a {CURVE_KEY!r} list")
        data = data[CURVE_KEY]
    if not isinstance(data, list):
        raise PriceDataError(
            f"invalid price data: {where}: expected a list of {{start, end, price}} objects, got {type(data).__name__}"
        )
    if len(data) > MAX_PRICE_SLOTS:
        raise PriceDataError(f"invalid price data: {where}: {len(data)} slots, more than the {MAX_PRICE_SLOTS} allowed")
    problems: list[str] = []
    parsed: list[tuple[int, PriceSlot]] = []
    for index, item in enumerate(data):
        item_where = f"{where}[{index}]"
        if not isinstance(item, Mapping):
            problems.append(f"{item_where}: expected an object with start, end, price (got {type(item).__name__})")
            continue
        start = _parse_time(item, "start", item_where, problems)
        end = _parse_time(item, "end", item_where, problems)
        price = _parse_price(item, item_where, problems)
        spot = _parse_price(item, item_where, problems, "spot_price") if "spot_price" in item else None
        if start is None or end is None or price is None:
            continue
        if not start < end:
            problems.append(f"{item_where}.end: not after start ({item['end']} <= {item['start']})")
            continue
        parsed.append((index, PriceSlot(start=start, end=end, price_eur_kwh=price, spot_eur_kwh=spot)))
    if problems:
        raise _fail(problems)
    parsed.sort(key=lambda pair: pair[1].start)
    if parsed:
        # compare with the slot reaching furthest so far: a long slot can overlap several later ones
        reach_index, reach = parsed[0]
        for later_index, later in parsed[1:]:
            if later.start < reach.end:
                kind = "duplicates" if (later.start, later.end) == (reach.start, reach.end) else "overlaps"
                problems.append(f"{where}[{later_index}].start: {kind} {where}[{reach_index}]")
            if later.end > reach.end:
                reach_index, reach = later_index, later
    if problems:
        raise _fail(problems)
    return PriceCurve(tuple(slot for _, slot in parsed))
