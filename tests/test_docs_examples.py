"""The examples in docs/ work as written.

- Fenced `sh` and `python` blocks whose first line is `# doc-test` run, in page order, against a real agent,
  a private Mosquitto and the Charge Amps simulator. `# doc-test setup` blocks are prepended to every
  later block of their page; `# doc-test: background` blocks start a process that runs until the test ends.
- A fenced block right after a line `<!-- doc-test output -->` is the output of the example before it.
  Line by line: `…` stands for any text, a line holding only `…` for any number of lines, and an ISO
  8601 time for any time. A background process must print each of its lines, in any order.
- The examples are written for a broker on 127.0.0.1:1883 and a simulator on port 8080; the tests use
  free ports and substitute them.
- The refusal and warning tables of docs/hems-integration.md are checked against the agent's validator.
- The plugin tutorial in docs/writing-plugins.md is written out as a package and its own tests run;
  the `test_hook_*` tests below exercise every hook through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pluggy
import pytest
from typer.testing import CliRunner

from energy_agent.api.devices import Device, DeviceContext, ScheduleRestorer
from energy_agent.api.domain import DeviceCapabilities, PriceCurve
from energy_agent.api.planning import PlanRequest
from energy_agent.api.prices import parse_price_curve
from energy_agent.app.compose import build_agent
from energy_agent.app.plugins import collect, get_plugin_manager
from energy_agent.cli.main import build_app
from energy_agent.config import MqttSettings, load_settings
from energy_agent.hems.commands import CommandLimits, parse_schedule_set
from energy_agent.mqtt.bus import MqttBus
from energy_agent.testing.broker import free_port
from energy_agent.testing.clock import ManualClock
from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder
from energy_agent_chargeamps.config import ChargeAmpsConfig
from energy_agent_chargeamps.connector import HORIZON_S, MAX_PERIODS, MIN_CURRENT_A
from energy_agent_chargeamps.simulator import Fault, FaultMode
from tests.world import PUT_ROUTE, World, world

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DOC_BROKER_PORT = 1883
DOC_SIMULATOR_PORT = 8080
OUTPUT_MARKER = "<!-- doc-test output -->"
DEAD_PROXY = "http://127.0.0.1:9"
"""A proxy nobody listens on: a doc example that reaches for the internet fails instead of passing by luck."""
CLIENTS = ("mosquitto_pub", "mosquitto_sub", "mosquitto_rr")
CLIENTS_HINT = (
    "the documentation examples need the Mosquitto command-line clients ({missing} not found on PATH). "
    "Install them: `sudo apt-get install mosquitto-clients` (Debian/Ubuntu), `brew install mosquitto` (macOS)."
)
BLOCK_TIMEOUT_S = 30.0
TIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?"


# -- reading the pages -------------------------------------------------------------------------------


@dataclass
class Block:
    """A fenced code block of a page."""

    page: str
    line: int
    lang: str
    code: str
    output_marker: bool
    """True when the line before the fence is `<!-- doc-test output -->`."""

    @property
    def marker(self) -> str | None:
        """`doc-test`, `doc-test setup` or `doc-test: background` from the first line, else None."""
        first = self.code.split("\n", 1)[0].strip()
        return first.removeprefix("# ") if first.startswith("# doc-test") else None

    @property
    def where(self) -> str:
        """`page:line` for messages."""
        return f"docs/{self.page}:{self.line}"


@dataclass
class Example:
    """A doc-test block and the output documented for it."""

    block: Block
    expected: Block | None = None


def fenced_blocks(page: str) -> list[Block]:
    """Every fenced block of `docs/<page>`, in order."""
    lines = (DOCS / page).read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        match = re.fullmatch(r"```(\w*)\s*", lines[index])
        if match is None:
            index += 1
            continue
        before = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        end = lines.index("```", index + 1)
        body = "\n".join(lines[index + 1 : end])
        blocks.append(Block(page, index + 1, match.group(1), body, before.strip() == OUTPUT_MARKER))
        index = end + 1
    return blocks


def examples(page: str) -> list[Example]:
    """The doc-test blocks of a page with their documented outputs."""
    found: list[Example] = []
    for block in fenced_blocks(page):
        if block.output_marker:
            assert found and found[-1].expected is None, f"{block.where}: output block without a doc-test block"
            found[-1].expected = block
        elif block.marker is not None:
            found.append(Example(block))
    return found


# -- matching outputs --------------------------------------------------------------------------------


def _line_pattern(expected: str) -> re.Pattern[str]:
    parts = re.split(f"(…|{TIME})", expected)
    regex = "".join(".*?" if part == "…" else TIME if re.fullmatch(TIME, part) else re.escape(part) for part in parts)
    return re.compile(regex)


def lines_match(expected: list[str], actual: list[str]) -> bool:
    """True when `actual` fits `expected` (see the module docstring)."""

    @functools.cache
    def fits(i: int, j: int) -> bool:
        if i == len(expected):
            return j == len(actual)
        if expected[i] == "…":
            return any(fits(i + 1, k) for k in range(j, len(actual) + 1))
        return j < len(actual) and _line_pattern(expected[i]).fullmatch(actual[j]) is not None and fits(i + 1, j + 1)

    return fits(0, 0)


def assert_output(example: Example, output: str, *, substitute: Callable[[str], str]) -> None:
    """The documented output of `example`, if any, fits `output`."""
    if example.expected is None:
        return
    expected = substitute(example.expected.code).split("\n")
    actual = output.rstrip("\n").split("\n") if output.strip() else []
    actual = [line.rstrip() for line in actual]
    assert lines_match(expected, actual), (
        f"{example.expected.where}: the documented output does not match.\n--- documented\n"
        + "\n".join(expected)
        + "\n--- actual\n"
        + "\n".join(actual)
    )


# -- running blocks ----------------------------------------------------------------------------------


def require_clients() -> None:
    """Fail (never skip) with how to install the Mosquitto clients when one is missing."""
    missing = [name for name in CLIENTS if shutil.which(name) is None]
    if missing:
        pytest.fail(CLIENTS_HINT.format(missing=", ".join(missing)), pytrace=False)


def substitution(mqtt_port: int, simulator_port: int = DOC_SIMULATOR_PORT) -> Callable[[str], str]:
    """Replace the documented broker and simulator ports by the test's."""

    def substitute(text: str) -> str:
        text = re.sub(rf"-p {DOC_BROKER_PORT}\b", f"-p {mqtt_port}", text)
        text = text.replace(f"127.0.0.1:{DOC_BROKER_PORT}", f"127.0.0.1:{mqtt_port}")
        text = text.replace(f'"127.0.0.1", {DOC_BROKER_PORT}', f'"127.0.0.1", {mqtt_port}')
        text = re.sub(rf"--port {DOC_SIMULATOR_PORT}\b", f"--port {simulator_port}", text)
        return text.replace(f"127.0.0.1:{DOC_SIMULATOR_PORT}", f"127.0.0.1:{simulator_port}")

    return substitute


