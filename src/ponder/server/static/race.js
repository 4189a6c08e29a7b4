// Race view: the same prompt to fast (the hare), deep (the tortoise) and the hedge (both at
// once, fast's answer kept only if a verifier passes it) at the same moment, side by side,
// with the timelines on one time axis and the verifier's verdict per lane.

import { AssistantView, hedgeSummary } from "./message.js";
import { streamChat, HttpError } from "./stream.js";
import { fmtMs, h, s } from "./util.js";

const LANES = [
  { mode: "fast", title: "Fast", nick: "the hare" },
  { mode: "deep", title: "Deep", nick: "the tortoise" },
  { mode: "hedge", title: "Hedge", nick: "both, checked" },
];

// A check mark on a shield: the hedge serves fast only when a verifier passes it.
export function hedgeIcon() {
  return s(
    "svg",
    { viewBox: "0 0 32 24", class: "runner-icon", "aria-hidden": "true" },
    s("path", { d: "M16 2 L26 6 L26 12 C26 17.5 21.5 21 16 22.5 C10.5 21 6 17.5 6 12 L6 6 Z", fill: "currentColor" }),
    s("path", { d: "M11 12.5 L14.5 16 L21 9", stroke: "var(--surface)", "stroke-width": 2.4, fill: "none", "stroke-linecap": "round", "stroke-linejoin": "round" }),
  );
}

function laneIcon(mode) {
  if (mode === "fast") return hareIcon();
  if (mode === "deep") return tortoiseIcon();
  return hedgeIcon();
}

export function hareIcon() {
  return s(
    "svg",
    { viewBox: "0 0 32 24", class: "runner-icon", "aria-hidden": "true" },
    s("ellipse", { cx: 18, cy: 15.5, rx: 8.5, ry: 5, fill: "currentColor" }),
    s("circle", { cx: 9, cy: 12, r: 3.6, fill: "currentColor" }),
    s("ellipse", { cx: 8.2, cy: 5, rx: 1.4, ry: 4.6, fill: "currentColor", transform: "rotate(-14 8.2 5)" }),
    s("ellipse", { cx: 11, cy: 5.2, rx: 1.3, ry: 4.4, fill: "currentColor", transform: "rotate(12 11 5.2)" }),
    s("circle", { cx: 27, cy: 13.5, r: 1.8, fill: "currentColor" }),
    s("path", { d: "M11 19.5 L6 21.5 M22 19 L27 21.5", stroke: "currentColor", "stroke-width": 2.2, "stroke-linecap": "round" }),
  );
}

export function tortoiseIcon() {
  return s(
    "svg",
    { viewBox: "0 0 32 24", class: "runner-icon", "aria-hidden": "true" },
    s("path", { d: "M4 17 A10.5 9 0 0 1 25 17 Z", fill: "currentColor" }),
    s("circle", { cx: 27.5, cy: 14.5, r: 2.6, fill: "currentColor" }),
    s("rect", { x: 7, y: 17, width: 3, height: 3.5, rx: 1, fill: "currentColor" }),
    s("rect", { x: 18.5, y: 17, width: 3, height: 3.5, rx: 1, fill: "currentColor" }),
    s("path", { d: "M9 16.5 L11.5 10.5 L17.5 10.5 L20 16.5 M11.5 10.5 L14.5 8.5 L17.5 10.5", stroke: "var(--surface)", "stroke-width": 1.2, fill: "none", opacity: 0.55 }),
  );
}

// The axis step: a round number of ms giving at most `maxTicks` intervals (fewer on a narrow
// track, so the labels never overlap).
function niceStep(maxMs, maxTicks = 6) {
  const steps = [50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 15000, 30000, 60000, 120000, 300000];
  for (const step of steps) if (maxMs / step <= maxTicks) return step;
  return 600000;
}

const TICK_SPACING_PX = 80; // room for two labels ("10.0 s"), the last one right-aligned

