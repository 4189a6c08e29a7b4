// One streaming chat request: POST /v1/chat/completions, read the SSE body, and hand each
// decoded event to `onEvent`. Events:
//   {type: "started", ponder}            the route decision (model, mode, reason, estimates)
//   {type: "thinking", text}             a delta of thoughts (delta.reasoning_content)
//   {type: "answer", text}               a delta of the answer (delta.content)
//   {type: "tool_call", index, id, name} a tool call began (delta.tool_calls, first fragment)
//   {type: "tool_args", index, text}     a fragment of that call's JSON arguments
//   {type: "notice", text}               something ponder did with the request (ponder extras)
//   {type: "progress", label, index}     a step the thoughts reached (server-side)
//   {type: "finished", ponder}           finish reason, timings, usage (the meters)
//   {type: "usage", usage}               OpenAI usage chunk (include_usage)
//   {type: "failed", error, ponder}      an error chunk
//   {type: "done"}                       data: [DONE]
// Every event also carries `at`: performance.now() - t0, the client-side clock (ms since send).
// Stop = abort `signal`; the server cancels the upstream generation when the client goes.

const KEY_STORE = "ponder-api-key";

// The gateway's bearer token, when it has one: kept for this tab only (sessionStorage).
export function authHeaders() {
  try {
    const key = sessionStorage.getItem(KEY_STORE);
    return key ? { authorization: `Bearer ${key}` } : {};
  } catch (e) {
    return {};
  }
}

export function setApiKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORE, key);
    else sessionStorage.removeItem(KEY_STORE);
  } catch (e) {
    /* storage unavailable */
  }
}

function checkAuth(response) {
  if (response.status === 401) window.dispatchEvent(new CustomEvent("ponder:auth-required"));
}

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function streamChat({ model, messages, signal, onEvent, headers = {} }) {
  const t0 = performance.now();
  const emit = (event) => onEvent({ ...event, at: performance.now() - t0 });
  const response = await fetch("/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream", ...authHeaders(), ...headers },
    body: JSON.stringify({ model, messages, stream: true, stream_options: { include_usage: true } }),
    signal,
  });
  if (!response.ok || !response.body) {
    checkAuth(response);
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) message = body.error.message;
    } catch (e) {
      /* not JSON */
    }
    throw new HttpError(response.status, message);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let sawDone = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (decodeFrame(frame, emit)) sawDone = true;
    }
  }
  if (buffer.trim() && decodeFrame(buffer, emit)) sawDone = true;
  return { sawDone, t0 };
}

// Returns true for `data: [DONE]`.
function decodeFrame(frame, emit) {
  const data = frame
    .split("\n")
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).replace(/^ /, ""))
    .join("\n");
  if (!data) return false;
  if (data === "[DONE]") {
    emit({ type: "done" });
    return true;
  }
  let obj;
  try {
    obj = JSON.parse(data);
  } catch (e) {
    return false;
  }
  const extra = obj.ponder || null;
  if (obj.error) {
    emit({ type: "failed", error: obj.error, ponder: extra });
    return false;
  }
  const choice = Array.isArray(obj.choices) ? obj.choices[0] : undefined;
  const delta = (choice && choice.delta) || {};
  if (extra && extra.event === "started") emit({ type: "started", ponder: extra });
  const thought = delta.reasoning_content ?? delta.reasoning;
  if (typeof thought === "string" && thought) emit({ type: "thinking", text: thought });
  if (typeof delta.content === "string" && delta.content) emit({ type: "answer", text: delta.content });
  if (Array.isArray(delta.tool_calls)) {
    for (const call of delta.tool_calls) {
      const fn = (call && call.function) || {};
      if (call.id || fn.name) emit({ type: "tool_call", index: call.index, id: String(call.id ?? ""), name: String(fn.name ?? "") });
      if (typeof fn.arguments === "string" && fn.arguments) emit({ type: "tool_args", index: call.index, text: fn.arguments });
    }
  }
  if (extra && extra.event === "notice") emit({ type: "notice", text: String(extra.text ?? "") });
  if (extra && extra.event === "progress") emit({ type: "progress", label: String(extra.label ?? ""), index: extra.index });
  if (extra && extra.event === "finished") emit({ type: "finished", ponder: extra });
  if (extra && extra.event === "failed") emit({ type: "failed", error: extra, ponder: extra });
  if (obj.usage) emit({ type: "usage", usage: obj.usage });
  return false;
}

export async function postJSON(url, body, signal) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...authHeaders() },
    body: JSON.stringify(body),
    signal,
  });
  checkAuth(response);
  if (!response.ok) throw new HttpError(response.status, `${url}: ${response.status}`);
  return response.json();
}

export async function getJSON(url, signal) {
  const response = await fetch(url, { signal, headers: { accept: "application/json", ...authHeaders() } });
  checkAuth(response);
  if (!response.ok) throw new HttpError(response.status, `${url}: ${response.status}`);
  return response.json();
}
