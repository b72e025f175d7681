"""Test helpers for the health endpoint: serve an agent's, query it over real HTTP, read the Prometheus text."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from energy_agent.runtime.agent import Agent
from energy_agent.web.health import HealthServer

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{(.*)\}})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')
_KINDS = {"counter", "gauge", "histogram", "summary", "untyped"}
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count", "")}


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, content type and body text."""

    status: int
    content_type: str
    text: str

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.text)


@asynccontextmanager
async def serving(agent: Agent) -> AsyncIterator[str]:
    """Start a HealthServer for `agent` on a free port and yield its base URL."""
    server = HealthServer(agent.view, agent.settings, port=0)
    port = await server.start()
    try:
        yield f"http://{agent.settings.health.host}:{port}"
    finally:
        await server.stop()


async def get(url: str, *, method: str = "GET") -> Answer:
    """Send one request and read the whole answer."""
    async with aiohttp.ClientSession() as session, session.request(method, url) as response:
        return Answer(response.status, response.headers.get("Content-Type", ""), await response.text())


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_prometheus(text: str) -> Samples:
    """Parse the text exposition format strictly enough to catch a malformed document.

    Every sample must belong to a family declared with `# TYPE` before it, names and labels must be
    well-formed, a sample must not repeat, and the document must end with a newline.
    """
    assert text.endswith("\n"), "the document must end with a newline"
    kinds: dict[str, str] = {}
    samples: Samples = {}
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert re.fullmatch(_NAME, name) and kind in _KINDS, f"line {number}: {line!r}"
            assert name not in kinds, f"line {number}: family {name} declared twice"
            kinds[name] = kind
            continue
        if line.startswith("# HELP ") or not line.strip():
            continue
        match = _SAMPLE.match(line)
        assert match, f"line {number}: not a sample: {line!r}"
        name, raw_labels, value = match.groups()
        family = _family(name, kinds)
        assert family is not None, f"line {number}: {name} has no # TYPE before it"
        labels = _parse_labels(raw_labels or "", number)
        key = (name, frozenset(labels.items()))
        assert key not in samples, f"line {number}: repeated sample {line!r}"
        samples[key] = float(value)
    return samples


def _family(name: str, kinds: Mapping[str, str]) -> str | None:
    if name in kinds:
        return name
    for family, kind in kinds.items():
        if any(suffix and name == family + suffix for suffix in _SUFFIXES.get(kind, ())):
            return family
    return None


def _parse_labels(raw: str, number: int) -> dict[str, str]:
    labels: dict[str, str] = {}
    position = 0
    while position < len(raw):
        match = _LABEL.match(raw, position)
        assert match, f"line {number}: malformed labels {raw!r}"
        labels[match.group(1)] = match.group(2)
        position = match.end()
    return labels


def value(samples: Samples, name: str, **labels: str) -> float:
    """The value of one sample; KeyError naming what exists when it is missing."""
    key = (name, frozenset(labels.items()))
    if key not in samples:
        known = [dict(k[1]) for k in samples if k[0] == name]
        raise KeyError(f"no sample {name}{labels}; there are {known}")
    return samples[key]
