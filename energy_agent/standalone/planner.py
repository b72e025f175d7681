"""Standalone planning: prices in, a plan per device, written through the device runtime.

Re-plans when the price curve changes, when the local day changes, when the cap or top-X change at run
time, and when standalone takes over (mode switch or HEMS fallback). A plan that equals the schedule in
force makes no device write (the runtime compares whole plans).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from energy_agent.api.clock import Clock
from energy_agent.api.devices import PolicyOptionsSource, controls_current
from energy_agent.api.domain import PriceCurve, Schedule, ScheduleSource
from energy_agent.api.errors import DeviceError
from energy_agent.api.planning import Plan, PlanRequest, StandalonePolicy
from energy_agent.prices.board import PriceBoard, curve_freshness
from energy_agent.runtime.device import DeviceRuntime, PlanInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StandaloneParams:
    """The knobs of standalone planning in force (config, possibly overridden at run time)."""

    price_threshold_eur_kwh: float | None
    top_x_charge_count: int
    paused: bool = False


class StandalonePlanner:
    """Plans for every device whose standalone planning is in force (see the module docstring)."""

    def __init__(
        self,
        *,
        clock: Clock,
        zone: ZoneInfo,
        board: PriceBoard,
        policies: dict[str, StandalonePolicy],
        policy_for: Callable[[DeviceRuntime], str | None],
        params: Callable[[], StandaloneParams],
        in_force: Callable[[], bool],
        runtimes: Callable[[], Iterable[DeviceRuntime]],
    ) -> None:
        self.clock = clock
        self.zone = zone
        self.board = board
        self.policies = policies
        self._policy_for = policy_for
        self._params = params
        self._in_force = in_force
        self._runtimes = runtimes
        self._lock = asyncio.Lock()
        self.last_plans: dict[str, Plan] = {}
        board.subscribe(self._on_curve)

    async def _on_curve(self, curve: PriceCurve) -> None:
        await self.replan("new prices")

    def plan_for(self, runtime: DeviceRuntime, curve: PriceCurve, now: datetime) -> tuple[Plan, Schedule]:
        """The plan and the schedule to put in force for one device."""
        name = self._policy_for(runtime)
        if name is None or name not in self.policies:
            raise LookupError(f"no standalone policy for {runtime.key} (wanted {name!r})")
        params = self._params()
        device = runtime.device
        max_current_a = device.capabilities.max_current_a if controls_current(device.capabilities) else None
        plan = self.policies[name].plan(
            PlanRequest(
                prices=curve,
                now=now,
                timezone=self.zone,
                price_threshold_eur_kwh=params.price_threshold_eur_kwh,
                top_x_charge_count=params.top_x_charge_count,
                max_current_a=max_current_a,
                options=device.policy_options if isinstance(device, PolicyOptionsSource) else {},
            )
        )
        # The cloud stops following the schedule where the known prices end (validTo), so a charger left
        # alone never charges on stale prices.
        schedule = Schedule(
            periods=plan.periods,
            source=ScheduleSource.STANDALONE,
            max_current_a=max_current_a,
            expires_at=curve.end,
        )
        return plan, schedule

    async def replan(self, reason: str) -> None:
        """Plan every device now, if standalone is in force; failures are logged and retried next time."""
        if not self._in_force():
            return
        async with self._lock:
            now = self.clock.now()
            curve = self.board.curve
            params = self._params()
            stale = curve_freshness(curve, now)
            for runtime in self._runtimes():
                await self._replan_one(runtime, curve, now, stale, params, reason)

    async def _replan_one(
        self,
        runtime: DeviceRuntime,
        curve: PriceCurve | None,
        now: datetime,
        stale: str | None,
        params: StandaloneParams,
        reason: str,
    ) -> None:
        before = runtime.plan
        if params.paused:
            runtime.plan = PlanInfo(warnings=("standalone scheduling is paused",))
            schedule: Schedule | None = None
        elif curve is None or stale is not None:
            runtime.plan = PlanInfo(warnings=(stale or "no price data yet: not charging",))
            schedule = None
        else:
            try:
                plan, schedule = self.plan_for(runtime, curve, now)
            except LookupError as exc:
                log.error("%s", exc)
                return
            self.last_plans[runtime.key] = plan
            runtime.plan = PlanInfo(
                threshold_active=plan.threshold_active,
                no_eligible_slots=plan.no_eligible_slots,
                warnings=plan.warnings,
            )
        async with runtime.lock:
            if not self._in_force():
                return
            try:
                wrote = await runtime.put_schedule(schedule)
            except DeviceError as exc:
                log.warning("%s: standalone plan not written (%s); retrying at the next re-plan", runtime.key, exc)
                return
        if wrote:
            count = len(schedule.periods) if schedule else 0
            log.info("%s: standalone plan written (%s): %d period(s)", runtime.key, reason, count)
        elif runtime.plan != before:
            await runtime.publish_status(runtime)

    async def run(self, retry_s: float = 300.0) -> None:
        """Re-plan at each local midnight, and every `retry_s` so a failed write or stale data is retried."""
        while True:
            now = self.clock.now()
            local = now.astimezone(self.zone)
            midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
            wait_s = min(retry_s, max(0.0, (midnight.astimezone(now.tzinfo) - now).total_seconds()) + 0.001)
            await self.clock.sleep(wait_s)
            await self.replan("periodic check")
