// One assistant reply as it streams: route line, the gray thinking box, progress steps, the
// answer (Markdown), meters and (when a verifier knows the prompt) a verdict.
// The thinking box is collapsed by default and stays collapsed when the answer starts; the
// person opens it to watch the thoughts stream.

import { LoopDetector, stallLimits } from "./estimate.js";
import { renderMarkdown } from "./markdown.js";
import { fmtDuration, fmtInt, fmtMs, fmtSeconds, fmtTps, fmtUsd, h, pick, plural } from "./util.js";

const METERS = [
  ["ttft", "TTFT", "Request sent → first token of any kind (thought or answer)"],
  ["ttfa", "TTFA", "Request sent → first answer token: what you actually wait for"],
  ["thinking", "Thinking", "TTFA − TTFT when the model thought, else 0"],
  ["tokens", "Tokens", "Thought tokens / answer tokens (reported by the provider, or estimated)"],
  ["decode", "Decode", "(output tokens − 1) / (E2E − TTFT), all output tokens"],
  ["effective", "Effective", "Answer tokens / E2E: the speed a reader experiences"],
  ["cost", "Cost", "What the request cost at the model's price (input + thinking + answer, USD per million tokens); — when the model has no price"],
];


const METRIC_NAMES = { ttfa: "TTFA", ttft: "TTFT", e2e: "E2E" };

// The router's figures, e.g. {p_fast: 0.31, p_deep: 0.97, ttfa_deep_ms: 2100} ->
// "P(fast correct) 0.31 · P(deep correct) 0.97 · deep TTFA ≈ 2.10 s".
export function formatEstimates(estimates) {
  if (!estimates || typeof estimates !== "object") return "";
  const parts = [];
  for (const [key, raw] of Object.entries(estimates)) {
    const value = Number(raw);
    if (!Number.isFinite(value)) continue;
    const p = /^p_(\w+?)(?:_correct)?$/.exec(key);
    const timing = /^(?:(ttfa|ttft|e2e)_(\w+)|(\w+)_(ttfa|ttft|e2e))_ms$/.exec(key);
    if (p) parts.push(`P(${p[1]} correct) ${value.toFixed(2)}`);
    else if (key === "max_ttfa_ms") parts.push(`TTFA budget ${fmtMs(value)}`);
    else if (timing) {
      const metric = METRIC_NAMES[timing[1] || timing[4]];
      const mode = timing[2] || timing[3];
      parts.push(`${mode} ${metric} ≈ ${fmtMs(value)}`);
    } else if (key.endsWith("_ms")) parts.push(`${key.slice(0, -3).replaceAll("_", " ")} ${fmtMs(value)}`);
    else parts.push(`${key.replaceAll("_", " ")} ${Math.abs(value) < 10 ? value.toFixed(2) : Math.round(value)}`);
  }
  return parts.join(" · ");
}

// What a hedge lane did, in the words the reply shows.
const LANE_OUTCOMES = {
  passed: "passed the check",
  rejected: "rejected",
  cancelled: "stopped",
  served: "answered",
  "not run": "not run",
};

// One sentence for a hedged reply: which lane answered and why, e.g. "fast answered: its
// answer passed the embedded check (…); deep stopped after 1.1 s."
export function hedgeSummary(p) {
  const lanes = (p && p.lanes) || {};
  const fast = lanes.fast || {};
  const deep = lanes.deep || {};
  const served = p && p.served_by;
  if (!served) return "";
  if (served === fast.model) {
    return `${fast.model} answered: its answer passed the check (${fast.reason || "accepted"}); ${deep.model || "deep"} stopped after ${fmtMs(deep.end_ms)}.`;
  }
  if (fast.outcome === "rejected") return `${served} answered: ${fast.model}'s answer was rejected (${fast.reason || "no reason given"}).`;
  if (fast.outcome === "cancelled") return `${served} answered first; ${fast.model} was stopped.`;
  if (fast.outcome === "not run") return `${served} answered alone: ${fast.reason || "racing would not pay"}.`;
  return `${served} answered.`;
}

