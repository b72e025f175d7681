#!/usr/bin/with-contenv bashio
# shellcheck shell=bash
# Start the agent from the app's options. The broker comes from the Supervisor's MQTT service (the
# options may override it); credentials travel in the environment, never in the log.
set -euo pipefail

if bashio::services.available "mqtt"; then
    HA_MQTT_HOST="$(bashio::services mqtt "host")"
    HA_MQTT_PORT="$(bashio::services mqtt "port")"
    HA_MQTT_USERNAME="$(bashio::services mqtt "username")"
    HA_MQTT_PASSWORD="$(bashio::services mqtt "password")"
    HA_MQTT_SSL="$(bashio::services mqtt "ssl")"
    export HA_MQTT_HOST HA_MQTT_PORT HA_MQTT_USERNAME HA_MQTT_PASSWORD HA_MQTT_SSL
    bashio::log.info "MQTT service: ${HA_MQTT_HOST}:${HA_MQTT_PORT}"
else
    bashio::log.warning "no MQTT service from the Supervisor; using the mqtt_* options"
fi

LOG_LEVEL="$(bashio::config 'log_level' 'info')"
bashio::log.info "starting energy-agent (log level ${LOG_LEVEL})"
exec energy-agent run --ha-options /data/options.json --log-level "${LOG_LEVEL}"
