// Conversations that last, the API side: the tab's current conversation id (sessionStorage),
// the gateway's conversation endpoints, and replaying a stored turn into a reply that reads
// as it did live — phase timings, thinking box and meters are the server's figures, as they
// were while it streamed.

import { authHeaders, getJSON, HttpError } from "./stream.js";

const KEY = "ponder-conversation";

export function newConversationId() {
  return `c_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
}

// The conversation this tab shows (null: a new chat, not yet sent).
export function storedConversationId() {
  try {
    return sessionStorage.getItem(KEY);
  } catch (e) {
    return null; // storage unavailable: the chat lasts as long as the page
  }
}

export function rememberConversation(id) {
  try {
    if (id) sessionStorage.setItem(KEY, id);
    else sessionStorage.removeItem(KEY);
  } catch (e) {
    /* storage unavailable: a reload starts afresh */
  }
}

// The saved conversations, most recently active first ([] without a store, or while it is down).
export async function listConversations(limit = 50) {
  try {
    const body = await getJSON(`/api/conversations?limit=${limit}`);
    return Array.isArray(body.data) ? body.data : [];
  } catch (e) {
    return [];
  }
}

// A conversation's turns as they stand, oldest first; null when the store has no such
// conversation (deleted, or never sent).
export async function savedTurns(id) {
  if (!id) return null;
  try {
    const body = await getJSON(`/api/conversations/${encodeURIComponent(id)}`);
    return Array.isArray(body.turns) ? body.turns : [];
  } catch (e) {
    if (e instanceof HttpError && e.status === 404) return null;
    return []; // the store is down: keep the id, show nothing for now
  }
}

export async function deleteConversation(id) {
  const response = await fetch(`/api/conversations/${encodeURIComponent(id)}`, { method: "DELETE", headers: { accept: "application/json", ...authHeaders() } });
  if (response.ok || response.status === 404) return; // gone either way
  let message = `${response.status} ${response.statusText}`;
  try {
    message = (await response.json()).error.message || message;
  } catch (e) {
    /* not JSON */
  }
  throw new HttpError(response.status, message);
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
