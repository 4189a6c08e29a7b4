// The wait, predicted: what each mode would likely cost for the prompt being typed (from
// POST /api/estimate, which answers from similar past requests or says it has none), and the
// in-browser half of stall and loop detection (the thresholds come from the server, the
// same rule as ponder.wait_watch).

import { postJSON } from "./stream.js";
import { fmtMs, h } from "./util.js";

const DEBOUNCE_MS = 300;
const NO_HISTORY_STALL_MS = 10_000; // ponder.wait_watch with no history and the default floor
const LOOP_WORDS = 6;
const LOOP_REPEATS = 5;
const LOOP_WINDOW = 300;

// "0.3 s" / "10 ms": a wait as a person reads it (two significant figures at most).
export function roughMs(ms) {
  if (ms < 100) return `${Math.max(1, Math.round(ms))} ms`;
  if (ms < 1000) return `${Math.round(ms / 10) * 10} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
}

function basisText(name, est) {
  if (!est) return `${name}: no past requests of this model to go by, so no estimate.`;
  const what = est.basis === "similar" ? "similar past requests" : "past requests of this model (none similar enough)";
  return `${name}: based on ${est.samples} ${what}. Time to first answer p10–p90 ${fmtMs(est.ttfa_ms.p10)}–${fmtMs(est.ttfa_ms.p90)}, whole reply ≈ ${fmtMs(est.e2e_ms.p50)}.`;
}

// One mode's part of the line: "Deep ≈ 0.3 s, usually 150–210 thought tokens".
function partText(name, est) {
  if (!est) return `${name}: no estimate yet`;
  let text = `${name} ≈ ${roughMs(est.ttfa_ms.p50)}`;
  const t = est.thinking_tokens;
  if (t) {
    const [low, high] = [Math.round(t.p10), Math.round(t.p90)];
    text += `, usually ${low === high ? low : `${low}–${high}`} thought tokens`;
  }
  return text;
}

// The line under the mode selector. Each part is a button: its sample size shows on hover
// (title) and, for keyboard and touch, on click or Enter in the detail line below.
export class WaitHint {
  constructor(el) {
    this.el = el;
    this.timer = null;
    this.typed = ""; // the prompt in the box: only its estimate is shown
    this.latest = null; // {prompt, response}
    this.pending = new Map(); // prompt -> promise of its estimate
  }

  schedule(prompt) {
    clearTimeout(this.timer);
    this.typed = prompt;
    if (!prompt.trim()) {
      this.el.replaceChildren();
      this.el.hidden = true;
      return;
    }
    this.timer = setTimeout(() => this.forPrompt(prompt).catch(() => null), DEBOUNCE_MS);
  }

  // The estimate for exactly this prompt: the one shown if it is current, else a fresh one.
  forPrompt(prompt) {
    if (this.latest && this.latest.prompt === prompt) return Promise.resolve(this.latest.response);
    const pending = this.pending.get(prompt);
    if (pending) return pending;
    const promise = postJSON("/api/estimate", { prompt }).then(
      (response) => {
        this.pending.delete(prompt);
        this.latest = { prompt, response };
        if (prompt === this.typed) this.render(response);
        return response;
      },
      (error) => {
        this.pending.delete(prompt);
        throw error;
      },
    );
    this.pending.set(prompt, promise);
    return promise;
  }

  render(response) {
    const estimates = response.estimates || {};
    const detail = h("p", { class: "wait-detail", hidden: true, "aria-live": "polite" });
    const parts = [];
    for (const [mode, name] of [["fast", "Fast"], ["deep", "Deep"]]) {
      if (!(mode in estimates)) continue;
      const est = estimates[mode];
      const about = basisText(name, est);
      parts.push(
        h("button", {
          type: "button",
          class: `wait-part${est ? "" : " wait-none"}`,
          dataset: { mode, samples: est ? String(est.samples) : "0" },
          title: about,
          "aria-expanded": "false",
          text: partText(name, est),
          onclick: (event) => {
            const open = event.currentTarget.getAttribute("aria-expanded") === "true";
            for (const b of this.el.querySelectorAll(".wait-part")) b.setAttribute("aria-expanded", "false");
            detail.hidden = open;
            detail.textContent = open ? "" : about;
            if (!open) event.currentTarget.setAttribute("aria-expanded", "true");
          },
        }),
      );
    }
    if (response.auto) parts.push(h("span", { class: "wait-auto", title: response.auto.reason || "", text: `Auto → ${response.auto.mode}` }));
    const line = h("div", { class: "wait-line" });
    parts.forEach((part, i) => {
      if (i) line.append(h("span", { class: "wait-sep", "aria-hidden": "true", text: " · " }));
      line.append(part);
    });
    this.el.replaceChildren(line, detail);
    this.el.hidden = false;
  }
}

// How long without a token counts as a stall for `model`, and for the first token.
export function stallLimits(response, model) {
  const after = (response && response.stall_after_ms && response.stall_after_ms[model]) || NO_HISTORY_STALL_MS;
  const est = response && response.estimates ? response.estimates[model] : null;
  // Before the first token the model may legitimately take its usual time to first token.
  const first = est ? Math.max(after, 2 * est.ttfa_ms.p90) : after;
  return { after, first };
}

// Thoughts repeating themselves: the same run of LOOP_WORDS words LOOP_REPEATS times among
// the latest LOOP_WINDOW words (ponder.wait_watch.LoopDetector's rule).
export class LoopDetector {
  constructor() {
    this.recent = [];
    this.grams = [];
    this.counts = new Map();
    this.partial = "";
    this.phrase = null;
  }

  feed(text) {
    if (this.phrase !== null) return false;
    this.partial += text;
    const words = this.partial.split(/\s+/).filter(Boolean);
    this.partial = /\s$/.test(this.partial) || !words.length ? "" : words.pop();
    for (const word of words) if (this.step(word.toLowerCase())) return true;
    return false;
  }

  step(word) {
    this.recent.push(word);
    if (this.recent.length > LOOP_WORDS) this.recent.shift();
    if (this.recent.length < LOOP_WORDS) return false;
    const gram = this.recent.join(" ");
    if (this.grams.length === LOOP_WINDOW) {
      const old = this.grams.shift();
      this.counts.set(old, this.counts.get(old) - 1);
    }
    this.grams.push(gram);
    const n = (this.counts.get(gram) || 0) + 1;
    this.counts.set(gram, n);
    if (n >= LOOP_REPEATS) {
      this.phrase = gram;
      return true;
    }
    return false;
  }
}