def example_env(mqtt_port: int) -> dict[str, str]:
    """The environment of a reader who ran ./scripts/setup and activated .venv; the agent's port is the test's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGY_AGENT_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["ENERGY_AGENT_MQTT__PORT"] = str(mqtt_port)
    env["ENERGY_AGENT_HEALTH__PORT"] = "0"  # free-picked: the machine may run an agent on the default port
    env["PYTHONUNBUFFERED"] = "1"
    # a reader offline: anything that tries the internet fails (loopback stays reachable)
    env.update(HTTP_PROXY=DEAD_PROXY, HTTPS_PROXY=DEAD_PROXY, http_proxy=DEAD_PROXY, https_proxy=DEAD_PROXY)
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    return env


def command_for(block: Block, code: str) -> list[str]:
    """The argv that runs a block."""
    if block.lang == "python":
        return [sys.executable, "-c", code]
    assert block.lang == "sh", f"{block.where}: doc-test blocks are sh or python, not {block.lang!r}"
    return ["bash", "-euo", "pipefail", "-c", code]


async def run_example(example: Example, code: str, *, cwd: Path, env: dict[str, str]) -> str:
    """Run one foreground block to its end; its stdout (stderr joins the failure message)."""
    process = await asyncio.create_subprocess_exec(
        *command_for(example.block, code),
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(BLOCK_TIMEOUT_S):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"{example.block.where}: did not finish within {BLOCK_TIMEOUT_S:.0f} s")
    assert process.returncode == 0, (
        f"{example.block.where}: exit code {process.returncode}\n{code}\n--- stdout\n{stdout.decode()}"
        f"\n--- stderr\n{stderr.decode()}"
    )
    return stdout.decode()


@dataclass
class Background:
    """A long-running example process and every line it printed."""

    example: Example
    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())

    async def wait_for_output(self, substitute: Callable[[str], str], timeout_s: float = 20.0) -> None:
        """Wait until the process printed every documented line (in any order)."""
        if self.example.expected is None:
            return
        wanted = [_line_pattern(line) for line in substitute(self.example.expected.code).split("\n") if line != "…"]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while not all(any(p.fullmatch(line) for line in self.lines) for p in wanted):
                    if self.process.returncode is not None:
                        break
                    await asyncio.sleep(0.05)
        missing = [p.pattern for p in wanted if not any(p.fullmatch(line) for line in self.lines)]
        assert not missing, f"{self.example.expected.where}: never printed {missing}\n" + "\n".join(self.lines)

    async def stop(self) -> int:
        """Ctrl-C, as the reader would; the exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(10):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self.reader is not None:
            await self.reader
        assert self.process.returncode is not None
        return self.process.returncode


