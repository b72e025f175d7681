"""The composition root: the one place that builds the agent's parts and wires them.

Parts depend on what they are handed (a bus, a clock, the mode control, a view), never on the agent; they tell
each other about changes through `Events`. Read this function to see the whole agent at once.
"""

from __future__ import annotations

import asyncio

from energy_agent.api.clock import Clock, SystemClock
from energy_agent.api.devices import DeviceContext
from energy_agent.api.homeassistant import HomeAssistantConnection
from energy_agent.api.metrics import Metrics
from energy_agent.api.prices import PriceSource
from energy_agent.app.plugins import Registry
from energy_agent.config import CoreSettings
from energy_agent.hems.payloads import AgentFacts
from energy_agent.hems.topics import Topics
from energy_agent.homeassistant.bridge import HomeAssistantBridge
from energy_agent.mqtt.bus import MqttBus
from energy_agent.prices.board import PriceBoard
from energy_agent.runtime.agent import Agent
from energy_agent.runtime.agent_commands import AgentCommands
from energy_agent.runtime.command_log import CommandLog
from energy_agent.runtime.devices import DeviceRuntime
from energy_agent.runtime.events import Events
from energy_agent.runtime.hems_commands import HemsCommands
from energy_agent.runtime.hems_link import HemsLink
from energy_agent.runtime.modes import ModeControl
from energy_agent.runtime.planner import StandalonePlanner
from energy_agent.runtime.price_watch import PriceWatch
from energy_agent.runtime.publisher import StatusPublisher
from energy_agent.runtime.readback import ReadBack
from energy_agent.runtime.soc import SocReader
from energy_agent.runtime.state import StateSaver, StateStore
from energy_agent.runtime.view import DiscoveryMemory, RuntimeView
from energy_agent.secrets import masker_for
from energy_agent.web.health import HealthServer
from energy_agent.web.server import WebServer


def build_agent(
    settings: CoreSettings, registry: Registry, *, clock: Clock | None = None, bus: MqttBus | None = None
) -> Agent:
    """An agent for `settings` with the plugins' registrations; `await agent.run(stop)` runs it."""
    clock = clock or SystemClock()
    zone = settings.zone
    events = Events()
    topics = Topics(settings.mqtt.hems_prefix)
    bus = bus or MqttBus(settings.mqtt, availability_topic=topics.agent_availability, masker=masker_for(settings))
    store = StateStore(settings.state_dir, clock)
    state = store.load()
    saver = StateSaver(store, state)
    modes = ModeControl(settings, state, saver, events)
    runtimes: dict[str, DeviceRuntime] = {}
    metrics = Metrics()
    context = DeviceContext(
        clock=clock,
        timezone=zone,
        state_dir=settings.state_dir,
        mqtt=bus,
        sections={name: settings.section(name) for name in registry.config_sections},
        metrics=metrics,
    )
    link = HemsLink(
        bus=bus, topic=topics.controller_availability, clock=clock, settings=settings.hems, modes=modes, events=events
    )
    prices = getattr(settings, "prices", None)
    board = PriceBoard(clock, source=prices.source if prices is not None else None, zone=zone)
    planner = StandalonePlanner(
        clock=clock,
        zone=zone,
        board=board,
        policies=registry.policies,
        device_types=registry.device_types,
        modes=modes,
        runtimes=runtimes.values,
        events=events,
    )
    price_watch = PriceWatch(board=board, clock=clock, zone=zone, events=events)
    hems = HemsCommands(
        bus=bus, topics=topics, clock=clock, zone=zone, modes=modes, link=link, saver=saver, events=events
    )
    commands = AgentCommands(
        bus=bus, topics=topics, modes=modes, planner=planner, hems=hems, runtimes=runtimes.values, events=events
    )
    publisher = StatusPublisher(
        bus=bus,
        topics=topics,
        clock=clock,
        runtimes=runtimes,
        agent_facts=lambda: AgentFacts(modes.mode, link.hems_connected, zone, price_watch.report.warnings),
        events=events,
    )
    started = asyncio.Event()
    command_log = CommandLog(clock, events)
    view = RuntimeView(
        settings=settings,
        device_types=registry.device_types,
        runtimes=runtimes,
        modes=modes,
        link=link,
        hems=hems,
        planner=planner,
        bus=bus,
        store=store,
        board=board,
        metrics=metrics,
        status_of=publisher.status_of,
        started=started,
        command_log=command_log,
    )
    bridge = HomeAssistantBridge(
        view=view,
        bus=bus,
        topics=topics,
        discovery_prefix=settings.mqtt.discovery_prefix,
        commands=commands,
        memory=DiscoveryMemory(state, saver),
        events=events,
    )
    agent = Agent(
        settings=settings,
        device_types=registry.device_types,
        clock=clock,
        events=events,
        bus=bus,
        state=state,
        saver=saver,
        modes=modes,
        link=link,
        board=board,
        planner=planner,
        hems=hems,
        commands=commands,
        readback=ReadBack(settings.read_back, modes, clock),
        context=context,
        runtimes=runtimes,
        view=view,
        started=started,
        price_source=_price_source(settings, registry, context),
        services=[price_watch, bridge],
    )
    if settings.health.enabled:
        agent.services.append(HealthServer(view, settings))
    if settings.web.enabled:
        agent.services.append(WebServer(view, settings, commands=commands, events=events, clock=clock))
    standalone = settings.standalone
    if standalone.soc_topic is not None or standalone.soc_entity is not None:
        connection = prices if isinstance(prices, HomeAssistantConnection) else None
        agent.services.append(
            SocReader(standalone, bus=bus, clock=clock, on_reading=planner.soc_changed, connection=connection)
        )
    return agent


def _price_source(settings: CoreSettings, registry: Registry, context: DeviceContext) -> PriceSource | None:
    prices = getattr(settings, "prices", None)
    if prices is None:
        return None
    return registry.price_sources[prices.source].create(prices, context)
