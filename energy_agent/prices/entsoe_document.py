"""The ENTSO-E A44 document (day-ahead prices), read into spot slots: `parse_entsoe_document`.

What the real documents hold: several TimeSeries, PT15M and PT60M Periods (the finest wins where both cover a
time), curveType A01 (every position listed) and A03 (a position left out repeats the previous price, up to
the end of the Period), DST days (92 or 100 quarter hours: the Period's UTC interval says so), negative prices.
TimeSeries of another auction are skipped: a `contract_MarketAgreement.type` other than A01 (intraday) and a
`classificationSequence_AttributeInstanceComponent.position` other than 1 (in DE-LU and AT, sequence 2 is the
separate EXAA auction). An Acknowledgement_MarketDocument with reason 999 means "no data (yet)". Every fault is
named with its path, e.g. `TimeSeries[0].Period[0].Point[5]`.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from energy_agent.api.domain import PriceSlot
from energy_agent.api.prices import MAX_PRICE_SLOTS
from energy_agent.prices.day_ahead import NoPricesYet, PriceFetchError, fail, price_per_kwh, utc_time

if TYPE_CHECKING:  # ElementTree is imported on the first parse: an agent without ENTSO-E never loads expat
    from xml.etree.ElementTree import Element

DOCUMENT = "ENTSO-E document"
NO_DATA_REASON = "999"
RESOLUTION_PATTERN = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?$")


@dataclass(frozen=True)
class _Series:
    """The slots of one Period, with where they came from."""

    where: str
    resolution: timedelta
    slots: list[PriceSlot]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: Element, name: str) -> Element | None:
    return next((child for child in element if _local(child.tag) == name), None)


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name]


def _text(element: Element | None, name: str) -> str | None:
    """The stripped text of the child `name` (namespace ignored), or None."""
    child = None if element is None else _child(element, name)
    return None if child is None or child.text is None else child.text.strip()


def _resolution(raw: str | None, where: str, problems: list[str]) -> timedelta | None:
    match = RESOLUTION_PATTERN.match(raw or "")
    if raw is None or match is None or not any(match.groups()):
        problems.append(f"{where}.resolution: {raw!r} is not a resolution in minutes or hours (PT15M, PT60M)")
        return None
    hours, minutes = (int(group or 0) for group in match.groups())
    step = timedelta(hours=hours, minutes=minutes)
    if step <= timedelta(0):
        problems.append(f"{where}.resolution: {raw!r} is not a positive duration")
        return None
    return step


def _period(period: Element, where: str, curve_type: str, problems: list[str]) -> _Series | None:
    """The slots of one Period, positions filled in for curveType A03."""
    interval = _child(period, "timeInterval")
    if interval is None:
        problems.append(f"{where}.timeInterval: missing")
        return None
    start = utc_time(_text(interval, "start"), f"{where}.timeInterval.start", problems)
    end = utc_time(_text(interval, "end"), f"{where}.timeInterval.end", problems)
    step = _resolution(_text(period, "resolution"), where, problems)
    if start is None or end is None or step is None:
        return None
    if not start < end:
        problems.append(f"{where}.timeInterval: end {end:%Y-%m-%dT%H:%MZ} is not after start {start:%Y-%m-%dT%H:%MZ}")
        return None
    count, rest = divmod(end - start, step)
    if rest or count > MAX_PRICE_SLOTS:
        problems.append(f"{where}.timeInterval: {end - start} is not a whole number of {step} steps")
        return None
    prices: dict[int, float] = {}
    points = _children(period, "Point")
    if not points:
        problems.append(f"{where}: no Point")
        return None
    for index, point in enumerate(points):
        point_where = f"{where}.Point[{index}]"
        raw_position = _text(point, "position")
        if raw_position is None or not raw_position.isdigit() or not 1 <= int(raw_position) <= count:
            problems.append(f"{point_where}: position {raw_position!r} is not between 1 and {count}")
            continue
        position = int(raw_position)
        if position in prices:
            problems.append(f"{point_where}: position {position} appears twice")
            continue
        price = price_per_kwh(_text(point, "price.amount"), point_where, "price.amount", problems)
        if price is not None:
            prices[position] = price
    if not prices:  # every Point was faulty, and each is named already
        return None
    if curve_type == "A01":
        missing = [position for position in range(1, count + 1) if position not in prices]
        if missing:
            shown = ", ".join(str(p) for p in missing[:5]) + (", ..." if len(missing) > 5 else "")
            problems.append(f"{where}: positions {shown} missing (curveType A01 lists every position)")
            return None
    elif 1 not in prices:
        problems.append(f"{where}: position 1 missing (curveType A03 repeats a previous price; there is none)")
        return None
    slots: list[PriceSlot] = []
    price = prices[1]
    for position in range(1, count + 1):
        price = prices.get(position, price)  # A03: a position left out has the previous position's price
        slot_start = start + (position - 1) * step
        slots.append(PriceSlot(slot_start, slot_start + step, price))
    return _Series(where, step, slots)


def _series_of(time_series: Element, where: str, area: str | None, problems: list[str]) -> list[_Series]:
    """The Periods of one TimeSeries; none when it belongs to another auction than the SDAC day-ahead one."""
    contract = _text(time_series, "contract_MarketAgreement.type")
    sequence = _text(time_series, "classificationSequence_AttributeInstanceComponent.position")
    if contract not in (None, "A01") or sequence not in (None, "1"):
        return []
    before = len(problems)
    domain = _text(time_series, "in_Domain.mRID")
    if area is not None and domain is not None and domain != area:
        problems.append(f"{where}.in_Domain.mRID: {domain!r}, but {area!r} was asked for")
    currency = _text(time_series, "currency_Unit.name")
    if currency not in (None, "EUR"):
        problems.append(f"{where}.currency_Unit.name: {currency!r}, expected EUR")
    unit = _text(time_series, "price_Measure_Unit.name")
    if unit not in (None, "MWH"):
        problems.append(f"{where}.price_Measure_Unit.name: {unit!r}, expected MWH")
    curve_type = _text(time_series, "curveType") or "A01"
    if curve_type not in ("A01", "A03"):
        problems.append(f"{where}.curveType: {curve_type!r}, expected A01 or A03")
    if len(problems) > before:
        return []
    found = []
    for index, period in enumerate(_children(time_series, "Period")):
        series = _period(period, f"{where}.Period[{index}]", curve_type, problems)
        if series is not None:
            found.append(series)
    return found


def _finest_first(found: list[_Series], problems: list[str]) -> list[PriceSlot]:
    """One slot per time: the finest resolution wherever it has one, coarser ones only where it has none.

    Within one resolution, two Periods giving the same slot must agree on its price.
    """
    chosen: list[PriceSlot] = []
    for resolution in sorted({series.resolution for series in found}):
        same: dict[datetime, tuple[str, PriceSlot]] = {}
        for series in (s for s in found if s.resolution == resolution):
            for slot in series.slots:
                earlier = same.get(slot.start)
                if earlier is None:
                    same[slot.start] = (series.where, slot)
                elif earlier[1].price_eur_kwh != slot.price_eur_kwh:
                    here, there = slot.price_eur_kwh * 1000, earlier[1].price_eur_kwh * 1000
                    problems.append(
                        f"{series.where}: the {resolution} slot at {slot.start:%Y-%m-%dT%H:%MZ} is priced "
                        f"{here:g} EUR/MWh here and {there:g} in {earlier[0]}"
                    )
        taken_starts = [slot.start for slot in chosen]
        taken = list(chosen)
        for _, slot in same.values():
            # the chosen slots are sorted and disjoint: only the one starting last before slot.end can overlap
            index = bisect.bisect_left(taken_starts, slot.end) - 1
            if index < 0 or taken[index].end <= slot.start:
                chosen.append(slot)
        chosen.sort(key=lambda slot: slot.start)
    return chosen


def _acknowledgement(root: Element) -> PriceFetchError:
    reason = _child(root, "Reason")
    code = _text(reason, "code") or "?"
    text = " ".join((_text(reason, "text") or "no reason given").split())[:300]
    if code == NO_DATA_REASON:
        return NoPricesYet(f"ENTSO-E has no day-ahead prices for this request (yet): reason {code}: {text}")
    return PriceFetchError(f"ENTSO-E refused the request: reason {code}: {text}")


def parse_entsoe_document(body: bytes, *, area: str | None = None) -> list[PriceSlot]:
    """The spot prices (EUR/kWh) of an A44 `Publication_MarketDocument`, sorted, one slot per time.

    An `Acknowledgement_MarketDocument` raises NoPricesYet for reason 999 (no data) and PriceFetchError
    for any other reason; a malformed document raises PriceFetchError naming each fault and where, e.g.
    `ENTSO-E document: TimeSeries[1].Period[0].Point[5]: price.amount 'x' is not a number`. With `area`,
    a TimeSeries for another bidding zone is an error.
    """
    from xml.etree import ElementTree

    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise PriceFetchError(f"{DOCUMENT}: has a DOCTYPE or ENTITY declaration, which ENTSO-E never sends")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise PriceFetchError(f"{DOCUMENT}: not XML ({exc})") from None
    kind = _local(root.tag)
    if kind == "Acknowledgement_MarketDocument":
        raise _acknowledgement(root)
    if kind != "Publication_MarketDocument":
        raise PriceFetchError(f"{DOCUMENT}: the root element is {kind!r}, not Publication_MarketDocument")
    document_type = _text(root, "type")
    if document_type not in (None, "A44"):
        raise PriceFetchError(f"{DOCUMENT}.type: {document_type!r}, expected A44 (day-ahead prices)")
    problems: list[str] = []
    found: list[_Series] = []
    for index, time_series in enumerate(_children(root, "TimeSeries")):
        found.extend(_series_of(time_series, f"TimeSeries[{index}]", area, problems))
    slots = _finest_first(found, problems) if not problems else []
    if problems:
        raise fail(DOCUMENT, problems)
    if not slots:
        raise NoPricesYet(f"{DOCUMENT}: no day-ahead TimeSeries in the answer")
    return slots


# -- the source ----------------------------------------------------------------------------------------
