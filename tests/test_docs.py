"""The documentation stays true: generated parts are current, hooks are documented and tested, links resolve."""

from __future__ import annotations

import inspect
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from energy_agent.app.plugins import collect, get_plugin_manager
from energy_agent.config import CoreSettings, load_settings
from energy_agent.hems.topics import Topics
from energy_agent.runtime.state import AgentState, StateStore
from tools import docs_gen

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HOOK_TEST_DIRS = [ROOT / "tests", *sorted(ROOT.glob("plugins/*/tests"))]


def test_generated_docs_are_up_to_date() -> None:
    stale = docs_gen.stale_files(ROOT)
    assert not stale, (
        f"{', '.join(str(p.relative_to(ROOT)) for p in stale)} out of date: run `{docs_gen.REGENERATE}` and commit"
    )


def test_docs_gen_prints_what_it_writes_and_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert docs_gen.main(["configuration"]) == 0
    assert capsys.readouterr().out == (ROOT / docs_gen.CONFIGURATION_PAGE).read_text(encoding="utf-8")
    assert docs_gen.main(["--check"]) == 0


def test_a_changed_block_is_found_and_replaced() -> None:
    page = "intro\n<!-- hooks:start -->\nold\n<!-- hooks:end -->\nrest\n"
    assert docs_gen.read_block(page, "hooks") == "old\n"
    assert (
        docs_gen.replace_block(page, "hooks", "new\n") == "intro\n<!-- hooks:start -->\nnew\n<!-- hooks:end -->\nrest\n"
    )
    with pytest.raises(ValueError, match="exactly one"):
        docs_gen.replace_block("no markers", "hooks", "x")


# -- configuration -----------------------------------------------------------------------------------


def test_configuration_reference_names_every_core_key_and_marks_secrets() -> None:
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for name, info in CoreSettings.model_fields.items():
        assert f"`{name}`" in page, name
        for model in docs_gen._models_in(info.annotation):
            for key in model.model_fields:
                assert f"| `{name}.{key}` |" in page, f"{name}.{key}"
    secret_rows = [line for line in page.split("\n") if line.startswith("| `") and "password" in line.split("|")[1]]
    assert secret_rows and all("**Secret**" in row for row in secret_rows)


def test_environment_examples_of_the_configuration_reference_work(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    block = page.split("```sh\n", 1)[1].split("```", 1)[0]
    exports = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in block.strip().split("\n"))
    assert "ENERGY_AGENT_MQTT__PASSWORD" in exports
    for key, value in exports.items():
        monkeypatch.setenv(key, value)
    config = tmp_path / "agent.yaml"
    config.write_text(yaml.safe_dump({"chargeamps": {"email": "me@example.com", "password": "pw"}}))
    settings = load_settings(collect(get_plugin_manager()), config)
    assert settings.mqtt.host == exports["ENERGY_AGENT_MQTT__HOST"]
    assert settings.mqtt.password is not None and settings.mqtt.password.get_secret_value() == "s3cret"
    assert settings.standalone.price_threshold == 0.2
    chargeamps = settings.section("chargeamps")
    assert chargeamps.connector_ids == [1, 2] and chargeamps.email == "me@example.com"


# -- hooks -------------------------------------------------------------------------------------------


def hook_names() -> list[str]:
    return [spec.__name__ for spec in docs_gen.hook_specs()]


def test_hookspecs_are_found() -> None:
    assert "register_device_types" in hook_names() and len(hook_names()) >= 5


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_is_documented(hook: str) -> None:
    spec = next(s for s in docs_gen.hook_specs() if s.__name__ == hook)
    assert inspect.getdoc(spec), f"{hook} in energy_agent/hookspecs.py has no docstring"
    reference = docs_gen.read_block((DOCS / "writing-plugins.md").read_text(encoding="utf-8"), "hooks")
    assert f"#### {hook}\n" in reference, f"{hook} is missing from docs/writing-plugins.md: run {docs_gen.REGENERATE}"


def defined_tests(text: str) -> set[str]:
    """Names of the test functions defined in a source text."""
    return set(re.findall(r"^(?:async )?def (test_\w+)\(", text, re.MULTILINE))


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_has_a_test(hook: str) -> None:
    names: set[str] = set()
    for folder in HOOK_TEST_DIRS:
        for path in folder.rglob("test_*.py"):
            if path.name != "test_docs.py":
                names |= defined_tests(path.read_text(encoding="utf-8"))
    tested = sorted(name for name in names if hook in name)
    assert tested, f"no test is named after {hook}: add e.g. `test_hook_{hook}` under tests/ or plugins/*/tests/"


# -- the HEMS topic table ----------------------------------------------------------------------------


def test_topic_table_agrees_with_the_topics_the_agent_uses() -> None:
    document = yaml.safe_load((ROOT / docs_gen.CONTRACT_DIR / "asyncapi.yaml").read_text(encoding="utf-8"))
    addresses = {channel["address"] for channel in document["channels"].values()}
    topics = Topics("{prefix}")
    device = ("{device_type}", "{topic_id}")
    used = {
        topics.agent_availability,
        topics.controller_availability,
        topics.mode_set,
        topics.mode_result,
        topics.schedule_set(*device),
        topics.schedule_clear(*device),
        topics.schedule_result(*device),
        topics.status(*device),
        topics.capabilities(*device),
    }
    assert addresses == used
    table = docs_gen.read_block((DOCS / "hems-integration.md").read_text(encoding="utf-8"), "topics")
    assert all(f"| `{address}` |" in table for address in addresses)


# -- the state example -------------------------------------------------------------------------------


def test_state_file_example_is_what_the_agent_reads_and_writes() -> None:
    page = (DOCS / "architecture.md").read_text(encoding="utf-8")
    text = page.split("<!-- state-example -->\n```json\n", 1)[1].split("```", 1)[0]
    example = json.loads(text)
    state = AgentState.from_json(example)
    assert state.to_json() == example
    assert StateStore.encode(state).decode() == text, "the example is laid out as the agent writes the file"
    schedule = state.devices["charge-amps/1"].schedule
    assert schedule is not None and schedule.command_id == "plan-1"


# -- links -------------------------------------------------------------------------------------------

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def prose(text: str) -> str:
    """Markdown without fenced code blocks and inline code, where links are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file."""
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE):
        words = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
        slug = re.sub(r"[^\w\- ]", "", words).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


PAGES = [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_existing_files(page: Path) -> None:
    broken = []
    for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # http:, https:, mailto:
        file_part, _, anchor = target.partition("#")
        resolved = (page.parent / file_part).resolve() if file_part else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)
