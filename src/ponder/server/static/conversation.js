// Conversations that last: this tab's chat has an id (sessionStorage), sent with each turn as
// x-ponder-conversation and saved with its trace; after a reload the turns come back from
// GET /api/conversations/{id} and are replayed into replies that read as they did, phase
// timings included (the meters show the server's figures, as they did live).

import { getJSON } from "./stream.js";

const KEY = "ponder-conversation";

export function conversationId() {
  try {
    let id = sessionStorage.getItem(KEY);
    if (!id) {
      id = `c_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
      sessionStorage.setItem(KEY, id);
    }
    return id;
  } catch (e) {
    return null; // storage unavailable: the chat lasts as long as the page
  }
}

// A fresh conversation: forget this tab's id (its turns stay in the store and History).
export function startNewConversation() {
  try {
    sessionStorage.removeItem(KEY);
  } catch (e) {
    /* storage unavailable: the reload alone starts afresh */
  }
}

export async function savedTurns(id) {
  if (!id) return [];
  try {
    const body = await getJSON(`/api/conversations/${encodeURIComponent(id)}`);
    return Array.isArray(body.turns) ? body.turns : [];
  } catch (e) {
    return []; // no store, or it is down: start empty rather than fail the page
  }
}

// Feed a stored trace to an AssistantView as the events it once streamed.
export function replay(view, t) {
  const at = (ms) => (typeof ms === "number" ? ms : 0);
  view.handle({ type: "started", at: 0, ponder: { request_id: t.request_id, model: t.model, mode: t.mode || "fast", reason: t.route_reason, estimates: t.route_estimates } });
  for (const note of t.notes || []) view.handle({ type: "notice", text: note, at: 0 });
  if (t.thinking) view.handle({ type: "thinking", text: t.thinking, at: at(t.ttft_ms) });
  for (const label of t.progress || []) view.handle({ type: "progress", label, at: at(t.ttft_ms) });
  if (t.answer) view.handle({ type: "answer", text: t.answer, at: at(t.ttfa_ms) });
  if (t.status === "error") {
    view.handle({ type: "failed", error: { message: t.error_message || "The request failed." }, at: at(t.e2e_ms) });
    return;
  }
  const timings = { ttft_ms: t.ttft_ms, ttfa_ms: t.ttfa_ms, thinking_ms: t.thinking_ms, e2e_ms: t.e2e_ms, decode_tps: t.decode_tps, effective_tps: t.effective_tps };
  const usage = { input_tokens: t.input_tokens, thinking_tokens: t.thinking_tokens, answer_tokens: t.answer_tokens, estimated: Boolean(t.tokens_estimated) };
  const cost = t.cost_usd === null || t.cost_usd === undefined ? null : { total_usd: t.cost_usd, input_usd: t.cost_input_usd, thinking_usd: t.cost_thinking_usd, answer_usd: t.cost_answer_usd, estimated: Boolean(t.cost_estimated) };
  const finish = t.status === "ok" ? t.finish_reason || "stop" : "cancelled";
  view.handle({ type: "finished", at: at(t.e2e_ms), ponder: { finish_reason: finish, timings, usage, cost } });
}
