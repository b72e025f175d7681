"""Standalone planning at run time: prices in, a policy's plan per device, written through the device's queue.

Re-plans when the price curve changes, when the local day changes, every `retry_s` (so a failed write or
stale prices are retried), when a device is back online (a charger that connects after the agent planned),
when a standalone setting changes, and when standalone takes over (a mode switch or the HEMS fallback).
Under the `ready-by` policy also when a car is plugged in or unplugged, when the session's energy has grown
by `SESSION_STEP_KWH` since the last plan, when the state of charge changes, and when the departure passes.

A plan that asks the device for what the schedule in force asks from now on makes no device write: periods
that already ended do not count, nor an end that moved by a minute or less (the ready-by rule's own
rounding; without this, every re-plan during the last, partly used slot would move it by seconds). "Charge
now" (`charge_now`) replaces the plan with full power until the car is unplugged.
Only planning runs here; the policies themselves are pure (`energy_agent.standalone`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from energy_agent.api.clock import Clock, sleep_or_until
from energy_agent.api.devices import DeviceType, PolicyOptionsSource, controls_current
from energy_agent.api.domain import Period, PriceCurve, Schedule, ScheduleSource, merge_periods
from energy_agent.api.errors import DeviceError
from energy_agent.api.planning import DEFAULT_STANDALONE_POLICY, Plan, PlanRequest, StandalonePolicy
from energy_agent.config import StandaloneSettings
from energy_agent.prices.board import PriceBoard, curve_freshness
from energy_agent.runtime.charge_need import PLUGGED_STATES, ready_by_inputs, session_energy
from energy_agent.runtime.devices import DeviceRuntime, PlanInfo
from energy_agent.runtime.events import AgentChanged, DeviceChanged, DeviceOnline, Events
from energy_agent.runtime.modes import ModeControl
from energy_agent.standalone.ready_by import POLICY_NAME as READY_BY

log = logging.getLogger(__name__)

REPLAN_ON = frozenset({"fallback"})
"""AgentChanged reasons that call for a new plan (mode and settings commands re-plan themselves: `AgentCommands`)."""
SESSION_STEP_KWH = 0.5
"""Ready-by: re-plan once the session's energy differs this much from the energy the plan was made with."""
CHARGE_NOW_MAX = timedelta(hours=24)
""""Charge now" holds at most this long (a car plugged in for a day is full)."""
ROUNDING = timedelta(minutes=1)
"""The ready-by rule rounds the last part up to whole minutes: an end moved by this much or less is not worth a
device write."""


def _from_now(schedule: Schedule, now: datetime) -> list[Period]:
    return [Period(max(p.start, now), p.end, p.max_current_a) for p in schedule.periods if p.end > now]


def same_from_now(current: Schedule | None, new: Schedule | None, now: datetime) -> bool:
    """`new` asks the device for what `current` asks from `now` on (see the module docstring)."""
    if current is None or new is None or current.source is not new.source:
        return False
    if current.max_current_a != new.max_current_a or current.expires_at != new.expires_at:
        return False
    held, wanted = _from_now(current, now), _from_now(new, now)
    return len(held) == len(wanted) and all(
        (a.start, a.max_current_a) == (b.start, b.max_current_a) and abs(a.end - b.end) <= ROUNDING
        for a, b in zip(held, wanted, strict=True)
    )


