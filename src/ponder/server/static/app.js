// ponder's web UI: chat, race and history views. Vanilla ES modules, no build step.

import { AssistantView, userBubble } from "./message.js";
import { HttpError, postJSON, setApiKey, streamChat } from "./stream.js";
import { h } from "./util.js";
import { RaceView } from "./race.js";
import { HistoryView } from "./history.js";
import { WaitHint } from "./estimate.js";
import { conversationId, replay, savedTurns, startNewConversation } from "./conversation.js";

export const EXAMPLES = [
  { label: "347 × 28", prompt: "What is 347 × 28?" },
  { label: "4821 times 37", prompt: "compute 4821 times 37" },
  { label: "7305 − 2948", prompt: "What is 7305 − 2948?" },
  {
    label: "Top spenders",
    prompt:
      "Orders: ivy 64, ned 45, ray 30, ivy 49, kai 90. Refunds: kai 90, ray 30. Who are the top 2 spenders, excluding customers who refunded more than half of their orders?",
  },
];

// --- theme -----------------------------------------------------------------------------------

const themeButton = document.getElementById("theme-toggle");
const darkQuery = window.matchMedia("(prefers-color-scheme: dark)");

function currentTheme() {
  return document.documentElement.dataset.theme || (darkQuery.matches ? "dark" : "light");
}

function syncThemeButton() {
  const dark = currentTheme() === "dark";
  themeButton.setAttribute("aria-label", dark ? "Switch to light mode" : "Switch to dark mode");
  themeButton.dataset.current = currentTheme();
}

themeButton.addEventListener("click", () => {
  const next = currentTheme() === "dark" ? "light" : "dark";
  document.documentElement.dataset.theme = next;
  try {
    localStorage.setItem("ponder-theme", next);
  } catch (e) {
    /* private mode: the choice lasts for this page */
  }
  syncThemeButton();
});
darkQuery.addEventListener("change", syncThemeButton);
syncThemeButton();

// --- API key (only when the gateway was started with PONDER_API_KEY) -------------------------

const authBar = document.getElementById("auth-bar");
window.addEventListener("ponder:auth-required", () => {
  authBar.hidden = false;
  authBar.elements.key.focus();
});
authBar.addEventListener("submit", (event) => {
  event.preventDefault();
  setApiKey(authBar.elements.key.value.trim());
  authBar.elements.key.value = "";
  authBar.hidden = true;
  if (views.history) views.history.loadModels();
});

// --- views -----------------------------------------------------------------------------------

const views = {};
const tabs = [...document.querySelectorAll(".tab")];

function show(name) {
  for (const tab of tabs) {
    const active = tab.dataset.view === name;
    tab.setAttribute("aria-selected", String(active));
    tab.tabIndex = active ? 0 : -1;
    document.getElementById(`view-${tab.dataset.view}`).hidden = !active;
  }
  document.body.dataset.view = name;
  if (views[name] && views[name].shown) views[name].shown();
  if (location.hash !== `#${name}`) history.replaceState(null, "", name === "chat" ? location.pathname : `#${name}`);
}

for (const tab of tabs) tab.addEventListener("click", () => show(tab.dataset.view));
// The tab list is one stop for Tab; the arrow keys (and Home/End) move between its tabs.
document.querySelector(".tabs").addEventListener("keydown", (event) => {
  const at = tabs.indexOf(document.activeElement);
  if (at < 0) return;
  const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
  if (to === undefined) return;
  event.preventDefault();
  const tab = tabs[(to + tabs.length) % tabs.length];
  show(tab.dataset.view);
  tab.focus();
});
window.addEventListener("hashchange", () => show(location.hash.slice(1) || "chat"));

// --- chat ------------------------------------------------------------------------------------

const log = document.getElementById("chat-log");
const form = document.getElementById("composer");
const promptEl = document.getElementById("prompt");
const sendButton = document.getElementById("send");
const stopButton = document.getElementById("stop");
const waitHint = new WaitHint(document.getElementById("wait-hint"));
const conversation = []; // {role, content} sent as context with the next turn
const chatId = conversationId(); // this tab's chat, kept in the trace store
const newChatButton = document.getElementById("new-chat");
newChatButton.addEventListener("click", () => {
  if (current) return;
  startNewConversation();
  location.reload();
});
let current = null; // {controller, view}
let stick = true; // follow the stream unless the person scrolled up to read
log.addEventListener("scroll", () => (stick = nearBottom()), { passive: true });