// Both lanes of a hedge as two bars on one scale, each ending in what became of it.
export function hedgeLanes(p) {
  const lanes = (p && p.lanes) || {};
  const rows = ["fast", "deep"].filter((role) => lanes[role]);
  const longest = Math.max(1, ...rows.map((role) => Number(lanes[role].end_ms) || 0));
  return h(
    "div",
    { class: "hedge-lanes", "aria-label": "Both lanes" },
    rows.map((role) => {
      const lane = lanes[role];
      const outcome = String(lane.outcome || "");
      const end = Number(lane.end_ms) || 0;
      const bar = h("span", { class: "hedge-bar" });
      bar.style.width = `${Math.max(2, (100 * end) / longest)}%`;
      const served = lane.model === p.served_by;
      return h(
        "div",
        { class: `hedge-lane hedge-${role} outcome-${outcome.replace(" ", "-")}${served ? " served" : ""}`, title: lane.reason || "" },
        h("span", { class: "hedge-name", text: lane.model || role }),
        h("span", { class: "hedge-track" }, bar),
        h("span", { class: "hedge-what", text: `${LANE_OUTCOMES[outcome] || outcome}${outcome === "not run" ? "" : ` · ${fmtMs(end)}`}` }),
      );
    }),
  );
}

export class AssistantView {
  constructor({ requested = "auto", compact = false, onChange = null, onStall = null } = {}) {
    this.requested = requested;
    this.onChange = onChange;
    // The wait, predicted (estimate.js): the estimate for this prompt, once known, and what
    // to offer when the stream goes quiet ({stop(), answerFast()}; none in the race lanes).
    this.onStall = onStall;
    this.expectation = null;
    this.estimate = null;
    this.limits = null;
    this.lastTokenAt = null;
    this.loop = new LoopDetector();
    this.state = "waiting";
    this.thoughtText = "";
    this.answerText = "";
    this.thoughtDeltas = 0;
    this.answerDeltas = 0;
    this.steps = [];
    this.client = { ttft: null, ttfa: null, end: null };
    this.server = null;
    this.route = null;
    this.t0 = performance.now();
    this.renderPending = false;

    this.routeEl = h("div", { class: "route" }, h("span", { class: "badge badge-pending", text: requested }));
    this.thinkingLabel = h("span", { class: "thinking-label", text: "Thinking…" });
    // Progress against the estimate: no bar without one; past the usual p90 it says so.
    this.waitBar = h("span", { class: "wait-bar", hidden: true, role: "progressbar", "aria-label": "Thinking, against the usual", "aria-valuemin": "0", "aria-valuemax": "100" }, h("span", { class: "wait-bar-fill" }));
    this.thoughtsEl = h("div", { class: "thoughts" });
    this.thinkingEl = h(
      "details",
      { class: "thinking", hidden: true },
      h("summary", { "aria-expanded": "false" }, h("span", { class: "pulse", "aria-hidden": "true" }), this.thinkingLabel, this.waitBar, h("span", { class: "chevron", "aria-hidden": "true" })),
      this.thoughtsEl,
    );
    // Its state, said outright for assistive technology (details' own is not read by all).
    this.thinkingEl.addEventListener("toggle", () => this.thinkingEl.firstChild.setAttribute("aria-expanded", String(this.thinkingEl.open)));
    this.stepsEl = h("ol", { class: "steps", hidden: true, "aria-label": "Progress" });
    // Tool calls, and the thoughts after each (an interleaved turn), in the order they came.
    this.segmentsEl = h("div", { class: "segments" });
    this.notesEl = h("div", { class: "notes", hidden: true });
    this.stallEl = h("div", { class: "stall", role: "alert", hidden: true });
    this.calls = new Map();
    this.segmentThoughts = null; // the thoughts element after the latest tool call
    this.statusEl = h("div", { class: "status", role: "status" }, "Sending…");
    // A polite live region, busy while it streams: read once it is complete, not per token.
    this.answerEl = h("div", { class: "answer md", "aria-live": "polite", "aria-busy": "false" });
    this.meterEls = {};
    // Definitions and the verdict's reason open on click, tap or Enter, not only on hover.
    this.explainEl = h("p", { class: "explain", hidden: true, "aria-live": "polite" });
    this.metersEl = h(
      "dl",
      { class: "meters", "aria-label": "Meters" },
      METERS.map(([key, label, help]) => {
        const dd = h("dd", { text: "—" });
        this.meterEls[key] = dd;
        const button = h("button", { type: "button", class: "meter-name", text: label, title: help, "aria-expanded": "false", onclick: (event) => this.explain(event.currentTarget, `${label}: ${help}`) });
        return h("div", { class: "meter", dataset: { meter: key } }, h("dt", {}, button), dd);
      }),
    );
    this.verdictEl = h("button", { type: "button", class: "verdict", hidden: true, "aria-expanded": "false", onclick: (event) => this.explain(event.currentTarget, this.verdictReason || "") });
    // Where the wait went, once it is over: waiting, thinking, answering (the server's clock).
    this.phasesEl = h("div", { class: "phases", hidden: true, role: "group", "aria-label": "Phases" });
    // What the person can do with a finished reply (the chat fills it: regenerate, …).
    this.actionsEl = h("div", { class: "msg-actions", hidden: true });
    this.el = h(
      "article",
      { class: `msg assistant${compact ? " compact" : ""}`, dataset: { state: "waiting" } },
      this.routeEl,
      this.notesEl,
      this.stallEl,
      this.thinkingEl,
      this.stepsEl,
      this.segmentsEl,
      this.statusEl,
      this.answerEl,
      h("div", { class: "msg-foot" }, this.metersEl, this.verdictEl, this.explainEl),
      this.phasesEl,
      this.actionsEl,
    );
    this.timer = setInterval(() => this.tick(), 100);
  }

