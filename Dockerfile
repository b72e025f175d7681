# energy-agent as a container: the core and every plugin in plugins/, run as a non-root user.
#   docker build -t energy-agent .
#   docker run -v "$PWD/config:/config:ro" -v energy-agent-data:/data energy-agent
# The config file is /config/energy-agent.yaml; the state lives in /data/state (a volume).
FROM python:3.12-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY energy_agent ./energy_agent
COPY contracts ./contracts
COPY plugins ./plugins
RUN pip wheel --no-cache-dir --wheel-dir /wheels . ./plugins/*/

FROM python:3.12-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN useradd --system --uid 10001 --user-group --home-dir /data --create-home energy-agent
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels /wheels/*.whl \
    && rm -rf /wheels
COPY docker/healthcheck.sh /usr/local/bin/energy-agent-healthcheck
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# For now: the agent process is alive and its retained availability says online. An HTTP health
# endpoint will replace this script later; only the line below needs to change.
HEALTHCHECK --interval=60s --timeout=15s --start-period=60s --retries=3 CMD ["/usr/local/bin/energy-agent-healthcheck"]
ENTRYPOINT ["energy-agent", "run", "--config", "/config/energy-agent.yaml"]