def with_history(current: Schedule | None, new: Schedule, now: datetime) -> Schedule:
    """`new` from `now` on, after what the standalone schedule in force held before `now`: a ready-by plan starts at
    now, and the part already run stays on record (it is the energy an on/off device has delivered)."""
    if current is None or current.source is not ScheduleSource.STANDALONE:
        return new
    past = [Period(p.start, min(p.end, now), p.max_current_a) for p in current.periods if p.start < now]
    return replace(new, periods=merge_periods([*past, *_from_now(new, now)]))


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
        self.soc_percent: float | None = None
        """The car's latest state of charge (`standalone.soc_entity` / `soc_topic`); None before the first."""
        self._watched: dict[str, DeviceRuntime] = {}
        """Devices whose plug state and session energy matter: planned by energy, or charging now."""
        self._plugged: dict[str, bool] = {}
        self._planned_session_kwh: dict[str, float] = {}
        self._departure_changed = asyncio.Event()
        self.next_departure: datetime | None = None
        """The earliest departure the ready-by plans in force are made for (the planner re-plans when it passes)."""
        board.subscribe(self._on_curve)
        events.subscribe(AgentChanged, self._on_agent_change)
        events.subscribe(DeviceChanged, self._on_device_change)
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

    def _on_device_change(self, event: DeviceChanged) -> None:
        """Plug-in, unplug and the session's energy call for a new ready-by plan; an unplug ends "charge now"."""
        runtime = self._watched.get(event.key)  # a dict lookup: this runs for every status change of every device
        if runtime is None or runtime.status is None:
            return
        plugged = runtime.status.state in PLUGGED_STATES
        was = self._plugged.get(runtime.key)
        self._plugged[runtime.key] = plugged
        if was is not None and plugged != was:
            if not plugged and runtime.record.charge_now_since is not None:
                log.info("%s: the car was unplugged: charge now ends", runtime.key)
                runtime.record.charge_now_since = None
                runtime.saver.changed()
            if self._plans_by_energy(runtime) or not plugged:
                self._replan_soon("car plugged in" if plugged else "car unplugged")
            return
        session = session_energy(runtime.status)
        planned = self._planned_session_kwh.get(runtime.key)
        if session is not None and planned is not None and abs(session - planned) >= SESSION_STEP_KWH:
            self._planned_session_kwh[runtime.key] = session  # one re-plan per step, not one per reading
            self._replan_soon("session energy")

    def _watch(self, runtime: DeviceRuntime) -> None:
        # an on/off load is not watched: running is not a car plugged in, and it meters no session
        charger = controls_current(runtime.device.capabilities)
        if charger and (runtime.record.charge_now_since is not None or self._plans_by_energy(runtime)):
            if runtime.key not in self._watched and runtime.status is not None:
                self._plugged[runtime.key] = runtime.status.state in PLUGGED_STATES
            self._watched[runtime.key] = runtime
        else:
            self._watched.pop(runtime.key, None)

    def _plans_by_energy(self, runtime: DeviceRuntime) -> bool:
        return self._modes.standalone_in_force and self.policy_name(runtime) == READY_BY

    def soc_changed(self, soc_percent: float) -> None:
        """A new state-of-charge reading: the energy a ready-by plan needs may have changed."""
        if soc_percent != self.soc_percent:
            self.soc_percent = soc_percent
            if any(self._plans_by_energy(r) for r in self._runtimes()):
                self._replan_soon("state of charge")

    def policy_name(self, runtime: DeviceRuntime, params: StandaloneSettings | None = None) -> str | None:
        """The standalone policy that plans this device; None when its type names none.

        A device's own `policy` option wins; a device type planned by the proposal's rule follows
        `standalone.policy`; any other keeps its type's policy.
        """
        device = runtime.device
        options = device.policy_options if isinstance(device, PolicyOptionsSource) else {}
        own = options.get("policy")
        if isinstance(own, str):
            return own
        device_type = self._device_types.get(device.device_type)
        if device_type is None:
            return None
        if device_type.default_policy == DEFAULT_STANDALONE_POLICY:
            return (params or self._modes.standalone).policy
        return device_type.default_policy

    def plan_for(
        self, runtime: DeviceRuntime, curve: PriceCurve, now: datetime, params: StandaloneSettings
    ) -> tuple[Plan, Schedule]:
        """The plan and the schedule to put in force for one device."""
        name = self.policy_name(runtime, params)
        if name is None or name not in self.policies:
            raise LookupError(f"no standalone policy for {runtime.key} (wanted {name!r})")
        device = runtime.device
        max_current_a = device.capabilities.max_current_a if controls_current(device.capabilities) else None
        request = PlanRequest(
            prices=curve,
            now=now,
            timezone=self.zone,
            price_threshold_eur_kwh=params.price_threshold,
            top_x_charge_count=params.top_x_charge_count,
            max_current_a=max_current_a,
            options=device.policy_options if isinstance(device, PolicyOptionsSource) else {},
        )
        if name == READY_BY:
            inputs = ready_by_inputs(
                params,
                device,
                runtime.status,
                now=now,
                zone=self.zone,
                soc_percent=self.soc_percent,
                schedule=runtime.schedule,
            )
            self._planned_session_kwh[runtime.key] = inputs.session_energy_kwh or 0.0
            request = replace(
                request,
                price_threshold_eur_kwh=inputs.price_threshold_eur_kwh,
                ready_by=inputs.ready_by,
                energy_needed_kwh=inputs.energy_needed_kwh,
                power_kw=inputs.power_kw,
            )
        plan = self.policies[name].plan(request)
        # The cloud stops following the schedule where the known prices end (validTo), so a charger left
        # alone never charges on stale prices.
        schedule = Schedule(
            periods=plan.periods,
            source=ScheduleSource.STANDALONE,
            max_current_a=max_current_a,
            expires_at=curve.end,
        )
        return plan, schedule

    def charge_now_schedule(self, runtime: DeviceRuntime, now: datetime) -> Schedule | None:
        """Full power from the press until the car is unplugged (at most `CHARGE_NOW_MAX`); None when not pressed,
        and "charge now" ends once that time has passed."""
        since = runtime.record.charge_now_since
        if since is None:
            return None
        until = since + CHARGE_NOW_MAX
        if now >= until:
            log.info("%s: charge now ends after %s", runtime.key, CHARGE_NOW_MAX)
            runtime.record.charge_now_since = None
            runtime.saver.changed()
            return None
        capabilities = runtime.device.capabilities
        max_current_a = capabilities.max_current_a if controls_current(capabilities) else None
        return Schedule((Period(since, until, max_current_a),), ScheduleSource.STANDALONE, max_current_a, until)

    def set_charge_now(self, runtime: DeviceRuntime, on: bool) -> None:
        """Start or end "charge now" on one device (the caller re-plans); ValueError when it cannot start."""
        if on == (runtime.record.charge_now_since is not None):
            return
        if on and not self._modes.standalone_in_force:
            raise ValueError("charge now works while the agent plans (standalone mode); in hems mode the HEMS decides")
        status = runtime.status
        if on and status is not None and status.online and status.state not in PLUGGED_STATES:
            raise ValueError(f"no car is plugged in at {runtime.key}")
        runtime.record.charge_now_since = self.clock.now() if on else None
        runtime.saver.changed()
        self._watch(runtime)
        log.info("%s: charge now %s", runtime.key, "starts: full power until the car is unplugged" if on else "ends")

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
            departures = [plan.energy.ready_by for plan in self.last_plans.values() if plan.energy is not None]
            departure = min((d for d in departures if d > now), default=None)
            if departure != self.next_departure:
                self.next_departure = departure
                self._departure_changed.set()

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
        self._watch(runtime)
        schedule: Schedule | None = self.charge_now_schedule(runtime, now)
        if schedule is not None:
            plan_info = PlanInfo(warnings=("charge now: charging at full power until the car is unplugged",))
        elif params.paused:
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
            except ValueError as exc:  # a device's own ready-by input the policy cannot use
                self.last_plans.pop(runtime.key, None)
                plan_info = PlanInfo(warnings=(f"not planned: {exc}",))
            else:
                self.last_plans[runtime.key] = plan
                plan_info = PlanInfo(plan.threshold_active, plan.no_eligible_slots, plan.warnings, plan.energy)
                if plan.energy is not None:
                    schedule = with_history(runtime.schedule, schedule, now)

        async def write() -> None:
            if not self._modes.standalone_in_force:
                return  # a mode command arrived since: the HEMS decides now
            runtime.plan = plan_info
            wanted = schedule
            if same_from_now(runtime.schedule, wanted, self.clock.now()):
                wanted = runtime.record.schedule  # asks for the same from now on: no device write
            try:
                wrote = await runtime.put_schedule(wanted)
            except DeviceError as exc:
                log.warning("%s: standalone plan not written (%s); retrying at the next re-plan", runtime.key, exc)
                return
            if wrote:
                count = len(wanted.periods) if wanted else 0
                log.info("%s: standalone plan written (%s): %d period(s)", runtime.key, reason, count)
            elif plan_info != before:
                runtime.changed()

        return asyncio.ensure_future(runtime.submit(write))

    async def run(self, retry_s: float = 300.0) -> None:
        """Re-plan at each local midnight, when a ready-by departure passes, and every `retry_s` so a failed write
        or stale data is retried."""
        while True:
            now = self.clock.now()
            local = now.astimezone(self.zone)
            midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
            moments = [midnight.astimezone(now.tzinfo)]
            if self.next_departure is not None:
                moments.append(self.next_departure)
            wait_s = min(retry_s, max(0.0, (min(moments) - now).total_seconds()) + 0.001)
            self._departure_changed.clear()
            await sleep_or_until(self.clock, wait_s, self._departure_changed)
            if not self._departure_changed.is_set():  # else: a new departure to wait for, not a reason to plan
                await self.replan("periodic check")