  // The chat's controls for this reply (null: none).
  setActions(el) {
    this.actionsEl.replaceChildren(...(el ? [el] : []));
    this.actionsEl.hidden = !el;
  }

  // Gone from the page: stop the clock.
  dispose() {
    clearInterval(this.timer);
  }

  setState(state) {
    this.state = state;
    this.el.dataset.state = state;
  }

  elapsed() {
    return performance.now() - this.t0;
  }

  // --- events --------------------------------------------------------------------------------

  handle(event) {
    switch (event.type) {
      case "started":
        this.onStarted(event.ponder);
        break;
      case "thinking":
        this.onThinking(event.text, event.at);
        break;
      case "answer":
        this.onAnswer(event.text, event.at);
        break;
      case "progress":
        this.onProgress(event.label);
        break;
      case "tool_call":
        this.onToolCall(event, event.at);
        break;
      case "tool_args":
        this.onToolArgs(event);
        break;
      case "notice":
        this.note(event.text);
        break;
      case "finished":
        this.onFinished(event.ponder, event.at);
        break;
      case "failed":
        this.fail(pick(event.error || {}, "message") || "The request failed.", event.at);
        break;
      default:
        break;
    }
    if (this.onChange) this.onChange(this, event);
  }

  onStarted(p) {
    this.route = p;
    if (p.request_id) this.el.dataset.requestId = String(p.request_id);
    const mode = p.mode === "deep" ? "deep" : "fast";
    const badge = h("span", { class: `badge badge-${mode}`, text: mode });
    const parts = [];
    if (this.requested === "auto") parts.push(h("span", { class: "route-auto", text: "Auto →" }), badge);
    else parts.push(badge);
    if (p.model && p.model !== mode) parts.push(h("span", { class: "route-model", text: p.model }));
    // A mode the person picked needs no explaining; auto's choice gets one line, and its full
    // reason and figures open on demand.
    const figures = formatEstimates(p.estimates);
    let more = null;
    if (this.requested === "auto" && p.reason) {
      parts.push(h("span", { class: "route-reason", text: String(p.reason) }));
      more = h("div", { class: "route-more", hidden: true }, h("span", { class: "route-full", text: String(p.reason) }), figures ? h("span", { class: "route-estimates", text: `${figures} → ${mode}` }) : null);
      parts.push(h("button", { type: "button", class: "route-why", text: "Why?", "aria-expanded": "false", onclick: (event) => {
        more.hidden = !more.hidden;
        event.currentTarget.setAttribute("aria-expanded", String(!more.hidden));
      } }));
    }
    this.routeEl.replaceChildren(...parts);
    if (more) this.routeEl.append(more);
    this.el.dataset.mode = mode;
    if (mode === "deep") this.showThinkingBox();
    if (this.state === "waiting") this.statusEl.textContent = mode === "deep" ? "" : "Waiting for the first token…";
    this.startedAt = this.elapsed();
    this.applyExpectation();
    this.tick();
  }

  note(text, kind = "") {
    this.notesEl.hidden = false;
    this.notesEl.append(h("p", { class: `notice${kind ? ` notice-${kind}` : ""}`, text }));
  }

  // --- the wait, predicted -------------------------------------------------------------------

  // The /api/estimate answer for this prompt (it may come before or after `started`).
  setExpectation(response) {
    this.expectation = response;
    this.applyExpectation();
  }