async def start_background(example: Example, code: str, *, cwd: Path, env: dict[str, str]) -> Background:
    """Start a `# doc-test: background` block: one command, run in place of the shell."""
    commands = [line for line in code.split("\n") if line.strip() and not line.startswith("#")]
    assert len(commands) == 1, f"{example.block.where}: a background block holds one command"
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", f"exec {commands[0]}", cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=subprocess.STDOUT
    )
    background = Background(example, process)
    background.reader = asyncio.create_task(background._read())
    return background


# -- the HEMS integration guide ----------------------------------------------------------------------


@pytest.fixture
async def hems_world(broker: Broker, recorder: Recorder, tmp_path: Path) -> AsyncIterator[World]:
    """An agent in hems mode on a private broker, the simulator with a car on connector 1, the clock at now."""
    require_clients()
    async with world(broker, recorder, tmp_path, datetime.now(UTC)) as w:
        await w.start_agent()
        yield w


async def test_hems_integration_examples_run_against_a_real_agent(hems_world: World, tmp_path: Path) -> None:
    found = examples("hems-integration.md")
    assert len(found) >= 10, "the guide lost its examples"
    substitute = substitution(hems_world.broker.port)
    env = example_env(hems_world.broker.port)
    work = tmp_path / "reader"
    work.mkdir()
    setup = ""
    for example in found:
        code = substitute(example.block.code)
        if example.block.marker == "doc-test setup":
            setup += code + "\n"
            continue
        assert example.block.marker == "doc-test", f"{example.block.where}: no background blocks in this guide"
        output = await run_example(example, code if example.block.lang == "python" else setup + code, cwd=work, env=env)
        assert_output(example, output, substitute=substitute)
    # plan-1, plan-4, py-1 and the add-on's schedule reached the cloud; the repeat of plan-4 was answered from
    # memory, the half-read schedule refused
    assert [w["schedulePeriods"] != [] for w in hems_world.writes(PUT_ROUTE)] == [True, True, True, True]
    assert hems_world.agent is not None
    held = hems_world.agent.runtimes["charge-amps/1"].record.schedule
    assert held is not None and held.source_id == "battery-optimizer"
    assert hems_world.check_contracts() > 10


def table_rows(page: str, name: str) -> list[list[str]]:
    """The body rows of the Markdown table between `<!-- name:start -->` and `<!-- name:end -->`."""
    text = (DOCS / page).read_text(encoding="utf-8")
    block = text.split(f"<!-- {name}:start -->\n", 1)[1].split(f"<!-- {name}:end -->", 1)[0]
    rows = [line for line in block.strip().split("\n") if line.startswith("|")][2:]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def unquote(text: str) -> str:
    """The text inside one pair of backticks."""
    assert text.startswith("`") and text.endswith("`"), f"expected `code`, got {text!r}"
    return text[1:-1]


