// History view: recent requests from the trace store (GET /api/traces), filterable, with a
// strip chart of time to first answer token by mode (inline SVG).

import { getJSON } from "./stream.js";
import { fmtInt, fmtMs, fmtUsd, h, pick, s } from "./util.js";

const MODES = ["fast", "deep"];

function tracesOf(body) {
  if (Array.isArray(body)) return body;
  if (body && Array.isArray(body.traces)) return body.traces;
  if (body && Array.isArray(body.data)) return body.data;
  return [];
}

function timing(trace, key) {
  const v = pick(trace, key) ?? pick(trace.timings || {}, key) ?? pick(trace.metrics || {}, key);
  return typeof v === "number" ? v : null;
}

function when(trace) {
  const t = pick(trace, "created_at", "created", "ts", "time");
  if (typeof t !== "number") return "";
  const d = new Date(t > 1e12 ? t : t * 1000);
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  return sameDay ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : d.toLocaleString();
}

// How a request ended, in words: the model's finish reason, or why it never finished.
const ENDS = {
  stop: "finished",
  length: "length",
  thinking_length: "thinking budget",
  declined: "declined",
  cancelled: "stopped",
  content_filter: "filtered",
  tool_calls: "tool calls",
  client_disconnected: "stopped by you",
  interrupted: "server stopped",
  error: "error",
};

export function endLabel(trace) {
  const status = pick(trace, "status") || "";
  const finish = pick(trace, "finish_reason") || "";
  const key = status && status !== "ok" ? status : finish;
  return ENDS[key] || key.replaceAll("_", " ");
}

// A canned reply took no time: its timings say nothing about the model.
function declined(trace) {
  return pick(trace, "finish_reason") === "declined";
}