  applyExpectation() {
    if (!this.route) return;
    const model = String(this.route.model || "");
    const estimates = (this.expectation && this.expectation.estimates) || {};
    this.estimate = estimates[model] || null;
    this.limits = stallLimits(this.expectation, model);
    this.tick();
  }

  sawToken() {
    this.lastTokenAt = this.elapsed();
    if (!this.stallEl.hidden) this.stallEl.hidden = true; // it moved again
  }

  checkStall(now) {
    if (!this.route || !this.limits || ["done", "stopped", "failed"].includes(this.state)) return;
    const since = this.lastTokenAt ?? this.startedAt ?? 0;
    const limit = this.lastTokenAt === null ? this.limits.first : this.limits.after;
    const silent = now - since;
    if (silent < limit) return;
    const text = `No tokens for ${Math.round(silent / 1000)} s — the model may be stuck`;
    if (this.stallEl.hidden) {
      const actions = [];
      if (this.onStall) {
        actions.push(h("button", { type: "button", class: "stall-stop", text: "Stop", onclick: () => this.onStall.stop() }));
        if (this.route.mode === "deep") actions.push(h("button", { type: "button", class: "stall-fast", text: "Answer fast instead", onclick: () => this.onStall.answerFast() }));
      }
      this.stallEl.replaceChildren(h("span", { class: "stall-text", text }), ...actions);
      this.stallEl.hidden = false;
    } else {
      const label = this.stallEl.querySelector(".stall-text");
      if (label.textContent !== text) label.textContent = text;
    }
  }

  // "Thinking… 1.2 s · 120 of ~180 tokens" and the bar's share, from the estimate: the bar
  // fills against the usual p90, so it never says "almost done" before the usual end.
  liveThinking(now, tokens) {
    const est = this.estimate;
    let label = `Thinking… ${fmtSeconds(now)} · ${plural(tokens, "token")}`;
    let share = null;
    if (est && est.thinking_tokens) {
      label = `Thinking… ${fmtSeconds(now)} · ${fmtInt(tokens)} of ~${fmtInt(est.thinking_tokens.p50)} tokens`;
      share = tokens / Math.max(1, est.thinking_tokens.p90);
    } else if (est) {
      share = now / Math.max(1, est.ttfa_ms.p90);
    }
    const over = share !== null && share > 1;
    if (over) label += " · longer than usual";
    this.waitBar.hidden = share === null;
    if (share !== null) {
      this.waitBar.classList.toggle("over", over);
      const pct = Math.round(100 * Math.min(1, share));
      this.waitBar.firstChild.style.width = `${pct}%`;
      if (over) this.waitBar.removeAttribute("aria-valuenow");
      else this.waitBar.setAttribute("aria-valuenow", String(pct));
      this.waitBar.setAttribute("aria-valuetext", over ? "longer than usual" : `${pct}% of the usual`);
    }
    return label;
  }

  showThinkingBox() {
    if (this.thinkingEl.hidden) {
      this.thinkingEl.hidden = false;
      this.statusEl.textContent = "";
    }
  }

  onToolCall(event, at) {
    this.sawToken();
    if (this.client.ttft === null) this.client.ttft = at;
    if (this.client.ttfa === null) this.client.ttfa = at; // a call is the turn's answer
    const args = h("pre", { class: "tool-args" });
    const el = h(
      "details",
      { class: "tool-call", dataset: { callId: event.id } },
      h("summary", {}, h("span", { class: "tool-icon", "aria-hidden": "true", text: "⚙" }), h("span", { class: "tool-name", text: `Called ${event.name}` })),
      args,
    );
    this.calls.set(event.index, args);
    this.segmentsEl.append(el);
    this.segmentThoughts = null;
    this.afterCall = true;
    this.statusEl.textContent = "";
    if (this.state !== "answering") this.setState("answering");
  }

  onToolArgs(event) {
    const args = this.calls.get(event.index);
    if (args) args.append(document.createTextNode(event.text)); // text only: arguments are inert
  }

  // Thoughts after a tool call go in a box of their own, after that call.
  thoughtsAfterCall() {
    if (!this.segmentThoughts) {
      this.segmentThoughts = h("div", { class: "thoughts" });
      this.segmentsEl.append(
        h("details", { class: "thinking segment" }, h("summary", {}, h("span", { class: "thinking-label", text: "Thought" }), h("span", { class: "chevron", "aria-hidden": "true" })), this.segmentThoughts),
      );
    }
    return this.segmentThoughts;
  }

