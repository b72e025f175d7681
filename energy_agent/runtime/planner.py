"""Standalone planning at run time: prices in, a policy's plan per device, written through the device's queue.

Re-plans when the price curve changes, when the local day changes, every `retry_s` (so a failed write or
stale prices are retried), when a device is back online (a charger that connects after the agent planned),
when a standalone setting changes, and when standalone takes over (a mode switch or the HEMS fallback). A plan
that equals the schedule in force makes no device write (the runtime compares whole plans). Only planning runs
here; the policies themselves are pure (`energy_agent.standalone`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from energy_agent.api.clock import Clock
from energy_agent.api.devices import DeviceType, PolicyOptionsSource, controls_current
from energy_agent.api.domain import PriceCurve, Schedule, ScheduleSource
from energy_agent.api.errors import DeviceError
from energy_agent.api.planning import Plan, PlanRequest, StandalonePolicy
from energy_agent.config import StandaloneSettings
from energy_agent.prices.board import PriceBoard, curve_freshness
from energy_agent.runtime.devices import DeviceRuntime, PlanInfo
from energy_agent.runtime.events import AgentChanged, DeviceOnline, Events
from energy_agent.runtime.modes import ModeControl

log = logging.getLogger(__name__)

REPLAN_ON = frozenset({"fallback"})
"""AgentChanged reasons that call for a new plan (mode and settings commands re-plan themselves: `AgentCommands`)."""


class StandalonePlanner:
    """Plans for every device whose standalone planning is in force (see the module docstring)."""

    def __init__(
        self,
        *,
        clock: Clock,
        zone: ZoneInfo,
        board: PriceBoard,
        policies: Mapping[str, StandalonePolicy],
        device_types: Mapping[str, DeviceType],
        modes: ModeControl,
        runtimes: Callable[[], Iterable[DeviceRuntime]],
        events: Events,
    ) -> None:
        self.clock = clock
        self.zone = zone
        self.board = board
        self.policies = policies
        self._device_types = device_types
        self._modes = modes
        self._runtimes = runtimes
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.last_plans: dict[str, Plan] = {}
        board.subscribe(self._on_curve)
        events.subscribe(AgentChanged, self._on_agent_change)
        events.subscribe(DeviceOnline, self._on_device_online)

    async def _on_curve(self, curve: PriceCurve) -> None:
        await self.replan("new prices")

    def _on_agent_change(self, event: AgentChanged) -> None:
        if event.reason in REPLAN_ON:
            self._replan_soon(event.reason)

    def _on_device_online(self, event: DeviceOnline) -> None:
        self._replan_soon(f"{event.key} back online")

    def _replan_soon(self, reason: str) -> None:
        task = asyncio.get_running_loop().create_task(self.replan(reason), name="replan")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def policy_name(self, runtime: DeviceRuntime) -> str | None:
        """The standalone policy that plans this device; None when its type names none."""
        device_type = self._device_types.get(runtime.device.device_type)
        return device_type.default_policy if device_type else None

    def plan_for(
        self, runtime: DeviceRuntime, curve: PriceCurve, now: datetime, params: StandaloneSettings
    ) -> tuple[Plan, Schedule]:
        """The plan and the schedule to put in force for one device."""
        name = self.policy_name(runtime)
        if name is None or name not in self.policies:
            raise LookupError(f"no standalone policy for {runtime.key} (wanted {name!r})")
        device = runtime.device
        max_current_a = device.capabilities.max_current_a if controls_current(device.capabilities) else None
        plan = self.policies[name].plan(
            PlanRequest(
                prices=curve,
                now=now,
                timezone=self.zone,
                price_threshold_eur_kwh=params.price_threshold,
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
        if not self._modes.standalone_in_force:
            return
        async with self._lock:
            now = self.clock.now()
            curve = self.board.curve
            params = self._modes.standalone
            stale = curve_freshness(curve, now)
            writes = [self._replan_one(runtime, curve, now, stale, params, reason) for runtime in self._runtimes()]
            await asyncio.gather(*writes)

    def _replan_one(
        self,
        runtime: DeviceRuntime,
        curve: PriceCurve | None,
        now: datetime,
        stale: str | None,
        params: StandaloneSettings,
        reason: str,
    ) -> asyncio.Future[None]:
        """Work out the plan now; queue its write behind the device's earlier jobs."""
        before = runtime.plan
        schedule: Schedule | None = None
        if params.paused:
            plan_info = PlanInfo(warnings=("standalone scheduling is paused",))
        elif curve is None or stale is not None:
            plan_info = PlanInfo(warnings=(stale or "no price data yet: not charging",))
        else:
            try:
                plan, schedule = self.plan_for(runtime, curve, now, params)
            except LookupError as exc:
                log.error("%s", exc)
                done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                done.set_result(None)
                return done
            self.last_plans[runtime.key] = plan
            plan_info = PlanInfo(plan.threshold_active, plan.no_eligible_slots, plan.warnings)

        async def write() -> None:
            if not self._modes.standalone_in_force:
                return  # a mode command arrived since: the HEMS decides now
            runtime.plan = plan_info
            try:
                wrote = await runtime.put_schedule(schedule)
            except DeviceError as exc:
                log.warning("%s: standalone plan not written (%s); retrying at the next re-plan", runtime.key, exc)
                return
            if wrote:
                count = len(schedule.periods) if schedule else 0
                log.info("%s: standalone plan written (%s): %d period(s)", runtime.key, reason, count)
            elif plan_info != before:
                runtime.changed()

        return asyncio.ensure_future(runtime.submit(write))

    async def run(self, retry_s: float = 300.0) -> None:
        """Re-plan at each local midnight, and every `retry_s` so a failed write or stale data is retried."""
        while True:
            now = self.clock.now()
            local = now.astimezone(self.zone)
            midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
            wait_s = min(retry_s, max(0.0, (midnight.astimezone(now.tzinfo) - now).total_seconds()) + 0.001)
            await self.clock.sleep(wait_s)
            await self.replan("periodic check")
