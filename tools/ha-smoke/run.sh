#!/usr/bin/env bash
# Smoke check of energy-agent against a real Home Assistant core (see README.md next to this file).
#
# Creates the Home Assistant venv when missing (outside the repo), then runs check.py with it:
# a private Mosquitto, Home Assistant, the Charge Amps simulator and the agent, all on loopback,
# all stopped at the end. Exit code 0 when every check passed, 1 when one failed, 2 on a setup error.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

HA_VERSION="${HA_VERSION:-2025.4.4}"
HA_VENV="${HA_VENV:-/tmp/ha-venv}"
if [[ -z "${HA_PYTHON:-}" ]]; then
    # the first that really runs (a pyenv shim on the PATH may exist and still refuse to run)
    for candidate in python3.13 /root/.pyenv/versions/3.13.0/bin/python; do
        if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 13))' 2>/dev/null; then
            HA_PYTHON="$candidate"
            break
        fi
    done
fi
AGENT_BIN="${AGENT_BIN:-$repo/.venv/bin/energy-agent}"

for tool in mosquitto mosquitto_sub mosquitto_pub; do
    command -v "$tool" >/dev/null || { echo "setup error: $tool not found (apt-get install mosquitto mosquitto-clients)" >&2; exit 2; }
done
[[ -x "$AGENT_BIN" ]] || { echo "setup error: $AGENT_BIN missing; run ./scripts/setup first" >&2; exit 2; }

installed="$("$HA_VENV/bin/python" -c 'from homeassistant.const import __version__; print(__version__)' 2>/dev/null || true)"
if [[ "$installed" != "$HA_VERSION" ]]; then
    echo "== installing Home Assistant $HA_VERSION into $HA_VENV (a few minutes the first time)"
    [[ -n "${HA_PYTHON:-}" ]] || { echo "setup error: no Python 3.13 found; set HA_PYTHON" >&2; exit 2; }
    [[ -x "$HA_VENV/bin/python" ]] || "$HA_PYTHON" -m venv "$HA_VENV"
    dl="$(mktemp -d)"
    # Home Assistant's own pins (package_constraints.txt inside the wheel) keep pip from backtracking
    # for many minutes over the bluetooth libraries, and pin the frontend and paho-mqtt it expects.
    "$HA_VENV/bin/pip" download --quiet --no-deps --dest "$dl" "homeassistant==$HA_VERSION"
    "$HA_VENV/bin/python" - "$dl" <<'EOF'
import pathlib, sys, zipfile
dl = pathlib.Path(sys.argv[1])
wheel = next(dl.glob("homeassistant-*.whl"))
(dl / "constraints.txt").write_bytes(zipfile.ZipFile(wheel).read("homeassistant/package_constraints.txt"))
EOF
    # home-assistant-frontend: without it HA's recovery_mode fails to set up; paho-mqtt: the MQTT
    # integration's requirement. HA then starts with --skip-pip and never installs anything itself.
    "$HA_VENV/bin/pip" install --quiet -c "$dl/constraints.txt" "$dl"/homeassistant-*.whl paho-mqtt home-assistant-frontend
    rm -rf "$dl"
fi

exec "$HA_VENV/bin/python" "$here/check.py" --hass "$HA_VENV/bin/hass" --agent "$AGENT_BIN" "$@"