function selectedMode() {
  const checked = form.querySelector('input[name="mode"]:checked');
  return checked ? checked.value : "auto";
}

function autosize(el) {
  el.style.height = "auto";
  el.style.height = `${Math.min(el.scrollHeight, 240)}px`;
}

function nearBottom() {
  return log.scrollHeight - log.scrollTop - log.clientHeight < 120;
}

function followBottom(stick) {
  if (stick) log.scrollTop = log.scrollHeight;
}

function setBusy(busy) {
  sendButton.hidden = busy;
  stopButton.hidden = !busy;
  document.body.classList.toggle("busy", busy);
}

export async function verifyInto(view, prompt, signal) {
  if (!view.answerText || view.state !== "done" || view.declined) return null;
  try {
    const verdict = await postJSON("/api/verify", { prompt, answer: view.answerText }, signal);
    if (verdict && verdict.verifiable) view.setVerdict(verdict);
    return verdict;
  } catch (e) {
    return null;
  }
}

async function send(prompt, chosen = null) {
  if (current || !prompt.trim()) return;
  document.getElementById("chat-empty")?.remove();
  const model = chosen || selectedMode();
  log.append(userBubble(prompt));
  stick = true;
  let replaced = false; // "Answer fast instead": this turn gives way to a fast one
  const onStall = {
    stop: () => stopChat(),
    answerFast: () => {
      replaced = true;
      stopChat();
    },
  };
  const view = new AssistantView({ requested: model, onChange: () => followBottom(stick), onStall });
  log.append(view.el);
  followBottom(true);
  const controller = new AbortController();
  current = { controller, view };
  setBusy(true);
  newChatButton.hidden = false;
  waitHint.forPrompt(prompt).then((response) => view.setExpectation(response), () => view.setExpectation(null));
  const messages = [...conversation, { role: "user", content: prompt }];
  try {
    const headers = chatId ? { "x-ponder-conversation": chatId } : {};
    await streamChat({ model, messages, signal: controller.signal, headers, onEvent: (event) => view.handle(event) });
    if (!["done", "stopped", "failed"].includes(view.state)) view.fail("The stream ended without a finish signal.");
  } catch (error) {
    if (controller.signal.aborted) view.stopped();
    else view.fail(error instanceof HttpError ? error.message : `Connection failed: ${error.message || error}`);
  } finally {
    current = null;
    setBusy(false);
  }
  if (replaced) {
    send(prompt, "fast");
    return;
  }
  conversation.push({ role: "user", content: prompt });
  if (view.answerText) conversation.push({ role: "assistant", content: view.answerText });
  await verifyInto(view, prompt);
  followBottom(stick);
}

export function stopChat() {
  if (current) current.controller.abort();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const prompt = promptEl.value;
  if (!prompt.trim() || current) return;
  promptEl.value = "";
  autosize(promptEl);
  send(prompt);
  waitHint.schedule("");
});

promptEl.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});
promptEl.addEventListener("input", () => {
  autosize(promptEl);
  waitHint.schedule(promptEl.value);
});
stopButton.addEventListener("click", stopChat);

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  if (current) {
    event.preventDefault();
    stopChat();
  }
  if (views.race && views.race.running()) {
    event.preventDefault();
    views.race.stop();
  }
});

const examples = document.getElementById("examples");
for (const example of EXAMPLES) {
  examples.append(
    h("button", {
      type: "button",
      class: "chip",
      text: example.label,
      title: example.prompt,
      onclick: () => {
        promptEl.value = example.prompt;
        autosize(promptEl);
        waitHint.schedule(example.prompt);
        promptEl.focus();
      },
    }),
  );
}

// After a reload, the chat so far, as it was (the store keeps its turns).
async function restoreChat() {
  const turns = await savedTurns(chatId);
  if (!turns.length || current || conversation.length) return;
  document.getElementById("chat-empty")?.remove();
  newChatButton.hidden = false;
  for (const turn of turns) {
    log.append(userBubble(turn.prompt));
    const view = new AssistantView({ requested: turn.requested_model });
    view.el.dataset.restored = "true";
    log.append(view.el);
    replay(view, turn);
    conversation.push({ role: "user", content: turn.prompt });
    if (turn.answer) conversation.push({ role: "assistant", content: turn.answer });
  }
  followBottom(true);
}

views.race = new RaceView(EXAMPLES, verifyInto);
restoreChat();
views.history = new HistoryView();
show(location.hash.slice(1) in { chat: 1, race: 1, history: 1 } ? location.hash.slice(1) : "chat");
promptEl.focus();