  onThinking(text, at) {
    this.sawToken();
    if (this.loop.feed(text)) this.note("The model is repeating itself", "loop");
    if (this.client.ttft === null) this.client.ttft = at;
    this.thoughtDeltas += 1;
    this.thoughtText += text;
    if (this.afterCall) {
      this.thoughtsAfterCall().append(document.createTextNode(text));
      this.tick();
      return;
    }
    this.showThinkingBox();
    if (this.state === "waiting") this.setState("thinking");
    this.thoughtsEl.append(document.createTextNode(text));
    if (this.thinkingEl.open) this.thoughtsEl.scrollTop = this.thoughtsEl.scrollHeight;
    this.tick();
  }

  onAnswer(text, at) {
    this.sawToken();
    if (this.client.ttft === null) this.client.ttft = at;
    if (this.client.ttfa === null) {
      this.client.ttfa = at;
      this.statusEl.textContent = "";
      for (const li of this.stepsEl.children) li.classList.replace("current", "done");
    }
    this.answerDeltas += 1;
    this.answerText += text;
    if (this.state !== "answering") this.setState("answering");
    this.answerEl.classList.add("streaming");
    this.answerEl.setAttribute("aria-busy", "true");
    this.scheduleRender();
    this.tick();
  }

  onProgress(label) {
    if (!label) return;
    this.steps.push(label);
    this.stepsEl.hidden = false;
    const answering = this.client.ttfa !== null;
    for (const li of this.stepsEl.children) li.classList.replace("current", "done");
    const li = h("li", { class: answering ? "done" : "current" }, h("span", { class: "step-dot", "aria-hidden": "true" }), h("span", { class: "step-label", text: label }));
    this.stepsEl.append(li);
    if (this.state === "waiting") this.statusEl.textContent = "";
  }

  onFinished(p, at) {
    this.server = p;
    this.client.end = at;
    if (p.lanes && p.served_by) this.showHedge(p);
    const reason = p.finish_reason || "stop";
    if (reason === "declined") this.decline();
    else if (reason === "cancelled") this.end("stopped", "Stopped.");
    else if (reason === "thinking_length") this.end("done", "The thinking budget ran out before an answer.");
    else if (reason === "length") this.end("done", "Stopped at the token limit.");
    else this.end("done", "");
  }

  // A hedged reply: which lane answered and why, and both lanes in miniature.
  showHedge(p) {
    this.el.dataset.servedBy = String(p.served_by);
    this.routeEl.append(h("span", { class: "badge badge-hedge", text: `answered by ${p.served_by}`, title: hedgeSummary(p) }));
    this.hedgeEl = h("div", { class: "hedge" }, h("p", { class: "hedge-summary", text: hedgeSummary(p) }), hedgeLanes(p));
    this.routeEl.after(this.hedgeEl);
  }

  // A canned reply (the model was not trained for the question and did not run): labelled
  // as such, with no meters, and left out of the race verdict.
  decline() {
    this.declined = true;
    this.el.dataset.declined = "true";
    this.routeEl.append(h("span", { class: "badge badge-declined", text: "canned reply", title: "The model was not run: it was not trained for this question." }));
    this.end("done", "");
  }

  // The person pressed Stop (or Esc): the fetch was aborted.
  stopped() {
    if (["done", "stopped", "failed"].includes(this.state)) return;
    this.client.end = this.elapsed();
    this.end("stopped", "Stopped.");
  }

  fail(message, at) {
    if (["done", "stopped", "failed"].includes(this.state)) return;
    this.client.end = at ?? this.elapsed();
    this.end("failed", String(message));
  }

  end(state, note) {
    clearInterval(this.timer);
    this.stallEl.hidden = true;
    this.setState(state);
    this.answerEl.classList.remove("streaming");
    this.renderNow();
    this.answerEl.setAttribute("aria-busy", "false");
    this.statusEl.textContent = note;
    this.statusEl.classList.toggle("error", state === "failed");
    this.statusEl.classList.toggle("note", state !== "failed" && Boolean(note));
    for (const li of this.stepsEl.children) li.classList.replace("current", state === "done" ? "done" : "halted");
    if (!this.thoughtText && state !== "stopped") this.thinkingEl.hidden = true;
    this.tick();
    if (this.declined) this.metersEl.hidden = true;
    else this.fillMeters();
  }