def message_pattern(message: str) -> re.Pattern[str]:
    """A documented message, `…` standing for any text."""
    return re.compile(".*?".join(re.escape(part) for part in message.split("…")))


NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Amsterdam")
CHARGER = CommandLimits.from_capabilities(
    DeviceCapabilities(
        min_current_a=MIN_CURRENT_A,
        max_current_a=ChargeAmpsConfig.model_fields["max_current_a"].default,
        phases=3,
        control_strategy="schedule",
        horizon_s=HORIZON_S,
        max_periods=MAX_PERIODS,
    )
)
ON_OFF = CommandLimits(min_current_a=0, max_current_a=0, horizon_s=2 * 86400)
PERIOD = {"start": "2026-11-25T12:00:00Z", "end": "2026-11-25T12:30:00Z"}
SPECIAL = {
    "(70000 bytes)": (b" " * 70000, CHARGER),
    "(the bytes FF FE)": (b"\xff\xfe", CHARGER),
    "(97 periods)": (json.dumps({"source": "hems", "periods": [PERIOD] * 97}).encode(), CHARGER),
}
AGENT_LEVEL = "any valid `set` or `clear`"


def command_of(example: str) -> tuple[bytes, CommandLimits] | None:
    """The payload and device limits of a table's example cell; None for refusals that need a running agent."""
    if example == AGENT_LEVEL:
        return None
    if example in SPECIAL:
        return SPECIAL[example]
    if example.startswith("(`") and "to a device with range 0..0 A" in example:
        return example[2 : example.index("`", 2)].encode(), ON_OFF
    return unquote(example).encode(), CHARGER


@pytest.mark.parametrize("row", table_rows("hems-integration.md", "refusals"), ids=lambda row: row[0])
def test_every_documented_refusal_is_what_the_validator_answers(row: list[str]) -> None:
    reason, example, path, message = row
    command = command_of(example)
    if command is None:
        return  # checked against a running agent below
    payload, limits = command
    parsed = parse_schedule_set(payload, now=NOW, tz=ZONE, limits=limits)
    assert parsed.schedule is None, f"{reason}: accepted"
    issues = [(e.path, e.message) for e in parsed.errors]
    assert any(p == unquote(path) and message_pattern(message).fullmatch(m) for p, m in issues), (reason, issues)


@pytest.mark.parametrize("row", table_rows("hems-integration.md", "warnings"), ids=lambda row: row[0])
def test_every_documented_warning_is_what_the_validator_answers(row: list[str]) -> None:
    case, example, path, message = row
    parsed = parse_schedule_set(unquote(example).encode(), now=NOW, tz=ZONE, limits=CHARGER)
    assert parsed.schedule is not None, f"{case}: refused with {parsed.errors}"
    issues = [(w.path, w.message) for w in parsed.warnings]
    assert (unquote(path), message) in issues, (case, issues)


