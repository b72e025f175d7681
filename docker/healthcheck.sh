#!/bin/sh
# Container health: asks the agent's own health endpoint, which answers 200 only while the broker is
# connected and every device is reachable, and 503 with the reasons otherwise.
#   ENERGY_AGENT_HEALTH_URL  default http://127.0.0.1:9713/healthz (the agent's `health:` settings)
set -eu

exec "${PYTHON:-python}" - <<'PY'
import json
import os
import sys
import urllib.error
import urllib.request

url = os.environ.get("ENERGY_AGENT_HEALTH_URL", "http://127.0.0.1:9713/healthz")
try:
    with urllib.request.urlopen(url, timeout=5) as answer:
        print("healthy")
except urllib.error.HTTPError as exc:
    try:
        reasons = json.loads(exc.read()).get("reasons", [])
    except ValueError:
        reasons = []
    print(f"unhealthy: {exc.code}: {'; '.join(map(str, reasons)) or exc.reason}", file=sys.stderr)
    sys.exit(1)
except OSError as exc:
    print(f"unhealthy: no answer from {url}: {exc}", file=sys.stderr)
    sys.exit(1)
PY