  // Show (or hide again) the definition or reason behind `button` under the meters.
  explain(button, text) {
    const open = button.getAttribute("aria-expanded") === "true";
    for (const other of this.el.querySelectorAll(".msg-foot [aria-expanded]")) other.setAttribute("aria-expanded", "false");
    this.explainEl.hidden = open || !text;
    this.explainEl.textContent = open ? "" : text;
    if (!open && text) button.setAttribute("aria-expanded", "true");
  }

  // --- rendering -----------------------------------------------------------------------------

  scheduleRender() {
    if (this.renderPending) return;
    this.renderPending = true;
    requestAnimationFrame(() => {
      this.renderPending = false;
      renderMarkdown(this.answerEl, this.answerText);
    });
  }

  renderNow() {
    if (this.answerText) renderMarkdown(this.answerEl, this.answerText);
  }

  thinkingTokens() {
    const usage = this.server && this.server.usage;
    return usage && usage.thinking_tokens !== undefined && usage.thinking_tokens !== null ? usage.thinking_tokens : this.thoughtDeltas;
  }

  tick() {
    const now = this.elapsed();
    this.checkStall(now);
    if (this.state === "waiting" && this.statusEl.textContent !== "" && this.route && this.route.mode !== "deep") {
      this.statusEl.textContent = `Waiting for the first token… ${fmtSeconds(now)}`;
    } else if (this.state === "waiting" && !this.route) {
      this.statusEl.textContent = `Sending… ${fmtSeconds(now)}`;
    }
    if (this.thinkingEl.hidden) return;
    const tokens = plural(this.thinkingTokens(), "token");
    let label;
    if (this.client.ttfa !== null || (this.state === "done" && this.thoughtText)) {
      const timings = this.server && this.server.timings;
      const ms = timings && timings.thinking_ms !== null && timings.thinking_ms !== undefined
        ? timings.thinking_ms
        : (this.client.ttfa ?? this.client.end ?? now) - (this.client.ttft ?? 0);
      label = `${ms < 100 ? "Thought briefly" : `Thought for ${fmtDuration(ms)}`} · ${tokens}`;
    } else if (this.state === "stopped" || this.state === "failed") {
      label = `${this.state === "stopped" ? "Stopped" : "Failed"} after ${fmtSeconds(this.client.end ?? now)} · ${tokens}`;
    } else if (this.state === "done") {
      label = `No thoughts · ${fmtSeconds(this.client.end ?? now)}`;
    } else {
      label = this.liveThinking(now, this.thinkingTokens());
    }
    if (!["thinking", "waiting"].includes(this.state) || this.client.ttfa !== null) this.waitBar.hidden = true;
    if (this.thinkingLabel.textContent !== label) this.thinkingLabel.textContent = label;
    this.thinkingEl.classList.toggle("live", this.state === "thinking" || (this.state === "waiting" && !this.thinkingEl.hidden));
  }

  fillMeters() {
    const t = (this.server && this.server.timings) || {};
    const usage = (this.server && this.server.usage) || {};
    const fromServer = Boolean(this.server);
    const set = (key, value, clientValue) => {
      const dd = this.meterEls[key];
      dd.textContent = value;
      dd.classList.toggle("provisional", !fromServer);
      if (clientValue !== undefined) dd.title = `client-side: ${clientValue}`;
    };
    const ttft = fromServer ? t.ttft_ms : this.client.ttft;
    const ttfa = fromServer ? t.ttfa_ms : this.client.ttfa;
    set("ttft", fmtMs(ttft), fmtMs(this.client.ttft));
    set("ttfa", fmtMs(ttfa), fmtMs(this.client.ttfa));
    const thinkingMs = fromServer ? t.thinking_ms : this.client.ttft !== null && this.client.ttfa !== null && this.thoughtText ? this.client.ttfa - this.client.ttft : null;
    set("thinking", thinkingMs === 0 ? "0" : fmtMs(thinkingMs));
    const thought = fromServer && usage.thinking_tokens !== undefined ? usage.thinking_tokens : this.thoughtDeltas;
    const answer = fromServer && usage.answer_tokens !== undefined ? usage.answer_tokens : this.answerDeltas;
    const total = Math.max(1, thought + answer);
    const dd = this.meterEls.tokens;
    dd.replaceChildren(
      h("span", { class: "tok-nums" }, h("span", { class: "tok-pair" }, h("span", { class: "tok-thought", text: fmtInt(thought) }), " / ", h("span", { class: "tok-answer", text: fmtInt(answer) })), usage.estimated ? h("span", { class: "est", text: " est.", title: "estimated by ponder, not reported by the provider" }) : null),
      h("span", { class: "tok-bar", "aria-hidden": "true" }, h("span", { class: "tok-bar-thought", style: null, dataset: { share: String(thought / total) } })),
    );
    dd.querySelector(".tok-bar-thought").style.width = `${(100 * thought) / total}%`;
    dd.classList.toggle("provisional", !fromServer);
    set("decode", fmtTps(fromServer ? t.decode_tps : null));
    set("effective", fmtTps(fromServer ? t.effective_tps : null));
    const cost = (this.server && this.server.cost) || null;
    set("cost", cost ? (cost.estimated && cost.total_usd ? "≈" : "") + fmtUsd(cost.total_usd) : "—");
    if (cost && cost.total_usd) this.meterEls.cost.title = `thinking ${fmtUsd(cost.thinking_usd)} of ${fmtUsd(cost.total_usd)} (input ${fmtUsd(cost.input_usd)}, answer ${fmtUsd(cost.answer_usd)})`;
    this.el.classList.add("has-meters");
    this.fillPhases(fromServer ? t : null);
  }

