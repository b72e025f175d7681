"""Configuration: YAML + environment, per-key errors, plugin sections, secrets never printed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from energy_agent.api.errors import ConfigError
from energy_agent.app.plugins import collect, get_plugin_manager
from energy_agent.cli.main import build_app
from energy_agent.config import load_settings
from tests import fake_plugin


@pytest.fixture
def registry():  # type: ignore[no-untyped-def]
    pm = get_plugin_manager(load_entry_points=False)
    pm.register(fake_plugin, name="fake")
    try:
        yield collect(pm)
    finally:
        pm.unregister(name="fake")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "energy-agent.yaml"
    path.write_text(text)
    return path


def problems(registry, path: Path) -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as info:
        load_settings(registry, path, environ=False)
    return info.value.problems


def test_defaults_match_the_proposal(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(registry, write(tmp_path, ""), environ=False)
    assert settings.operation_mode == "standalone"
    assert settings.standalone.price_threshold == 0.25
    assert settings.standalone.top_x_charge_count == 16
    assert settings.mqtt.hems_prefix == "hems"
    assert settings.mqtt.discovery_prefix == "homeassistant"
    assert settings.hems.fallback == "none"
    assert settings.section("fake") is None


def test_every_problem_is_one_line_naming_its_key(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(
        tmp_path,
        "operation_mode: hemss\ntimezone: Europe/Amsterdm\nmqtt: {port: 70000, hots: x}\n"
        "standalone: {top_x_charge_count: 0}\nfake: {max_current_a: abc}\nbogus: 1\n",
    )
    found = problems(registry, path)
    assert found == [
        "operation_mode: Input should be 'standalone' or 'hems' (got 'hemss')",
        "timezone: unknown IANA time zone 'Europe/Amsterdm' (did you mean 'Europe/Amsterdam'?)",
        "mqtt.port: Input should be less than or equal to 65535 (got 70000)",
        "mqtt.hots: unknown key; did you mean 'host'?",
        "standalone.top_x_charge_count: Input should be greater than or equal to 1 (got 0)",
        "fake.max_current_a: Input should be a valid number, unable to parse string as a number (got 'abc')",
        "bogus: unknown key",
    ]


def test_secret_values_never_appear_in_errors(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    found = problems(registry, write(tmp_path, "mqtt: {password: [hunter2-secret]}\n"))
    assert len(found) == 1 and found[0].startswith("mqtt.password:")
    assert "hunter2" not in found[0]


def test_yaml_syntax_error_names_the_line(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    found = problems(registry, write(tmp_path, "mqtt:\n  host: [unclosed\n"))
    assert "not valid YAML at line" in found[0]


def test_missing_file(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert problems(registry, tmp_path / "nope.yaml") == [f"config file {tmp_path / 'nope.yaml'}: not found"]


def test_environment_overrides_file_with_nesting(registry, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "mqtt: {host: from-file, port: 1884}\nstandalone: {price_threshold: 0.3}\n")
    monkeypatch.setenv("ENERGY_AGENT_MQTT__HOST", "from-env")
    monkeypatch.setenv("ENERGY_AGENT_STANDALONE__PRICE_THRESHOLD", "0.2")
    monkeypatch.setenv("ENERGY_AGENT_FAKE__TOPIC_IDS", '["a", "b"]')
    settings = load_settings(registry, path)
    assert settings.mqtt.host == "from-env"
    assert settings.mqtt.port == 1884
    assert settings.standalone.price_threshold == 0.2
    assert settings.section("fake").topic_ids == ["a", "b"]


def test_config_path_from_environment(registry, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ENERGY_AGENT_CONFIG", str(write(tmp_path, "operation_mode: hems\n")))
    assert load_settings(registry).operation_mode == "hems"


def test_check_config_masks_secrets_and_exits_2_on_errors(tmp_path: Path) -> None:
    app = build_app(get_plugin_manager())
    runner = CliRunner()
    good = write(tmp_path, "mqtt: {username: bob, password: hunter2-secret}\n")
    result = runner.invoke(app, ["check-config", "--config", str(good)])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    assert "password: '**********'" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("mqtt: {port: -1, password: hunter2-secret, tls: maybe}\n")
    result = runner.invoke(app, ["check-config", "--config", str(bad)])
    assert result.exit_code == 2
    assert "hunter2" not in result.output
    assert "error: mqtt.port: Input should be greater than or equal to 1 (got -1)" in result.output
    assert "error: mqtt.tls:" in result.output
