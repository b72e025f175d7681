// energy-agent's page: fills the cards and tables from api/status, swaps in the charts from api/plan, keeps
// both current from the live feed (api/events), and sends the controls to api/settings. Text from the agent is
// set as text, never as markup; only the charts' SVG, drawn and escaped by the agent, is inserted as markup.
"use strict";

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

// Times come in the agent's zone with their offset: show them as the agent's wall clock.
function when(iso) {
  if (!iso) return "—";
  const day = new Date(iso.slice(0, 10) + "T12:00:00Z").getUTCDay();
  return DAYS[day] + " " + iso.slice(11, 16);
}

function span(start, end) {
  return when(start) + "–" + (end ? end.slice(11, 16) : "?");
}

function num(value, digits, unit) {
  return value === null || value === undefined ? "—" : Number(value).toFixed(digits) + " " + unit;
}

function periods(list) {
  if (!list || list.length === 0) return "nothing";
  return list.map((p) => span(p.start, p.end) + (p.max_current ? " @ " + p.max_current + " A" : "")).join(", ");
}

function card(device) {
  const s = device.status;
  const box = el("article", null, "card");
  box.dataset.device = device.key;
  const head = el("h3", device.name);
  head.append(el("span", s.state, "state " + s.state));
  box.append(head);
  const list = el("dl");
  const row = (term, value, cls) => {
    list.append(el("dt", term));
    list.append(el("dd", value, cls));
  };
  row("power", num(s.current_power_kw, 2, "kW"), "power");
  row("session", num(s.session_energy_kwh, 2, "kWh"), "session");
  row("schedule", s.schedule_source + (s.schedule_active ? " (running now)" : ""), "source");
  row("next period", s.next_period_start ? span(s.next_period_start, s.next_period_end) : "none", "next");
  row("agent wants", periods(device.wants) + (device.wants_more ? " and " + device.wants_more + " more" : ""), "wants");
  if (s.applied) {
    const sync = s.applied.in_sync ? "in sync" : "differs";
    row("device holds", periods(s.applied.periods) + " · " + sync + " (read " + when(s.applied.read_at) + ")",
        "holds sync " + (s.applied.in_sync ? "yes" : "no"));
  } else {
    row("device holds", "not read back", "holds");
  }
  if (s.last_command_id) row("last command", s.last_command_id + ": " + s.last_command_result, "last");
  if (s.last_error) row("error", s.last_error, "sync no");
  box.append(list);
  return box;
}

function answerText(answer) {
  if (answer.accepted) return "accepted" + (answer.warnings && answer.warnings.length ? " with warnings" : "");
  const why = (answer.errors || []).map((e) => e.message).join("; ");
  return "refused (" + (answer.reason || "?") + ")" + (why ? ": " + why : "");
}

function renderStatus(doc) {
  $("mode").textContent = doc.operation_mode + (doc.hems_connected ? " · HEMS heard" : "");
  $("warnings").replaceChildren(...doc.warnings.map((w) => el("li", w)));
  $("cards").replaceChildren(...doc.devices.map(card));
  const rows = doc.commands.map((c) => {
    const tr = el("tr");
    const a = c.answer;
    tr.append(el("td", when(c.at) + c.at.slice(16, 19)), el("td", c.device || "agent"),
      el("td", a.command || "mode " + a.operation_mode), el("td", a.command_id || "—"),
      el("td", answerText(a), a.accepted ? "yes" : "no"));
    return tr;
  });
  if (rows.length) $("command-rows").replaceChildren(...rows);
  for (const [name, value] of Object.entries(doc.settings)) {
    const input = document.querySelector("form.control [name='" + name + "']");
    if (!input || input.form.dataset.dirty) continue;
    if (input.type === "checkbox") input.checked = Boolean(value);
    else input.value = value === null ? "" : String(value);
  }
}

// A phone scrolls the chart sideways: the first time it shows "now" near the left, later the reader's place stays.
const scrolled = {};

function renderPlan(doc) {
  document.querySelectorAll("#charts .scroll[data-device]").forEach((b) => { scrolled[b.dataset.device] = b.scrollLeft; });
  const boxes = [];
  const figures = doc.charts.map((chart) => {
    const figure = el("figure");
    const box = el("div", null, "scroll");
    box.dataset.device = chart.device;
    box.insertAdjacentHTML("beforeend", chart.svg); // drawn and escaped by the agent
    figure.append(el("figcaption", chart.name), box);
    boxes.push(box);
    return figure;
  });
  $("charts").replaceChildren(...figures);
  for (const box of boxes) {
    const kept = scrolled[box.dataset.device];
    const now = box.querySelector("line.now");
    if (kept !== undefined) box.scrollLeft = kept;
    else if (now) box.scrollLeft = now.getBoundingClientRect().left - box.getBoundingClientRect().left - box.clientWidth / 4;
  }
}

function pick(event) {
  const bar = event.target.closest("rect.bar, rect.period, line");
  const title = bar && bar.querySelector("title");
  if (!title) return;
  document.querySelectorAll("rect.picked").forEach((r) => r.classList.remove("picked"));
  bar.classList.add("picked");
  $("why").textContent = title.textContent;
}

function valueOf(input) {
  const kind = input.dataset.kind;
  if (kind === "switch") return input.checked;
  if (input.value === "") return null;
  return kind === "number" || kind === "whole" ? Number(input.value) : input.value;
}

async function send(event) {
  event.preventDefault();
  const form = event.target;
  const output = form.querySelector("output");
  const changes = {};
  form.querySelectorAll("[name]").forEach((input) => { changes[input.name] = valueOf(input); });
  output.className = "";
  output.textContent = "sending…";
  try {
    const response = await fetch("api/settings", {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(changes),
    });
    const answer = await response.json();
    output.className = answer.accepted ? "ok" : "bad";
    output.textContent = answer.accepted
      ? "done: " + Object.keys(changes).map((k) => k + " = " + JSON.stringify(answer.settings[k])).join(", ")
      : "refused: " + answer.errors.join("; ");
  } catch (error) {
    output.className = "bad";
    output.textContent = "not sent: " + error;
  }
  delete form.dataset.dirty;
}

// The live feed sends only what changed since these answers: their ETags say what the page holds.
const held = {};

async function load(name, render) {
  const response = await fetch("api/" + name);
  if (!response.ok) return;
  render(await response.json());
  held[name] = response.headers.get("ETag");
}

function live() {
  const query = Object.entries(held).map(([k, v]) => k + "=" + encodeURIComponent(v)).join("&");
  const feed = new EventSource("api/events" + (query ? "?" + query : ""));
  const badge = $("live");
  feed.addEventListener("open", () => { badge.textContent = "live"; badge.className = "badge on"; });
  feed.addEventListener("error", () => { badge.textContent = "reconnecting"; badge.className = "badge off"; });
  feed.addEventListener("status", (e) => renderStatus(JSON.parse(e.data)));
  feed.addEventListener("plan", (e) => renderPlan(JSON.parse(e.data)));
}

document.addEventListener("DOMContentLoaded", () => {
  $("charts").addEventListener("click", pick);
  $("charts").addEventListener("mouseover", pick);
  document.querySelectorAll("form.control").forEach((form) => {
    form.addEventListener("submit", send);
    form.addEventListener("input", () => { form.dataset.dirty = "1"; });
  });
  Promise.all([load("status", renderStatus), load("plan", renderPlan)]).finally(live);
});
