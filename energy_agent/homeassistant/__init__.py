"""Home Assistant: MQTT discovery of the agent and its devices, the controls, and the app's options.

`bridge.HomeAssistantBridge` is what the agent runs; `entities` describes every entity as data,
`discovery` turns those descriptions into discovery payloads (pure functions), `controls` parses the
commands Home Assistant sends, and `options` maps the Home Assistant app's `options.json` to a config
document.
"""
