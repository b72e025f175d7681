"""The page itself: one HTML document with the charts already drawn, the control forms, and places the script
(`static/app.js`) fills from `/api/status` and keeps current from `/api/events`.

Every URL is relative (`api/status`, `static/app.js`), so the page works under any path prefix, as Home Assistant
ingress serves it. No inline script or style: the Content-Security-Policy forbids both.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from itertools import groupby

from energy_agent import __version__
from energy_agent.web.controls import Control

LEGEND = (
    ("selected", "chosen"),
    ("above_threshold", "above the cap"),
    ("not_in_top_x", "not chosen"),
    ("outside_window", "outside the window"),
    ("line-cap", "cap"),
    ("line-departure", "ready by, now"),
)
INPUT_TYPES = {"number": 'type="number" step="any" inputmode="decimal"', "whole": 'type="number" step="1"',
               "time": 'type="time"', "switch": 'type="checkbox"'}  # fmt: skip


def render_page(charts: Iterable[tuple[str, str]], controls: Iterable[Control]) -> str:
    """The page: `charts` are (device name, SVG) pairs drawn by `chart_svg`, `controls` the forms to show."""
    asset = f"?v={escape(__version__)}"
    figures = "".join(
        f'<figure><figcaption>{escape(name)}</figcaption><div class="scroll">{svg}</div></figure>'
        for name, svg in charts
    )
    legend = "".join(f'<li><i class="swatch {status}"></i>{escape(text)}</li>' for status, text in LEGEND)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>energy-agent</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="static/app.css{asset}">
<script src="static/app.js{asset}" defer></script>
</head>
<body>
<header>
<h1>energy-agent</h1>
<span id="mode" class="badge"></span>
<span id="live" class="badge off">connecting</span>
</header>
<main>
<ul id="warnings" class="warnings" aria-live="polite"></ul>
<section id="plan" class="wide">
<h2>Prices and plan</h2>
<div id="charts">{figures or '<p class="muted">no device running</p>'}</div>
<p id="why" class="muted" aria-live="polite">Point at or tap a bar to see why it was or was not chosen.</p>
<ul class="legend">{legend}</ul>
</section>
<section id="devices">
<h2>Devices</h2>
<div id="cards"></div>
</section>
<section id="controls">
<h2>Controls</h2>
{_forms(controls)}
</section>
<section id="commands" class="wide">
<h2>Last commands</h2>
<table><thead><tr><th>time</th><th>to</th><th>command</th><th>id</th><th>answer</th></tr></thead>
<tbody id="command-rows"><tr><td colspan="5" class="muted">none yet</td></tr></tbody></table>
</section>
</main>
<footer class="muted">energy-agent {escape(__version__)} · <a href="api/status">status</a> · <a href="api/plan">plan</a>
</footer>
</body>
</html>
"""


def _forms(controls: Iterable[Control]) -> str:
    forms = []
    for group, members in groupby(controls, key=lambda control: control.group):
        fields = "".join(_field(control) for control in members)
        forms.append(
            f'<form class="control" data-group="{escape(group)}">{fields}'
            '<button type="submit">Set</button><output></output></form>'
        )
    return "\n".join(forms)


def _field(control: Control) -> str:
    name = escape(control.name)
    unit = f' <span class="unit">{escape(control.unit)}</span>' if control.unit else ""
    placeholder = ' placeholder="none"' if control.nullable else ""
    if control.kind == "choice":
        options = "".join(f"<option>{escape(choice)}</option>" for choice in control.choices)
        widget = f'<select name="{name}" data-kind="choice">{options}</select>'
    else:
        widget = f'<input name="{name}" data-kind="{control.kind}" {INPUT_TYPES[control.kind]}{placeholder}>'
    return f"<label><span>{escape(control.label)}{unit}</span>{widget}</label>"