  // "Waiting 12 ms · Thinking 1.21 s · Answering 340 ms" over a bar split the same way, from
  // the server's timings (so a reloaded reply shows exactly what the live one did).
  fillPhases(t) {
    const spans = t ? phaseSpans(t) : [];
    this.phasesEl.hidden = spans.length === 0;
    if (!spans.length) return;
    const total = Math.max(1, spans.reduce((sum, p) => sum + p.ms, 0));
    const bar = h("span", { class: "phase-bar", "aria-hidden": "true" }, spans.map((p) => {
      const seg = h("span", { class: `phase-seg phase-${p.key}` });
      seg.style.width = `${(100 * p.ms) / total}%`;
      return seg;
    }));
    const words = h("span", { class: "phase-words" }, spans.map((p) => h("span", { class: `phase phase-${p.key}`, dataset: { phase: p.key }, title: p.help }, h("span", { class: "phase-name", text: p.label }), " ", h("span", { class: "phase-ms", text: fmtMs(p.ms) }))));
    this.phasesEl.replaceChildren(bar, words);
  }

  setVerdict(verdict) {
    if (!verdict) return;
    this.verdictEl.hidden = false;
    this.verdictEl.dataset.verifiable = String(Boolean(verdict.verifiable));
    this.verdictReason = verdict.reason || "";
    if (!verdict.verifiable) {
      this.verdictEl.className = "verdict verdict-none";
      this.verdictEl.textContent = "No verifier for this prompt";
      this.verdictEl.title = verdict.reason || "";
      return;
    }
    const ok = verdict.ok === true;
    this.verdictEl.className = `verdict ${ok ? "verdict-ok" : "verdict-bad"}`;
    this.verdictEl.dataset.ok = String(ok);
    this.verdictEl.textContent = ok ? "✓ Correct" : `✗ Wrong${verdict.expected ? ` — expected ${verdict.expected}` : ""}`;
    this.verdictEl.title = verdict.reason || "";
  }
}

// The three phases of a reply's wait (DESIGN.md's metrics): request → first token (waiting),
// first token → first answer token (thinking), first answer token → end (answering). A
// stream that ended while thinking has no answering phase; a phase the server did not
// measure is left out rather than guessed.
export function phaseSpans(t) {
  const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  const ttft = num(t.ttft_ms);
  const ttfa = num(t.ttfa_ms);
  const e2e = num(t.e2e_ms);
  const thinking = num(t.thinking_ms);
  const spans = [];
  const waited = ttft ?? ttfa ?? e2e;
  if (waited !== null) spans.push({ key: "waiting", label: "Waiting", ms: waited, help: "Request sent → first token of any kind" });
  if (thinking !== null && thinking > 0) spans.push({ key: "thinking", label: "Thinking", ms: thinking, help: "First token → first answer token" });
  if (ttfa !== null && e2e !== null) spans.push({ key: "answering", label: "Answering", ms: Math.max(0, e2e - ttfa), help: "First answer token → end of the stream" });
  return spans;
}