function median(values) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export class HistoryView {
  constructor() {
    this.form = document.getElementById("history-filters");
    this.tbody = document.querySelector("#history-table tbody");
    this.chartEl = document.getElementById("ttfa-chart");
    this.noteEl = document.getElementById("chart-note");
    this.emptyEl = document.getElementById("history-empty");
    this.traces = [];
    this.loaded = false;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.load();
    });
    for (const select of this.form.querySelectorAll("select")) select.addEventListener("change", () => this.load());
    let debounce = null;
    this.form.elements.q.addEventListener("input", () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => this.load(), 250);
    });
    window.addEventListener("resize", () => {
      if (!document.getElementById("view-history").hidden) this.drawChart();
    });
    this.loadModels();
  }

  shown() {
    this.load();
  }

  async loadModels() {
    try {
      const config = await getJSON("/api/config");
      const models = Array.isArray(config.models) ? config.models : Object.keys(config.models || {});
      const select = this.form.elements.model;
      for (const m of models) {
        const name = typeof m === "string" ? m : m.name || m.id;
        if (name && ![...select.options].some((o) => o.value === name)) select.append(h("option", { value: name, text: name }));
      }
    } catch (e) {
      /* config not available: the model filter keeps "all" */
    }
  }

  async load() {
    const data = new FormData(this.form);
    const params = new URLSearchParams();
    for (const key of ["mode", "model", "q", "sort", "min_cost", "limit"]) {
      const value = String(data.get(key) || "").trim();
      if (value) params.set(key, value);
    }
    this.form.classList.add("loading");
    try {
      this.traces = tracesOf(await getJSON(`/api/traces?${params}`));
      this.error = null;
    } catch (e) {
      this.traces = [];
      this.error = e.message || String(e);
    } finally {
      this.form.classList.remove("loading");
    }
    this.loaded = true;
    this.drawTable();
    this.drawChart();
  }

  drawTable() {
    const rows = this.traces.map((t) => {
      const mode = pick(t, "mode") || "";
      const status = pick(t, "status") || "";
      const finish = pick(t, "finish_reason") || "";
      const end = endLabel(t);
      const thought = pick(t, "thinking_tokens");
      const answer = pick(t, "answer_tokens");
      const prompt = String(pick(t, "prompt") || "");
      const requested = pick(t, "requested_model");
      const model = pick(t, "model") || "";
      const reason = pick(t, "route_reason") || "";
      return h(
        "tr",
        {
          dataset: { mode, status: status || finish, requestId: pick(t, "request_id") || "" },
          class: "trace-row",
          tabindex: "0",
          title: "Show the route, steps and answer",
          onclick: (event) => this.toggleDetail(event.currentTarget),
          onkeydown: (event) => {
            if (event.key === "Enter" || event.key === " ") {
              event.preventDefault();
              this.toggleDetail(event.currentTarget);
            }
          },
        },
        h("td", { class: "nowrap muted cell-when", text: when(t) }),
        h("td", { class: "nowrap cell-model", text: requested && requested !== model ? `${requested} → ${model}` : model }),
        h("td", { class: "cell-mode" }, mode ? h("span", { class: `badge badge-${mode}`, text: mode }) : ""),
        h("td", { class: "prompt-cell", title: reason ? `${prompt}\n\nroute: ${reason}` : prompt, text: prompt.length > 90 ? `${prompt.slice(0, 90)}…` : prompt }),
        h("td", { class: "num cell-ttft", dataset: { label: "TTFT" }, text: declined(t) ? "—" : fmtMs(timing(t, "ttft_ms")) }),
        h("td", { class: "num strong cell-ttfa", dataset: { label: "TTFA" }, text: declined(t) ? "—" : fmtMs(timing(t, "ttfa_ms")) }),
        h("td", { class: "num cell-thinking", dataset: { label: "Thinking" }, text: declined(t) ? "—" : fmtMs(timing(t, "thinking_ms")) }),
        h("td", { class: "num cell-tokens", dataset: { label: "Tokens" }, text: `${fmtInt(thought)} / ${fmtInt(answer)}${pick(t, "tokens_estimated") ? " est." : ""}` }),
        h("td", { class: "num cell-e2e", dataset: { label: "E2E" }, text: declined(t) ? "—" : fmtMs(timing(t, "e2e_ms")) }),
        h("td", { class: "num cell-cost", dataset: { label: "Cost" }, text: costText(t), title: costTitle(t) }),
        h("td", { class: `nowrap cell-end end-${status && status !== "ok" ? status : finish}`, text: end }),
      );
    });
    this.tbody.replaceChildren(...rows);
    this.emptyEl.hidden = rows.length > 0 && !this.error;
    this.emptyEl.textContent = this.error ? `Could not load traces: ${this.error}` : "No requests match. Ask something in Chat or Race.";
  }

  async toggleDetail(row) {
    const open = row.nextElementSibling && row.nextElementSibling.classList.contains("trace-detail");
    if (open) {
      row.nextElementSibling.remove();
      row.classList.remove("expanded");
      return;
    }
    const cell = h("td", { colspan: "11" }, h("span", { class: "muted", text: "Loading…" }));
    row.after(h("tr", { class: "trace-detail" }, cell));
    row.classList.add("expanded");
    try {
      const t = await getJSON(`/api/traces/${encodeURIComponent(row.dataset.requestId)}`);
      const field = (label, value) => (value ? h("div", { class: "detail-field" }, h("span", { class: "detail-label", text: label }), h("span", { text: value })) : null);
      const steps = Array.isArray(t.progress) && t.progress.length ? h("ol", { class: "steps" }, t.progress.map((label) => h("li", { class: "done" }, h("span", { class: "step-dot" }), h("span", { class: "step-label", text: String(label) })))) : null;
      // A stopped request's answer is what was written before the stop, not what was read.
      const stopped = t.status === "client_disconnected" || t.status === "interrupted";
      const answer = t.answer ? h("pre", { class: `detail-answer${stopped ? " partial" : ""}`, text: String(t.answer) }) : null;
      const parts = [
        field("Request", String(t.request_id || "")),
        field("Route", t.route_reason ? String(t.route_reason) : ""),
        field("Ended", endLabel(t)),
        field("Error", t.error_message && !stopped ? String(t.error_message) : ""),
        steps,
        answer && stopped ? field("Answer", "generated before the stop; not all of it was shown") : null,
        answer,
      ];
      cell.replaceChildren(...parts.filter(Boolean)); // (replaceChildren would print a null)
    } catch (e) {
      cell.replaceChildren(h("span", { class: "muted", text: `Could not load this trace: ${e.message || e}` }));
    }
  }

  drawChart() {
    const width = Math.max(300, this.chartEl.clientWidth || 640);
    const rowH = 46;
    const left = 64;
    const right = 16;
    const top = 10;
    const height = top + rowH * MODES.length + 34;
    const points = MODES.map((mode) => this.traces.filter((t) => pick(t, "mode") === mode && !declined(t) && timing(t, "ttfa_ms") !== null).map((t) => ({ t, v: timing(t, "ttfa_ms") })));
    const leftOut = this.traces.filter(declined).length;
    const all = points.flat().map((p) => p.v);
    const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": "TTFA by mode" });
    if (!all.length) {
      svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "chart-empty" }, "No answered requests yet"));
      this.chartEl.replaceChildren(svg);
      this.noteEl.textContent = "";
      return;
    }
    const minV = Math.max(1, Math.min(...all));
    const maxV = Math.max(...all, 10);
    const log = maxV / minV > 30;
    const lo = log ? Math.pow(10, Math.floor(Math.log10(minV))) : 0;
    const hi = log ? Math.pow(10, Math.ceil(Math.log10(maxV))) : maxV * 1.08;
    const x = (v) => {
      const f = log ? (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : v / hi;
      return left + f * (width - left - right);
    };
    const axisY = top + rowH * MODES.length + 6;
    const ticks = [];
    if (log) for (let v = lo; v <= hi * 1.0001; v *= 10) ticks.push(v);
    else {
      const step = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 60000].find((st) => hi / st <= 6) || 120000;
      for (let v = 0; v <= hi; v += step) ticks.push(v);
    }
    for (const v of ticks) {
      svg.append(s("line", { x1: x(v), x2: x(v), y1: top, y2: axisY, class: "grid" }));
      svg.append(s("text", { x: x(v), y: axisY + 16, "text-anchor": "middle", class: "tick-label" }, v === 0 ? "0" : fmtMs(v)));
    }
    MODES.forEach((mode, i) => {
      const cy = top + rowH * i + rowH / 2;
      svg.append(s("text", { x: left - 10, y: cy + 4, "text-anchor": "end", class: `row-label mode-${mode}` }, mode));
      svg.append(s("line", { x1: left, x2: width - right, y1: cy, y2: cy, class: "row-line" }));
      points[i].forEach(({ t, v }, j) => {
        const jitter = ((j * 7919) % 13) - 6; // deterministic spread so equal values stay visible
        const dot = s("circle", { cx: x(v), cy: cy + jitter * 1.3, r: 4.5, class: `dot mode-${mode}` });
        dot.append(s("title", {}, `${fmtMs(v)} · ${String(pick(t, "prompt") || "").slice(0, 60)}`));
        svg.append(dot);
      });
      const med = median(points[i].map((p) => p.v));
      if (med !== null) {
        svg.append(s("line", { x1: x(med), x2: x(med), y1: cy - 15, y2: cy + 15, class: `median mode-${mode}` }));
        const text = `median ${fmtMs(med)} (n=${points[i].length})`;
        const textWidth = text.length * 6.2;
        const after = x(med) + 6 + textWidth <= width - right;
        svg.append(s("text", { x: after ? x(med) + 6 : x(med) - 6, y: cy - 15, "text-anchor": after ? "start" : "end", class: "median-label" }, text));
      }
    });
    this.chartEl.replaceChildren(svg);
    const notes = [log ? "log scale" : "", leftOut ? `${leftOut} canned ${leftOut === 1 ? "reply" : "replies"} left out` : ""];
    this.noteEl.textContent = notes.filter(Boolean).join(" · ");
  }
}

// A trace's cost: "$0.0042" (≈ when estimated), "free", or "—" when the model has no price.
function costText(t) {
  const usd = pick(t, "cost_usd");
  if (usd === null || usd === undefined) return "—";
  return (pick(t, "cost_estimated") && usd ? "≈" : "") + fmtUsd(usd);
}

function costTitle(t) {
  const usd = pick(t, "cost_usd");
  if (usd === null || usd === undefined) return "the model has no price in ponder.toml";
  return `thinking ${fmtUsd(pick(t, "cost_thinking_usd"))} of ${fmtUsd(usd)}`;
}