export class RaceView {
  constructor(examples, verifyInto) {
    this.verifyInto = verifyInto;
    this.form = document.getElementById("race-form");
    this.promptEl = document.getElementById("race-prompt");
    this.startButton = document.getElementById("race-start");
    this.stopButton = document.getElementById("race-stop");
    this.board = document.getElementById("race-board");
    this.summaryEl = document.getElementById("race-summary");
    this.timelineEl = document.getElementById("race-timeline");
    this.controller = null;
    this.lanes = [];
    this.frame = null;

    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!this.running()) this.start(this.promptEl.value);
    });
    this.promptEl.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    this.stopButton.addEventListener("click", () => this.stop());
    window.addEventListener("resize", () => this.drawTimeline());
    const chips = document.getElementById("race-examples");
    for (const example of examples) {
      chips.append(h("button", { type: "button", class: "chip", text: example.label, title: example.prompt, onclick: () => { this.promptEl.value = example.prompt; this.promptEl.focus(); } }));
    }
  }

  shown() {
    if (!this.running()) this.promptEl.focus();
    this.drawTimeline(); // the axis was laid out for the width it had when last drawn
  }

  running() {
    return this.controller !== null;
  }

  stop() {
    if (this.controller) this.controller.abort();
  }

  async start(prompt) {
    if (!prompt.trim()) return;
    this.controller = new AbortController();
    const signal = this.controller.signal;
    this.startButton.hidden = true;
    this.stopButton.hidden = false;
    this.board.hidden = false;
    this.summaryEl.className = "race-summary";
    this.summaryEl.textContent = "Off they go…";
    this.lanes = LANES.map((lane) => {
      const view = new AssistantView({ requested: lane.mode, compact: true });
      const host = document.getElementById(`lane-${lane.mode}`);
      const clock = h("span", { class: "lane-clock", text: "0.0 s" });
      host.replaceChildren(
        h("header", { class: "lane-head" }, laneIcon(lane.mode), h("h3", {}, lane.title, h("span", { class: "nick", text: ` · ${lane.nick}` })), clock),
        view.el,
      );
      return { ...lane, view, clock, verdict: null };
    });
    this.buildTimeline();
    this.animate();
    const t0 = performance.now();
    await Promise.all(
      this.lanes.map(async (lane) => {
        lane.view.t0 = t0;
        try {
          await streamChat({
            model: lane.mode,
            messages: [{ role: "user", content: prompt }],
            signal,
            onEvent: (event) => lane.view.handle(event),
          });
          if (!["done", "stopped", "failed"].includes(lane.view.state)) lane.view.fail("The stream ended without a finish signal.");
        } catch (error) {
          if (signal.aborted) lane.view.stopped();
          else lane.view.fail(error instanceof HttpError ? error.message : `Connection failed: ${error.message || error}`);
        }
        lane.verdict = await this.verifyInto(lane.view, prompt);
        this.drawTimeline();
      }),
    );
    this.controller = null;
    this.startButton.hidden = false;
    this.stopButton.hidden = true;
    cancelAnimationFrame(this.frame);
    this.drawTimeline();
    this.summarise();
  }

  // --- timeline ------------------------------------------------------------------------------

  buildTimeline() {
    this.rows = this.lanes.map((lane) => {
      const wait = h("span", { class: "seg seg-wait" });
      const think = h("span", { class: "seg seg-think" });
      const answer = h("span", { class: "seg seg-answer" });
      const flag = h("span", { class: "flag", hidden: true });
      const end = h("span", { class: "end-mark", hidden: true });
      const track = h("div", { class: "track" }, wait, think, answer, flag, end);
      const row = h("div", { class: `tl-row tl-${lane.mode}`, dataset: { lane: lane.mode } }, h("div", { class: "tl-name" }, laneIcon(lane.mode), h("span", { text: lane.title })), track);
      return { lane, wait, think, answer, flag, end, track };
    });
    this.axis = h("div", { class: "axis" });
    this.timelineEl.replaceChildren(
      ...this.rows.map((r) => r.track.parentElement),
      h("div", { class: "tl-row tl-axis" }, h("div", { class: "tl-name" }), this.axis),
      h("div", { class: "tl-legend" }, h("span", { class: "key key-wait" }, "waiting"), h("span", { class: "key key-think" }, "thinking"), h("span", { class: "key key-answer" }, "answering")),
    );
  }

  animate() {
    this.drawTimeline();
    if (this.running()) this.frame = requestAnimationFrame(() => this.animate());
  }

  laneTimes(lane) {
    const view = lane.view;
    const finished = view.server && view.server.timings;
    const now = view.elapsed();
    if (finished) {
      return { ttft: finished.ttft_ms, ttfa: finished.ttfa_ms, end: finished.e2e_ms ?? view.client.end, done: true };
    }
    const over = ["done", "stopped", "failed"].includes(view.state);
    return { ttft: view.client.ttft, ttfa: view.client.ttfa, end: over ? view.client.end : now, done: over };
  }

  drawTimeline() {
    if (!this.rows) return;
    const times = this.rows.map((r) => this.laneTimes(r.lane));
    const maxMs = Math.max(100, ...times.map((t) => t.end || 0));
    const trackPx = this.axis.getBoundingClientRect().width || 600;
    const step = niceStep(maxMs, Math.max(1, Math.floor(trackPx / TICK_SPACING_PX)));
    const domain = Math.ceil((maxMs * 1.04) / step) * step;
    const pct = (ms) => `${Math.max(0, Math.min(100, (100 * ms) / domain))}%`;
    this.rows.forEach((row, i) => {
      const t = times[i];
      const end = t.end || 0;
      const ttft = t.ttft ?? end;
      const ttfa = t.ttfa ?? end;
      const thought = Boolean(row.lane.view.thoughtText);
      place(row.wait, 0, Math.min(ttft, end), pct);
      place(row.think, Math.min(ttft, end), thought ? Math.min(ttfa, end) : Math.min(ttft, end), pct);
      place(row.answer, Math.min(ttfa, end), t.ttfa !== null && t.ttfa !== undefined ? end : Math.min(ttfa, end), pct);
      if (row.lane.view.declined) {
        row.flag.hidden = false;
        row.flag.style.left = "0%";
        row.flag.textContent = "declined: a canned reply";
      } else if (t.ttfa !== null && t.ttfa !== undefined) {
        row.flag.hidden = false;
        row.flag.style.left = pct(t.ttfa);
        row.flag.textContent = `first answer ${fmtMs(t.ttfa)}`;
        row.flag.classList.toggle("flag-left", t.ttfa / domain > 0.6);
      }
      if (t.done) {
        row.end.hidden = false;
        row.end.style.left = pct(end);
        const verdict = row.lane.verdict;
        const state = row.lane.view.state;
        row.end.className = `end-mark ${verdict && verdict.verifiable ? (verdict.ok ? "end-ok" : "end-bad") : state === "done" ? "end-done" : "end-halt"}`;
        row.end.textContent = verdict && verdict.verifiable ? (verdict.ok ? "✓" : "✗") : state === "done" ? "■" : "◼";
        row.end.title = `${state} at ${fmtMs(end)}`;
      }
      row.lane.clock.textContent = fmtMs(end);
    });
    const ticks = [];
    for (let ms = 0; ms <= domain + 1; ms += step) {
      ticks.push(h("span", { class: "tick", text: ms === 0 ? "0" : fmtMs(ms) }));
      ticks.at(-1).style.left = pct(ms);
    }
    this.axis.replaceChildren(...ticks);
  }

  // --- verdict -------------------------------------------------------------------------------

  summarise() {
    const [fast, deep, hedge] = this.lanes;
    const fv = fast.verdict;
    const dv = deep.verdict;
    const ft = this.laneTimes(fast).ttfa;
    const dt = this.laneTimes(deep).ttfa;
    const parts = [];
    const stopped = this.lanes.some((l) => l.view.state === "stopped");
    const failed = this.lanes.filter((l) => l.view.state === "failed");
    const declined = this.lanes.filter((l) => l.view.declined);
    if (stopped) parts.push("Stopped before the finish.");
    if (failed.length) parts.push(`${failed.map((l) => l.title).join(" and ")} failed.`);
    if (declined.length) {
      // A canned reply took no time and answered nothing: there is no race to judge.
      parts.push(`${declined.length === 2 ? "Both lanes" : declined[0].title} declined: the model was not trained for this prompt, so there is no race to judge.`);
      this.summaryEl.className = "race-summary tone-neutral";
      this.summaryEl.textContent = parts.join(" ");
      return;
    }
    if (ft != null && dt != null) {
      const first = ft <= dt ? fast : deep;
      parts.push(`${first.title} reached its first answer token ${fmtMs(Math.abs(dt - ft))} sooner (${fmtMs(ft)} vs ${fmtMs(dt)}).`);
    }
    let tone = "neutral";
    if (fv && dv && fv.verifiable && dv.verifiable) {
      if (fv.ok && dv.ok) {
        parts.push("Both correct: thinking bought nothing this time.");
        tone = "fast";
      } else if (!fv.ok && dv.ok) {
        parts.push(`Fast was wrong${fv.expected ? ` (expected ${fv.expected})` : ""}; deep was right: thinking paid off.`);
        tone = "deep";
      } else if (fv.ok && !dv.ok) {
        parts.push("Fast was right and deep was wrong.");
        tone = "fast";
      } else {
        parts.push("Both wrong.");
        tone = "bad";
      }
    } else if (!stopped && !failed.length) {
      parts.push("No verifier recognises this prompt: judge the answers yourself.");
    }
    const hedged = hedge && hedge.view.server && hedge.view.server.served_by ? hedge.view.server : null;
    if (hedged) {
      const ht = this.laneTimes(hedge).ttfa;
      const vs = ht != null && dt != null ? ` Its answer came at ${fmtMs(ht)}, deep's at ${fmtMs(dt)}.` : "";
      parts.push(`Hedge: ${hedgeSummary(hedged)}${vs}`);
    }
    this.summaryEl.className = `race-summary tone-${tone}`;
    this.summaryEl.textContent = parts.join(" ");
  }
}

function place(el, fromMs, toMs, pct) {
  el.style.left = pct(fromMs);
  el.style.width = `calc(${pct(Math.max(0, toMs))} - ${pct(fromMs)})`;
}