async def test_refusals_that_need_a_running_agent_read_as_documented(hems_world: World) -> None:
    rows = {row[0]: row for row in table_rows("hems-integration.md", "refusals") if row[1] == AGENT_LEVEL}
    assert len(rows) == 2
    device_row = rows["the device's cloud refused the agent (403)"]
    hems_world.sim.inject(PUT_ROUTE, Fault.FORBIDDEN, mode=FaultMode.ALWAYS)
    start = hems_world.clock.now() + timedelta(hours=1)
    command = {
        "source": "hems",
        "periods": [{"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}],
    }
    result = await hems_world.command(command)
    assert result["errors"][0]["path"] == unquote(device_row[2])
    assert message_pattern(device_row[3]).fullmatch(result["errors"][0]["message"]), result
    assert (result["reason"], result["retry"]) == ("device_auth", False)
    standalone_row = rows["the agent is in standalone mode"]
    await hems_world.publish("hems/agent/operation_mode/set", "standalone")
    await hems_world.recorder.wait_for("hems/agent/operation_mode/result")
    result = await hems_world.command(command)
    assert [(e["path"], e["message"]) for e in result["errors"]] == [(unquote(standalone_row[2]), standalone_row[3])]


# -- getting started ---------------------------------------------------------------------------------


async def test_getting_started_runs_from_the_simulator_to_a_hems_command(broker: Broker, tmp_path: Path) -> None:
    require_clients()
    found = examples("getting-started.md")
    assert [e.block.marker for e in found].count("doc-test: background") == 2
    substitute = substitution(broker.port, free_port())
    env = example_env(broker.port)
    work = tmp_path / "reader"
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples")
    running: list[Background] = []
    try:
        for example in found:
            code = substitute(example.block.code)
            if example.block.marker == "doc-test: background":
                background = await start_background(example, code, cwd=work, env=env)
                running.append(background)
                await background.wait_for_output(substitute)
            else:
                output = await run_example(example, code, cwd=work, env=env)
                assert_output(example, output, substitute=substitute)
    finally:
        codes = [await background.stop() for background in reversed(running)]
        for background in running:  # shown by pytest when the test fails
            print(f"--- output of {background.example.block.where}", *background.lines, sep="\n")
    assert codes == [0, 0], "the agent and the simulator stop cleanly on Ctrl-C"
    state = json.loads((work / "state" / "state.json").read_text())
    assert state["operation_mode"] == "hems" and state["devices"]["charge-amps/1"]["last_command_id"] == "clear-1"


# -- the plugin tutorial -----------------------------------------------------------------------------

TUTORIAL_PAGE = "writing-plugins.md"
TUTORIAL_PACKAGE = "energy_agent_smartplug"


def tutorial_files() -> dict[str, str]:
    """Every block of the tutorial whose first line is `# file: PATH`, by path."""
    files = {}
    for block in fenced_blocks(TUTORIAL_PAGE):
        match = re.fullmatch(r"# file: (\S+)", block.code.split("\n", 1)[0])
        if match:
            assert match.group(1) not in files, f"{block.where}: {match.group(1)} twice"
            files[match.group(1)] = block.code + "\n"
    return files


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tutorial written out as a package, importable for the duration of the module."""
    root = tmp_path_factory.mktemp("energy-agent-smartplug")
    for path, text in tutorial_files().items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    sys.path.insert(0, str(root / "src"))
    try:
        yield root
    finally:
        sys.path.remove(str(root / "src"))
        for name in [m for m in sys.modules if m == TUTORIAL_PACKAGE or m.startswith(f"{TUTORIAL_PACKAGE}.")]:
            del sys.modules[name]


def test_tutorial_files_make_the_package_it_describes(tutorial: Path) -> None:
    pyproject = tomllib.loads((tutorial / "pyproject.toml").read_text())
    entry_points = pyproject["project"]["entry-points"]["energy_agent"]
    assert entry_points == {"smartplug": f"{TUTORIAL_PACKAGE}.plugin", "daynight": f"{TUTORIAL_PACKAGE}.daynight"}
    for module in entry_points.values():
        assert (tutorial / "src" / (module.replace(".", "/") + ".py")).is_file(), module
    assert (tutorial / "tests" / "test_smartplug.py").is_file()


def run_tool(argv: list[str], cwd: Path, **env: str) -> None:
    """Run a tool to the end; fail with its output."""
    done = subprocess.run(argv, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}"


def test_tutorial_package_passes_its_own_tests(tutorial: Path) -> None:
    run_tool([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], tutorial, PYTHONPATH="src")


def test_tutorial_package_is_ruff_clean_and_mypy_strict(tutorial: Path) -> None:
    bin_dir = Path(sys.executable).parent
    run_tool([str(bin_dir / "ruff"), "check", "--no-cache", "."], tutorial)
    run_tool([str(bin_dir / "ruff"), "format", "--no-cache", "--check", "."], tutorial)
    mypy = [str(bin_dir / "mypy"), "--strict", "--cache-dir", str(tutorial / ".mypy_cache"), "src", "tests"]
    run_tool(mypy, tutorial, MYPYPATH=f"src{os.pathsep}{ROOT}")


@pytest.fixture
def tutorial_pm(tutorial: Path) -> pluggy.PluginManager:
    """A plugin manager with the built-ins and the tutorial's two plugin modules."""
    pm = get_plugin_manager(load_entry_points=False)
    for name, module in (("smartplug", "plugin"), ("daynight", "daynight")):
        pm.register(importlib.import_module(f"{TUTORIAL_PACKAGE}.{module}"), name=name)
    return pm


TUTORIAL_CONFIG = {
    "state_dir": "state",
    "smartplug": {"plugs": [{"id": "dishwasher", "host": "192.168.1.40"}, {"id": "boiler", "host": "192.168.1.41"}]},
    "prices": {"source": "day_night", "day_eur_kwh": 0.31, "night_eur_kwh": 0.22},
}


async def test_hook_register_device_types(tutorial_pm: pluggy.PluginManager, tmp_path: Path) -> None:
    registry = collect(tutorial_pm)
    settings = load_settings(registry, data={**TUTORIAL_CONFIG, "state_dir": str(tmp_path)}, environ=False)
    agent = build_agent(settings, registry, clock=ManualClock(NOW))
    devices = await agent.build_devices(registry.device_types["smart-plug"])
    assert [(d.device_type, d.topic_id) for d in devices] == [("smart-plug", "dishwasher"), ("smart-plug", "boiler")]
    assert all(isinstance(d, Device) and isinstance(d, ScheduleRestorer) for d in devices)
    assert registry.device_types["smart-plug"].default_policy == "cheapest-slots"


def test_hook_register_standalone_policies(tutorial_pm: pluggy.PluginManager) -> None:
    policy = collect(tutorial_pm).policies["cheapest-slots"]
    curve = parse_price_curve(json.loads((ROOT / "examples" / "prices.json").read_text()), where="prices.json")
    request = PlanRequest(prices=curve, now=NOW, timezone=ZONE, price_threshold_eur_kwh=0.25, top_x_charge_count=16)
    plan = policy.plan(request)
    assert sum(p.duration_s for p in plan.periods) == 16 * 15 * 60
    assert not plan.no_eligible_slots


async def test_hook_register_price_sources(tutorial_pm: pluggy.PluginManager) -> None:
    registry = collect(tutorial_pm)
    settings = load_settings(registry, data=TUTORIAL_CONFIG, environ=False)
    config = settings.prices  # type: ignore[attr-defined]
    curves: list[PriceCurve] = []

    class Sink:
        async def update(self, curve: PriceCurve) -> None:
            curves.append(curve)

        def error(self, message: str) -> None:
            raise AssertionError(message)

    clock = ManualClock(NOW)
    context = DeviceContext(
        clock=clock, timezone=ZONE, state_dir=Path("state"), mqtt=MqttBus(MqttSettings(), availability_topic="x")
    )
    source = registry.price_sources["day_night"].create(config, context)
    task = asyncio.create_task(source.run(Sink()))
    await clock.advance(86400)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert len(curves) == 2 and len(curves[0].slots) == 48
    assert curves[1].slots[0].start == datetime(2026, 11, 25, 23, 0, tzinfo=UTC)  # local midnight, a day later


async def test_hook_register_config_sections(tutorial: Path, tmp_path: Path) -> None:
    [example] = [e for e in examples(TUTORIAL_PAGE) if "register_config_sections" in e.block.code]
    output = await run_example(example, example.block.code, cwd=tmp_path, env=example_env(DOC_BROKER_PORT))
    assert_output(example, output, substitute=lambda text: text)


def test_hook_register_commands(tutorial_pm: pluggy.PluginManager) -> None:
    app = build_app(tutorial_pm)
    result = CliRunner().invoke(app, ["smartplug", "--help"])
    assert result.exit_code == 0 and "status" in result.output
    listed = json.loads(CliRunner().invoke(app, ["plugins", "--json"]).output)
    hooks = {p["name"]: p["hooks"] for p in listed["plugins"]}
    assert "register_commands" in hooks["smartplug"] and hooks["daynight"] == ["register_price_sources"]
