"""A stand-in for the ENTSO-E Transparency Platform's RESTful API (document A44), on loopback."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from aiohttp import web

from energy_agent.api.clock import Clock
from energy_agent.testing.stand_in import (
    ACK_NAMESPACE,
    ENTSOE_NAMESPACE,
    EXAA_PREMIUM_EUR_MWH,
    NL,
    UNAUTHORIZED_PAGE,
    MarketDay,
    StandIn,
    day_bounds,
    utc_minutes,
    xml_number,
)


class EntsoeStandIn(StandIn):
    """`GET /api?documentType=A44&...` as the Transparency Platform answers it (see the module docstring)."""

    def __init__(
        self,
        clock: Clock,
        *,
        token: str = "0b8e6b2e-entsoe-test-token",
        area: str = NL,
        curve_type: str = "A03",
        hourly_too: bool = False,
        exaa_too: bool = False,
        no_data_status: int = 200,
        publish_at: time = time(13, 0),
        port: int = 0,
    ) -> None:
        super().__init__(clock, port)
        self.token = token
        self.area = area
        self.curve_type = curve_type
        self.hourly_too = hourly_too
        """Also publish a PT60M TimeSeries (hourly averages) beside each PT15M one."""
        self.exaa_too = exaa_too
        """Also publish a classificationSequence 2 TimeSeries (the EXAA auction in DE-LU and AT)."""
        self.no_data_status = no_data_status
        """The HTTP status of the "no data" Acknowledgement (200 today; 400 in earlier years)."""
        self.publish_at = publish_at
        self.days: dict[date, MarketDay] = {}
        self._document_ids = itertools.count(1)
        self._app.router.add_get("/api", self._answer)

    @property
    def api_url(self) -> str:
        """The `base_url` to configure."""
        return f"{self.url}/api"

    def add_day(self, day: date, prices_eur_mwh: Sequence[float]) -> MarketDay:
        """Set a delivery day's prices (96 quarter hours, or 92/100 on DST days; or hourly)."""
        market_day = MarketDay.of(day, prices_eur_mwh)
        self.days[day] = market_day
        return market_day

    async def _answer(self, request: web.Request) -> web.Response:
        failure = await self._before(request)
        if failure is not None:
            return failure
        query = request.query
        if query.get("securityToken") != self.token:
            return web.Response(status=401, text=UNAUTHORIZED_PAGE, content_type="text/html")
        if query.get("documentType") != "A44" or query.get("contract_MarketAgreement.type", "A01") != "A01":
            return self._acknowledgement("999", "This combination of parameters is not supported.", status=400)
        try:
            start = datetime.strptime(query["periodStart"], "%Y%m%d%H%M").replace(tzinfo=UTC)
            end = datetime.strptime(query["periodEnd"], "%Y%m%d%H%M").replace(tzinfo=UTC)
        except (KeyError, ValueError):
            return self._acknowledgement("999", "periodStart and periodEnd (yyyyMMddHHmm) are required.", status=400)
        area = query.get("in_Domain")
        days = [
            market_day
            for day, market_day in sorted(self.days.items())
            if area == self.area == query.get("out_Domain")
            and self.published(day, self.publish_at)
            and day_bounds(day)[0] < end
            and day_bounds(day)[1] > start
        ]
        if not days:
            text = (
                f"No matching data found for Data item Energy Prices [12.1.D] ({area}) and interval "
                f"{utc_minutes(start)}/{utc_minutes(end)}."
            )
            return self._acknowledgement("999", text, status=self.no_data_status)
        return web.Response(text=self.document(days, start, end), content_type="application/xml")

    def _acknowledgement(self, code: str, text: str, *, status: int) -> web.Response:
        now = self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        body = f"""<?xml version="1.0" encoding="utf-8"?>
<Acknowledgement_MarketDocument xmlns="{ACK_NAMESPACE}">
\t<mRID>ack-{next(self._document_ids)}</mRID>
\t<createdDateTime>{now}</createdDateTime>
\t<sender_MarketParticipant.mRID codingScheme="A01">10X1001A1001A450</sender_MarketParticipant.mRID>
\t<sender_MarketParticipant.marketRole.type>A32</sender_MarketParticipant.marketRole.type>
\t<receiver_MarketParticipant.mRID codingScheme="A01">10X1001A1001A39I</receiver_MarketParticipant.mRID>
\t<receiver_MarketParticipant.marketRole.type>A39</receiver_MarketParticipant.marketRole.type>
\t<received_MarketDocument.createdDateTime>{now}</received_MarketDocument.createdDateTime>
\t<Reason>
\t\t<code>{code}</code>
\t\t<text>{text}</text>
\t</Reason>
</Acknowledgement_MarketDocument>
"""
        return web.Response(status=status, text=body, content_type="application/xml")

    def document(self, days: Sequence[MarketDay], start: datetime, end: datetime) -> str:
        """The A44 document for `days`, as the platform writes it."""
        series: list[str] = []
        counter = itertools.count(1)
        for market_day in days:
            series.append(self._time_series(next(counter), market_day, sequence=1 if self.exaa_too else None))
            if self.hourly_too and market_day.resolution_min < 60:
                series.append(
                    self._time_series(next(counter), market_day.hourly(), sequence=1 if self.exaa_too else None)
                )
            if self.exaa_too:
                premium = tuple(p + EXAA_PREMIUM_EUR_MWH for p in market_day.prices_eur_mwh)
                exaa = MarketDay(market_day.day, premium, market_day.resolution_min)
                series.append(self._time_series(next(counter), exaa, sequence=2))
        first, last = day_bounds(days[0].day)[0], day_bounds(days[-1].day)[1]
        now = self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            f"""<?xml version="1.0" encoding="utf-8"?>
<Publication_MarketDocument xmlns="{ENTSOE_NAMESPACE}">
\t<mRID>a44-{next(self._document_ids)}</mRID>
\t<revisionNumber>1</revisionNumber>
\t<type>A44</type>
\t<sender_MarketParticipant.mRID codingScheme="A01">10X1001A1001A450</sender_MarketParticipant.mRID>
\t<sender_MarketParticipant.marketRole.type>A32</sender_MarketParticipant.marketRole.type>
\t<receiver_MarketParticipant.mRID codingScheme="A01">10X1001A1001A450</receiver_MarketParticipant.mRID>
\t<receiver_MarketParticipant.marketRole.type>A33</receiver_MarketParticipant.marketRole.type>
\t<createdDateTime>{now}</createdDateTime>
\t<period.timeInterval>
\t\t<start>{utc_minutes(first)}</start>
\t\t<end>{utc_minutes(last)}</end>
\t</period.timeInterval>
"""
            + "".join(series)
            + "</Publication_MarketDocument>\n"
        )

    def _time_series(self, number: int, market_day: MarketDay, *, sequence: int | None) -> str:
        start, end = day_bounds(market_day.day)
        points: list[str] = []
        previous: float | None = None
        for position, price in enumerate(market_day.prices_eur_mwh, start=1):
            if self.curve_type == "A03" and price == previous:
                continue  # A03: a position whose price equals the previous one is left out
            previous = price
            points.append(
                f"\t\t\t<Point>\n\t\t\t\t<position>{position}</position>\n"
                f"\t\t\t\t<price.amount>{xml_number(price)}</price.amount>\n\t\t\t</Point>\n"
            )
        sequence_line = (
            ""
            if sequence is None
            else f"\t\t<classificationSequence_AttributeInstanceComponent.position>{sequence}"
            "</classificationSequence_AttributeInstanceComponent.position>\n"
        )
        return (
            f"\t<TimeSeries>\n\t\t<mRID>{number}</mRID>\n\t\t<auction.type>A01</auction.type>\n"
            f"\t\t<businessType>A62</businessType>\n"
            f'\t\t<in_Domain.mRID codingScheme="A01">{self.area}</in_Domain.mRID>\n'
            f'\t\t<out_Domain.mRID codingScheme="A01">{self.area}</out_Domain.mRID>\n'
            f"\t\t<contract_MarketAgreement.type>A01</contract_MarketAgreement.type>\n"
            f"{sequence_line}"
            f"\t\t<currency_Unit.name>EUR</currency_Unit.name>\n\t\t<price_Measure_Unit.name>MWH</price_Measure_Unit.name>\n"
            f"\t\t<curveType>{self.curve_type}</curveType>\n\t\t<Period>\n\t\t\t<timeInterval>\n"
            f"\t\t\t\t<start>{utc_minutes(start)}</start>\n\t\t\t\t<end>{utc_minutes(end)}</end>\n"
            f"\t\t\t</timeInterval>\n\t\t\t<resolution>PT{market_day.resolution_min}M</resolution>\n"
            + "".join(points)
            + "\t\t</Period>\n\t</TimeSeries>\n"
        )
